"""Mirror: raw mark-price frames through parse → mirror → margin ratio, and the service's RSS.

The account holds 50 cross positions (the margin benchmark's shape). Frames are Binance's
`markPriceUpdate` text. With the store, every event is handed to the journal with its raw
frame and group-committed every 50 ms, as the service does (a mark is kept in its compact row,
without the frame: `store/codec.py`).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from assistant.binance.parse import parse_market_frame
from assistant.core.events import (
    AccountSnapshotted,
    BracketsLoaded,
    ExchangeFigures,
    PositionChange,
)
from assistant.core.mirror import MirrorState, apply
from assistant.core.model import MarginType
from assistant.store.sqlite import SqliteStore
from bench.margin import make_account

FRAMES = 100_000


def ready_state() -> MirrorState:
    account = make_account(50)
    positions = tuple(
        PositionChange(p.symbol, p.side, p.amount, p.entry_price, MarginType.CROSS, Decimal(0))
        for p in account.positions
    )
    state = apply(MirrorState(), BracketsLoaded(dict(account.brackets), 1))
    snapshot = AccountSnapshotted(
        taken_at=2,
        wallet_balance=account.wallet_balance,
        hedge_mode=False,
        positions=positions,
        leverage={p.symbol: p.leverage or 20 for p in account.positions},
        margin_types={p.symbol: MarginType.CROSS for p in account.positions},
        open_orders=(),
        marks=dict(account.marks),
        exchange=ExchangeFigures(Decimal(0), Decimal(0)),
    )
    return apply(state, snapshot)


def frames(state: MirrorState, count: int) -> list[str]:
    rng = random.Random(3)
    symbols = sorted(state.marks)
    marks = dict(state.marks)
    out = []
    for i in range(count):
        symbol = rng.choice(symbols)
        marks[symbol] = (marks[symbol] * Decimal(str(1 + rng.gauss(0, 0.0005)))).quantize(
            Decimal("0.00000001")
        )
        out.append(
            json.dumps(
                {
                    "e": "markPriceUpdate",
                    "E": 10 + i,
                    "s": symbol,
                    "p": str(marks[symbol]),
                    "ap": str(marks[symbol]),
                    "P": str(marks[symbol]),
                    "i": str(marks[symbol]),
                    "r": "0.00010000",
                    "T": 1562306400000,
                },
                separators=(",", ":"),
            )
        )
    return out


def run(with_store: bool) -> tuple[float, float]:
    state = ready_state()
    texts = frames(state, FRAMES)
    size = sum(len(t) for t in texts)
    with tempfile.TemporaryDirectory() as folder:
        store = SqliteStore(Path(folder) / "bench.db") if with_store else None
        start = last_flush = time.perf_counter()
        for text in texts:
            updates = parse_market_frame(text)
            assert isinstance(updates, list)
            for update in updates:
                state = apply(state, update)
                if store is not None:
                    store.append(update, update.event_at, text)
            assert state.book is not None
            _ = state.book.margin_ratio
            if store is not None and time.perf_counter() - last_flush >= 0.05:
                store.flush()
                last_flush = time.perf_counter()
        if store is not None:
            store.close()
        elapsed = time.perf_counter() - start
    return FRAMES / elapsed, size / elapsed / 1e6


def service_rss() -> float:
    """Resident memory (MB) of `assistant run` mirroring the emulator's crash account."""
    with tempfile.TemporaryDirectory() as folder:
        emulator = subprocess.Popen(
            [sys.executable, "-m", "assistant", "emulator", "--scenario", "calm"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert emulator.stdout is not None
            urls = json.loads(emulator.stdout.readline())
            config = Path(folder) / "a.toml"
            config.write_text(
                f'[exchange]\nenvironment = "emulator"\nrest_url = "{urls["rest"]}"\n'
                f'ws_url = "{urls["ws"]}"\n'
            )
            service = subprocess.Popen(
                [sys.executable, "-m", "assistant", "run", "-c", str(config)],
                stderr=subprocess.DEVNULL,
            )
            try:
                time.sleep(5)  # a benchmark, not a test: let it settle into its steady state
                status = Path(f"/proc/{service.pid}/status").read_text()
                kb = next(
                    int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")
                )
                return kb / 1024
            finally:
                service.terminate()
                service.wait(timeout=10)
        finally:
            emulator.terminate()
            emulator.wait(timeout=10)


def main() -> None:
    print("mirror: raw mark-price frames -> parse -> mirror -> margin ratio, 50 positions")
    for with_store in (False, True):
        rate, mbps = run(with_store)
        label = (
            "with the store (journal, 50 ms group commit)" if with_store else "without the store"
        )
        print(f"  {label}: {rate:,.0f} frames/s ({mbps:.1f} MB/s)")
    rss = service_rss()
    print(f"service: resident memory of `assistant run` mirroring the emulator: {rss:.0f} MB")


if __name__ == "__main__":
    main()
