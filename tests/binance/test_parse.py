"""Parsers on recorded Binance payloads, and on garbage."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant.binance.parse import Skipped, parse_market_frame, parse_user_frame
from assistant.binance.snapshot import parse_snapshot
from assistant.binance.wire import parse_bracket_table, parse_leverage_brackets
from assistant.core.events import (
    AccountModeChanged,
    BalanceAndPositionUpdated,
    LeverageChanged,
    ListenKeyExpired,
    MarginCallReceived,
    OrderUpdated,
)
from assistant.core.model import MarginType, PositionSide
from assistant.errors import InputError
from tests.helpers import DATA, FIXTURES, fixture, load_json

D = Decimal


def real_frames() -> list[str]:
    return (FIXTURES / "real.user_stream_frames.2022-01-26.jsonl").read_text().splitlines()


def test_real_user_frames() -> None:
    events = [parse_user_frame(line) for line in real_frames()]
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "OrderUpdated",
        "BalanceAndPositionUpdated",
        "OrderUpdated",
        "BalanceAndPositionUpdated",
        "OrderUpdated",
        "BalanceAndPositionUpdated",
        "OrderUpdated",
    ]
    deposit = events[3]
    assert isinstance(deposit, BalanceAndPositionUpdated)
    assert (
        deposit.reason == "DEPOSIT"
        and deposit.positions == ()
        and deposit.event_at == 1643187247442
    )
    closed = events[5]
    assert isinstance(closed, BalanceAndPositionUpdated)
    assert closed.positions[0].amount == 0 and closed.positions[0].margin_type is MarginType.CROSS
    fill = events[6]
    assert isinstance(fill, OrderUpdated)
    assert (fill.status, fill.execution, fill.order.reduce_only) == ("FILLED", "TRADE", True)
    assert fill.order.client_id == "ios_P6GCXs2KGbptudxYR9Wu" and fill.order.filled == D("0.003")


def test_documented_user_events() -> None:
    docs = fixture("docexample.binance-docs.misc.json")
    leverage = parse_user_frame(json.dumps(docs["ACCOUNT_CONFIG_UPDATE_leverage"]))
    assert leverage == LeverageChanged("BTCUSDT", 25, 1611646737479)
    multi = parse_user_frame(json.dumps(docs["ACCOUNT_CONFIG_UPDATE_multi_assets"]))
    assert multi == AccountModeChanged(True, 1611646737479)  # Multi-Assets mode switched on
    call = parse_user_frame(json.dumps(docs["MARGIN_CALL"]))
    assert call == MarginCallReceived(1587727187525, D("3.16812045"), ("ETHUSDT",))
    expired = parse_user_frame(json.dumps(docs["listenKeyExpired_docs_string_E"]))
    assert expired == ListenKeyExpired(1736996475556)  # E sent as a string


def test_trade_lite_is_known_and_skipped() -> None:
    skipped = parse_user_frame(json.dumps(fixture("real.nautilus.ws_TRADE_LITE.json")))
    assert isinstance(skipped, Skipped) and not skipped.malformed


def test_mark_price_frames() -> None:
    single = fixture("docexample.nautilus.ws_markPriceUpdate.json")
    [update] = parse_market_frame(json.dumps(single))  # type: ignore[misc]
    assert (update.symbol, update.price, update.event_at) == (
        "BTCUSDT",
        D("11794.15000000"),
        1562305380000,
    )
    wrapped = {
        "stream": "!markPrice@arr@1s",
        "data": [single, {**single, "s": "ETHUSDT", "p": "3000"}],
    }
    updates = parse_market_frame(json.dumps(wrapped))
    assert isinstance(updates, list) and [u.symbol for u in updates] == ["BTCUSDT", "ETHUSDT"]
    reply = parse_market_frame('{"result": null, "id": 1}')
    assert isinstance(reply, Skipped) and not reply.malformed


@pytest.mark.parametrize(
    "frame",
    [
        "",
        "not json",
        "[]",
        "42",
        '{"e": "ACCOUNT_UPDATE"}',
        '{"e": "ACCOUNT_UPDATE", "E": 1, "a": {"P": [{}]}}',
        '{"e": "ORDER_TRADE_UPDATE", "E": "x", "o": {}}',
        '{"e": "SOMETHING_NEW", "E": 1}',
        '{"e": "listenKeyExpired", "E": "soon"}',
        '{"e": "MARGIN_CALL", "E": 1, "cw": "NaN"}',
    ],
)
def test_garbage_user_frames_are_skipped_as_malformed(frame: str) -> None:
    result = parse_user_frame(frame)
    assert isinstance(result, Skipped) and result.malformed


@given(
    st.one_of(
        st.text(max_size=200),
        st.binary(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=10),
            lambda c: (
                st.lists(c, max_size=4)
                | st.dictionaries(
                    st.sampled_from(
                        ["e", "E", "a", "o", "p", "s", "P", "B", "m", "ac", "data", "stream"]
                    ),
                    c,
                    max_size=5,
                )
            ),
            max_leaves=20,
        ).map(json.dumps),
    )
)
def test_no_frame_crashes_a_parser(frame: str | bytes) -> None:
    for parser in (parse_user_frame, parse_market_frame):
        result = parser(frame)
        assert result is not None


def test_snapshot_from_real_captures() -> None:
    config = fixture("docexample.binance-connector-python.rest_responses.json")[
        "GET /fapi/v1/symbolConfig"
    ]
    snapshot = parse_snapshot(
        taken_at=1722161166529,
        account=fixture("real.ccxt.fapi_v3_account.json"),
        position_risk=fixture("real.ccxt.fapi_v3_positionRisk.json"),
        symbol_config=config,
        open_orders=[fixture("real.ccxt.fapi_v1_openOrder.json")],
        account_config={"multiAssetsMargin": True, "dualSidePosition": False},
    )
    assert snapshot.wallet_balance == D("3.72964781")
    [position] = snapshot.positions
    assert (position.symbol, position.side, position.amount) == (
        "BTCUSDT",
        PositionSide.BOTH,
        D("0.009"),
    )
    assert snapshot.marks["BTCUSDT"] == D("67502.68519858")
    assert (
        snapshot.leverage["BTCUSDT"] == 21 and snapshot.margin_types["BTCUSDT"] is MarginType.CROSS
    )
    assert snapshot.exchange.liquidation_prices[("BTCUSDT", PositionSide.BOTH)] == D(
        "64846.98753790"
    )
    order = snapshot.open_orders[0]
    assert (order.symbol, order.order_id, order.price, order.reduce_only) == (
        "LTCUSDT",
        664082074,
        D("50.00"),
        False,
    )


def test_missing_cums_are_derived_after_sorting_and_from_given_ones() -> None:
    """Rows out of order, some with `cum` and some without: each missing one follows Binance's
    recursion from the tier below it (once sorted by floor), given ones are kept."""
    rows = [
        {"notionalFloor": "250000", "notionalCap": "1000000", "maintMarginRatio": "0.025"},
        {"notionalFloor": "0", "notionalCap": "50000", "maintMarginRatio": "0.004"},
        {"notionalFloor": "50000", "notionalCap": "250000", "maintMarginRatio": "0.005", "cum": 50},
    ]
    table = parse_bracket_table(rows, "brackets")
    assert [(t.floor, t.cum) for t in table.brackets] == [
        (D(0), D(0)),
        (D(50000), D(50)),
        (D(250000), D(250000) * (D("0.025") - D("0.005")) + D(50)),
    ]
    assert all(isinstance(t.cum, Decimal) for t in table.brackets)
    with pytest.raises(InputError, match="contradicts"):
        parse_bracket_table([*rows[:2], {**rows[2], "cum": 51}], "brackets")


def test_one_malformed_bracket_table_leaves_the_others_loaded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The real 2024 leverageBracket answer with ETHUSDT's table broken (a rate that is not a
    number in one tier): ETHUSDT is left out with a warning naming it, the other three are
    loaded exactly as from the unbroken answer. `strict` (calc) still refuses the lot."""
    good = parse_leverage_brackets(load_json(DATA / "leverage_brackets_2024-10-24.json"))
    payload = load_json(DATA / "leverage_brackets_2024-10-24.json")
    eth = next(item for item in payload if item["symbol"] == "ETHUSDT")
    eth["brackets"][3]["maintMarginRatio"] = "n/a"
    with caplog.at_level(logging.WARNING, logger="assistant.binance.wire"):
        tables = parse_leverage_brackets(payload)
    assert set(tables) == {"BTCUSDT", "DOGEUSDT", "1000PEPEUSDT"}
    assert all(tables[s] == good[s] for s in tables)
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "brackets[1].brackets[3].maintMarginRatio" in warning.getMessage()
    assert "left out" in warning.getMessage()
    with pytest.raises(InputError, match="maintMarginRatio"):
        parse_leverage_brackets(payload, strict=True)


def test_an_entry_without_a_symbol_or_a_symbol_sent_twice_is_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    payload = load_json(DATA / "leverage_brackets_2024-10-24.json")
    btc, eth, doge, pepe = payload
    nameless = {"brackets": eth["brackets"]}
    with caplog.at_level(logging.WARNING, logger="assistant.binance.wire"):
        tables = parse_leverage_brackets([btc, nameless, doge, {**doge}, pepe, "junk"])
    assert set(tables) == {"BTCUSDT", "1000PEPEUSDT"}  # DOGEUSDT twice: which one is unknown
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 3
    with pytest.raises(InputError, match="appears twice"):
        parse_leverage_brackets([doge, doge], strict=True)
    with pytest.raises(InputError, match="expected an object keyed by symbol"):
        parse_leverage_brackets("not brackets")
