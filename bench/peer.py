"""Side by side: the assistant against a polling monitor, each against its own emulator
playing the same market (marks at Binance's 1 s cadence), 50 threshold crossings.

The assistant is `assistant run` (websockets, rules), the peer `bench.poller` (ccxt
fetch_positions + fetch_balance every 5 s, our own math): two processes, whose CPU is read from
/proc. The market runs SPEED times faster than real time to keep the run short; the peer's
poll interval is compressed by the same factor, so its delays are reported ×SPEED (what they
would be live), while the assistant's delay is not compressed by the speed (it reacts to each
mark as it comes) and is reported as measured. REST weight is summed from each emulator's own
request log, per hour of market time.
"""

from __future__ import annotations

import asyncio
import json
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

from assistant.emulator.exchange.builtins import BUILTINS
from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator
from bench.actions import pct

SPEED = 4.0
CROSSINGS = 50
POLL = 5.0  # the peer's interval, in market seconds
TIER = Decimal("0.15")
SAFE = {"BTCUSDT": "60000", "ETHUSDT": "3000"}  # margin ratio about 0.06
DANGER = {"BTCUSDT": "57000", "ETHUSDT": "2850"}  # about 0.23
CYCLE = 14  # market seconds: 6 safe, 1 falling, 6 in danger, 1 recovering
TICKS = os.sysconf("SC_CLK_TCK")


def scenario() -> dict[str, Any]:
    raw = BUILTINS["crash"]()
    path = []
    for i in range(CROSSINGS):
        t = i * CYCLE
        path += [
            {"t": t, **SAFE},
            {"t": t + 6, **SAFE},
            {"t": t + 7, **DANGER},
            {"t": t + 13, **DANGER},
        ]
    path.append({"t": CROSSINGS * CYCLE, **SAFE})
    raw["path"] = path
    raw["settings"] = {"speed": SPEED, "mark_interval": 1.0}
    return raw


async def start_assistant(config: Path) -> asyncio.subprocess.Process:
    """`assistant run -c CONFIG` as its own process, quiet (its CPU is read from /proc)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "assistant",
        "run",
        "-c",
        str(config),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


def crossings(emulator: Emulator) -> list[int]:
    """Wall ms at which the emulator's own engine first saw the ratio at or past the tier,
    re-armed once it was back below tier − band. (It used to disarm on any mark inside the
    band on the way up, so a slow rise through the band was never counted as a crossing.)"""
    out, armed = [], True
    for row in emulator.engine.history:
        ratio = row["margin_ratio"]
        if ratio is None or Decimal(ratio) >= TIER:
            if armed:
                out.append(int(row["time"]))
            armed = False
        elif Decimal(ratio) < TIER - Decimal("0.02"):
            armed = True
    return out


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def delays(cross: list[int], alerts: list[float]) -> list[float]:
    """For each crossing, ms until the first alert after it (and before the next crossing)."""
    out = []
    for i, at in enumerate(cross):
        nxt = cross[i + 1] if i + 1 < len(cross) else float("inf")
        after = [a for a in alerts if at - 1 <= a < nxt]
        if after:
            out.append(after[0] - at)
    return out


def weight(emulator: Emulator) -> int:
    return sum(int(r["weight"]) for r in emulator.requests)


async def measure(folder: Path) -> dict[str, Any]:
    ours = await Emulator(load_scenario(scenario())).start()
    peer = await Emulator(load_scenario(scenario())).start()
    config = folder / "assistant.toml"
    config.write_text(
        f'[exchange]\nenvironment = "emulator"\nrest_url = "{ours.urls["rest"]}"\n'
        f'ws_url = "{ours.urls["ws"]}"\n[store]\npath = "a.db"\n'
        f"[alerts]\nmargin_ratio = [{TIER}]\nmargin_ratio_band = 0.02\ndistance = []\n"
        'isolated_ratio = []\ncooldown = "1ms"\nstale_after = "1h"\ndrift = false\n'
        'daily_summary = ""\n[deposit]\nenabled = false\n[reduce]\nenabled = false\n'
    )
    assistant = await start_assistant(config)
    poller = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.poller",
        peer.urls["rest"],
        str(TIER),
        str(POLL / SPEED),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    peer_alerts: list[float] = []

    async def read_peer() -> None:
        assert poller.stdout is not None
        async for line in poller.stdout:
            peer_alerts.append(json.loads(line)["alert_at"] * 1000)

    reader = asyncio.create_task(read_peer())
    end = CROSSINGS * CYCLE + 2
    started = time.monotonic()
    while ours.scenario_time() < end or peer.scenario_time() < end:
        await asyncio.sleep(0.5)  # the market plays on by itself; we only wait for its end
        if time.monotonic() - started > end / SPEED + 60:
            break
    market_hours = min(ours.scenario_time(), peer.scenario_time()) / 3600
    wall_hours = (time.monotonic() - started) / 3600
    cpu = {"assistant": cpu_seconds(assistant.pid), "peer": cpu_seconds(poller.pid)}
    for process in (assistant, poller):
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 15)
    reader.cancel()
    with sqlite3.connect(folder / "a.db") as conn:
        rows = conn.execute(
            "SELECT at, detail FROM audit WHERE what = 'alert:margin_ratio'"
        ).fetchall()
    ours_alerts = [float(at) for at, detail in rows if not detail.startswith("info")]
    result = {
        "ours": delays(crossings(ours), ours_alerts),
        "peer": [d * SPEED for d in delays(crossings(peer), peer_alerts)],
        "crossings": (len(crossings(ours)), len(crossings(peer))),
        # The assistant's REST use (reconcile, keepalive) runs on wall time, the peer's polls
        # on market time; the assistant's CPU per wall hour is an upper bound (its marks
        # came SPEED times denser than live).
        "weight": {"assistant": weight(ours) / wall_hours, "peer": weight(peer) / market_hours},
        "cpu": {"assistant": cpu["assistant"] / wall_hours, "peer": cpu["peer"] / market_hours},
    }
    await ours.stop()
    await peer.stop()
    return result


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        r = asyncio.run(measure(Path(folder)))
    ours, peer = r["ours"], r["peer"]
    print(
        f"peer: {CROSSINGS} crossings ({r['crossings'][0]}/{r['crossings'][1]} seen by the"
        f" emulators; alerted: assistant {len(ours)}, polling peer {len(peer)}),"
        f" market at {SPEED:g}x"
    )
    for name, values in (("assistant", ours), ("polling every 5 s", peer)):
        print(
            f"  {name}: detection p50 {statistics.median(values):.0f} ms,"
            f" p99 {pct(values, 0.99):.0f} ms"
        )
    ratio50 = statistics.median(peer) / max(statistics.median(ours), 0.001)
    ratio99 = pct(peer, 0.99) / max(pct(ours, 0.99), 0.001)
    print(f"  the peer is {ratio50:,.0f}x slower at p50, {ratio99:,.0f}x at p99")
    for name in ("assistant", "peer"):
        print(
            f"  {name}: REST weight {r['weight'][name]:,.0f} an hour,"
            f" CPU {'at most ' if name == 'assistant' else ''}{r['cpu'][name]:.1f} s an hour"
        )


if __name__ == "__main__":
    main()
