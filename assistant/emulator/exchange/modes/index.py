"""The asset index of Multi-Assets mode: each asset's index, bid and ask rates, in Binance's
shapes (GET /fapi/v1/assetIndex and the `assetIndexUpdate` stream event).

bidRate = index × (1 − bidBuffer) and askRate = index × (1 + askBuffer), truncated to 8 decimal
places as Binance prints them (its documentation's ADAUSD example: index 1.92957370 with buffers
0.1 gives 1.73661633 and 2.12253107); the engine values the account at these printed rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

from assistant.emulator.exchange.modes.spec import AssetIndex

if TYPE_CHECKING:
    from assistant.emulator.exchange.engine import Engine

D = Decimal
EIGHT = D("0.00000001")


def t8(value: Decimal) -> Decimal:
    return value.quantize(EIGHT, rounding=ROUND_DOWN)


@dataclass(frozen=True)
class Rates:
    index: Decimal
    bid: Decimal
    ask: Decimal
    auto_bid: Decimal
    auto_ask: Decimal

    def value(self, amount: Decimal) -> Decimal:
        """An amount's USD value: a holding at the bid rate, a debt at the ask rate."""
        return min(amount * self.bid, amount * self.ask)


def rates_of(spec: AssetIndex, marks: dict[str, Decimal]) -> Rates:
    index = spec.index if spec.index is not None else marks[spec.follows or ""]
    return Rates(
        index=index,
        bid=t8(index * (1 - spec.bid_buffer)),
        ask=t8(index * (1 + spec.ask_buffer)),
        auto_bid=t8(index * (1 - spec.auto_bid_buffer)),
        auto_ask=t8(index * (1 + spec.auto_ask_buffer)),
    )


def all_rates(engine: Engine) -> dict[str, Rates]:
    return {spec.asset: rates_of(spec, engine.marks) for spec in engine.account.asset_index}


def s8(value: Decimal) -> str:
    return format(t8(value), "f")


def rest_row(spec: AssetIndex, rates: Rates, now: int) -> dict[str, Any]:
    return {
        "symbol": spec.symbol,
        "time": now,
        "index": s8(rates.index),
        "bidBuffer": s8(spec.bid_buffer),
        "askBuffer": s8(spec.ask_buffer),
        "bidRate": s8(rates.bid),
        "askRate": s8(rates.ask),
        "autoExchangeBidBuffer": s8(spec.auto_bid_buffer),
        "autoExchangeAskBuffer": s8(spec.auto_ask_buffer),
        "autoExchangeBidRate": s8(rates.auto_bid),
        "autoExchangeAskRate": s8(rates.auto_ask),
    }


def asset_index_rows(engine: Engine, now: int) -> list[dict[str, Any]]:
    """GET /fapi/v1/assetIndex without `symbol` (the server picks one row when asked)."""
    return [
        rest_row(spec, rates_of(spec, engine.marks), now) for spec in engine.account.asset_index
    ]


def stream_events(engine: Engine, now: int) -> dict[str, dict[str, Any]]:
    """The `assetIndexUpdate` event of every index symbol, by symbol."""
    events = {}
    for spec in engine.account.asset_index:
        row = rest_row(spec, rates_of(spec, engine.marks), now)
        events[spec.symbol] = {
            "e": "assetIndexUpdate",
            "E": now,
            "s": spec.symbol,
            "i": row["index"],
            "b": row["bidBuffer"],
            "a": row["askBuffer"],
            "B": row["bidRate"],
            "A": row["askRate"],
            "q": row["autoExchangeBidBuffer"],
            "g": row["autoExchangeAskBuffer"],
            "Q": row["autoExchangeBidRate"],
            "G": row["autoExchangeAskRate"],
        }
    return events


def state_rows(engine: Engine) -> dict[str, dict[str, str]]:
    """`/_emulator/state`'s `asset_index`: each asset's index and rates."""
    out = {}
    for spec in engine.account.asset_index:
        rates = rates_of(spec, engine.marks)
        out[spec.asset] = {
            "symbol": spec.symbol,
            "index": s8(rates.index),
            "bidBuffer": s8(spec.bid_buffer),
            "askBuffer": s8(spec.ask_buffer),
            "bidRate": s8(rates.bid),
            "askRate": s8(rates.ask),
        }
    return out
