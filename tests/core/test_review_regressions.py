"""Regressions found by an independent review, each checked against a brute force that does
not use the solver (bisection on margin balance − maintenance margin from `MarginBook`)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given

from assistant.core.margin.book import MarginBook
from assistant.core.margin.liquidation import distance, distance_lower_bound, liquidation_prices
from assistant.core.model import Account, Bracket, BracketTable, MarginType, Position, PositionSide
from tests.core.strategies import accounts
from tests.core.test_properties import PROPERTY, at_mark
from tests.helpers import real_2024_brackets

D = Decimal


def headroom_at(account: Account, symbol: str, price: Decimal) -> Decimal:
    return MarginBook.build(at_mark(account, symbol, price)).headroom


def bisect_root(account: Account, symbol: str, low: Decimal, high: Decimal) -> Decimal:
    """A root of the headroom between low and high, where its sign differs (60 halvings)."""
    f_low = headroom_at(account, symbol, low)
    for _ in range(60):
        mid = (low + high) / 2
        if (headroom_at(account, symbol, mid) > 0) == (f_low > 0):
            low = mid
        else:
            high = mid
    return (low + high) / 2


def test_cross_hedge_reports_the_side_that_loses_money_at_the_mark() -> None:
    """LONG 413 / SHORT 400 at 50000: MM grows faster than the net long gains, so rising
    prices liquidate first (about +30.6%), though the account is net long."""
    account = Account(
        D("600000"),
        (
            Position("BTCUSDT", PositionSide.LONG, D("413"), D("50000")),
            Position("BTCUSDT", PositionSide.SHORT, D("-400"), D("50000")),
        ),
        {"BTCUSDT": D("50000")},
        {"BTCUSDT": real_2024_brackets()["BTCUSDT"]},
    )
    price = liquidation_prices(MarginBook.build(account))[("BTCUSDT", PositionSide.LONG)]
    assert price is not None and price > D("50000")
    brute = bisect_root(account, "BTCUSDT", D("50000"), D("200000"))
    assert abs(price - brute) < D("0.0001")


def test_the_incremental_book_does_not_drift_on_extreme_sizes() -> None:
    table = BracketTable((Bracket(D(0), D(10**15), D("0.004"), D(0), 125),))
    account = Account(
        D(0),
        (
            Position("AAA", PositionSide.BOTH, D("99999999.99999999"), D("1")),
            Position("BBB", PositionSide.BOTH, D("0.99999999"), D("1")),
        ),
        {"AAA": D(1), "BBB": D("1.00000499")},
        {"AAA": table, "BBB": table},
    )
    book = MarginBook.build(account).with_mark("AAA", D("9999999.12345678")).with_mark("AAA", D(1))
    assert book.upnl == MarginBook.build(book.account).upnl


def test_the_lower_bound_covers_isolated_positions() -> None:
    btc = real_2024_brackets()["BTCUSDT"]
    isolated = Position(
        "ETHUSDT", PositionSide.BOTH, D("10"), D("3000"), MarginType.ISOLATED, D("1500")
    )
    account = Account(
        D("3000"),
        (Position("BTCUSDT", PositionSide.BOTH, D("0.1"), D("60000")), isolated),
        {"BTCUSDT": D("60000"), "ETHUSDT": D("2880")},
        {"BTCUSDT": btc, "ETHUSDT": btc},
    )
    for acct in (account, Account(D(0), (isolated,), account.marks, account.brackets)):
        book = MarginBook.build(acct)
        bound, nearest = distance_lower_bound(book), distance(book).nearest
        assert bound is not None and nearest is not None and bound <= nearest


@PROPERTY
@given(accounts())
def test_the_lower_bound_never_exceeds_the_nearest_distance(account: Account) -> None:
    book = MarginBook.build(account)
    bound, nearest = distance_lower_bound(book), distance(book).nearest
    if nearest is not None:
        assert bound is not None and bound <= nearest
