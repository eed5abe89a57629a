"""Sizing actions to a target margin ratio: deposits and reduce-only orders."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from assistant.core.events import OpenOrder, PositionChange
from assistant.core.margin.book import MarginBook, margin_ratio, symbol_totals
from assistant.core.model import ZERO, Position, PositionSide


def deposit_for_ratio(maintenance: Decimal, balance: Decimal, target: Decimal) -> Decimal:
    """The USDT to add so that MM / (balance + deposit) == target; 0 if already at or below.

    Adding to the wallet changes the margin balance and nothing else (MM is set by
    notional at mark), so the size is exact: MM / target − balance.
    """
    if target <= ZERO:
        raise ValueError("the target margin ratio must be positive")
    return max(ZERO, maintenance / target - balance)


def cross_deposit(book: MarginBook, target: Decimal) -> Decimal:
    """Spot → futures transfer that brings the cross margin ratio to `target`."""
    return deposit_for_ratio(book.mm, book.margin_balance, target)


def isolated_deposit(book: MarginBook, position: Position, target: Decimal) -> Decimal:
    """Margin to add to an isolated position so that its own ratio reaches `target`."""
    if position.is_cross:
        raise ValueError(f"{position.symbol} is a cross position")
    mark = book.account.marks[position.symbol]
    table = book.account.brackets[position.symbol]
    mm = table.maintenance_margin(abs(position.amount) * mark)
    balance = position.isolated_balance(mark)
    return deposit_for_ratio(mm, balance, target)


@dataclass(frozen=True, slots=True)
class ReducePlan:
    quantity: Decimal  # to close, a multiple of the step size; 0 when nothing is needed
    ratio_after: Decimal | None  # cross margin ratio once it is filled at mark
    reaches_target: bool


def ratio_after_reduce(
    book: MarginBook, position: Position, quantity: Decimal, fee_rate: Decimal = ZERO
) -> Decimal | None:
    """Cross margin ratio after closing `quantity` of `position` at its mark.

    Realized PnL moves from uPnL into the wallet, so the margin balance only
    loses the taker fee; the maintenance margin is recomputed at the new size
    (its tier may change).
    """
    mark = book.account.marks[position.symbol]
    table = book.account.brackets[position.symbol]
    direction = 1 if position.amount > ZERO else -1
    remaining = position.amount - direction * quantity
    legs = [
        replace(p, amount=remaining) if p.key == position.key else p
        for p in book.cross_legs[position.symbol]
    ]
    if book.valued is not None:  # Multi-Assets: rates and signs may move; recompute it all
        return reduced_book(book, position, quantity, fee_rate).margin_ratio
    new = symbol_totals(legs, mark, table)
    mm = book.mm - book.per_symbol[position.symbol].mm + new.mm
    return margin_ratio(mm, book.margin_balance - quantity * mark * fee_rate)


def reduce_to_ratio(
    book: MarginBook,
    key: tuple[str, PositionSide],
    target: Decimal,
    step: Decimal,
    min_qty: Decimal = ZERO,
    fee_rate: Decimal = ZERO,
    min_distance: Decimal | None = None,
) -> ReducePlan:
    """The smallest reduce-only quantity (multiple of `step`, at least `min_qty`)
    of one cross position that brings the cross margin ratio to `target` or below (and, with
    `min_distance`, keeps every uniform move smaller than it from liquidating).

    Reduce-only orders are exempt from min notional, so only LOT_SIZE applies.
    When even closing the whole position is not enough, the plan closes it all
    and says the target is not reached.
    """
    if step <= ZERO:
        raise ValueError("step size must be positive")
    position = next((p for p in book.account.positions if p.key == key), None)
    if position is None or not position.amount:
        raise ValueError(f"no open position {key[0]} {key[1].value}")
    if not position.is_cross:
        raise ValueError(
            f"{key[0]} is isolated: reducing it does not lower its own ratio; add margin"
        )

    def ratio(q: Decimal) -> Decimal | None:
        return ratio_after_reduce(book, position, q, fee_rate)

    def good(q: Decimal) -> bool:
        r = ratio(q)
        if r is None or r > target:
            return False
        if min_distance is None:
            return True
        from assistant.core.margin.liquidation import uniform_distance

        down, up = uniform_distance(reduced_book(book, position, q, fee_rate))
        return all(m is None or m >= min_distance for m in (down, up))

    now = book.margin_ratio
    if good(ZERO):
        return ReducePlan(ZERO, now, True)
    size = abs(position.amount)
    lo = max(1, int((min_qty / step).to_integral_value(ROUND_CEILING)))
    hi = int((size / step).to_integral_value(ROUND_FLOOR))
    if hi < lo or not good(hi * step):
        whole = hi * step if hi >= lo else size
        return ReducePlan(whole, ratio(whole), good(whole))
    while lo < hi:  # invariant: good(hi * step)
        mid = (lo + hi) // 2
        if good(mid * step):
            hi = mid
        else:
            lo = mid + 1
    quantity = hi * step
    return ReducePlan(quantity, ratio(quantity), True)


def deposit_for_distance(book: MarginBook, distance: Decimal) -> Decimal:
    """The USDT to add so that a uniform move of every mark by `distance` (down or up) does
    not liquidate the cross account: minus the headroom it would leave, if negative."""
    from assistant.core.margin.stress import shocked

    if not book.gross:
        return ZERO
    needed = ZERO
    for move in (-distance, distance):
        there = MarginBook.build(shocked(book.account, move))
        needed = max(needed, -there.headroom)
    return needed


def reduced_book(
    book: MarginBook, position: Position, quantity: Decimal, fee_rate: Decimal = ZERO
) -> MarginBook:
    """The account after closing `quantity` of `position` at its mark: the realized PnL and
    the taker fee move into the wallet."""
    mark = book.account.marks[position.symbol]
    direction = 1 if position.amount > ZERO else -1
    realized = direction * quantity * (mark - position.entry_price)
    account = book.account
    positions = tuple(
        replace(p, amount=p.amount - direction * quantity) if p.key == position.key else p
        for p in account.positions
    )
    booked = realized - quantity * mark * fee_rate
    held = account.collateral
    if held is not None:  # realized PnL and the fee land in the position's margin asset
        asset = position.margin_asset
        wallets = {**held.wallets, asset: held.wallets.get(asset, ZERO) + booked}
        return MarginBook.build(
            replace(account, positions=positions, collateral=replace(held, wallets=wallets))
        )
    wallet = account.wallet_balance + booked
    return MarginBook.build(replace(account, wallet_balance=wallet, positions=positions))


@dataclass(frozen=True, slots=True)
class Room:
    """What a new reduce-only order on one position may still close.

    Binance refuses (-2022) a reduce-only order that, with the reduce-only orders already open
    on the same side, would close more than the position. `ours` are our own stale ones (they
    may be cancelled); `theirs` are the user's own (never ours to touch)."""

    size: Decimal  # the position, unsigned
    ours: tuple[OpenOrder, ...]
    theirs: tuple[OpenOrder, ...]

    @property
    def free(self) -> Decimal:
        """Left with every open reduce-only order in place."""
        return max(ZERO, self.size - _open(self.ours) - _open(self.theirs))

    @property
    def without_ours(self) -> Decimal:
        """Left once our own stale orders are cancelled."""
        return max(ZERO, self.size - _open(self.theirs))


def _open(orders: Iterable[OpenOrder]) -> Decimal:
    return sum((o.quantity - o.filled for o in orders), ZERO)


def closes(order: OpenOrder, position: Position | PositionChange) -> bool:
    """True if `order`, open, counts against `position` as a reduce-only order: in one-way
    mode a reduceOnly order on the closing side; in hedge mode any order on the leg's closing
    side (Binance treats those as reduce-only)."""
    if order.symbol != position.symbol or order.position_side != position.side:
        return False
    if order.side != ("SELL" if position.amount > ZERO else "BUY"):
        return False
    return order.reduce_only or position.side != PositionSide.BOTH


def reduce_room(
    position: Position | PositionChange, orders: Iterable[OpenOrder], prefix: str
) -> Room:
    """The room for a reduce-only order on `position`, given the account's open orders;
    `prefix` tells our own client ids from the user's."""
    blocking = [o for o in orders if closes(o, position)]
    blocking.sort(key=lambda o: o.order_id)
    ours = tuple(o for o in blocking if o.client_id.startswith(prefix))
    theirs = tuple(o for o in blocking if not o.client_id.startswith(prefix))
    return Room(abs(position.amount), ours, theirs)


def fit(quantity: Decimal, room: Decimal, step: Decimal) -> Decimal:
    """`quantity`, lowered to `room` if it does not fit, in whole steps."""
    if quantity <= room:
        return quantity
    return (room / step).to_integral_value(ROUND_FLOOR) * step
