"""The health report of an account: the figures `assistant calc` prints."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from assistant.core.margin.book import MarginBook, margin_ratio
from assistant.core.margin.liquidation import liquidation_prices
from assistant.core.model import Account, Position


@dataclass(frozen=True, slots=True)
class PositionHealth:
    position: Position
    mark: Decimal
    notional: Decimal
    unrealized_pnl: Decimal
    initial_margin: Decimal | None
    maintenance_margin: Decimal
    margin_ratio: Decimal | None  # isolated: MM / (isolatedWallet + uPnL); cross: None
    liquidation_price: Decimal | None


@dataclass(frozen=True, slots=True)
class AccountHealth:
    """Cross totals (isolated positions excluded) and every position's figures."""

    wallet_balance: Decimal
    unrealized_pnl: Decimal
    maintenance_margin: Decimal
    initial_margin: Decimal | None
    margin_balance: Decimal
    margin_ratio: Decimal | None
    available_balance: Decimal | None
    positions: tuple[PositionHealth, ...]


def position_health(book: MarginBook, pos: Position, lp: Decimal | None) -> PositionHealth:
    mark = book.account.marks[pos.symbol]
    table = book.account.brackets[pos.symbol]
    notional = pos.amount * mark
    size = abs(notional)
    upnl = pos.upnl(mark)
    mm = table.maintenance_margin(size)
    im = None if pos.leverage is None else size / pos.leverage
    ratio = None if pos.is_cross else margin_ratio(mm, pos.isolated_balance(mark))
    return PositionHealth(pos, mark, notional, upnl, im, mm, ratio, lp)


def book_health(book: MarginBook) -> AccountHealth:
    prices = liquidation_prices(book)
    return AccountHealth(
        wallet_balance=book.wallet_balance,
        unrealized_pnl=book.upnl,
        maintenance_margin=book.mm,
        initial_margin=book.initial_margin,
        margin_balance=book.margin_balance,
        margin_ratio=book.margin_ratio,
        available_balance=book.available_balance,
        positions=tuple(
            position_health(book, pos, prices[pos.key]) for pos in book.account.positions
        ),
    )


def account_health(account: Account) -> AccountHealth:
    return book_health(MarginBook.build(account))
