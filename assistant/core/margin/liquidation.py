"""Liquidation prices and distances to liquidation.

Binance's formula (FAQ "How to Calculate Liquidation Price of USDⓈ-M Futures
Contracts"), one-way and hedge, cross and isolated:

    LP = (WB − TMM1 + UPNL1 + cumB + cumL + cumS
          − Side1BOTH×Position1BOTH×EP1BOTH − Position1LONG×EP1LONG + Position1SHORT×EP1SHORT)
         / (Position1BOTH×MMR_B + Position1LONG×MMR_L + Position1SHORT×MMR_S
            − Side1BOTH×Position1BOTH − Position1LONG + Position1SHORT)

- cross: WB = crossWalletBalance; TMM1 / UPNL1 are the MM and uPnL of every
  other cross symbol at its current mark; in hedge mode both legs of the
  symbol enter together and share one price.
- isolated: WB = the position's isolatedWallet; TMM1 = UPNL1 = 0.
- the tier (MMR, cum) is the one at the liquidation notional; in cross hedge
  mode each leg's tier comes from its own notional at that price.
- a price ≤ 0 means none (the UI shows "--", the API "0").

Multi-Assets mode (no published formula): the same equation in USD, margin balance =
maintenance margin, with each leg's PnL at its margin asset's rate and its MM at the askRate,
and the collateral whose index follows the symbol (BTC for BTCUSDT) moving with the price.
Where an asset's equity changes sign on the way (bid rate to ask rate), the root found with
the rates at the mark is checked and, if off, found again by bisection on the exact figures.

`core.solver` evaluates exactly this, segment by segment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from assistant.core.margin.book import MarginBook
from assistant.core.margin.solver import Leg, first_root, headroom, slope_at
from assistant.core.model import (
    ONE,
    ZERO,
    Bracket,
    BracketTable,
    Position,
    PositionSide,
    market_moved,
)

BOUND_SAFETY = Decimal("0.999999")
_FAR = Decimal(10**9)  # "no move of this kind can liquidate" (no exposure to it)
# Collateral that moves with a price has no maintenance margin of its own.
_NO_MARGIN = BracketTable((Bracket(ZERO, Decimal("1e30"), ZERO, ZERO, 1, 1),))
_EXACT = Decimal("1e-12")  # relative headroom accepted at a Multi-Assets root
_BISECTIONS = 200


def _pick(constant: Decimal, legs: list[Leg], mark: Decimal) -> Decimal | None:
    """The liquidation price along one symbol's mark: the root on the losing side."""
    f_mark = headroom(constant, legs, mark)
    if not f_mark:
        return mark
    if len(legs) == 1:
        # f is monotone: rising for a long, falling for a short.
        rising = legs[0].slope > ZERO
        return first_root(constant, legs, mark, up=(f_mark < ZERO) == rising)
    below = first_root(constant, legs, mark, up=False)
    above = first_root(constant, legs, mark, up=True)
    if below is None or above is None:
        return below if above is None else above
    # Both exist (hedge legs): the side where the account loses money at the mark, which is
    # also what Binance's formula gives with the tiers at the current notional.
    slope = slope_at(legs, mark)
    if slope:
        return below if slope > ZERO else above
    return below if mark - below <= above - mark else above


def liquidation_price(book: MarginBook, position: Position) -> Decimal | None:
    """Mark price of `position`'s symbol at which it is liquidated, others held."""
    if not position.amount:
        return None
    account = book.account
    mark = account.marks[position.symbol]
    table = account.brackets[position.symbol]
    if not position.is_cross:
        leg = Leg(position.amount, abs(position.amount), table)
        constant = position.isolated_wallet - position.amount * position.entry_price
        return _pick(constant, [leg], mark)
    group = book.cross_legs[position.symbol]
    others_upnl, others_mm = book.others(position.symbol)
    constant = book.wallet_balance + others_upnl - others_mm
    valued = book.valued
    if valued is None:
        legs = []
        for pos in group:
            constant -= pos.amount * pos.entry_price
            legs.append(Leg(pos.amount, abs(pos.amount), table))
        return _pick(constant, legs, mark)
    root = _usd_root(book, position, constant)
    return _checked(book, position.symbol, mark, root)


def _usd_root(
    book: MarginBook, position: Position, constant: Decimal, again: bool = True
) -> Decimal | None:
    """The closed-form root in Multi-Assets mode, exact across the one kink a symbol's mark can
    cause: its margin asset's equity (wallet + uPnL, linear in the mark) reaching 0, where that
    asset's rate switches between bid and ask. Beyond it, solved again from there."""
    valued = book.valued
    assert valued is not None
    account, symbol = book.account, position.symbol
    mark, table = account.marks[symbol], account.brackets[symbol]
    group = book.cross_legs[symbol]
    pnl_rate, mm_rate = valued.weights[symbol]
    legs = []
    for pos in group:
        constant -= pos.amount * pos.entry_price * pnl_rate
        legs.append(Leg(pos.amount * pnl_rate, abs(pos.amount), table, mm_rate))
    moving = valued.linked.get(symbol, ZERO)
    if moving:
        constant -= moving
        legs.append(Leg(moving / mark, ONE, _NO_MARGIN))
    root = _pick(constant, legs, mark)
    slope = sum((pos.amount for pos in group), ZERO)
    if root is None or not slope or not again or account.collateral is None:
        return root
    asset = position.margin_asset
    equity = account.collateral.wallets.get(asset, ZERO) + sum(
        (p.upnl(account.marks[p.symbol]) for p in account.positions if p.margin_asset == asset),
        ZERO,
    )
    kink = mark - equity / slope
    if not min(mark, root) < kink < max(mark, root):
        return root
    beyond = kink + (root - kink) * _EXACT  # just past it: the asset on its other rate
    there = book.with_mark(symbol, beyond)
    if there.headroom <= ZERO:
        return beyond
    others_upnl, others_mm = there.others(symbol)
    return _usd_root(there, position, there.wallet_balance + others_upnl - others_mm, False)


def _checked(book: MarginBook, symbol: str, mark: Decimal, root: Decimal | None) -> Decimal | None:
    """A Multi-Assets root along one symbol's mark, exact on the book's own figures."""
    return _refine(lambda price: book.with_mark(symbol, price).headroom, mark, root, book)


def _refine(
    f: Callable[[Decimal], Decimal], start: Decimal, root: Decimal | None, book: MarginBook
) -> Decimal | None:
    """`root` if f is 0 there (to a relative 1e-12); else the root found by bisection.

    The closed-form root takes every asset's rate on the side its equity is at `start`; an
    asset whose equity changes sign on the way (bid rate to ask rate) moves the true root,
    which stays on the same side of `start` (f is concave: each asset's value is a min of
    two lines). f > 0 at `start` unless it is already liquidated."""
    if root is None:
        return None
    scale = max(abs(book.mm), abs(book.margin_balance), ONE)
    if root == start or abs(f(root)) <= _EXACT * scale:
        return root
    if f(start) <= ZERO:
        return start
    inside, outside, step = start, root, root - start
    for _ in range(_BISECTIONS):  # widen until f ≤ 0 beyond the closed-form root
        if outside <= ZERO:
            outside = start * _EXACT
            if f(outside) > ZERO:
                return None
            break
        if f(outside) <= ZERO:
            break
        inside, outside, step = outside, outside + step, step * 2
    for _ in range(_BISECTIONS):
        middle = (inside + outside) / 2
        if f(middle) > ZERO:
            inside = middle
        else:
            outside = middle
        if abs(outside - inside) <= _EXACT * abs(outside):
            break
    return outside


def liquidation_prices(book: MarginBook) -> dict[tuple[str, PositionSide], Decimal | None]:
    """Every position's liquidation price; cross hedge legs share theirs."""
    prices: dict[tuple[str, PositionSide], Decimal | None] = {}
    shared: dict[str, Decimal | None] = {}
    for pos in book.account.positions:
        if pos.is_cross and pos.amount:
            if pos.symbol not in shared:
                shared[pos.symbol] = liquidation_price(book, pos)
            prices[pos.key] = shared[pos.symbol]
        else:
            prices[pos.key] = liquidation_price(book, pos)
    return prices


@dataclass(frozen=True, slots=True)
class Distance:
    """Smallest uniform move of every mark (as a fraction, both ≥ 0) that liquidates
    the cross account; None where no such move exists. Per position: the signed
    move of its own mark to its liquidation price, (LP − mark) / mark."""

    down: Decimal | None
    up: Decimal | None
    positions: dict[tuple[str, PositionSide], Decimal | None]

    @property
    def nearest(self) -> Decimal | None:
        """The smallest move, account-wide or of one position's own mark."""
        moves = [m for m in (self.down, self.up) if m is not None]
        moves += [abs(m) for m in self.positions.values() if m is not None]
        return min(moves) if moves else None


def uniform_distance(book: MarginBook) -> tuple[Decimal | None, Decimal | None]:
    """(down, up): the uniform move of all marks that brings the cross account to
    margin balance = maintenance margin. Zero when it already is liquidated."""
    account = book.account
    legs = []
    constant = book.wallet_balance
    valued = book.valued
    for symbol, group in book.cross_legs.items():
        mark = account.marks[symbol]
        table = account.brackets[symbol]
        pnl_rate, mm_rate = ONE, ONE
        if valued is not None:
            pnl_rate, mm_rate = valued.weights[symbol]
        for pos in group:
            legs.append(Leg(pos.amount * mark * pnl_rate, abs(pos.amount) * mark, table, mm_rate))
            constant -= pos.amount * pos.entry_price * pnl_rate
    if not legs:
        return None, None
    if valued is not None:
        for value in (*valued.linked.values(), valued.volatile):
            if value:
                constant -= value
                legs.append(Leg(value, ONE, _NO_MARGIN))
    if book.headroom <= ZERO:
        return ZERO, ZERO
    low = first_root(constant, legs, ONE, up=False)
    high = first_root(constant, legs, ONE, up=True)
    if valued is not None:

        def f(factor: Decimal) -> Decimal:
            return MarginBook.build(market_moved(account, factor)).headroom

        low, high = _refine(f, ONE, low, book), _refine(f, ONE, high, book)
    return (None if low is None else ONE - low), (None if high is None else high - ONE)


def _bound(headroom: Decimal, exposure: Decimal) -> Decimal:
    if headroom <= ZERO:
        return ZERO
    return headroom / exposure if exposure else _FAR


def _cross_bounds(book: MarginBook) -> tuple[Decimal, Decimal]:
    """Lower bounds on the cross account's uniform distance and on any one symbol's own.

    A uniform move x of every mark changes the margin balance by exactly x × N (N: the net
    notional, longs minus shorts) and each leg's maintenance margin by at most |x| × its
    notional × its table's highest rate (MM is continuous and piecewise linear in notional).
    So no |x| below headroom / (|N| + Σ notional × rate) liquidates; for a move of one
    symbol's mark, the same with that symbol's own net and gross notional (the book keeps
    the largest such exposure, so both bounds cost O(1)).
    """
    return _bound(book.headroom, abs(book.net) + book.spread), _bound(book.headroom, book.widest)


def _isolated_bound(pos: Position, mark: Decimal, table: BracketTable) -> Decimal:
    """A lower bound on the move of its own mark that liquidates an isolated position: its
    margin changes by at most |x| × notional × (1 + its highest rate)."""
    size = abs(pos.amount) * mark
    room = pos.isolated_balance(mark) - table.maintenance_margin(size)
    return ZERO if room <= ZERO else room / (size * (ONE + table.max_mmr))


def distance_lower_bound(book: MarginBook) -> Decimal | None:
    """A cheap lower bound on every distance `distance()` reports (uniform, one symbol's,
    an isolated position's own); see `_cross_bounds`. An isolated position's own mark move
    changes its margin by at most |x| × notional × (1 + its highest rate). None: no exposure.
    """
    bounds = list(_cross_bounds(book)) if book.gross else []
    account = book.account
    for pos in book.isolated:
        bounds.append(_isolated_bound(pos, account.marks[pos.symbol], account.brackets[pos.symbol]))
    if not bounds:
        return None
    return min(bounds) * BOUND_SAFETY  # shaved, so rounding in the last digit cannot overshoot


def nearest_distance(book: MarginBook) -> Decimal | None:
    """`distance(book).nearest`, exactly, solving only what its lower bound cannot rule
    out: a symbol whose own bound is already beyond the nearest found is never solved."""
    down, up = uniform_distance(book)
    found = [m for m in (down, up) if m is not None]
    best = min(found) if found else None
    marks = book.account.marks
    candidates: list[tuple[Decimal, Position]] = []
    for symbol, group in book.cross_legs.items():
        own = _bound(book.headroom, book.per_symbol[symbol].exposure) * BOUND_SAFETY
        candidates += [(own, pos) for pos in group]
    for pos in book.isolated:
        bound = _isolated_bound(pos, marks[pos.symbol], book.account.brackets[pos.symbol])
        candidates.append((bound * BOUND_SAFETY, pos))
    for bound, pos in sorted(candidates, key=lambda item: item[0]):
        if best is not None and bound >= best:
            break  # this one and every later one are at least as far
        price = liquidation_price(book, pos)
        if price is not None:
            mark = marks[pos.symbol]
            move = abs((price - mark) / mark)
            best = move if best is None else min(best, move)
    return best


def distance(book: MarginBook) -> Distance:
    down, up = uniform_distance(book)
    marks = book.account.marks
    per_position = {}
    for key, price in liquidation_prices(book).items():
        mark = marks[key[0]]
        per_position[key] = None if price is None else (price - mark) / mark
    return Distance(down, up, per_position)
