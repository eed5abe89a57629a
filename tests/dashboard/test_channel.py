"""The dashboard is an optional channel: when it cannot listen, protection goes on and people
are told; once the port is free it listens by itself."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from pathlib import Path

import aiohttp

from assistant.binance.rest import BinanceRest
from assistant.commands.status import reporter
from assistant.core.actions import SendAlert
from assistant.dashboard.server import DashboardOptions
from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator
from assistant.service.bootstrap import build
from assistant.service.scheduler import Timings
from assistant.service.settings import Settings
from assistant.store.sqlite import SqliteStore
from tests.service.test_mirror_live import steady


async def test_a_port_it_cannot_take_is_a_critical_alert_not_a_stop(tmp_path: Path) -> None:
    emulator = await Emulator(load_scenario(steady())).start()
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = int(blocker.getsockname()[1])
    heard: list[SendAlert] = []
    settings = Settings()
    rest = BinanceRest(
        api_key="emulator-key", api_secret="emulator-secret", rest_url=emulator.urls["rest"]
    )
    store = SqliteStore(tmp_path / "channel.db")
    runtime = build(
        settings,
        rest=rest,
        ws_url=emulator.urls["ws"],
        store=store,
        rules=None,
        timings=Timings(reconcile_every=3600, staleness_limit=3600),
        listeners=[heard.append],
        dashboard=DashboardOptions(reporter(settings), port=port),
    )
    task = asyncio.create_task(runtime.run())
    try:
        board = runtime.dashboard
        assert board is not None
        await runtime.wait_for(lambda state: state.ready, 15)  # protection did not wait
        deadline = time.monotonic() + 10
        for _ in range(200):  # bounded: the supervisor says it at the first failure
            if any(a.key == "channel:dashboard" for a in heard) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        down = [a for a in heard if a.key == "channel:dashboard"]
        assert len(down) == 1 and down[0].severity == "critical"
        assert "dashboard is down (OSError" in down[0].text
        assert runtime.alive  # the watchdog's view: the protection path is whole
        blocker.close()
        await asyncio.wait_for(board.listening.wait(), 20)  # retried with backoff
        assert board.url == f"http://127.0.0.1:{port}/"
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{board.url}api/status") as response,
        ):
            assert response.status == 200
            body = await response.json()
        assert body["wallet_balance"] == "3000.00000000"
    finally:
        blocker.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        store.close()
        await rest.close()
        await emulator.stop()
