"""Conditional orders in Binance's algo service: placed, listed, cancelled, and triggered by
the mark, with an ALGO_UPDATE on every change."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt
import pytest

from assistant.emulator.server.app import Emulator
from tests.emulator.conftest import fast
from tests.emulator.test_account_modes import control
from tests.emulator.test_ccxt import code_of
from tests.emulator.test_streams import user_socket
from tests.emulator.wsclient import until

BTC = "BTC/USDT:USDT"
STOPS: dict[str, Any] = {
    **fast("crash", mark_interval=3600),
    "algo_orders": [
        {
            "symbol": "BTCUSDT",
            "side": "SELL",
            "type": "STOP_MARKET",
            "triggerPrice": "59000",
            "quantity": "0.2",
            "reduceOnly": True,
            "clientAlgoId": "stop-1",
        },
        {
            "symbol": "BTCUSDT",
            "side": "SELL",
            "type": "STOP_MARKET",
            "triggerPrice": "50000",
            "closePosition": True,
        },
    ],
}


async def algo_updates(ws: Any, count: int) -> list[dict[str, Any]]:
    return [(await until(ws, lambda f: f["e"] == "ALGO_UPDATE"))["o"] for _ in range(count)]


@pytest.mark.scenario(STOPS)
async def test_a_stop_triggers_on_the_mark(client: Any, emulator: Emulator) -> None:
    await client.load_markets()
    listed = await client.fetch_open_orders(BTC, params={"trigger": True})
    assert sorted(o["triggerPrice"] for o in listed) == [50000, 59000]
    stop = next(o for o in listed if o["clientOrderId"] == "stop-1")
    assert stop["reduceOnly"] is True and stop["amount"] == 0.2
    async with await user_socket(emulator, client) as ws:
        await control(emulator, "mark", {"symbol": "BTCUSDT", "price": "59100"})
        assert emulator.engine.positions[("BTCUSDT", "BOTH")].amount == Decimal("0.5")
        await control(emulator, "mark", {"symbol": "BTCUSDT", "price": "58900"})
        updates = await algo_updates(ws, 3)
    assert [u["X"] for u in updates] == ["TRIGGERING", "TRIGGERED", "FINISHED"]
    assert {u["caid"] for u in updates} == {"stop-1"}
    assert updates[-1]["ap"] == "58900.00000000" and updates[-1]["aq"] == "0.200"
    assert emulator.engine.positions[("BTCUSDT", "BOTH")].amount == Decimal("0.3")
    actual = next(o for o in emulator.engine.orders if str(o["orderId"]) == updates[-1]["ai"])
    assert actual["reduceOnly"] is True and actual["status"] == "FILLED"
    await control(emulator, "mark", {"symbol": "BTCUSDT", "price": "49900"})
    assert emulator.engine.positions[("BTCUSDT", "BOTH")].amount == 0  # closePosition
    state = await control(emulator, "state")
    assert [a["algoStatus"] for a in state["algo_orders"]] == ["FINISHED", "FINISHED"]
    assert await client.fapiPrivateGetOpenAlgoOrders() == []


async def test_algo_order_rules(client: Any, emulator: Emulator) -> None:
    await client.load_markets()
    with pytest.raises(ccxt.BaseError) as immediate:  # a sell stop above the mark
        await client.create_order(
            BTC, "STOP_MARKET", "sell", 0.1, None, {"triggerPrice": 61000, "reduceOnly": True}
        )
    assert code_of(immediate.value) == -2021
    with pytest.raises(ccxt.BaseError) as wrong_endpoint:
        await client.fapiPrivatePostOrder(
            {"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET", "quantity": "0.1",
             "stopPrice": "55000"}
        )  # fmt: skip
    assert code_of(wrong_endpoint.value) == -4120
    async with await user_socket(emulator, client) as ws:
        placed = await client.create_order(
            BTC, "STOP_MARKET", "sell", 0.1, None, {"triggerPrice": 55000, "reduceOnly": True}
        )
        await client.cancel_order(placed["id"], BTC, {"trigger": True})
        # A buy "take profit" on a long would add to it: refused when it triggers.
        await client.fapiPrivatePostAlgoOrder(
            {"algoType": "CONDITIONAL", "symbol": "BTCUSDT", "side": "BUY",
             "type": "TAKE_PROFIT_MARKET", "triggerPrice": "59000", "quantity": "0.1",
             "reduceOnly": "true"}
        )  # fmt: skip
        await control(emulator, "mark", {"symbol": "BTCUSDT", "price": "58000"})
        updates = await algo_updates(ws, 5)
    assert [u["X"] for u in updates] == ["NEW", "CANCELED", "NEW", "TRIGGERING", "REJECTED"]
    assert updates[-1]["rm"] == "Reduce Only reject"
    assert emulator.engine.positions[("BTCUSDT", "BOTH")].amount == Decimal("0.5")
    with pytest.raises(ccxt.BaseError) as gone:
        await client.fapiPrivateDeleteAlgoOrder({"algoId": updates[0]["aid"]})
    assert code_of(gone.value) == -2011


async def test_a_scenario_with_a_refused_algo_order_is_refused_whole(emulator: Emulator) -> None:
    bad = {**STOPS, "algo_orders": [{**STOPS["algo_orders"][0], "triggerPrice": "59000.05"}]}
    body = await control(emulator, "reset", {"scenario": bad})
    assert body == {"error": "scenario algo_orders[0]: Price not increased by tick size. (-4014)"}
    assert emulator.engine.algo_orders == []  # the running scenario is untouched
    assert emulator.engine.positions[("BTCUSDT", "BOTH")].amount == Decimal("0.5")
