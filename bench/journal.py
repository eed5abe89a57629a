"""Journal: what a mark costs on disk, and what the defaults keep for a 50-symbol account.

Marks for 50 symbols at 1 Hz (Binance's `markPriceUpdate` frames, prices with its 8 decimals,
each symbol on its own tick size) go through the real store as the service sends them: each
appended with its raw frame, group-committed every 50 ms of market time, and on every
second's save tick a checkpoint and the retention prune (`SqliteStore.prune`). The retention is
scaled down, one market hour standing in for the default 7 days, and the run journals an hour
and a half, so the prune has deleted half an hour and the file is in its steady state (new rows
in the pages the prune freed). After a last prune and checkpoint:

    bytes per mark = (database + WAL) / marks the journal keeps

and the defaults' footprint is that times 50 symbols x 86,400 s x 7 days.
"""

from __future__ import annotations

import json
import math
import random
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from assistant.core.events import FiltersLoaded, MarkPriceUpdated
from assistant.store.codec import encode_event
from assistant.store.sqlite import SqliteStore

NAMES = (  # noqa: SIM905 (a list of 50 names, one line each, would be harder to read)
    "BTC ETH BNB SOL XRP DOGE ADA AVAX LINK DOT TRX MATIC LTC BCH NEAR UNI ATOM ETC XLM FIL"
    " APT ARB OP INJ SUI 1000PEPE 1000SHIB WIF TIA SEI AAVE MKR LDO RUNE FTM SAND MANA AXS"
    " GALA APE CRV DYDX GMX ORDI STX IMX RNDR FET ENA WLD"
).split()
SYMBOLS = [f"{name}USDT" for name in NAMES]  # 50
START = 1_760_000_000_000  # epoch ms
KEEP_S = 3600  # the scaled retention: one market hour
RUN_S = 5400  # an hour and a half journaled
DAY_MARKS = len(SYMBOLS) * 86_400
EIGHT = Decimal("0.00000001")


def frame(symbol: str, price: Decimal, event_at: int) -> str:
    text = str(price)
    return json.dumps(
        {
            "e": "markPriceUpdate",
            "E": event_at,
            "s": symbol,
            "p": text,
            "ap": text,
            "P": text,
            "i": text,
            "r": "0.00010000",
            "T": event_at - event_at % 28_800_000 + 28_800_000,
        },
        separators=(",", ":"),
    )


def journal(folder: Path, seconds: int, keep_s: int) -> tuple[int, int, int, float]:
    """(marks journaled, marks kept, database + WAL bytes, seconds taken)."""
    rng = random.Random(7)
    prices = {s: 10 ** rng.uniform(-2.0, 5.0) for s in SYMBOLS}
    places = {s: max(0, min(8, 4 - math.floor(math.log10(p)))) for s, p in prices.items()}
    store = SqliteStore(folder / "journal.db")
    # The ids of a store some weeks in (100 million rows journaled: 4-byte varints, as a fresh
    # file's first 2 million rows would not show), after its start-up row, the filters.
    filters = FiltersLoaded({}, START - 1)
    with store.db.conn:
        store.db.execute(
            "INSERT INTO journal (id, received_at, kind, event) VALUES (?, ?, ?, ?)",
            [100_000_000, START - 1, "FiltersLoaded", encode_event(filters)],
        )
    marks = 0
    began = time.perf_counter()
    for second in range(seconds):
        now = START + second * 1000
        for i, symbol in enumerate(SYMBOLS):  # spread over the second, one flush per 50 ms
            prices[symbol] *= 1 + rng.gauss(0, 0.0005)
            tick = Decimal(1).scaleb(-places[symbol])
            price = Decimal(repr(prices[symbol])).quantize(tick).quantize(EIGHT)
            received = now + i * 20 + rng.randint(0, 19)
            event_at = received - rng.randint(1, 60)
            store.append(
                MarkPriceUpdated(symbol, price, event_at),
                received,
                frame(symbol, price, event_at),
            )
            marks += 1
            if i % 3 == 2:
                store.flush()
        store.flush()  # the save tick: flush, checkpoint, prune
        store.checkpoint()
        store.prune(now - keep_s * 1000)
    store.prune(START + seconds * 1000 - keep_s * 1000)
    store.checkpoint()
    elapsed = time.perf_counter() - began
    kept = store.journal_count() - 1  # the filters' row is kept, not a mark
    store.db.close()
    size = sum(p.stat().st_size for p in folder.glob("journal.db*") if not p.name.endswith("shm"))
    return marks, kept, size, elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        marks, kept, size, elapsed = journal(Path(folder), RUN_S, KEEP_S)
    per_mark = size / kept
    print(
        f"journal: {len(SYMBOLS)} symbols of marks at 1 Hz through the store, {RUN_S / 3600:g}"
        f" market hours with {KEEP_S / 3600:g} h kept (standing in for the default 7 days)"
    )
    print(
        f"  {marks:,} marks journaled in {elapsed:.1f} s ({marks / elapsed:,.0f} marks/s),"
        f" {kept:,} kept; database + WAL {size / 2**20:.1f} MiB: {per_mark:.1f} bytes per mark"
    )
    print(
        f"  so {per_mark * len(SYMBOLS) * 3600 / 2**20:.1f} MiB per market hour at"
        f" {len(SYMBOLS)} symbols, {per_mark * DAY_MARKS * 7 / 1e9:.2f} GB for 7 days"
    )


if __name__ == "__main__":
    main()
