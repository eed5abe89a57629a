"""What-if: the account's health after its marks move."""

from __future__ import annotations

from decimal import Decimal

from assistant.core.margin.health import AccountHealth, account_health
from assistant.core.model import ONE, Account


def shocked(account: Account, move: Decimal, symbol: str | None = None) -> Account:
    """The account with every mark (or only `symbol`'s) multiplied by (1 + move).

    `move` is a fraction: -0.10 is a 10% fall. It must stay above -1.
    """
    if move <= -ONE:
        raise ValueError("a move of -100% or more leaves no price")
    if symbol is not None and symbol not in account.marks:
        raise ValueError(f"{symbol} has no mark price in this account")
    factor = ONE + move
    marks = {
        sym: (price * factor if symbol is None or sym == symbol else price)
        for sym, price in account.marks.items()
    }
    return account.with_marks(marks)


def stress(account: Account, move: Decimal, symbol: str | None = None) -> AccountHealth:
    """Health after a uniform move of every mark, or of one symbol's mark."""
    return account_health(shocked(account, move, symbol))
