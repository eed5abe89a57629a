"""The live mirror against the emulator: real ccxt, real websockets, a real SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from assistant.binance.rest import BinanceRest
from assistant.binance.streams import StreamSettings
from assistant.core.mirror import MirrorState, apply
from assistant.core.ports import Clock
from assistant.core.rules.config import Rules
from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator
from assistant.service.bootstrap import ChatOptions, Runtime, build
from assistant.service.metrics import Metrics
from assistant.service.notifier import Listener
from assistant.service.scheduler import Timings
from assistant.service.settings import Settings
from assistant.store.sqlite import SqliteStore
from tests.emulator.conftest import ccxt_client, fast
from tests.emulator.test_trading import HEDGE

WAIT = 15.0  # seconds any single condition may take


class Running:
    def __init__(
        self,
        emulator: Emulator,
        path: Path,
        rules: Rules | None = None,
        *,
        settings: Settings | None = None,
        chats: ChatOptions | None = None,
        listeners: Sequence[Listener] = (),
        metrics: Metrics | None = None,
        clock: Clock | None = None,
        rest_options: dict[str, Any] | None = None,
        **timings: Any,
    ) -> None:
        self.rest = BinanceRest(
            api_key="emulator-key",
            api_secret="emulator-secret",
            rest_url=emulator.urls["rest"],
            **(rest_options or {}),
        )
        self.store = SqliteStore(path)
        self.service = build(
            settings or Settings(),
            rest=self.rest,
            ws_url=emulator.urls["ws"],
            store=self.store,
            rules=rules,
            timings=Timings(**{"reconcile_every": 3600, "staleness_limit": 3600, **timings}),
            stream_settings=StreamSettings(
                keepalive_seconds=timings.get("keepalive_every", 1800),
                stale_after=timings.get("staleness_limit", 3600),
                backoff_first=0.05,
                backoff_max=0.2,
            ),
            chats=chats,
            listeners=listeners,
            metrics=metrics,
            clock=clock,
        )
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Runtime:
        self.task = asyncio.create_task(self.service.run())
        return self.service

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        self.store.close()
        await self.rest.close()


def emulator_truth(emulator: Emulator) -> dict[str, Any]:
    engine = emulator.engine
    return {
        "positions": {(p.symbol, p.side): (p.amount, p.entry) for p in engine.open_positions()},
        "wallet": engine.wallet,
        "orders": sorted(o["clientOrderId"] for o in engine.orders if o["status"] == "NEW"),
        "marks": {p.symbol: engine.marks[p.symbol] for p in engine.open_positions()},
    }


def mirror_view(state: MirrorState) -> dict[str, Any]:
    return {
        "positions": {
            (s, side.value): (p.amount, p.entry_price) for (s, side), p in state.positions.items()
        },
        "wallet": state.wallet_balance,
        "orders": sorted(o.client_id for o in state.open_orders.values()),
        "marks": {s: state.marks[s] for s in state.held_symbols if s in state.marks},
    }


def same(emulator: Emulator) -> Any:
    return lambda state: state.ready and mirror_view(state) == emulator_truth(emulator)


def steady(**settings: Any) -> dict[str, Any]:
    """The crash account with marks that hold still and are published every 0.2 s."""
    raw = fast("crash", mark_interval=0.2, **settings)
    raw["path"] = []
    return raw


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    emu = await Emulator(load_scenario(steady())).start()
    yield emu
    await emu.stop()


@pytest.fixture
async def client(emulator: Emulator) -> AsyncIterator[Any]:
    exchange = ccxt_client(emulator.urls["rest"])
    await exchange.load_markets()
    yield exchange
    await exchange.close()


async def control(emulator: Emulator, verb: str, body: dict[str, Any]) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{emulator.urls['control']}/{verb}", json=body) as response,
    ):
        assert response.status == 200, await response.text()


async def test_changes_on_the_exchange_show_up_in_the_mirror(
    emulator: Emulator, client: Any, tmp_path: Path
) -> None:
    async with Running(emulator, tmp_path / "a.db") as service:
        await service.wait_for(same(emulator), WAIT)
        await client.create_order(
            "BTC/USDT:USDT", "market", "sell", 0.2, None, {"reduceOnly": True}
        )
        await client.create_order(
            "ETH/USDT:USDT", "limit", "sell", 1, 4000, {"newClientOrderId": "tp-1"}
        )
        await client.transfer("USDT", 500, "spot", "swap")
        await client.set_leverage(10, "ETH/USDT:USDT")
        await control(emulator, "mark", {"symbol": "BTCUSDT", "price": "59000"})
        state = await service.wait_for(same(emulator), WAIT)
        assert state.leverage["ETHUSDT"] == 10 and state.marks["BTCUSDT"] == Decimal("59000")
        assert state.book is not None and state.book.margin_balance == emulator.engine.cross()[0]
        assert service.drift == []
        service.loop.save()
        rows = list(service.store.db["health"].rows)
        assert rows and rows[0]["margin_ratio"] is not None  # the health series has begun


@pytest.fixture
async def chaotic() -> AsyncIterator[Emulator]:
    emu = await Emulator(load_scenario(steady(listen_key_ttl=1.5))).start()
    yield emu
    await emu.stop()


async def test_the_mirror_survives_disconnects_stalls_and_an_expired_listen_key(
    chaotic: Emulator, tmp_path: Path
) -> None:
    emulator = chaotic
    exchange = ccxt_client(emulator.urls["rest"])
    await exchange.load_markets()
    actions = [
        lambda: exchange.create_order(
            "BTC/USDT:USDT", "market", "sell", 0.01, None, {"reduceOnly": True}
        ),
        lambda: exchange.transfer("USDT", 7, "spot", "swap"),
        lambda: control(
            emulator,
            "mark",
            {"symbol": "ETHUSDT", "price": str(3000 - len(emulator.requests) % 50)},
        ),
        lambda: exchange.create_order("ETH/USDT:USDT", "market", "buy", 0.01, None),
        lambda: exchange.set_leverage(15 + len(emulator.engine.orders) % 5, "BTC/USDT:USDT"),
    ]
    try:
        async with Running(emulator, tmp_path / "chaos.db", staleness_limit=1.0) as service:
            await service.wait_for(same(emulator), WAIT)
            for i in range(20):
                await actions[i % len(actions)]()
                drops = service.streams.counters.reconnects["user"]
                await control(emulator, "disconnect", {"streams": "all"})
                await service.wait_for(
                    lambda s, drops=drops: (
                        service.streams.counters.reconnects["user"] > drops
                        and bool(s.connected.get("user"))
                        and bool(s.connected.get("market"))
                    ),
                    WAIT,
                )
            await exchange.create_order(
                "ETH/USDT:USDT", "limit", "sell", 0.5, 4000, {"newClientOrderId": "late"}
            )
            key_before = next(iter(emulator.listen_keys))
            drops = service.streams.counters.reconnects["user"]
            await control(emulator, "stall", {"streams": "all", "seconds": 1.5})
            # No keepalive comes (it is due in 30 minutes): the key expires after 1.5 s, the
            # service hears listenKeyExpired or loses the socket, and comes back on a new key.
            await service.wait_for(
                lambda s: (
                    key_before not in emulator.listen_keys
                    and service.streams.counters.reconnects["user"] > drops
                    and bool(s.connected.get("user"))
                ),
                WAIT,
            )
            await exchange.create_order(
                "BTC/USDT:USDT", "market", "sell", 0.01, None, {"reduceOnly": True}
            )
            state = await service.wait_for(
                lambda s: (
                    same(emulator)(s) and s.connected.get("market") and s.connected.get("user")
                ),
                30,
            )
            assert mirror_view(state) == emulator_truth(emulator)
            assert service.streams.counters.reconnects["user"] >= 20
            assert service.streams.counters.malformed == 0
            expired_keys = [r for r in emulator.requests if r["path"] == "/fapi/v1/listenKey"]
            assert len(expired_keys) >= 21
            assert {e.what for e in service.stale} & {"BTCUSDT", "ETHUSDT"}  # the stall was noticed
            final = service.state
        # Every event was journaled: a replay of the journal rebuilds the same state.
        store = SqliteStore(tmp_path / "chaos.db")
        replayed = MirrorState()
        for row in store.journal():
            replayed = apply(replayed, row.event)
        store.close()
        assert replayed.positions == final.positions and replayed.book == final.book
        assert (
            replayed.open_orders == final.open_orders
            and replayed.wallet_balance == final.wallet_balance
        )
    finally:
        await exchange.close()


async def test_a_restart_resumes_from_the_store_and_catches_up(
    emulator: Emulator, client: Any, tmp_path: Path
) -> None:
    path = tmp_path / "restart.db"
    async with Running(emulator, path) as service:
        await service.wait_for(same(emulator), WAIT)
        before = service.state.positions
    # While the service is down: a fill, a transfer, a new resting order.
    await client.create_order("BTC/USDT:USDT", "market", "sell", 0.3, None, {"reduceOnly": True})
    await client.transfer("USDT", 100, "spot", "swap")
    await client.create_order(
        "ETH/USDT:USDT", "limit", "sell", 1, 4500, {"newClientOrderId": "while-down"}
    )
    running = Running(emulator, path)
    running.service.loop.load()
    assert running.service.state.positions == before  # resumed from the store...
    assert not running.service.state.ready  # ...but may not act before it reconciles
    async with running as service:
        state = await service.wait_for(same(emulator), WAIT)
    assert state.open_orders and next(iter(state.open_orders.values())).client_id == "while-down"


HEDGE_ISOLATED: dict[str, Any] = {  # the trading tests' hedge account, plus an isolated ETH leg
    **HEDGE,
    "symbols": {**HEDGE["symbols"], "ETHUSDT": {"mark": "3000"}},
    "positions": [
        *HEDGE["positions"],
        {
            "symbol": "ETHUSDT",
            "positionSide": "LONG",
            "positionAmt": "2",
            "entryPrice": "3000",
            "leverage": 10,
            "marginType": "isolated",
            "isolatedWallet": "600",
        },
    ],
    "settings": {"mark_interval": 0.2},
}


async def test_hedge_mode_and_isolated_positions(tmp_path: Path) -> None:
    emulator = await Emulator(load_scenario(HEDGE_ISOLATED)).start()
    exchange = ccxt_client(emulator.urls["rest"])
    try:
        await exchange.load_markets()
        async with Running(emulator, tmp_path / "h.db") as service:
            state = await service.wait_for(same(emulator), WAIT)
            assert state.hedge_mode and state.book is not None
            eth = next(p for p in state.book.account.positions if p.symbol == "ETHUSDT")
            assert not eth.is_cross and eth.isolated_wallet == Decimal("600")
            await exchange.create_order(
                "BTC/USDT:USDT", "market", "sell", 0.05, None, {"positionSide": "LONG"}
            )
            await exchange.add_margin("ETH/USDT:USDT", 50, {"positionSide": "LONG"})
            await exchange.create_order(
                "ETH/USDT:USDT", "market", "buy", 0.5, None, {"positionSide": "LONG"}
            )
            state = await service.wait_for(same(emulator), WAIT)
            assert state.book is not None
            eth = next(p for p in state.book.account.positions if p.symbol == "ETHUSDT")
            engine_eth = emulator.engine.positions[("ETHUSDT", "LONG")]
            assert eth.isolated_wallet == engine_eth.isolated_wallet
    finally:
        await exchange.close()
        await emulator.stop()


async def test_the_daily_summary_reads_the_mirrored_health(
    emulator: Emulator, tmp_path: Path
) -> None:
    from assistant.core.rules.config import Rules

    async with Running(emulator, tmp_path / "s.db", rules=Rules()) as service:
        await service.wait_for(lambda s: s.ready, WAIT)
        alert = service.loop.summary(1_000)
    assert alert.severity == "info"
    assert "margin ratio 6.00%" in alert.text and "margin balance 3,000.00 USDT" in alert.text
    assert "2 position(s)" in alert.text and "mode dry-run" in alert.text
