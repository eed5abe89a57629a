"""Reduce-only orders against the ones already open, with the real runtime and the emulator:
Binance refuses (-2022) a reduce-only order that with them would close more than the
position, so ours is sized to the room left; our own stale ones are cancelled and replaced;
the user's own are never touched, and the owner is told which of them block."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from assistant.core.actions import PlaceReduceOnly, SendAlert
from assistant.core.model import PositionSide
from assistant.core.rules.money import BLOCKED
from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator
from assistant.service.money.exchange import rebuild
from tests.emulator.conftest import ccxt_client
from tests.service.test_actions_live import DEEP, example_rules
from tests.service.test_mirror_live import Running

BTC = "BTC/USDT:USDT"
WAIT_STEPS = 150  # × 0.1 s: every condition below is bounded


@pytest.fixture
async def deep() -> AsyncIterator[Emulator]:
    """BTCUSDT long 0.75 about 2.5% from liquidation: the reduce rule fires at once."""
    emulator = await Emulator(load_scenario(DEEP)).start()
    yield emulator
    await emulator.stop()


async def place(emulator: Emulator, client_id: str, quantity: str) -> None:
    """A resting reduce-only LIMIT sell far above the mark, as a take-profit would be."""
    exchange = ccxt_client(emulator.urls["rest"])
    try:
        await exchange.load_markets()
        params = {"reduceOnly": True, "newClientOrderId": client_id}
        await exchange.create_order(BTC, "limit", "sell", float(quantity), 70000, params)
    finally:
        await exchange.close()


def orders(emulator: Emulator, prefix: str = "mg-reduce-") -> list[dict[str, Any]]:
    return [o for o in emulator.engine.orders if o["clientOrderId"].startswith(prefix)]


def refused_orders(emulator: Emulator) -> list[dict[str, Any]]:
    return [
        r
        for r in emulator.requests
        if r["path"] == "/fapi/v1/order" and r["method"] == "POST" and r["status"] >= 400
    ]


async def run_until(
    emulator: Emulator, tmp_path: Path, done: Callable[[list[SendAlert]], bool]
) -> tuple[list[SendAlert], list[Any]]:
    rules = example_rules(speed=1, deposit=replace(example_rules().deposit, enabled=False))
    alerts: list[SendAlert] = []
    running = Running(emulator, tmp_path / "r.db", rules=rules, listeners=[alerts.append])
    async with running as service:
        await service.wait_for(lambda s: s.ready, 15)
        for _ in range(WAIT_STEPS):
            if done(alerts):
                break
            await asyncio.sleep(0.1)
        audit = service.store.audit_rows()
    return alerts, audit


async def test_the_users_order_sizes_ours_down_never_a_dead_2022(
    deep: Emulator, tmp_path: Path
) -> None:
    await place(deep, "tp-1", "0.6")  # leaves 0.15 of the 0.75 position to reduce-only orders
    alerts, audit = await run_until(
        deep,
        tmp_path,
        lambda a: (
            any(x.key == BLOCKED for x in a) and any(o["status"] == "FILLED" for o in orders(deep))
        ),
    )
    [ours] = orders(deep)
    assert ours["status"] == "FILLED" and Decimal(ours["origQty"]) == Decimal("0.15")
    [told] = [a for a in alerts if a.key == BLOCKED]
    assert told.severity == "warning" and "tp-1 (SELL 0.600)" in told.text
    assert "sized down" in told.text and "to 0.150" in told.text
    assert refused_orders(deep) == [] and not any(r["what"] == "failed" for r in audit)
    [theirs] = orders(deep, "tp-1")
    assert theirs["status"] == "NEW"  # the user's own order is never touched
    assert not any(r["method"] == "DELETE" for r in deep.requests)


async def test_when_the_users_orders_cover_the_position_the_owner_is_told_which(
    deep: Emulator, tmp_path: Path
) -> None:
    await place(deep, "tp-1", "0.5")
    await place(deep, "tp-2", "0.25")
    alerts, audit = await run_until(deep, tmp_path, lambda a: any(x.key == BLOCKED for x in a))
    [told] = [a for a in alerts if a.key == BLOCKED]
    assert told.severity == "critical"
    assert "tp-1 (SELL 0.500), tp-2 (SELL 0.250)" in told.text and "-2022" in told.text
    assert orders(deep) == [] and refused_orders(deep) == []
    assert [r["decision_id"] for r in audit if r["decision_id"]] == []  # nothing decided
    assert {o["status"] for o in orders(deep, "tp-")} == {"NEW"}


async def test_our_own_stale_order_is_cancelled_and_replaced(
    deep: Emulator, tmp_path: Path
) -> None:
    """A reduce-only order of ours left open (say, from before a restart) covers most of the
    position: it is cancelled, and the new order goes out in full."""
    await place(deep, "mg-reduce-1-0", "0.7")
    alerts, audit = await run_until(
        deep, tmp_path, lambda a: any(o["status"] == "FILLED" for o in orders(deep))
    )
    stale, new = orders(deep)
    assert stale["clientOrderId"] == "mg-reduce-1-0" and stale["status"] == "CANCELED"
    assert new["status"] == "FILLED" and new["time"] >= stale["updateTime"]
    assert Decimal(new["origQty"]) > Decimal("0.05")  # not squeezed into what the stale one left
    cancels = [
        r for r in deep.requests if r["method"] == "DELETE" and r["path"] == "/fapi/v1/order"
    ]
    assert [r["status"] for r in cancels] == [200]
    assert refused_orders(deep) == [] and not any(a.key == BLOCKED for a in alerts)
    settled = [
        r["what"]
        for r in audit
        if r["decision_id"].startswith("reduce-") and not r["what"].startswith("alert:")
    ]
    assert settled[-1] == "done"
    [notice] = [a for a in alerts if a.key == "reduce" and a.text.startswith("done")]
    assert "after cancelling our stale order(s) mg-reduce-1-0" in notice.text


def test_the_cancels_survive_a_restart_in_the_intent_row() -> None:
    """After a crash the executor rebuilds the action from its intent row: with its cancels."""
    action = PlaceReduceOnly(
        "reduce-5-0",
        "BTCUSDT",
        PositionSide.BOTH,
        "SELL",
        Decimal("0.1"),
        "why",
        5,
        cancel=("mg-reduce-1-0", "mg-reduce-2-0"),
    )
    payload = {k: str(v) if isinstance(v, Decimal) else v for k, v in asdict(action).items()}
    assert rebuild("reduce", json.loads(json.dumps(payload))) == action
    del payload["cancel"]  # a row written before cancels existed
    assert rebuild("reduce", payload) == replace(action, cancel=())
