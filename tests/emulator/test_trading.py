"""Hedge mode, isolated margin, leverage caps, funding and the account endpoints."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt
import pytest

from assistant.emulator.server.app import Emulator
from tests.emulator.conftest import fast
from tests.emulator.test_ccxt import code_of
from tests.emulator.test_streams import user_socket
from tests.emulator.wsclient import next_frame, until

BTC = "BTC/USDT:USDT"
HEDGE: dict[str, Any] = {
    "position_mode": "hedge",
    "spot": {"USDT": "1000"},
    "futures": {"USDT": "10000"},
    "symbols": {"BTCUSDT": {"mark": "60000"}},
    "positions": [
        {
            "symbol": "BTCUSDT",
            "positionSide": "LONG",
            "positionAmt": "0.2",
            "entryPrice": "60000",
            "leverage": 20,
        },
        {
            "symbol": "BTCUSDT",
            "positionSide": "SHORT",
            "positionAmt": "-0.1",
            "entryPrice": "61000",
            "leverage": 20,
        },
    ],
    "settings": {"mark_interval": 3600},
}


@pytest.mark.scenario(HEDGE)
async def test_hedge_mode_closes_by_position_side_and_refuses_reduce_only(
    client: Any, emulator: Emulator
) -> None:
    await client.load_markets()
    assert (await client.fetch_position_mode(BTC))["hedged"] is True
    with pytest.raises(ccxt.BaseError) as reduce_only:
        await client.create_order(
            BTC, "market", "sell", 0.1, None, {"positionSide": "LONG", "reduceOnly": True}
        )
    assert code_of(reduce_only.value) == -1106
    # Close part of the LONG leg: a SELL on positionSide LONG, exempt from min notional.
    await client.create_order(BTC, "market", "sell", 0.001, None, {"positionSide": "LONG"})
    await client.create_order(BTC, "market", "buy", 0.1, None, {"positionSide": "SHORT"})
    legs = {k[1]: p.amount for k, p in emulator.engine.positions.items()}
    assert legs == {"LONG": Decimal("0.199"), "SHORT": Decimal("0")}
    with pytest.raises(ccxt.BaseError) as too_much:
        await client.create_order(BTC, "market", "sell", 0.5, None, {"positionSide": "LONG"})
    assert code_of(too_much.value) == -2022
    with pytest.raises(ccxt.BaseError) as no_side:
        await client.create_order(BTC, "market", "buy", 0.01, None)
    assert code_of(no_side.value) == -4061
    rows = await client.fapiPrivateV2GetPositionRisk()
    assert {r["positionSide"] for r in rows} == {"LONG", "SHORT"}


@pytest.mark.scenario(fast("crash", mark_interval=3600))
async def test_order_beyond_the_leverage_bracket_is_refused(
    client: Any, emulator: Emulator
) -> None:
    await client.load_markets()
    emulator.engine.wallet = Decimal("1000000")  # margin is not what stops it
    await client.set_leverage(125, BTC)  # BTCUSDT allows 125x up to 50,000 notional
    with pytest.raises(ccxt.BaseError) as capped:
        await client.create_order(BTC, "market", "buy", 0.5, None)  # 30,000 + 30,000 = 60,000
    assert code_of(capped.value) == -2027


async def test_margin_type_and_isolated_margin(client: Any, emulator: Emulator) -> None:
    await client.load_markets()
    with pytest.raises(ccxt.BaseError) as busy:
        await client.set_margin_mode("isolated", BTC)
    assert code_of(busy.value) == -4048  # a position is open
    await client.create_order(BTC, "market", "sell", 0.5, None, {"reduceOnly": True})
    async with await user_socket(emulator, client) as ws:
        await client.set_margin_mode("isolated", BTC)
        change = await next_frame(ws)
        assert change["a"]["m"] == "MARGIN_TYPE_CHANGE"
        await client.create_order(BTC, "market", "buy", 0.1, None)
        wallet_before = emulator.engine.wallet
        await client.add_margin(BTC, 100)
        transfer = await until(
            ws, lambda f: f["e"] == "ACCOUNT_UPDATE" and f["a"]["m"] == "MARGIN_TRANSFER"
        )
    assert transfer["a"]["P"][0]["mt"] == "isolated"
    assert emulator.engine.wallet == wallet_before - 100
    row = (await client.fapiPrivateV3GetPositionRisk())[0]
    assert Decimal(row["isolatedWallet"]) == Decimal("400")  # 6000 / 20 + 100
    await client.reduce_margin(BTC, 50)
    row = (await client.fapiPrivateV3GetPositionRisk())[0]
    assert Decimal(row["isolatedWallet"]) == Decimal("350")


@pytest.mark.scenario(fast("crash", mark_interval=1, speed=100, funding_interval=8))
async def test_funding_is_paid_and_reported(emulator: Emulator, client: Any) -> None:
    async with await user_socket(emulator, client) as ws:
        frame = await until(
            ws, lambda f: f["e"] == "ACCOUNT_UPDATE" and f["a"]["m"] == "FUNDING_FEE"
        )
    assert Decimal(frame["a"]["B"][0]["bc"]) < 0  # longs pay at a positive rate
    income = await client.fapiPrivateGetIncome({"incomeType": "FUNDING_FEE"})
    assert {r["symbol"] for r in income} >= {"BTCUSDT", "ETHUSDT"}


async def test_transfer_history_legacy_transfer_and_spot_assets(
    client: Any, emulator: Emulator
) -> None:
    await client.transfer("USDT", 40, "spot", "swap")
    await client.transfer_in("USDT", 2)
    await client.transfer("USDT", 12, "swap", "spot")
    history = await client.sapiGetAssetTransfer({"type": "MAIN_UMFUTURE"})
    assert history["total"] == 2 and [r["amount"] for r in history["rows"]] == ["2", "40"]
    assets = await client.sapiV3PostAssetGetUserAsset({"asset": "USDT"})
    assert assets[0]["free"] == "4970.00000000"
    income = await client.fapiPrivateGetIncome({"incomeType": "TRANSFER"})
    assert [r["income"] for r in income] == ["40.00000000", "2.00000000", "-12.00000000"]
    with pytest.raises(ccxt.BaseError) as broke:
        await client.transfer("USDT", 1_000_000, "spot", "swap")
    assert code_of(broke.value) == -5013


async def test_ack_answers_before_the_fill_and_result_after(client: Any) -> None:
    await client.load_markets()
    ack = await client.fapiPrivatePostOrder(
        {
            "symbol": "BTCUSDT",
            "side": "SELL",
            "type": "MARKET",
            "quantity": "0.01",
            "reduceOnly": "true",
        }
    )
    assert ack["status"] == "NEW" and ack["executedQty"] == "0.000"
    result = await client.fapiPrivatePostOrder(
        {
            "symbol": "BTCUSDT",
            "side": "SELL",
            "type": "MARKET",
            "quantity": "0.01",
            "reduceOnly": "true",
            "newOrderRespType": "RESULT",
        }
    )
    assert result["status"] == "FILLED" and result["executedQty"] == "0.010"
    one = await client.fapiPrivateGetLeverageBracket({"symbol": "BTCUSDT"})
    assert isinstance(one, dict) and one["symbol"] == "BTCUSDT"
    assert isinstance(await client.fapiPrivateGetLeverageBracket(), list)


ISOLATED: dict[str, Any] = {
    "futures": {"USDT": "1000"},
    "symbols": {"BTCUSDT": {"mark": "60000"}},
    "positions": [
        {
            "symbol": "BTCUSDT",
            "positionAmt": "0.1",
            "entryPrice": "60000",
            "leverage": 20,
            "marginType": "isolated",
            "isolatedWallet": "300",
        }
    ],
    "settings": {"mark_interval": 3600},
}


@pytest.mark.scenario(ISOLATED)
async def test_an_isolated_liquidation_costs_only_its_margin(
    emulator: Emulator, client: Any
) -> None:
    import aiohttp

    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{emulator.urls['control']}/mark", json={"symbol": "BTCUSDT", "price": "57000"}
        ) as response,
    ):
        assert response.status == 200
    assert [x["symbol"] for x in emulator.engine.liquidations] == ["BTCUSDT"]
    assert emulator.engine.wallet == Decimal("1000")  # the cross wallet is untouched


async def test_open_reduce_only_orders_count_against_the_position(
    client: Any, emulator: Emulator
) -> None:
    """Binance's -2022 when a reduce-only order, with those already open on the same side,
    would close more than the position (one-way: BTCUSDT long 0.5)."""
    await client.load_markets()
    resting = {"reduceOnly": True, "newClientOrderId": "tp-1"}
    await client.create_order(BTC, "limit", "sell", 0.3, 70000, resting)  # rests: 0.2 left
    with pytest.raises(ccxt.BaseError) as over:
        await client.create_order(BTC, "market", "sell", 0.3, None, {"reduceOnly": True})
    assert code_of(over.value) == -2022
    with pytest.raises(ccxt.BaseError) as resting_too:
        await client.create_order(BTC, "limit", "sell", 0.25, 71000, {"reduceOnly": True})
    assert code_of(resting_too.value) == -2022
    await client.create_order(BTC, "market", "sell", 0.2, None, {"reduceOnly": True})  # fits
    assert emulator.engine.positions[("BTCUSDT", "BOTH")].amount == Decimal("0.3")
    # An order that is not reduce-only is not counted, nor counted against.
    await client.create_order(BTC, "market", "buy", 0.01, None)
    with pytest.raises(ccxt.BaseError) as full:
        await client.create_order(BTC, "market", "sell", 0.02, None, {"reduceOnly": True})
    assert code_of(full.value) == -2022  # 0.3 resting + 0.02 > 0.31
    await client.create_order(BTC, "market", "sell", 0.01, None, {"reduceOnly": True})
    # Once the resting order is cancelled, a lone reduce-only order larger than the position
    # is cut down to it, as before.
    await client.cancel_order(None, BTC, {"origClientOrderId": "tp-1"})
    await client.create_order(BTC, "market", "sell", 5, None, {"reduceOnly": True})
    assert emulator.engine.positions[("BTCUSDT", "BOTH")].amount == 0


@pytest.mark.scenario(HEDGE)
async def test_in_hedge_mode_open_closing_orders_count_against_the_leg(
    client: Any, emulator: Emulator
) -> None:
    await client.load_markets()
    await client.create_order(BTC, "limit", "sell", 0.15, 70000, {"positionSide": "LONG"})
    with pytest.raises(ccxt.BaseError) as over:
        await client.create_order(BTC, "market", "sell", 0.1, None, {"positionSide": "LONG"})
    assert code_of(over.value) == -2022
    await client.create_order(BTC, "market", "sell", 0.05, None, {"positionSide": "LONG"})
    # The SHORT leg is another side: the LONG leg's closing orders do not count against it.
    await client.create_order(BTC, "market", "buy", 0.1, None, {"positionSide": "SHORT"})
    legs = {k[1]: p.amount for k, p in emulator.engine.positions.items()}
    assert legs == {"LONG": Decimal("0.15"), "SHORT": Decimal("0")}
