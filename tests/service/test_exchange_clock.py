"""Time is the exchange's: a host clock 30 s ahead neither makes every mark look stale nor
stops the deposits, and a frame dated in the future is refused instead of pinning the mirror.
The real runtime, ccxt and websockets against the emulator (its clock offset and its raw
frame face)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import aiohttp

from assistant.core.actions import SendAlert
from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator
from tests.emulator.conftest import fast
from tests.service.test_actions_live import example_rules
from tests.service.test_mirror_live import Running, steady

DAY_MS = 86_400_000


async def test_a_host_clock_30_s_ahead_still_protects(tmp_path: Path) -> None:
    """The emulator's clock runs 30 s behind the host's (as if the host were 30 s ahead)."""
    emulator = await Emulator(load_scenario(fast("crash", speed=10.0, clock_offset=-30))).start()
    alerts: list[SendAlert] = []
    rules = example_rules()
    rules = replace(rules, alerts=replace(rules.alerts, stale_after_ms=15_000))  # the default
    try:
        async with Running(
            emulator, tmp_path / "a.db", rules=rules, listeners=[alerts.append]
        ) as service:
            await service.wait_for(lambda s: s.ready, 15)
            for _ in range(200):  # bounded: the crash's 110 s in 11 s of wall time
                if emulator.scenario_time() > 112 or emulator.engine.liquidations:
                    break
                await asyncio.sleep(0.1)
    finally:
        await emulator.stop()
    assert emulator.engine.transfers, "no deposit: the marks looked stale to a host ahead"
    assert emulator.engine.liquidations == []
    assert not [a for a in alerts if a.key.startswith("stale")], [a.text for a in alerts]


async def post(emulator: Emulator, path: str, body: object) -> dict[str, object]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{emulator.urls['control']}/{path}", json=body) as response,
    ):
        assert response.status == 200, await response.text()
        return dict(await response.json())


async def test_a_future_dated_frame_is_refused_and_the_mirror_follows_real_marks(
    tmp_path: Path,
) -> None:
    emulator = await Emulator(load_scenario(steady())).start()
    try:
        async with Running(emulator, tmp_path / "a.db", staleness_limit=30) as service:
            await service.wait_for(lambda s: s.ready and "BTCUSDT" in s.marks, 15)
            ahead = emulator.now_ms() + DAY_MS
            future = {"e": "markPriceUpdate", "E": ahead, "s": "BTCUSDT", "p": "1.00000000"}
            pushed = await post(emulator, "frame", {"stream": "market", "frame": future})
            assert pushed["sockets"] == 1
            account = {
                "e": "ACCOUNT_UPDATE",
                "E": ahead,
                "T": ahead,
                "a": {"m": "ORDER", "B": [{"a": "USDT", "wb": "1", "cw": "1"}], "P": []},
            }
            await post(emulator, "frame", {"stream": "user", "frame": account})
            await post(emulator, "mark", {"symbol": "BTCUSDT", "price": "55555"})
            state = await service.wait_for(lambda s: s.marks["BTCUSDT"] == Decimal(55555), 10)
            assert state.wallet_balance != Decimal(1)  # the future ACCOUNT_UPDATE was refused
            assert service.streams.counters.future == 2
            await post(emulator, "mark", {"symbol": "BTCUSDT", "price": "55000"})
            await service.wait_for(lambda s: s.marks["BTCUSDT"] == Decimal(55000), 10)
    finally:
        await emulator.stop()
