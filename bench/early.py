"""Early warnings from the shadow mark, on the emulator's model of a market (`exchange/lead.py`:
the book, last price and index lead the marks by `book_lead` = 1 s), at speed 1, in exchange
milliseconds: how long before the mark-driven alert the early one comes, how many early ones
the marks withdraw, and both against the 5 s polling peer of `bench.peer`.

The account and the levels are the peer benchmark's (the crash account, margin ratio tier 15%,
about 6% safe and 23% in danger), but the falls come at several speeds, 0.5 to 4 s, and some
stop just short of the tier (a near miss: an early warning there is withdrawn). The figures
are about that model, not about Binance: in it the book leads by exactly a second; how far
Binance's book leads Binance's mark is not known here.

The estimator's error against the next real mark is measured by running the same pure code
over the journal the service kept (its quotes and marks).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from assistant.binance.wire import parse_leverage_brackets
from assistant.core.events import MarkPriceUpdated
from assistant.core.margin.book import MarginBook
from assistant.core.mirror import MirrorState, apply
from assistant.core.model import Account, Position, PositionSide
from assistant.emulator.exchange.builtins import BUILTINS
from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator
from assistant.store.sqlite import SqliteStore
from bench.actions import pct
from bench.peer import DANGER, SAFE, TIER, cpu_seconds, crossings, delays, start_assistant

CROSSINGS = int(os.environ.get("EARLY_CROSSINGS", "50"))
NEAR_MISSES = CROSSINGS // 5
WICKS = CROSSINGS // 10
FALLS = (0.5, 1.0, 2.0, 4.0)  # seconds from safe to danger (or to the near miss)
HOLD_SAFE, HOLD_DANGER, RECOVER = 3.0, 1.5, 0.5
WARM_UP = 8.0  # scenario seconds of a still market before the first cycle
NEAR = Decimal("0.145")  # the near misses stop at this margin ratio, short of the tier
POLL = 5.0


def ratio_at(share: Decimal) -> Decimal:
    """The crash account's margin ratio with every mark `share` of the way from safe to danger
    (the core's arithmetic; the emulator's own agrees to many digits)."""
    scenario = load_scenario(BUILTINS["crash"]())
    marks = {s: Decimal(SAFE[s]) + (Decimal(DANGER[s]) - Decimal(SAFE[s])) * share for s in SAFE}
    positions = tuple(
        Position(
            p["symbol"], PositionSide.BOTH, Decimal(p["positionAmt"]), Decimal(p["entryPrice"])
        )
        for p in scenario.positions
    )
    brackets = parse_leverage_brackets(
        {s: list(spec.brackets) for s, spec in scenario.symbols.items()}
    )
    book = MarginBook.build(Account(scenario.futures["USDT"], positions, marks, brackets))
    ratio = book.margin_ratio
    assert ratio is not None
    return ratio


def near_share() -> Decimal:
    low, high = Decimal(0), Decimal(1)
    for _ in range(40):
        middle = (low + high) / 2
        low, high = (middle, high) if ratio_at(middle) < NEAR else (low, middle)
    return low


def cycles() -> list[tuple[str, float]]:
    """(kind, length) of each cycle: the falls at their speeds in turn, a near miss after every
    fifth fall, a book-only wick after every tenth."""
    out: list[tuple[str, float]] = []
    for i in range(CROSSINGS):
        fall = FALLS[i % len(FALLS)]
        out.append(("fall", fall))
        if i % 5 == 4:
            out.append(("near", FALLS[(i // 5) % len(FALLS)]))
        if i % 10 == 9:
            out.append(("wick", 0.0))
    return out


def scenario() -> tuple[dict[str, Any], list[tuple[str, float, float]]]:
    """The price path, and each cycle's (kind, start, end) in scenario seconds. A fall: safe,
    down to danger (or, a near miss, to just short of the tier), a short hold, back. A wick:
    safe, then danger for 0.4 s between two marks (whole seconds), which no mark ever shows."""
    share = near_share()
    near = {
        s: str(
            (Decimal(SAFE[s]) + (Decimal(DANGER[s]) - Decimal(SAFE[s])) * share).quantize(
                Decimal("0.01")
            )
        )
        for s in SAFE
    }
    raw = BUILTINS["crash"]()
    path: list[dict[str, Any]] = []
    spans: list[tuple[str, float, float]] = []
    t = WARM_UP  # the service starts, and its estimator measures its error on still marks
    for kind, fall in cycles():
        path += [{"t": t, **SAFE}, {"t": t + HOLD_SAFE, **SAFE}]
        if kind == "wick":
            dip = math.floor(t + HOLD_SAFE) + 1.3
            path += [
                {"t": dip, **SAFE},
                {"t": dip + 0.1, **DANGER},
                {"t": dip + 0.3, **DANGER},
                {"t": dip + 0.4, **SAFE},
            ]
            end = dip + 4.0  # the withdrawal comes 3 s after the warning
        else:
            low = near if kind == "near" else DANGER
            path += [
                {"t": t + HOLD_SAFE + fall, **low},
                {"t": t + HOLD_SAFE + fall + HOLD_DANGER, **low},
            ]
            end = t + HOLD_SAFE + fall + HOLD_DANGER + RECOVER
        spans.append((kind, t, end))
        t = end
    path.append({"t": t, **SAFE})
    raw["path"] = path
    raw["settings"] = {"speed": 1.0, "mark_interval": 1.0, "book_lead": 1.0}
    return raw, spans


def config(folder: Path, emulator: Emulator) -> Path:
    path = folder / "assistant.toml"
    path.write_text(
        f'[exchange]\nenvironment = "emulator"\nrest_url = "{emulator.urls["rest"]}"\n'
        f'ws_url = "{emulator.urls["ws"]}"\n[store]\npath = "a.db"\n'
        f"[alerts]\nmargin_ratio = [{TIER}]\nmargin_ratio_band = 0.02\ndistance = []\n"
        'isolated_ratio = []\ncooldown = "1ms"\nstale_after = "1h"\ndrift = false\n'
        'daily_summary = ""\nearly = true\n[deposit]\nenabled = false\n'
        "[reduce]\nenabled = false\n"
    )
    return path


def estimator_errors(store_path: Path) -> tuple[list[float], list[float]]:
    """|estimate − next mark| / mark in basis points, for every mark the service's estimator
    measured (the journal replayed through the same pure code): (where the mark had not moved
    since the one before, where it had)."""
    store = SqliteStore(store_path)
    state = MirrorState()
    still: list[float] = []
    moving: list[float] = []
    try:
        for _, event in store.events():
            symbol = getattr(event, "symbol", "")
            before, mark = state.quotes.get(symbol), state.marks.get(symbol)
            state = apply(state, event)
            if isinstance(event, MarkPriceUpdated) and before is not None:
                after = state.quotes[symbol]
                if after.error is not None and after.measured_at != before.measured_at:
                    size = abs(float(after.error)) * 10_000
                    (still if mark == event.price else moving).append(size)
    finally:
        store.close()
    return still, moving


def kind_at(at: float, base: float, spans: list[tuple[str, float, float]]) -> str:
    """The kind of cycle an exchange time falls in (the emulator's scenario time 0 at `base`)."""
    t = (at - base) / 1000
    for kind, start, end in spans:
        if start <= t < end:
            return kind
    return "fall"


def early_leads(
    cross: list[int], real: list[float], early: list[float]
) -> tuple[list[float], list[float]]:
    """For each crossing with a mark-driven alert: (lead of the early alert before it, the
    early alert's time against the crossing mark), when an early alert came in its cycle."""
    leads, versus_mark = [], []
    for i, at in enumerate(cross):
        start = cross[i - 1] + 1 if i else float("-inf")
        nxt = cross[i + 1] if i + 1 < len(cross) else float("inf")
        alerts = [a for a in real if at - 1 <= a < nxt]
        warned = [e for e in early if start <= e < (alerts[0] if alerts else nxt)]
        if alerts and warned:
            leads.append(alerts[0] - warned[-1])
            versus_mark.append(warned[-1] - at)
    return leads, versus_mark


def book_rows(path: Path) -> tuple[int, int]:
    """(quote rows, their bytes of text) in the store's `book` table."""
    with sqlite3.connect(path) as conn:
        count, size = conn.execute("SELECT COUNT(*), SUM(LENGTH(event)) FROM book").fetchone()
    return int(count), int(size or 0)


async def measure(folder: Path) -> dict[str, Any]:
    raw, spans = scenario()
    ours = await Emulator(load_scenario(raw)).start()
    base = ours.now_ms() - ours.scenario_time() * 1000  # exchange ms of scenario time 0
    peer = await Emulator(load_scenario(raw)).start()
    assistant = await start_assistant(config(folder, ours))
    poller = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.poller",
        peer.urls["rest"],
        str(TIER),
        str(POLL),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    peer_alerts: list[float] = []

    async def read_peer() -> None:
        assert poller.stdout is not None
        async for line in poller.stdout:
            peer_alerts.append(json.loads(line)["alert_at"] * 1000)

    reader = asyncio.create_task(read_peer())
    end = max(t for t, _ in ours.scenario.path) + 2
    started = time.monotonic()
    while ours.scenario_time() < end and time.monotonic() - started < end + 60:
        await asyncio.sleep(0.5)  # the market plays on by itself; we only wait for its end
    hours = (time.monotonic() - started) / 3600
    cpu = cpu_seconds(assistant.pid) / hours
    for process in (assistant, poller):
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 15)
    reader.cancel()
    with sqlite3.connect(folder / "a.db") as conn:
        rows = conn.execute(
            "SELECT at, what, tier FROM audit WHERE what LIKE 'alert:%margin_ratio'"
        ).fetchall()
    real = [
        float(at) for at, what, tier in rows if what == "alert:margin_ratio" and tier != "clear"
    ]
    early = [
        float(at) for at, what, tier in rows if what.startswith("alert:early") and tier == str(TIER)
    ]
    # Each early alert counts in the cycle it came in, its withdrawal with it (3 s later, the
    # next cycle may have begun).
    settled: dict[str, dict[str, int]] = {k: {} for k in ("fall", "near", "wick")}
    last = "fall"
    for at, what, tier in sorted(rows):
        if not what.startswith("alert:early") or tier == "confirmed":
            continue
        if tier == "withdrawn":
            settled[last]["withdrawn"] = settled[last].get("withdrawn", 0) + 1
        else:
            last = kind_at(float(at), base, spans)
            settled[last]["early"] = settled[last].get("early", 0) + 1
    confirmed = sum(
        1 for _, what, tier in rows if what.startswith("alert:early") and tier == "confirmed"
    )
    cross = crossings(ours)
    leads, versus_mark = early_leads(cross, real, early)
    result = {
        "crossings": len(cross),
        "real": delays(cross, real),
        "peer": delays(crossings(peer), peer_alerts),
        "early": len(early),
        "leads": leads,
        "versus_mark": versus_mark,
        "settled": settled,
        "confirmed": confirmed,
        "peer_crossings": len(crossings(peer)),
        "errors": estimator_errors(folder / "a.db"),
        "cpu": cpu,
        "book_rows": book_rows(folder / "a.db"),
    }
    await ours.stop()
    await peer.stop()
    return result


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        r = asyncio.run(measure(Path(folder)))
    leads, peer, real, settled = r["leads"], r["peer"], r["real"], r["settled"]
    print(
        f"early: {r['crossings']} crossings by falls of {', '.join(f'{f:g}' for f in FALLS)} s,"
        f" {NEAR_MISSES} near misses (to {NEAR:.1%}) and {WICKS} book-only wicks, on the"
        " emulator's model (book, last price and index 1 s ahead of the marks: not evidence"
        " about Binance), speed 1, exchange ms"
    )
    if not leads:
        print("  no early warning came before a mark-driven alert")
        return
    print(
        f"  early alert before the mark-driven one at {len(leads)} of {r['crossings']}"
        f" crossings: lead p50 {statistics.median(leads):.0f} ms, p10 {pct(leads, 0.1):.0f} ms,"
        f" p90 {pct(leads, 0.9):.0f} ms"
    )
    on_paths = {
        k: settled["fall"].get(k, 0) + settled["near"].get(k, 0) for k in ("early", "withdrawn")
    }
    early = max(1, on_paths["early"])
    print(
        f"  on the falls and near misses: {on_paths['early']} early alerts,"
        f" {on_paths['withdrawn']} withdrawn by the marks ({on_paths['withdrawn'] / early:.1%});"
        f" {r['confirmed']} confirmations recorded in all"
    )
    wick = settled["wick"]
    print(
        f"  on the {WICKS} wicks no mark shows: {wick.get('early', 0)} early alerts,"
        f" {wick.get('withdrawn', 0)} withdrawn"
    )
    print(
        f"  after the crossing mark: early p50 {statistics.median(r['versus_mark']):.0f} ms,"
        f" mark-driven p50 {statistics.median(real):.0f} ms; polling every 5 s: alerted at"
        f" {len(peer)} of {r['peer_crossings']} crossings (the others were over before a poll),"
        f" p50 {statistics.median(peer) if peer else float('nan'):.0f} ms,"
        f" p90 {pct(peer, 0.9) if peer else float('nan'):.0f} ms"
    )
    rows, size = r["book_rows"]
    print(
        f"  the assistant's CPU with the book followed: {r['cpu']:.1f} s an hour; {rows}"
        f" quote rows journaled ({size / max(1, rows):.0f} bytes of text each)"
    )
    still, moving = r["errors"]
    for name, errors in (("the mark still", still), ("the mark moving", moving)):
        if errors:
            print(
                f"  the estimate against the next mark, {name}: p50"
                f" {statistics.median(errors):.1f} bp, p90 {pct(errors, 0.9):.1f} bp,"
                f" over {len(errors)} marks"
            )


if __name__ == "__main__":
    main()
