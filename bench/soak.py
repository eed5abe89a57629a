"""Soak: an hour of a 50-symbol market at 1 Hz marks (compressed SPEED times), the real
`assistant run` mirroring it with the example rules in dry-run. Reports the process's CPU share,
resident memory at the start and the end, the store's size, and the event lag (a mark's
publish time at the emulator to its arrival in the journal)."""

from __future__ import annotations

import asyncio
import random
import signal
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from assistant.core.events import MarkPriceUpdated
from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator
from assistant.store.sqlite import SqliteStore
from bench.actions import pct
from bench.peer import cpu_seconds, start_assistant

SPEED = 30.0
HOUR = 3600.0
SYMBOLS = 50
ROOT = Path(__file__).resolve().parent.parent


def scenario() -> dict[str, Any]:
    rng = random.Random(21)
    symbols = {f"S{i:02d}USDT": {"mark": str(rng.randint(1, 500) * 10)} for i in range(SYMBOLS)}
    positions = [
        {
            "symbol": s,
            "positionSide": "BOTH",
            "leverage": 5,
            "marginType": "cross",
            "positionAmt": str(round(2000 / float(v["mark"]), 3)),
            "entryPrice": v["mark"],
        }
        for s, v in symbols.items()
    ]
    path = []
    marks = {s: float(v["mark"]) for s, v in symbols.items()}
    for t in range(0, int(HOUR) + 1, 60):  # a random walk, one point a minute
        path.append({"t": t, **{s: f"{p:.2f}" for s, p in marks.items()}})
        marks = {s: p * (1 + rng.gauss(0, 0.002)) for s, p in marks.items()}
    return {
        "futures": {"USDT": "40000"},
        "spot": {"USDT": "0"},
        "symbols": symbols,
        "positions": positions,
        "path": path,
        "settings": {"speed": SPEED, "mark_interval": 1.0, "weight_limit": 1_000_000},
    }


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def measure(folder: Path) -> dict[str, Any]:
    emulator = await Emulator(load_scenario(scenario())).start()
    example = (ROOT / "config" / "assistant.example.toml").read_text()
    config = folder / "assistant.toml"
    config.write_text(
        example.replace('environment = "live"', 'environment = "emulator"')
        .replace('rest_url = ""', f'rest_url = "{emulator.urls["rest"]}"')
        .replace('ws_url = ""', f'ws_url = "{emulator.urls["ws"]}"')
        .replace('path = "assistant.db"', 'path = "soak.db"')
    )
    process = await start_assistant(config)
    await asyncio.sleep(3)  # start-up; the measurements start from here
    rss_start, cpu_start, wall_start = (
        rss_mb(process.pid),
        cpu_seconds(process.pid),
        time.monotonic(),
    )
    samples = []
    while emulator.scenario_time() < HOUR:
        await asyncio.sleep(2)  # sampling memory every 2 s while the hour plays
        samples.append(rss_mb(process.pid))
        if time.monotonic() - wall_start > HOUR / SPEED + 60:
            break
    wall = time.monotonic() - wall_start
    cpu = cpu_seconds(process.pid) - cpu_start
    rss_end = rss_mb(process.pid)
    process.send_signal(signal.SIGTERM)
    await asyncio.wait_for(process.wait(), 30)
    await emulator.stop()
    store = SqliteStore(folder / "soak.db")
    rows = [
        (row.received_at, row.event.event_at)
        for row in store.journal()
        if isinstance(row.event, MarkPriceUpdated)
    ]
    store.db.close()
    lags = [float(r - e) for r, e in rows]
    size = sum(p.stat().st_size for p in folder.glob("soak.db*")) / 2**20
    return {
        "cpu_share": cpu / wall,
        "rss": (rss_start, rss_end, max(samples, default=rss_end)),
        "store_mb": size,
        "marks": len(rows),
        "lag": (statistics.median(lags), pct(lags, 0.99)) if lags else (0.0, 0.0),
        "wall": wall,
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        r = asyncio.run(measure(Path(folder)))
    start, end, peak = r["rss"]
    print(
        f"soak: one market hour, {SYMBOLS} symbols at 1 Hz, played in {r['wall']:.0f} s"
        f" ({SPEED:g}x: {SYMBOLS * SPEED:.0f} marks/s); {r['marks']:,} marks journaled"
    )
    print(
        f"  CPU {r['cpu_share']:.0%} of one core at {SPEED:g}x"
        f" (about {r['cpu_share'] / SPEED:.1%} live)"
    )
    print(
        f"  resident memory {start:.0f} MB at the start, {end:.0f} MB at the end (peak {peak:.0f})"
    )
    print(
        f"  store {r['store_mb']:.1f} MB for the hour;"
        f" event lag p50 {r['lag'][0]:.1f} ms, p99 {r['lag'][1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
