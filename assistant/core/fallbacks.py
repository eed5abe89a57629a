"""What the mirror assumes where Binance's data is missing, and says so.

- A held symbol without a bracket table is computed with one tier at an assumed rate: the
  higher of `[mirror] fallback_mmr` and the highest rate the held positions' own tables give
  them, fixed while the assumption lasts.
- Credits (BNFCR) are valued at 1 USD when Binance sends no BNFCRUSD index (it documents
  none): `status` and /health say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from assistant.core.margin.pools import CREDITS
from assistant.core.model import ONE, ZERO, AssetRate, Bracket, BracketTable, Collateral, Position

ASSUMED_CAP = Decimal("1e15")  # an assumed table's one tier covers any notional Binance allows
CREDIT_RATE = AssetRate(CREDITS, ONE, ONE, ONE)


def assumed_table(rate: Decimal) -> BracketTable:
    """One tier at `rate` for any notional: what a symbol without brackets is computed with."""
    return BracketTable((Bracket(ZERO, ASSUMED_CAP, rate, ZERO, 1, 1),))


def collateral(
    wallets: Mapping[str, Decimal],
    asset_rates: Mapping[str, AssetRate],
    links: Mapping[str, tuple[str, Decimal]],
) -> Collateral:
    """A Multi-Assets pool's collateral: credits valued at 1 USD when Binance gives no rate."""
    rates = dict(asset_rates)
    if CREDITS in wallets and CREDITS not in rates:
        rates[CREDITS] = CREDIT_RATE
    return Collateral({a: v for a, v in wallets.items() if v}, rates, dict(links))


def assumed_rates(
    assumed: Mapping[str, Decimal],
    fallback_mmr: Decimal | None,
    brackets: Mapping[str, BracketTable],
    marks: Mapping[str, Decimal],
    positions: list[Position],
    missing: set[str],
) -> Mapping[str, Decimal]:
    """The rate of each held symbol without brackets: the one already assumed for it, or the
    fallback, or the highest rate the held positions' own tables give them if that is higher.
    (Not the tables' top tiers: they are 50% in every table, for notionals nobody holds.)"""
    if not missing:
        return {}
    fresh = [s for s in missing if s not in assumed]
    rate = fallback_mmr
    assert rate is not None
    if fresh:
        for pos in positions:
            table = brackets.get(pos.symbol)
            if table is not None and pos.amount:
                size = abs(pos.amount) * marks[pos.symbol]
                rate = max(rate, table.tier_for(size).mmr)
    return {s: assumed.get(s, rate) for s in sorted(missing)}
