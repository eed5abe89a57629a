"""Roots of margin headroom along one price variable, exact per bracket tier.

Every liquidation question here has the same shape. Along one variable `v`
(a symbol's mark price, or a factor applied to every mark) the headroom is

    f(v) = constant + Σ_i ( slope_i × v − MM_i(scale_i × v) )

where leg `i` has notional `scale_i × v` and maintenance margin
`MM_i(n) = n × mmr_t − cum_t` with `t` the tier holding `n`. Because Binance's
`cum` makes MM continuous and the rates rise with the tier, MM is convex and
f is concave and piecewise linear; its breakpoints are where a leg crosses a
tier floor. Between breakpoints f is `A + B × v` with

    A = constant + Σ cum_t(i),   B = Σ (slope_i − scale_i × mmr_t(i))

so "try each tier, keep the consistent root" becomes a walk from the current
point across breakpoints until f changes sign, then the closed-form root
`−A / B` of that segment. For a single one-way leg this is exactly Binance's
published formula with the tier taken at the liquidation notional.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from assistant.core.model import ONE, ZERO, BracketTable


@dataclass(frozen=True, slots=True)
class Leg:
    """d(PnL)/dv is `slope`; |notional| is `scale × v` (scale > 0); its maintenance margin
    counts `weight` times (Multi-Assets: the askRate of its margin asset, else 1)."""

    slope: Decimal
    scale: Decimal
    table: BracketTable
    weight: Decimal = ONE


def headroom(constant: Decimal, legs: Sequence[Leg], v: Decimal) -> Decimal:
    """f(v): margin balance minus maintenance margin at `v`."""
    total = constant
    for leg in legs:
        total += leg.slope * v - leg.weight * leg.table.maintenance_margin(leg.scale * v)
    return total


def slope_at(legs: Sequence[Leg], v: Decimal) -> Decimal:
    """df/dv on the segment holding v (tiers taken at v)."""
    total = ZERO
    for leg in legs:
        tier = leg.table.brackets[leg.table.index_for(leg.scale * v)]
        total += leg.slope - leg.weight * leg.scale * tier.mmr
    return total


def first_root(constant: Decimal, legs: Sequence[Leg], start: Decimal, up: bool) -> Decimal | None:
    """The nearest v > 0 from `start` (upwards or downwards) where f reaches 0.

    None when f keeps its sign all the way (to 0 going down, to infinity going
    up): no liquidation in that direction. `start` itself is returned when
    f(start) == 0.
    """
    index = [leg.table.index_for(leg.scale * start) for leg in legs]
    a = constant
    b = ZERO
    for leg, i in zip(legs, index, strict=True):
        tier = leg.table.brackets[i]
        a += leg.weight * tier.cum
        b += leg.slope - leg.weight * leg.scale * tier.mmr
    here = start
    f_here = a + b * here
    if not f_here:
        return here
    positive = f_here > ZERO
    if positive and _stays_positive(constant, legs, up):
        return None
    # Breakpoints ahead of us, nearest first: (distance key, v, leg number).
    heap: list[tuple[Decimal, Decimal, int]] = []
    for k, leg in enumerate(legs):
        nxt = _boundary(leg, index[k], up)
        if nxt is not None:
            heapq.heappush(heap, (nxt if up else -nxt, nxt, k))
    limit = sum(len(leg.table.brackets) for leg in legs) + 1
    for _ in range(limit):
        if heap:
            nxt = heap[0][1]
        elif up:
            return _root_beyond(a, b, here)
        else:
            nxt = ZERO
        f_next = a + b * nxt
        if not f_next or (f_next > ZERO) != positive:
            root = -a / b
            low, high = (here, nxt) if up else (nxt, here)
            root = min(max(root, low), high)
            return root if root > ZERO else None
        if not heap:
            return None  # reached v = 0 going down without a sign change
        here = nxt
        while heap and heap[0][1] == nxt:
            _, _, k = heapq.heappop(heap)
            leg = legs[k]
            old = leg.table.brackets[index[k]]
            index[k] += 1 if up else -1
            new = leg.table.brackets[index[k]]
            a += leg.weight * (new.cum - old.cum)
            b -= leg.weight * leg.scale * (new.mmr - old.mmr)
            ahead = _boundary(leg, index[k], up)
            if ahead is not None:
                heapq.heappush(heap, (ahead if up else -ahead, ahead, k))
    raise AssertionError("breakpoint walk did not terminate")  # pragma: no cover


def _stays_positive(constant: Decimal, legs: Sequence[Leg], up: bool) -> bool:
    """Given f > 0 at the start, rule a direction out in O(legs) without walking it.

    f is concave, so going down it stays positive if f(0) > 0 (f(0) = constant, as
    every first tier has cum 0 and notional 0); going up it stays positive if even
    the last segment's slope is ≥ 0 (slopes only fall as v grows).
    """
    if not up:
        return constant > ZERO  # every first tier has cum 0
    return (
        sum((leg.slope - leg.weight * leg.scale * leg.table.max_mmr for leg in legs), ZERO) >= ZERO
    )


def _boundary(leg: Leg, i: int, up: bool) -> Decimal | None:
    """The v where leg leaves tier i in the walking direction, if any."""
    tiers = leg.table.brackets
    if up:
        return tiers[i + 1].floor / leg.scale if i + 1 < len(tiers) else None
    return tiers[i].floor / leg.scale if i > 0 else None


def _root_beyond(a: Decimal, b: Decimal, here: Decimal) -> Decimal | None:
    """Root of the last, unbounded segment above `here`, if f reaches 0 there."""
    if not b:
        return None
    root = -a / b
    return root if root > here else None
