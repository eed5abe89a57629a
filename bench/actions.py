"""Rules and actions: from the mark-price frame that crosses a threshold to the alert being
emitted, and to the reduce-only order request leaving the process (p50 / p99).

The emulator runs as its own process; the service runs here, with real websockets and ccxt,
and three clocks read with perf_counter: the crossing frame handed over by the stream, the
alert handed to the notifier, and the order's body leaving the socket (aiohttp's trace).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp

from assistant.binance.rest import BinanceRest
from assistant.core.actions import SendAlert
from assistant.core.events import MarkPriceUpdated
from assistant.core.rules.config import AlertRules, DepositRule, ReduceRule, Rules
from assistant.service.bootstrap import build
from assistant.service.scheduler import Inbox, Timings
from assistant.service.settings import Settings
from assistant.store.sqlite import SqliteStore

CROSSINGS = 150  # each takes a little of the position; the ratio stays past 0.15
SAFE, DANGER = Decimal("59000"), Decimal("57000")  # margin ratio about 0.10 and 0.59
SCENARIO = {
    "futures": {"USDT": "2400"},
    "spot": {"USDT": "0"},
    "symbols": {"BTCUSDT": {"mark": "59000"}},
    "positions": [{"symbol": "BTCUSDT", "positionAmt": "1", "entryPrice": "59000", "leverage": 50}],
    "settings": {"mark_interval": 3600, "weight_limit": 1000000},
}
RULES = Rules(
    alerts=AlertRules(
        ratio_tiers=(Decimal("0.15"),),
        ratio_band=Decimal("0.03"),
        distance_tiers=(),
        isolated_ratio_tiers=(),
        cooldown_ms=0,
        stale_after_ms=10**9,
        drift=False,
    ),
    deposit=DepositRule(enabled=False),
    reduce=ReduceRule(
        trigger_ratio=Decimal("0.15"),
        trigger_distance=None,
        target_ratio=Decimal("0.01"),
        target_distance=None,
        max_fraction=Decimal("0.001"),
        cooldown_ms=0,
    ),
    mode="auto",
)


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(urls: dict[str, str], folder: Path) -> tuple[list[float], list[float]]:
    clock: dict[str, float] = {}
    alert_ms: list[float] = []
    order_ms: list[float] = []

    def on_sent(method: str, path: str) -> None:
        if method == "POST" and path == "/fapi/v1/order" and "frame" in clock:
            order_ms.append((time.perf_counter() - clock.pop("frame")) * 1000)  # the first only

    def notify(alert: SendAlert) -> None:
        if alert.key == "margin_ratio" and alert.severity != "info" and "frame" in clock:
            alert_ms.append((time.perf_counter() - clock["frame"]) * 1000)

    rest = BinanceRest(
        api_key="emulator-key", api_secret="emulator-secret", rest_url=urls["rest"], on_sent=on_sent
    )
    store = SqliteStore(folder / "bench.db")

    class TimedInbox(Inbox):
        """The frame's arrival is when the crossing mark reaches the service's inbox."""

        async def put(self, event: Any, raw: str | None, received_at: int) -> None:
            if isinstance(event, MarkPriceUpdated) and event.price == DANGER:
                clock["frame"] = time.perf_counter()
            await super().put(event, raw, received_at)

    service = build(
        Settings(),
        rest=rest,
        ws_url=urls["ws"],
        store=store,
        rules=RULES,
        timings=Timings(reconcile_every=3600, staleness_limit=3600),
        listeners=[notify],
        log_alerts=False,
        inbox=TimedInbox(),
    )
    task = asyncio.create_task(service.run())
    try:
        await service.wait_for(lambda s: s.ready, 20)
        async with aiohttp.ClientSession() as session:
            for _ in range(CROSSINGS):
                for price in (SAFE, DANGER):
                    settled = len(order_ms)
                    async with session.post(
                        f"{urls['control']}/mark", json={"symbol": "BTCUSDT", "price": str(price)}
                    ):
                        pass
                    await service.wait_for(lambda s, p=price: s.marks.get("BTCUSDT") == p, 10)
                    if price == DANGER:
                        await service.wait_for(lambda s, n=settled: len(order_ms) > n, 10)
                    else:  # back to safety: the reductions stop, the last one settles
                        await service.wait_for(lambda s: not service.memory.pending, 10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        store.close()
        await rest.close()
    return alert_ms, order_ms


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        scenario = Path(folder) / "s.json"
        scenario.write_text(json.dumps(SCENARIO))
        with subprocess.Popen(
            [sys.executable, "-m", "assistant", "emulator", "--scenario", str(scenario)],
            stdout=subprocess.PIPE,
            text=True,
        ) as emulator:
            try:
                assert emulator.stdout is not None
                urls = json.loads(emulator.stdout.readline())
                alert_ms, order_ms = asyncio.run(measure(urls, Path(folder)))
            finally:
                emulator.terminate()
                emulator.wait(timeout=10)
    print(
        "actions: threshold-crossing mark frame -> alert / reduce-only request sent"
        f" ({len(alert_ms)} crossings)"
    )
    print(f"  alert: p50 {statistics.median(alert_ms):.2f} ms, p99 {pct(alert_ms, 0.99):.2f} ms")
    print(f"  order: p50 {statistics.median(order_ms):.2f} ms, p99 {pct(order_ms, 0.99):.2f} ms")


if __name__ == "__main__":
    main()
