"""Where a deposit comes from and how much of it: which asset tops up which pool under which
caps, a pool-unit need in units of that asset, and its booking against the day's cap."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from assistant.core.margin.book import MarginBook
from assistant.core.margin.pools import CREDITS
from assistant.core.model import ZERO
from assistant.core.rules.config import AssetCaps, DepositRule
from assistant.core.rules.memory import DAY_MS, Memory, decided


def funding(book: MarginBook, rule: DepositRule) -> tuple[str, AssetCaps] | str:
    """What tops up this pool, under which caps: Multi-Assets the configured asset under
    `[deposit]`'s caps; single-asset USDT under `[deposit]`'s, another asset under its own
    `[deposit.assets.ASSET]` caps. Otherwise why not (that pool is alerted, never funded)."""
    own = AssetCaps(rule.max_per_action, rule.max_per_day)
    if book.valued is not None:
        if book.asset == CREDITS and rule.asset in ("USDT", CREDITS):
            # Binance's credits mode takes collateral transfers in BTC, ETH, BNB (or USDC) only.
            return (
                f"a credits (BNFCR) account cannot be topped up with {rule.asset}: set"
                " [deposit] asset to BTC, ETH, BNB or USDC"
            )
        return rule.asset, own
    if book.asset == "USDT":
        return "USDT", own
    caps = rule.assets.get(book.asset)
    if caps is None:
        return f"no [deposit.assets.{book.asset}] caps are configured"
    return book.asset, caps


def in_asset(book: MarginBook, amount: Decimal, asset: str) -> Decimal | None:
    """A pool-unit amount in units of `asset` (Multi-Assets: what adds that much equity,
    at the rate its equity is valued at; None if the asset has no rate)."""
    collateral = book.account.collateral
    if collateral is None or book.valued is None:
        return amount
    if asset not in collateral.rates:
        return None
    marks = book.account.marks
    rate = collateral.rate(asset, marks)
    equity = collateral.wallets.get(asset, ZERO) + sum(
        (p.upnl(marks[p.symbol]) for p in book.account.positions if p.margin_asset == asset),
        ZERO,
    )
    if equity >= ZERO:
        return amount / rate.bid
    debt = -equity * rate.ask  # a debt is valued at the ask rate: repaying it adds that much
    if amount <= debt:
        return amount / rate.ask
    return -equity + (amount - debt) / rate.bid


def book_deposit(memory: Memory, now: int, decision: str, asset: str, amount: Decimal) -> Memory:
    """A deposit decided: booked against its asset's daily cap until it settles."""
    day = now // DAY_MS
    fresh = memory.deposit_day != day
    memory = replace(
        decided(memory, decision),
        deposit_at=now,
        deposit_day=day,
        deposit_total=ZERO if fresh else memory.deposit_total,
        asset_totals={} if fresh else memory.asset_totals,
        booked={**memory.booked, decision: amount},
    )
    if asset == "USDT":
        return replace(memory, deposit_total=memory.deposit_total + amount)
    totals = {**memory.asset_totals, asset: memory.asset_totals.get(asset, ZERO) + amount}
    return replace(
        memory, asset_totals=totals, booked_assets={**memory.booked_assets, decision: asset}
    )
