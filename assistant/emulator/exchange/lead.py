"""A model of the market around the scenario's marks, for the shadow mark: a scenario's `path`
still sets every mark exactly (every scenario means what it meant), and the last price, a book
one tick wide and the index are the path `book_lead` scenario seconds ahead (a symbol whose
mark was pinned: that mark, with no lead). The index rides on the mark frames (`i`), the book
on `bookTicker`, the last price on `aggTrade`.

This is a model of a market in which the book leads the mark by exactly `book_lead`, not
evidence about Binance: an early warning's lead measured on it says how the estimator behaves
when the book leads by that much, not how much Binance's book leads Binance's mark.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from assistant.emulator.exchange.scenario import Scenario

EIGHT = Decimal("0.00000001")


def ahead(scenario: Scenario, t: float, pinned: dict[str, Decimal]) -> dict[str, Decimal]:
    """Each symbol's price `book_lead` scenario seconds after `t` (its pinned mark if pinned),
    to 8 decimals: the index, and what the book and the last price sit on."""
    prices = {
        s: p.quantize(EIGHT) for s, p in scenario.marks_at(t + scenario.settings.book_lead).items()
    }
    prices.update(pinned)
    return prices


def top(price: Decimal, tick: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """(best bid, best ask, last price): one tick wide around `price`, the bid at or below it,
    the last trade at whichever side is nearer."""
    bid = (price / tick).to_integral_value(rounding=ROUND_FLOOR) * tick
    ask = bid + tick
    last = bid if price - bid <= ask - price else ask
    return bid, ask, last
