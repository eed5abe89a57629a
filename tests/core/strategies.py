"""Hypothesis strategies: random accounts whose positions cross bracket tiers."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import strategies as st

from assistant.core.model import (
    Account,
    Bracket,
    BracketTable,
    MarginType,
    Position,
    PositionSide,
)

RATES = [
    "0.004",
    "0.005",
    "0.0065",
    "0.01",
    "0.015",
    "0.02",
    "0.025",
    "0.05",
    "0.1",
    "0.125",
    "0.15",
    "0.25",
    "0.5",
]


def decimals(low: str, high: str, places: int) -> st.SearchStrategy[Decimal]:
    return st.decimals(
        Decimal(low), Decimal(high), places=places, allow_nan=False, allow_infinity=False
    )


@st.composite
def bracket_tables(draw: st.DrawFn) -> BracketTable:
    """Tables with small floors so that ordinary positions switch tiers; cum by the
    recursion Binance publishes, so maintenance margin is continuous."""
    count = draw(st.integers(1, 7))
    rates = sorted(
        Decimal(r)
        for r in draw(st.lists(st.sampled_from(RATES), min_size=count, max_size=count, unique=True))
    )
    steps = draw(st.lists(st.integers(50, 300_000), min_size=count, max_size=count))
    floors = [Decimal(0)]
    for step in steps[:-1]:
        floors.append(floors[-1] + step)
    tiers = []
    cum = Decimal(0)
    for i, (floor, rate) in enumerate(zip(floors, rates, strict=True)):
        if i:
            cum = floor * (rate - rates[i - 1]) + cum
        cap = floors[i + 1] if i + 1 < count else floor + 10**12
        tiers.append(Bracket(floor, cap, rate, cum, 1, i + 1))
    return BracketTable(tuple(tiers))


@st.composite
def accounts(draw: st.DrawFn, hedge: bool | None = None) -> Account:
    hedge = draw(st.booleans()) if hedge is None else hedge
    symbols = [f"S{i}USDT" for i in range(draw(st.integers(1, 4)))]
    marks: dict[str, Decimal] = {}
    brackets: dict[str, BracketTable] = {}
    positions: list[Position] = []
    for symbol in symbols:
        mark = draw(decimals("0.5", "60000", 2))
        marks[symbol] = mark
        brackets[symbol] = draw(bracket_tables())
        margin_type = draw(st.sampled_from(MarginType))
        sides = [PositionSide.LONG, PositionSide.SHORT] if hedge else [PositionSide.BOTH]
        for side in sides:
            size = draw(decimals("0.001", "300", 3))
            if side is PositionSide.SHORT or (side is PositionSide.BOTH and draw(st.booleans())):
                size = -size
            entry = (mark * draw(decimals("0.6", "1.4", 3))).quantize(Decimal("0.01"))
            wallet = Decimal(0)
            if margin_type is MarginType.ISOLATED:
                wallet = (abs(size) * entry * draw(decimals("0.01", "1", 3))).quantize(
                    Decimal("0.00000001")
                )
            leverage = draw(st.integers(1, 125))
            positions.append(Position(symbol, side, size, entry, margin_type, wallet, leverage))
    wallet_balance = draw(decimals("0", "2000000", 2))
    return Account(wallet_balance, tuple(positions), marks, brackets)
