"""Decimal value types of a Binance USDT-M futures account (single-asset mode).

Everything here is immutable and validated on construction, so the math in
`core.margin` and `core.liquidation` can trust its inputs. Money is `Decimal`;
amounts are signed like Binance's `positionAmt` (negative for shorts, also for
the SHORT leg in hedge mode).
"""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

ZERO = Decimal(0)
ONE = Decimal(1)
CUM_TOLERANCE = Decimal("0.000001")  # relative; Binance's tables satisfy the recursion exactly
# Collateral whose value does not move with crypto prices (credits and USD stablecoins).
STABLE = frozenset({"USDT", "USDC", "FDUSD", "BUSD", "BNFCR", "USD1", "BFUSD", "LDUSDT", "RWUSD"})


class PositionSide(StrEnum):
    """`BOTH` in one-way mode; `LONG` / `SHORT` legs in hedge mode."""

    BOTH = "BOTH"
    LONG = "LONG"
    SHORT = "SHORT"


class MarginType(StrEnum):
    CROSS = "cross"
    ISOLATED = "isolated"


@dataclass(frozen=True, slots=True)
class Bracket:
    """One tier of `GET /fapi/v1/leverageBracket`: notional in [floor, cap)."""

    floor: Decimal
    cap: Decimal
    mmr: Decimal
    cum: Decimal
    initial_leverage: int
    number: int = 0


@dataclass(frozen=True, slots=True)
class BracketTable:
    """A symbol's leverage brackets, sorted by floor; the first starts at 0.

    Maintenance margin of a position is `|notional| × mmr − cum` of the tier
    that holds `|notional|` (at the mark price). Beyond the last cap the last
    tier's rate still applies, so the math stays defined for any price.
    """

    brackets: tuple[Bracket, ...]
    floors: tuple[Decimal, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tiers = self.brackets
        if not tiers:
            raise ValueError("a bracket table needs at least one bracket")
        if tiers[0].floor != ZERO:
            raise ValueError("the first bracket must start at notional 0")
        for low, high in itertools.pairwise(tiers):
            if high.floor <= low.floor:
                raise ValueError("brackets must be sorted by strictly increasing notionalFloor")
            if high.mmr < low.mmr:
                raise ValueError("maintMarginRatio must not decrease from one bracket to the next")
        for tier in tiers:
            if not ZERO <= tier.mmr < ONE:
                raise ValueError(f"maintMarginRatio {tier.mmr} is outside [0, 1)")
            if tier.cum < ZERO:
                raise ValueError(f"cum {tier.cum} is negative")
            if tier.cap <= tier.floor:
                raise ValueError("every bracket needs notionalCap > notionalFloor")
        if tiers[0].cum != ZERO:
            raise ValueError("the first bracket's cum must be 0")
        for low, high in itertools.pairwise(tiers):
            # Binance's recursion; it keeps maintenance margin continuous across tiers.
            expected = high.floor * (high.mmr - low.mmr) + low.cum
            if abs(high.cum - expected) > CUM_TOLERANCE * max(ONE, expected):
                raise ValueError(
                    f"bracket {high.number}: cum {high.cum} contradicts Binance's recursion"
                    f" (floor × (rate − previous rate) + previous cum = {expected})"
                )
        object.__setattr__(self, "floors", tuple(t.floor for t in tiers))

    def index_for(self, notional_abs: Decimal) -> int:
        """Index of the tier holding `notional_abs` (tiers are [floor, cap))."""
        return max(bisect_right(self.floors, notional_abs) - 1, 0)

    def tier_for(self, notional_abs: Decimal) -> Bracket:
        return self.brackets[self.index_for(notional_abs)]

    def maintenance_margin(self, notional_abs: Decimal) -> Decimal:
        tier = self.brackets[self.index_for(notional_abs)]
        return notional_abs * tier.mmr - tier.cum

    @property
    def max_mmr(self) -> Decimal:
        return self.brackets[-1].mmr


@dataclass(frozen=True, slots=True)
class Position:
    """One position (one leg in hedge mode)."""

    symbol: str
    side: PositionSide
    amount: Decimal
    entry_price: Decimal
    margin_type: MarginType = MarginType.CROSS
    isolated_wallet: Decimal = ZERO
    leverage: int | None = None
    margin_asset: str = "USDT"  # the pool it belongs to (Binance's `marginAsset`)

    def __post_init__(self) -> None:
        if not self.symbol:
            raise ValueError("a position needs a symbol")
        if self.side is PositionSide.LONG and self.amount < ZERO:
            raise ValueError(f"{self.symbol} LONG leg has a negative positionAmt")
        if self.side is PositionSide.SHORT and self.amount > ZERO:
            raise ValueError(f"{self.symbol} SHORT leg must have a negative positionAmt")
        if self.entry_price < ZERO:
            raise ValueError(f"{self.symbol} entryPrice is negative")
        if self.leverage is not None and self.leverage < 1:
            raise ValueError(f"{self.symbol} leverage must be at least 1")
        if self.isolated_wallet < ZERO:
            raise ValueError(f"{self.symbol} isolatedWallet is negative")

    @property
    def key(self) -> tuple[str, PositionSide]:
        return (self.symbol, self.side)

    @property
    def is_cross(self) -> bool:
        return self.margin_type is MarginType.CROSS

    def upnl(self, mark: Decimal) -> Decimal:
        """Unrealized PnL at `mark`."""
        return self.amount * (mark - self.entry_price)

    def isolated_balance(self, mark: Decimal) -> Decimal:
        """An isolated position's own margin balance at `mark`: its wallet plus its PnL."""
        return self.isolated_wallet + self.upnl(mark)


class AccountMode(StrEnum):
    """How Binance pools the margin of a USDⓈ-M account."""

    SINGLE = "single-asset"  # one cross pool per margin asset (USDT, USDC, ...)
    MULTI = "multi-assets"  # one pool in USD across every collateral asset
    CREDITS = "credits"  # Multi-Assets with a BNFCR row (EEA credits trading mode)


@dataclass(frozen=True, slots=True)
class AssetRate:
    """One row of `GET /fapi/v1/assetIndex` (symbol `BTCUSD` is asset `BTC`): what one unit
    of the asset is worth in USD as collateral (`bid`) and as a debt or margin (`ask`)."""

    asset: str
    index: Decimal
    bid: Decimal
    ask: Decimal

    def __post_init__(self) -> None:
        if not ZERO < self.bid <= self.ask:
            raise ValueError(f"{self.asset}: rates must satisfy 0 < bidRate <= askRate")

    def scaled(self, factor: Decimal) -> AssetRate:
        """The rates once the asset's index has moved by `factor`."""
        if factor == ONE:
            return self
        return AssetRate(self.asset, self.index * factor, self.bid * factor, self.ask * factor)


@dataclass(frozen=True, slots=True)
class Collateral:
    """A Multi-Assets pool's wallets (asset units, may be negative) and their USD rates.

    `links[asset] = (symbol, anchor)`: the asset's index moves with `symbol`'s mark (BTC with
    BTCUSDT), and its rates were sampled when that mark was `anchor`; at another mark m the
    rates are scaled by m / anchor. So BTC collateral behind a BTCUSDT long loses with it.
    """

    wallets: Mapping[str, Decimal]
    rates: Mapping[str, AssetRate]
    links: Mapping[str, tuple[str, Decimal]] = field(default_factory=dict)

    def rate(self, asset: str, marks: Mapping[str, Decimal]) -> AssetRate:
        base = self.rates[asset]
        link = self.links.get(asset)
        if link is None or link[0] not in marks:
            return base
        return base.scaled(marks[link[0]] / link[1])


def asset_value(amount: Decimal, rate: AssetRate) -> Decimal:
    """Binance's min(equity × bidRate, equity × askRate): a debt is valued at the ask."""
    return amount * (rate.bid if amount >= ZERO else rate.ask)


@dataclass(frozen=True, slots=True)
class Account:
    """One margin pool of a futures account at one moment.

    Single-asset mode: `wallet_balance` is the pool asset's `crossWalletBalance` (isolated
    wallets are not part of it; they live in each isolated position) and every figure is in
    that asset. Multi-Assets mode (`collateral` set): figures are in USD, `wallet_balance` is
    unused (the collateral's value is computed from its wallets and rates).
    """

    wallet_balance: Decimal
    positions: tuple[Position, ...]
    marks: Mapping[str, Decimal]
    brackets: Mapping[str, BracketTable]
    asset: str = "USDT"  # the pool's unit: a margin asset, or "USD" / "BNFCR"
    collateral: Collateral | None = None

    def with_marks(self, marks: Mapping[str, Decimal]) -> Account:
        """The same account at other mark prices (checked by `validate_account`)."""
        return Account(
            self.wallet_balance, self.positions, marks, self.brackets, self.asset, self.collateral
        )


def market_moved(account: Account, factor: Decimal) -> Account:
    """The account once the whole market moves by `factor`: every mark, and in Multi-Assets
    mode the volatile collateral (BTC, ETH...) no held symbol moves, its index with them."""
    marks = {sym: price * factor for sym, price in account.marks.items()}
    held = account.collateral
    if held is None:
        return account.with_marks(marks)
    rates = dict(held.rates)
    for asset, rate in held.rates.items():
        link = held.links.get(asset)
        if asset not in STABLE and (link is None or link[0] not in account.marks):
            rates[asset] = rate.scaled(factor)
    moved = Collateral(held.wallets, rates, held.links)
    return Account(
        account.wallet_balance, account.positions, marks, account.brackets, account.asset, moved
    )


def validate_account(account: Account) -> None:
    """Raise ValueError unless every position can be priced and is unique."""
    seen: set[tuple[str, PositionSide]] = set()
    sides = {pos.side is PositionSide.BOTH for pos in account.positions}
    if len(sides) > 1:
        raise ValueError("positions mix one-way (BOTH) and hedge (LONG/SHORT) sides")
    for pos in account.positions:
        if pos.key in seen:
            raise ValueError(f"{pos.symbol} {pos.side.value} appears twice")
        seen.add(pos.key)
        if pos.symbol not in account.brackets:
            raise ValueError(f"{pos.symbol} has no leverage brackets")
        mark = account.marks.get(pos.symbol)
        if mark is None:
            raise ValueError(f"{pos.symbol} has no mark price")
        if mark <= ZERO:
            raise ValueError(f"{pos.symbol} mark price must be positive")
        collateral = account.collateral
        if collateral is not None and pos.margin_asset not in collateral.rates:
            raise ValueError(f"no asset index for {pos.margin_asset} ({pos.symbol}'s margin)")
