"""Properties of the margin core over random accounts (cross and isolated, one-way and
hedge, positions that change tier on the way to liquidation)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from assistant.core.margin.book import MarginBook
from assistant.core.margin.liquidation import (
    distance,
    distance_lower_bound,
    liquidation_prices,
    nearest_distance,
    uniform_distance,
)
from assistant.core.margin.sizing import cross_deposit, ratio_after_reduce, reduce_to_ratio
from assistant.core.margin.stress import shocked
from assistant.core.model import Account, Position, PositionSide
from tests.core.strategies import accounts, decimals
from tests.helpers import real_2024_brackets

PROPERTY = settings()
REL = Decimal("1e-9")
STEP = Decimal("1e-6")  # one step of price, relative: far above Decimal rounding


def at_mark(account: Account, symbol: str, price: Decimal) -> Account:
    marks = dict(account.marks)
    marks[symbol] = price
    return account.with_marks(marks)


def balance_and_mm(account: Account, pos: Position) -> tuple[Decimal, Decimal]:
    """(margin balance, maintenance margin) that liquidates `pos`: the cross account's, or
    the isolated position's own."""
    if pos.is_cross:
        book = MarginBook.build(account)
        return book.margin_balance, book.mm
    mark = account.marks[pos.symbol]
    mm = account.brackets[pos.symbol].maintenance_margin(abs(pos.amount) * mark)
    return pos.isolated_wallet + pos.amount * (mark - pos.entry_price), mm


@PROPERTY
@given(accounts())
def test_at_the_liquidation_price_margin_balance_equals_maintenance_margin(
    account: Account,
) -> None:
    book = MarginBook.build(account)
    for pos in account.positions:
        price = liquidation_prices(book)[pos.key]
        mark = account.marks[pos.symbol]
        if price is None:
            # None only where no positive price makes balance == MM: the sign of
            # balance − MM is the same near 0, at the mark and far above.
            signs = set()
            for probe in (Decimal("1e-9"), mark, mark * 10**6):
                balance, mm = balance_and_mm(at_mark(account, pos.symbol, probe), pos)
                signs.add(balance > mm)
            assert len(signs) == 1
            continue
        assert price > 0
        balance, mm = balance_and_mm(at_mark(account, pos.symbol, price), pos)
        assert mm > 0
        assert abs(balance - mm) / mm < REL
        healthy_now = balance_and_mm(account, pos)
        if healthy_now[0] > healthy_now[1] and price != mark:
            inside = price + price * STEP * (1 if mark > price else -1)
            balance, mm = balance_and_mm(at_mark(account, pos.symbol, inside), pos)
            assert balance > mm


@PROPERTY
@given(accounts(hedge=True))
def test_cross_hedge_legs_share_one_liquidation_price(account: Account) -> None:
    prices = liquidation_prices(MarginBook.build(account))
    for pos in account.positions:
        if pos.is_cross and pos.side is PositionSide.LONG:
            assert prices[pos.key] == prices[(pos.symbol, PositionSide.SHORT)]


@PROPERTY
@given(accounts())
def test_uniform_distance_lands_on_liquidation(account: Account) -> None:
    book = MarginBook.build(account)
    assume(book.gross > 0 and book.headroom > 0)
    down, up = uniform_distance(book)
    for move in (None if down is None else -down, up):
        if move is None:
            continue
        there = MarginBook.build(shocked(account, move))
        assert abs(there.headroom) / there.mm < REL
        closer = MarginBook.build(shocked(account, move * (1 - STEP)))
        assert closer.headroom > 0
    if down is None:
        assert MarginBook.build(shocked(account, Decimal("-0.999999"))).headroom > 0


@PROPERTY
@given(accounts(), decimals("0.05", "0.95", 3))
def test_a_deposit_of_the_computed_size_lands_on_the_target(
    account: Account, target: Decimal
) -> None:
    book = MarginBook.build(account)
    assume(book.mm > 0)
    deposit = cross_deposit(book, target)
    after = MarginBook.build(
        Account(
            account.wallet_balance + deposit, account.positions, account.marks, account.brackets
        )
    )
    if deposit:
        assert after.margin_ratio is not None
        assert abs(after.margin_ratio - target) / target < Decimal("1e-20")
    else:
        assert book.margin_ratio is not None and book.margin_ratio <= target


@PROPERTY
@given(
    accounts(hedge=False), decimals("0.05", "0.9", 3), st.sampled_from(["0", "0.0005"]), st.data()
)
def test_reduction_reaches_the_target_and_is_minimal_to_one_step(
    account: Account, target: Decimal, fee: str, data: st.DataObject
) -> None:
    book = MarginBook.build(account)
    cross = [p for p in account.positions if p.is_cross and p.amount]
    assume(cross and book.mm > 0)
    # Put the account above the target: a wallet that gives a ratio between target and 1.
    start = data.draw(decimals("0.001", "0.999", 3)) * (1 - target) + target
    wallet = book.mm / start - book.upnl
    assume(wallet >= 0 and start > target)
    account = Account(wallet, account.positions, account.marks, account.brackets)
    book = MarginBook.build(account)
    pos = data.draw(st.sampled_from(cross))
    step = Decimal("0.001")
    fee_rate = Decimal(fee)
    plan = reduce_to_ratio(book, pos.key, target, step, min_qty=step, fee_rate=fee_rate)
    assert plan.quantity % step == 0 and 0 < plan.quantity <= abs(pos.amount)
    if plan.reaches_target:
        assert plan.ratio_after is not None and plan.ratio_after <= target
        smaller = plan.quantity - step
        if smaller >= step:
            before = ratio_after_reduce(book, pos, smaller, fee_rate)
            assert before is None or before > target
    else:
        assert plan.quantity == abs(pos.amount)
    # The reduction model matches the account rebuilt with the position reduced at mark.
    mark = account.marks[pos.symbol]
    sign = 1 if pos.amount > 0 else -1
    realized = sign * plan.quantity * (mark - pos.entry_price)
    rebuilt = Account(
        account.wallet_balance + realized - plan.quantity * mark * fee_rate,
        tuple(
            Position(
                p.symbol,
                p.side,
                p.amount - sign * plan.quantity,
                p.entry_price,
                p.margin_type,
                p.isolated_wallet,
                p.leverage,
            )
            if p.key == pos.key
            else p
            for p in account.positions
        ),
        account.marks,
        account.brackets,
    )
    expected = MarginBook.build(rebuilt).margin_ratio
    if expected is None or plan.ratio_after is None:
        assert expected is plan.ratio_after
    else:
        assert abs(expected - plan.ratio_after) <= Decimal("1e-20") * expected


@PROPERTY
@given(
    accounts(),
    st.lists(st.tuples(st.integers(0, 3), decimals("0.5", "90000", 2)), min_size=1, max_size=12),
)
def test_incremental_mark_updates_equal_a_full_recompute(
    account: Account, updates: list[tuple[int, Decimal]]
) -> None:
    book = MarginBook.build(account)
    symbols = sorted(account.marks)
    for i, price in updates:
        book = book.with_mark(symbols[i % len(symbols)], price)
    fresh = MarginBook.build(book.account)
    # Sums of exact products stay exact; IM divides by leverage, so it is compared to 1e-20.
    assert (book.upnl, book.mm, book.gross) == (fresh.upnl, fresh.mm, fresh.gross)
    assert (book.net, book.spread, book.widest) == (fresh.net, fresh.spread, fresh.widest)
    assert book.initial_margin is not None and fresh.initial_margin is not None
    assert abs(book.initial_margin - fresh.initial_margin) <= Decimal("1e-20")


def test_maintenance_margin_is_continuous_across_every_real_bracket_boundary() -> None:
    epsilon = Decimal("1e-8")
    for table in real_2024_brackets().values():
        for tier in table.brackets[1:]:
            below = table.maintenance_margin(tier.floor - epsilon)
            at = table.maintenance_margin(tier.floor)
            assert 0 <= at - below <= epsilon * tier.mmr


@PROPERTY
@given(accounts())
def test_the_pruned_nearest_distance_equals_the_full_one_and_the_bound_holds(
    account: Account,
) -> None:
    book = MarginBook.build(account)
    full = distance(book)
    assert nearest_distance(book) == full.nearest
    bound = distance_lower_bound(book)
    moves = [m for m in (full.down, full.up) if m is not None]
    moves += [abs(m) for m in full.positions.values() if m is not None]
    if bound is not None:
        assert all(bound <= m for m in moves)
