"""An account's margin pools: which positions share margin, and in what unit.

Single-asset mode: one cross pool per margin asset (USDT, USDC, BTC...), each with the wallet of
its own asset row and the positions margined in it (Binance: "margin is shared across positions
in the same margined asset"). Multi-Assets mode: one pool in USD over every collateral asset
(`BNFCR` when the account is in the EEA credits mode). The account's top-level figures are the
pool closest to liquidation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from assistant.core.margin.book import MarginBook
from assistant.core.model import STABLE, ZERO, Account, BracketTable, Collateral, Position

# Quote assets a USDⓈ-M symbol can end in, longest first (`BTCFDUSD` before `BTCUSD...`).
QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "BTC", "ETH", "BNB")
CREDITS = "BNFCR"


def quote_asset(symbol: str) -> str:
    """The quote asset of a symbol (`BTCUSDC` → USDC; a dated `BTCUSDT_250627` → USDT)."""
    base = symbol.split("_", 1)[0]
    for quote in QUOTES:
        if base.endswith(quote) and len(base) > len(quote):
            return quote
    return "USDT"


def base_asset(symbol: str) -> str:
    """`BTCUSDC` → BTC; `ETHUSDT_250627` → ETH."""
    base = symbol.split("_", 1)[0]
    quote = quote_asset(symbol)
    return base[: -len(quote)] if base.endswith(quote) else base


def link_symbol(asset: str, symbols: Iterable[str]) -> str | None:
    """The symbol among `symbols` whose mark a collateral asset's index follows: BTC moves with
    BTCUSDT, else BTCUSDC, else any symbol of BTC; none for stablecoins or without one."""
    if asset in STABLE:
        return None
    held = set(symbols)
    for quote in ("USDT", "USDC", "FDUSD"):
        if f"{asset}{quote}" in held:
            return f"{asset}{quote}"
    return next((s for s in sorted(held) if base_asset(s) == asset), None)


def unit(wallets: Mapping[str, Decimal]) -> str:
    """A Multi-Assets pool's unit: USD, or BNFCR in credits mode."""
    return CREDITS if CREDITS in wallets else "USD"


def single_asset_pools(
    wallets: Mapping[str, Decimal],
    positions: list[Position],
    marks: Mapping[str, Decimal],
    tables: Mapping[str, BracketTable],
) -> dict[str, MarginBook]:
    """One book per margin asset that holds a position or a wallet (USDT always)."""
    groups: dict[str, list[Position]] = {"USDT": []}
    for asset, amount in wallets.items():
        if amount:
            groups.setdefault(asset, [])
    for pos in positions:
        groups.setdefault(pos.margin_asset, []).append(pos)
    pools = {}
    for asset, group in sorted(groups.items()):
        held = {p.symbol for p in group}
        account = Account(
            wallets.get(asset, ZERO),
            tuple(group),
            {s: marks[s] for s in held},
            {s: tables[s] for s in held},
            asset,
        )
        pools[asset] = MarginBook.build(account)
    return pools


def multi_assets_pool(
    collateral: Collateral,
    positions: list[Position],
    marks: Mapping[str, Decimal],
    tables: Mapping[str, BracketTable],
    name: str | None = None,
) -> dict[str, MarginBook]:
    """The one pool of a Multi-Assets account, named `name` (default: by its wallets; a
    credits account whose BNFCR row is 0 is still a credits account)."""
    held = {p.symbol for p in positions}
    linked = {s for s, _ in collateral.links.values() if s in marks}
    account = Account(
        ZERO,
        tuple(positions),
        {s: marks[s] for s in held | linked},
        {s: tables[s] for s in held},
        name or unit(collateral.wallets),
        collateral,
    )
    return {account.asset: MarginBook.build(account)}


def _danger(book: MarginBook) -> tuple[int, Decimal]:
    """Sort key, most dangerous last: a pool with positions whose balance is gone first."""
    if not book.account.positions:
        return (0, ZERO)
    ratio = book.margin_ratio
    if ratio is None:
        return (2, -book.margin_balance) if book.mm or book.gross else (0, ZERO)
    return (1, ratio)


def worst(pools: Mapping[str, MarginBook]) -> MarginBook:
    """The pool closest to liquidation (the highest margin ratio; a pool whose balance is gone
    first); USDT's when none holds a position."""
    if not pools:
        raise ValueError("an account has at least one pool")
    default = pools.get("USDT") or next(iter(pools.values()))
    best = max(pools.values(), key=_danger)
    return best if _danger(best) > _danger(default) else default
