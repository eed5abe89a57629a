"""Stress and the cheap distance bound, on Binance's FAQ account."""

from __future__ import annotations

from decimal import Decimal

import pytest

from assistant.core.margin.book import MarginBook
from assistant.core.margin.liquidation import distance, distance_lower_bound, uniform_distance
from assistant.core.margin.stress import shocked, stress
from tests.core.test_golden import faq_account

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
