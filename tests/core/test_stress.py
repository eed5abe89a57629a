"""Stress (and where it liquidates) and the cheap distance bound."""

from __future__ import annotations

from decimal import Decimal

import pytest

from assistant.core.margin.book import MarginBook
from assistant.core.margin.liquidation import (
    distance,
    distance_lower_bound,
    liquidation_price,
    uniform_distance,
)
from assistant.core.margin.stress import shocked, stress, stress_report
from assistant.core.model import Account, MarginType, Position, PositionSide
from tests.core.test_golden import faq_account
from tests.helpers import real_2024_brackets

D = Decimal


def test_uniform_stress_moves_every_mark() -> None:
    account = faq_account()
    after = stress(account, D("-0.10"))
    btc, eth = after.positions
    assert btc.mark == D("31967.27") * D("0.90") and eth.mark == D("1335.18") * D("0.90")
    assert after.margin_ratio is not None and after.margin_ratio > D("1")  # FAQ account dies


def test_one_symbol_stress_leaves_the_others() -> None:
    after = stress(faq_account(), D("-0.05"), "ETHUSDT")
    btc, eth = after.positions
    assert btc.mark == D("31967.27") and eth.mark == D("1335.18") * D("0.95")


def test_stress_refuses_impossible_moves() -> None:
    with pytest.raises(ValueError, match="-100%"):
        shocked(faq_account(), D("-1"))
    with pytest.raises(ValueError, match="no mark"):
        shocked(faq_account(), D("0.1"), "XRPUSDT")


def test_distance_is_consistent_with_the_liquidation_prices() -> None:
    book = MarginBook.build(faq_account())
    result = distance(book)
    down, up = uniform_distance(book)
    assert result.down == down and up is None  # two longs: no upward liquidation
    btc_move = result.positions[("BTCUSDT", next(iter(result.positions))[1])]
    assert btc_move is not None
    # BTC alone must fall further than both together.
    assert down is not None and -btc_move > down
    assert result.nearest == down


def test_lower_bound_never_exceeds_the_exact_distance() -> None:
    book = MarginBook.build(faq_account())
    bound = distance_lower_bound(book)
    down, _ = uniform_distance(book)
    assert bound is not None and down is not None and 0 < bound <= down


def ten_x_long(margin_type: MarginType = MarginType.CROSS) -> Account:
    """1,000 USDT behind a 10x BTC long (the issue's `/stress -30`: balance → -2,000)."""
    position = Position(
        "BTCUSDT", PositionSide.BOTH, D("0.1"), D("100000"), margin_type, D("1000"), 10
    )
    wallet = D("0") if margin_type is MarginType.ISOLATED else D("1000")
    brackets = real_2024_brackets()
    return Account(wallet, (position,), {"BTCUSDT": D("100000")}, {"BTCUSDT": brackets["BTCUSDT"]})


def test_a_balance_below_zero_is_liquidated_not_a_missing_ratio() -> None:
    report = stress_report(ten_x_long(), D("-0.30"))
    assert report.after.margin_balance == D("-2000") and report.after.margin_ratio is None
    assert report.liquidated  # was "not liquidated": a None ratio read as "no liquidation"
    # ... and where: the move that brings the balance down to the maintenance margin.
    move = report.liquidation_move
    assert move is not None and D("-0.30") < move < 0
    at = MarginBook.build(shocked(ten_x_long(), move))
    assert abs(at.headroom) < D("1e-12")
    assert report.liquidation_marks == {"BTCUSDT": D("100000") * (1 + move)}
    assert not stress_report(ten_x_long(), D("-0.05")).liquidated  # short of it
    assert stress_report(ten_x_long(), D("-0.05")).liquidation_move == move


def test_one_symbol_stress_names_its_liquidation_price_and_no_price_the_other_way() -> None:
    account = ten_x_long()
    report = stress_report(account, D("-0.30"), "BTCUSDT")
    book = MarginBook.build(account)
    price = liquidation_price(book, account.positions[0])
    assert report.liquidated and report.liquidation_marks == {"BTCUSDT": price}
    up = stress_report(account, D("0.50"), "BTCUSDT")
    assert not up.liquidated and up.liquidation_move is None  # a long is not liquidated up


def test_an_isolated_position_with_nothing_left_is_liquidated() -> None:
    """Its own ratio is undefined once its margin is ≤ 0: liquidated, not skipped."""
    report = stress_report(ten_x_long(MarginType.ISOLATED), D("-0.30"))
    (pos,) = report.after.positions
    assert pos.margin_ratio is None
    assert [p.symbol for p in report.isolated_liquidated] == ["BTCUSDT"]
    assert not report.liquidated  # no cross positions to liquidate
