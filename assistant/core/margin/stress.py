"""What-if: the account's health after its marks move, and where it would be liquidated.

The cross account is liquidated once its margin balance is at or below its maintenance
margin: the margin ratio reaches 1, or is undefined because the balance is ≤ 0 (which is
further past it, not "no ratio"). An isolated position likewise, on its own margin.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from assistant.core.margin.book import MarginBook
from assistant.core.margin.health import AccountHealth, account_health, book_health
from assistant.core.margin.liquidation import liquidation_price, uniform_distance
from assistant.core.model import ONE, ZERO, Account, Position, market_moved


def shocked(account: Account, move: Decimal, symbol: str | None = None) -> Account:
    """The account with every mark (or only `symbol`'s) multiplied by (1 + move); a move of
    every mark moves the volatile collateral of a Multi-Assets account too.

    `move` is a fraction: -0.10 is a 10% fall. It must stay above -1.
    """
    if move <= -ONE:
        raise ValueError("a move of -100% or more leaves no price")
    if symbol is not None and symbol not in account.marks:
        raise ValueError(f"{symbol} has no mark price in this account")
    factor = ONE + move
    if symbol is None:
        return market_moved(account, factor)
    marks = {
        sym: (price * factor if symbol is None or sym == symbol else price)
        for sym, price in account.marks.items()
    }
    return account.with_marks(marks)


def stress(account: Account, move: Decimal, symbol: str | None = None) -> AccountHealth:
    """Health after a uniform move of every mark, or of one symbol's mark."""
    return account_health(shocked(account, move, symbol))


def cross_liquidated(book: MarginBook) -> bool:
    """The cross account is at or past liquidation: margin balance ≤ maintenance margin
    (with cross positions to liquidate). True whether or not the ratio is still defined."""
    return bool(book.gross) and book.headroom <= ZERO


def isolated_liquidated(book: MarginBook, position: Position) -> bool:
    """An isolated position at or past its own liquidation: its margin ≤ its maintenance."""
    mark = book.account.marks[position.symbol]
    mm = book.account.brackets[position.symbol].maintenance_margin(abs(position.amount) * mark)
    return position.isolated_balance(mark) <= mm


@dataclass(frozen=True, slots=True)
class StressReport:
    before: AccountHealth
    after: AccountHealth
    liquidated: bool  # the cross account, after the move
    isolated_liquidated: tuple[Position, ...]  # isolated positions past their own, after it
    # Where the cross account is liquidated in the direction of the move: the move (a signed
    # fraction) and the marks it takes; None: no move in that direction liquidates it.
    liquidation_move: Decimal | None
    liquidation_marks: dict[str, Decimal]


def stress_report(account: Account, move: Decimal, symbol: str | None = None) -> StressReport:
    book = MarginBook.build(account)
    moved = MarginBook.build(shocked(account, move, symbol))
    isolated = tuple(p for p in moved.isolated if isolated_liquidated(moved, p))
    at, marks = _where(book, move, symbol)
    return StressReport(
        book_health(book),
        book_health(moved),
        cross_liquidated(moved),
        isolated,
        at,
        marks,
    )


def _where(
    book: MarginBook, move: Decimal, symbol: str | None
) -> tuple[Decimal | None, dict[str, Decimal]]:
    """The move in the stressed direction at which the cross account is liquidated."""
    marks = book.account.marks
    if not book.gross:
        return None, {}
    if symbol is None:
        down, up = uniform_distance(book)
        found = -down if move < 0 and down is not None else None
        if move >= 0 and up is not None:
            found = up
        if found is None:
            return None, {}
        held = sorted(book.cross_legs)
        return found, {s: marks[s] * (ONE + found) for s in held}
    legs = book.cross_legs.get(symbol)
    if not legs:
        return None, {}
    price = liquidation_price(book, legs[0])
    mark = marks[symbol]
    if price is None or price <= ZERO:
        return None, {}
    found = price / mark - ONE
    if (found < 0) != (move < 0) and found != 0:
        return None, {}
    return found, {symbol: price}
