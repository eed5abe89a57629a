"""The emulator's own margin arithmetic: brackets, maintenance margin, health.

Written independently of `assistant.core.margin.book` on purpose: the emulator is the oracle the
assistant is tested against, so it must not share the code under test. It follows Binance's
published rules: MM = |notional at mark| × rate − cum of the tier holding that notional.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

D = Decimal
ZERO = D(0)


@dataclass
class Tier:
    floor: Decimal
    cap: Decimal
    rate: Decimal
    cum: Decimal
    leverage: int


def tiers_from(rows: tuple[dict[str, Any], ...]) -> list[Tier]:
    tiers = [
        Tier(
            D(str(r["notionalFloor"])),
            D(str(r["notionalCap"])),
            D(str(r["maintMarginRatio"])),
            D(str(r.get("cum", 0))),
            int(r.get("initialLeverage", 1)),
        )
        for r in rows
    ]
    return sorted(tiers, key=lambda t: t.floor)


def maint_margin(tiers: list[Tier], notional: Decimal) -> Decimal:
    size = abs(notional)
    chosen = tiers[0]
    for tier in tiers:
        if tier.floor <= size:
            chosen = tier
    return size * chosen.rate - chosen.cum


def max_notional(tiers: list[Tier], leverage: int) -> Decimal:
    """Largest position notional allowed at this leverage (-2027 beyond it)."""
    caps = [t.cap for t in tiers if t.leverage >= leverage]
    return max(caps) if caps else ZERO


@dataclass
class Pos:
    symbol: str
    side: str  # BOTH | LONG | SHORT
    amount: Decimal = ZERO
    entry: Decimal = ZERO
    isolated_wallet: Decimal = ZERO
    update_time: int = 0

    def upnl(self, mark: Decimal) -> Decimal:
        return self.amount * (mark - self.entry)
