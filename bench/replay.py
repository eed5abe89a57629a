"""Replay: events per second through decode → reducer → rules, from a journal on disk.

A 50-symbol cross account (the margin benchmark's shape), its snapshot and brackets, both
streams connected, then marks moving a little at random, journaled by the real store. The
replay is `assistant replay`'s own loop with the example config's rules. Target: ≥ 100,000
events/s, so a day of such an account (about 4 million marks) replays in under a minute.
"""

from __future__ import annotations

import random
import tempfile
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from assistant.core.events import (
    AccountSnapshotted,
    BracketsLoaded,
    MarkPriceUpdated,
    StreamConnected,
)
from assistant.core.mirror import MirrorState
from assistant.core.replay import Replayer
from assistant.service.settings import load_settings, rules_from
from assistant.store.sqlite import SqliteStore
from bench.mirror import ready_state

ROOT = Path(__file__).resolve().parent.parent
MARKS = 400_000


def account_state(ratio: str) -> MirrorState:
    """The benchmark account, its wallet set for the given cross margin ratio."""
    state = ready_state()
    assert state.book is not None
    book = state.book
    wallet = (book.mm / Decimal(ratio) - book.upnl).quantize(Decimal("0.01"))
    return replace(state, wallet_balance=wallet, book=None)


def record(path: Path, ratio: str, count: int) -> int:
    state = account_state(ratio)
    store = SqliteStore(path)
    t = 1_795_000_000_000
    store.append(BracketsLoaded(dict(state.brackets), t), t)
    snapshot = AccountSnapshotted(
        taken_at=t,
        wallet_balance=state.wallet_balance,
        hedge_mode=False,
        positions=tuple(state.positions.values()),
        leverage=dict(state.leverage),
        margin_types=dict(state.margin_types),
        open_orders=(),
        marks=dict(state.marks),
        exchange=state.exchange,
    )
    store.append(snapshot, t)
    for stream in ("user", "market"):
        store.append(StreamConnected(stream, t), t)
    rng = random.Random(5)
    symbols = sorted(state.marks)
    marks = dict(state.marks)
    for i in range(count):
        symbol = symbols[i % len(symbols)]
        marks[symbol] *= 1 + (Decimal(rng.random()) - Decimal("0.5")) / 1000
        at = t + 20 * i  # 50 marks a second: each symbol at Binance's 1 s cadence
        store.append(MarkPriceUpdated(symbol, marks[symbol].quantize(state.marks[symbol]), at), at)
        if i % 10_000 == 0:
            store.flush()
    store.close()
    return count + 4


def run(ratio: str, marks: int) -> tuple[float, int]:
    rules = rules_from(load_settings(ROOT / "config" / "assistant.example.toml"))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "journal.db"
        total = record(path, ratio, marks)
        store = SqliteStore(path)
        settled = store.settled_decisions()
        start = time.perf_counter()
        replayer = Replayer(rules, settled).feed_all(store.events())
        elapsed = time.perf_counter() - start
        store.close()
    assert replayer.events == total
    return total / elapsed, len(replayer.happened)


def main() -> None:
    print("replay: journaled events (50 symbols) through decode, reducer and the example rules")
    for ratio, leverage, marks in (("0.03", "7x", MARKS), ("0.30", "69x", MARKS // 20)):
        rate, decided = run(ratio, marks)
        print(
            f"  margin ratio {float(ratio):.0%} ({leverage} gross leverage): {rate:,.0f} events/s,"
            f" a day of 4 million marks in {4_000_000 / rate:,.0f} s ({decided} decisions)"
        )
    print("  (within the example's 11% distance horizon every mark needs the exact solve)")


if __name__ == "__main__":
    main()
