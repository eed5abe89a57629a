"""The Prometheus endpoint, scraped over loopback while the service mirrors the emulator."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator
from assistant.service.metrics import Metrics
from tests.service.test_mirror_live import Running, steady


async def test_metrics_show_health_and_counts(tmp_path: Path) -> None:
    emulator = await Emulator(load_scenario(steady())).start()
    metrics = Metrics()
    port = await metrics.serve("127.0.0.1", 0)
    try:
        running = Running(emulator, tmp_path / "m.db", metrics=metrics)
        async with running as service:
            await service.wait_for(lambda s: s.ready and s.book is not None, 15)
            await service.wait_for(lambda s: metrics.ready._value.get() == 1, 5)
            async with (
                aiohttp.ClientSession() as session,
                session.get(f"http://127.0.0.1:{port}/metrics") as response,
            ):
                text = await response.text()
    finally:
        await metrics.stop()
        await emulator.stop()
    lines = {
        line.split(" ")[0]: line.split(" ")[1]
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert float(lines["assistant_margin_ratio"]) == 0.06  # 180 / 3000
    assert float(lines["assistant_margin_balance_usdt"]) == 3000.0
    assert lines["assistant_ready"] == "1.0"
    assert float(lines['assistant_events_total{kind="AccountSnapshotted"}']) >= 1
