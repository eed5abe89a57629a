"""Every USDⓈ-M account mode through the parsers, from Binance's documented payloads and real
captures: wallets and figures per asset, a credits account without a USDT row, the positions'
margin asset, the account configuration, the asset index (REST and stream), conditional
(algo) orders, and the mode switch. Broken variants are skipped or refused, never a crash."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant.binance.parse import Skipped, parse_market_event, parse_user_frame
from assistant.binance.snapshot import (
    parse_account_config,
    parse_algo_orders,
    parse_asset_index,
    parse_snapshot,
)
from assistant.core.events import (
    AccountModeChanged,
    AlgoOrder,
    AlgoOrderUpdated,
    AssetIndexUpdated,
    BalanceAndPositionUpdated,
)
from assistant.core.mirror import MirrorState, apply
from assistant.core.model import AccountMode, AssetRate, PositionSide
from assistant.errors import InputError
from tests.binance.test_fuzz import check, mutate
from tests.helpers import fixture

D = Decimal
DOCS = fixture("docexample.binance-docs.account-modes.json")
SINGLE = {"multiAssetsMargin": False, "dualSidePosition": False}
MULTI = {"multiAssetsMargin": True, "dualSidePosition": False}
CONFIG = [{"symbol": "BTCUSDT", "leverage": 21, "marginType": "CROSSED"}]


def asset_row(asset: str, cross: str, maint: str = "0", balance: str | None = None) -> Any:
    return {
        "asset": asset,
        "walletBalance": cross,
        "unrealizedProfit": "0",
        "marginBalance": balance if balance is not None else cross,
        "maintMargin": maint,
        "initialMargin": "0",
        "crossWalletBalance": cross,
        "crossUnPnl": "0",
        "availableBalance": cross,
        "maxWithdrawAmount": cross,
    }


def account(*rows: Any, maint: str = "0", balance: str = "0") -> Any:
    return {"totalMaintMargin": maint, "totalMarginBalance": balance, "assets": list(rows)}


def risk(symbol: str, amount: str, margin_asset: str | None, mark: str = "60000") -> Any:
    row = {
        "symbol": symbol,
        "positionSide": "BOTH",
        "positionAmt": amount,
        "entryPrice": "60000",
        "markPrice": mark,
        "liquidationPrice": "0",
        "isolatedWallet": "0",
        "maintMargin": "30",
    }
    if margin_asset is not None:
        row["marginAsset"] = margin_asset
    return row


def snapshot(**bodies: Any) -> Any:
    defaults: dict[str, Any] = {
        "taken_at": 1,
        "account": account(asset_row("USDT", "1000")),
        "position_risk": [],
        "symbol_config": [],
        "open_orders": [],
        "account_config": SINGLE,
    }
    return parse_snapshot(**{**defaults, **bodies})


def test_the_real_multi_assets_capture_gives_every_wallet_and_binances_usd_totals() -> None:
    """Binance's real v3 account of a Multi-Assets account (ccxt's capture): USDT and USDC
    wallets, each row's own figures, and totals in USD."""
    taken = snapshot(
        account=fixture("real.ccxt.fapi_v3_account.json"),
        position_risk=fixture("real.ccxt.fapi_v3_positionRisk.json"),
        symbol_config=CONFIG,
        account_config=MULTI,
        asset_index=[DOCS["GET /fapi/v1/assetIndex?symbol=ADAUSD"]],
    )
    assert taken.multi_assets and taken.exchange.totals_in_usd
    assert taken.wallets["USDT"] == taken.wallet_balance == D("3.72964781")
    assert taken.wallets["USDC"] == D("22.00000000")
    assert set(taken.wallets) == {"FDUSD", "BTC", "ETH", "BNB", "USDT", "USDC"}
    assert taken.exchange.asset_maint_margins["USDT"] == D("2.43022194")
    assert taken.exchange.asset_margin_balances["USDT"] == D("4.27203287")
    assert taken.exchange.total_maint_margin == D("2.43034303")  # USD: USDT's × its askRate
    [position] = taken.positions
    assert position.margin_asset == "USDT"  # positionRisk v3 `marginAsset`
    assert taken.rates == (AssetRate("ADA", D("1.92957370"), D("1.73661633"), D("2.12253107")),)


def test_a_single_asset_account_reads_no_asset_index_and_keeps_usdt_totals() -> None:
    taken = snapshot(
        account=account(asset_row("USDT", "1000", "3"), asset_row("USDC", "500", "2.7")),
        position_risk=[risk("BTCUSDT", "0.1", "USDT"), risk("BTCUSDC", "0.1", "USDC")],
        asset_index=[DOCS["GET /fapi/v1/assetIndex?symbol=ADAUSD"]],  # given: not used
    )
    assert not taken.multi_assets and not taken.exchange.totals_in_usd and taken.rates == ()
    assert taken.wallets == {"USDT": D("1000"), "USDC": D("500")}
    assert taken.exchange.asset_maint_margins == {"USDT": D("3"), "USDC": D("2.7")}
    assert {p.symbol: p.margin_asset for p in taken.positions} == {
        "BTCUSDT": "USDT",
        "BTCUSDC": "USDC",
    }


def test_a_credits_account_without_a_usdt_row_parses_and_computes() -> None:
    """EEA credits mode: BNFCR and collateral rows, no USDT row. The USDT wallet is 0 (it
    used to be "no USDT asset" and the account was never mirrored)."""
    taken = snapshot(
        account=account(asset_row("BNFCR", "-12.5"), asset_row("BTC", "0.3")),
        position_risk=[risk("BTCUSDT", "0.01", "BNFCR")],
        symbol_config=CONFIG,
        account_config=MULTI,
        asset_index=[
            {"symbol": "BTCUSD", "index": "60000", "bidRate": "57000", "askRate": "63000"},
            {"symbol": "BNFCRUSD", "index": "1", "bidRate": "1", "askRate": "1"},
        ],
    )
    assert taken.wallet_balance == 0 and taken.wallets == {"BNFCR": D("-12.5"), "BTC": D("0.3")}
    state = apply(MirrorState(), taken)
    assert state.account_mode is AccountMode.CREDITS and state.margin_asset("BTCUSDT") == "BNFCR"


def test_without_margin_asset_a_position_is_left_to_its_symbols_quote() -> None:
    [position] = snapshot(position_risk=[risk("BTCUSDC", "0.1", None)]).positions
    assert position.margin_asset is None
    state = apply(MirrorState(), snapshot(position_risk=[risk("BTCUSDC", "0.1", None)]))
    assert state.margin_asset("BTCUSDC") == "USDC"


def test_account_config_gives_mode_and_hedge_in_one_call() -> None:
    documented = fixture("docexample.binance-connector-python.rest_responses.json")
    assert parse_account_config(documented["GET /fapi/v1/accountConfig"]) == (False, True)
    for broken in ({"multiAssetsMargin": "true", "dualSidePosition": False}, {}, []):
        with pytest.raises(InputError, match="account_config"):
            parse_account_config(broken)
    assert snapshot(account_config={**MULTI, "dualSidePosition": True}).hedge_mode


def test_the_asset_index_documentation_example() -> None:
    """REST: one object with `symbol`, the array without; BTCUSD is asset BTC."""
    ada = DOCS["GET /fapi/v1/assetIndex?symbol=ADAUSD"]
    expected = AssetRate("ADA", D("1.92957370"), D("1.73661633"), D("2.12253107"))
    assert parse_asset_index(ada) == parse_asset_index([ada]) == (expected,)
    for broken in (
        {**ada, "symbol": "ADA"},  # not an index symbol
        {**ada, "bidRate": "2.2"},  # bid above ask
        {**ada, "askRate": "0"},
        {**ada, "index": "-1"},
        "ADAUSD",
    ):
        with pytest.raises(InputError):
            parse_asset_index([broken])


def test_the_asset_index_stream_documentation_example() -> None:
    frame = DOCS["WS !assetIndex@arr"]
    update = parse_market_event(json.dumps(frame))
    assert update == AssetIndexUpdated(
        (
            AssetRate("ADA", D("0.27462452"), D("0.24716207"), D("0.30208698")),
            AssetRate("USDT", D("0.99987691"), D("0.99977692"), D("0.99997689")),
        ),
        1686749230000,
    )
    one = {"stream": "usdtusd@assetIndex", "data": frame[1]}  # one asset's stream, wrapped
    assert isinstance(update, AssetIndexUpdated)
    one_rate = AssetIndexUpdated((update.rates[1],), update.event_at)
    assert parse_market_event(json.dumps(one)) == one_rate
    for broken in (
        [frame[0], {**frame[1], "e": "markPriceUpdate"}],  # a mixed array
        [{**frame[0], "B": "0.4"}],  # bid above ask
        [{**frame[0], "s": "ADAUSDT"}],
    ):
        skipped = parse_market_event(json.dumps(broken))
        assert isinstance(skipped, Skipped) and skipped.malformed


def test_mark_frames_still_come_through_the_market_socket() -> None:
    mark = fixture("docexample.nautilus.ws_markPriceUpdate.json")
    [update] = parse_market_event(json.dumps([mark]))  # type: ignore[misc]
    assert update.symbol == mark["s"]
    reply = parse_market_event('{"result": null, "id": 1}')
    assert isinstance(reply, Skipped) and not reply.malformed


def test_the_algo_update_documentation_example() -> None:
    update = parse_user_frame(json.dumps(DOCS["ALGO_UPDATE"]))
    assert update == AlgoOrderUpdated(
        1750515742303,
        AlgoOrder(
            "BNBUSDT",
            2148719,
            "Q5xaq5EGKgXXa0fD7fs0Ip",
            "SELL",
            PositionSide.BOTH,
            "TAKE_PROFIT",
            D("750"),
            D("0.01"),
            False,
            False,
        ),
        "CANCELED",
    )


def test_a_close_position_stop_has_no_quantity_of_its_own() -> None:
    """As Binance sends them: `q` empty or "0", `cp` true (ALGO_UPDATE); `quantity` "0.000"
    and `reduceOnly` 1 (a real openAlgoOrders row of such an order)."""
    frame = json.loads(json.dumps(DOCS["ALGO_UPDATE"]))
    frame["o"].update({"q": "", "cp": True, "o": "STOP_MARKET", "X": "NEW", "tp": "55000"})
    update = parse_user_frame(json.dumps(frame))
    assert isinstance(update, AlgoOrderUpdated) and update.status == "NEW"
    assert update.order.close_position and update.order.quantity == 0
    row = {
        **DOCS["POST /fapi/v1/algoOrder"],
        "orderType": "STOP_MARKET",
        "quantity": "0.000",
        "reduceOnly": 1,
        "closePosition": True,
    }
    [order] = parse_algo_orders([row])
    assert (order.kind, order.quantity, order.reduce_only, order.close_position) == (
        "STOP_MARKET",
        0,
        True,
        True,
    )


def test_open_algo_orders_keep_only_those_still_waiting() -> None:
    new = DOCS["POST /fapi/v1/algoOrder"]
    cancelled = DOCS["GET /fapi/v1/allAlgoOrders"][0]
    triggering = {**new, "algoId": 7, "algoStatus": "TRIGGERING"}
    orders = parse_algo_orders([new, cancelled, triggering])
    assert [o.algo_id for o in orders] == [2146760, 7]
    assert orders[0].trigger_price == D("750.000") and orders[0].side == "SELL"
    taken = snapshot(algo_orders=[new])
    assert taken.algo_orders == orders[:1]
    with pytest.raises(InputError, match="BUY or SELL"):
        parse_algo_orders([{**new, "side": "UP"}])


def test_account_update_rows_of_every_asset() -> None:
    """`B` rows of USDT, USDC and BNFCR: every wallet, USDT's as the cross wallet; a frame
    without USDT leaves it as it was (None). `P` rows' `ma` names the pool."""
    frame = {
        "e": "ACCOUNT_UPDATE",
        "E": 5,
        "T": 5,
        "a": {
            "m": "ORDER",
            "B": [
                {"a": "USDT", "wb": "100", "cw": "90", "bc": "0"},
                {"a": "USDC", "wb": "50", "cw": "50", "bc": "0"},
                {"a": "BNFCR", "wb": "-3", "cw": "-3", "bc": "-3"},
            ],
            "P": [{"s": "BTCUSDC", "pa": "0.1", "ep": "6E4", "mt": "cross", "ma": "USDC"}],
        },
    }
    update = parse_user_frame(json.dumps(frame))
    assert isinstance(update, BalanceAndPositionUpdated)
    assert update.cross_wallet == D("90")
    assert update.wallets == {"USDT": D("90"), "USDC": D("50"), "BNFCR": D("-3")}
    assert update.positions[0].margin_asset == "USDC"
    frame["a"]["B"] = frame["a"]["B"][1:]
    update = parse_user_frame(json.dumps(frame))
    assert isinstance(update, BalanceAndPositionUpdated) and update.cross_wallet is None
    frame["a"]["B"] = [{"a": None, "cw": "1"}]
    skipped = parse_user_frame(json.dumps(frame))
    assert isinstance(skipped, Skipped) and skipped.malformed


def test_the_mode_switch_and_its_malformed_forms() -> None:
    off = {"e": "ACCOUNT_CONFIG_UPDATE", "E": 9, "T": 9, "ai": {"j": False}}
    assert parse_user_frame(json.dumps(off)) == AccountModeChanged(False, 9)
    for broken in ({**off, "ai": {"j": "false"}}, {**off, "ai": {}}, {**off, "ai": None}):
        skipped = parse_user_frame(json.dumps(broken))
        assert isinstance(skipped, Skipped) and skipped.malformed
    neither = parse_user_frame(json.dumps({"e": "ACCOUNT_CONFIG_UPDATE", "E": 9, "T": 9}))
    assert isinstance(neither, Skipped) and not neither.malformed


MODE_ON = {"e": "ACCOUNT_CONFIG_UPDATE", "E": 9, "T": 9, "ai": {"j": True}}
NEW_FRAMES = [DOCS["ALGO_UPDATE"], MODE_ON]


@given(st.data())
def test_new_frames_with_a_field_broken_never_crash(data: st.DataObject) -> None:
    frame = data.draw(st.sampled_from(NEW_FRAMES))
    check(parse_user_frame(json.dumps(mutate(frame, data))))
    index = {"stream": "!assetIndex@arr", "data": DOCS["WS !assetIndex@arr"]}
    check(parse_market_event(json.dumps(mutate(index, data))))


@given(st.data())
def test_broken_new_rest_bodies_are_an_input_error_never_a_crash(data: st.DataObject) -> None:
    bodies: dict[str, Any] = {
        "account_config": MULTI,
        "algo_orders": [DOCS["POST /fapi/v1/algoOrder"]],
        "asset_index": [DOCS["GET /fapi/v1/assetIndex?symbol=ADAUSD"]],
        "account": account(asset_row("USDT", "1"), asset_row("BNFCR", "2")),
    }
    name = data.draw(st.sampled_from(sorted(bodies)))
    body = bodies[name]
    bodies[name] = [mutate(body[0], data)] if isinstance(body, list) else mutate(body, data)
    try:
        snapshot(**bodies)
    except InputError as exc:
        assert str(exc)
