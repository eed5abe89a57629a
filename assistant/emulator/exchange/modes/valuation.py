"""Account figures in every mode, by the emulator's own arithmetic.

Single-asset mode: each margin asset is its own cross pool (its wallet, its positions, its
maintenance margin); GET /fapi/v3/account's totals are the USDT pool's, as Binance's are.
Multi-Assets mode (and credits mode, and the emulator's Portfolio Margin account): one pool in
USD, as Binance's Multi-Assets FAQ computes it: equity = Σ per asset min(eq × bidRate,
eq × askRate) with eq = wallet + that asset's unrealized PnL; maintenance and initial margin =
Σ each position's figure × the askRate of its margin asset; available = equity − initial margin;
an asset's available amount = the account's ÷ that asset's askRate.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from assistant.emulator.exchange.modes.index import Rates, s8

if TYPE_CHECKING:
    from assistant.emulator.exchange.engine import Engine

D = Decimal
ZERO = D(0)


@dataclass(frozen=True)
class Usd:
    """The Multi-Assets account in USD."""

    wallet: Decimal
    equity: Decimal
    mm: Decimal
    im: Decimal

    @property
    def upnl(self) -> Decimal:
        return self.equity - self.wallet

    @property
    def available(self) -> Decimal:
        return max(ZERO, self.equity - self.im)

    @property
    def ratio(self) -> Decimal | None:
        return self.mm / self.equity if self.equity > 0 else None


def pool_figures(engine: Engine, asset: str, cross_only: bool) -> tuple[Decimal, ...]:
    """(uPnL, maintenance margin, initial margin, isolated wallets) of one pool's positions."""
    upnl = mm = im = isolated = ZERO
    for pos in engine.open_positions():
        if engine.pool_of(pos.symbol) != asset:
            continue
        cross = engine.is_cross(pos.symbol)
        if cross_only and not cross:
            continue
        upnl += pos.upnl(engine.marks[pos.symbol])
        mm += engine.pos_mm(pos)
        im += engine.pos_im(pos)
        if not cross:
            isolated += pos.isolated_wallet
    return upnl, mm, im, isolated


def usd(engine: Engine, rates: dict[str, Rates] | None = None) -> Usd:
    rates = rates if rates is not None else engine.rates()
    equity_of = dict(engine.wallets)
    mm = im = ZERO
    for pos in engine.open_positions():
        asset = engine.pool_of(pos.symbol)
        equity_of[asset] = equity_of.get(asset, ZERO) + pos.upnl(engine.marks[pos.symbol])
        ask = rates[asset].ask
        mm += engine.pos_mm(pos) * ask
        im += engine.pos_im(pos) * ask
    wallet = sum((rates[a].value(w) for a, w in engine.wallets.items()), ZERO)
    equity = sum((rates[a].value(e) for a, e in equity_of.items()), ZERO)
    return Usd(wallet, equity, mm, im)


def assets_listed(engine: Engine) -> list[str]:
    """The account's asset rows: USDT first, then the others by name."""
    names = set(engine.wallets) | {engine.pool_of(s) for s in engine.symbols}
    if engine.usd_mode:
        names |= {spec.asset for spec in engine.account.asset_index}
    return ["USDT", *sorted(names - {"USDT"})]


def account_figures(engine: Engine, version: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the totals, the asset rows) of GET /fapi/v2|v3/account in the account's mode."""
    if engine.usd_mode:
        return _usd_figures(engine, version)
    rows = [_pool_row(engine, asset, version) for asset in assets_listed(engine)]
    usdt = rows[0]  # in single-asset mode the totals are "only for USDT asset"
    totals = {
        "totalInitialMargin": usdt["initialMargin"],
        "totalMaintMargin": usdt["maintMargin"],
        "totalWalletBalance": usdt["walletBalance"],
        "totalUnrealizedProfit": usdt["unrealizedProfit"],
        "totalMarginBalance": usdt["marginBalance"],
        "totalPositionInitialMargin": usdt["positionInitialMargin"],
        "totalOpenOrderInitialMargin": "0.00000000",
        "totalCrossWalletBalance": usdt["crossWalletBalance"],
        "totalCrossUnPnl": usdt["crossUnPnl"],
        "availableBalance": usdt["availableBalance"],
        "maxWithdrawAmount": usdt["maxWithdrawAmount"],
    }
    return totals, rows


def _row(asset: str, figures: dict[str, Decimal], engine: Engine, version: int) -> dict[str, Any]:
    row: dict[str, Any] = {"asset": asset}
    for key in (
        "walletBalance",
        "unrealizedProfit",
        "marginBalance",
        "maintMargin",
        "initialMargin",
        "positionInitialMargin",
        "openOrderInitialMargin",
        "crossWalletBalance",
        "crossUnPnl",
        "availableBalance",
        "maxWithdrawAmount",
    ):
        row[key] = s8(figures.get(key, ZERO))
    if version == 2:
        row["marginAvailable"] = True
    row["updateTime"] = engine.balance_time
    return row


def _pool_row(engine: Engine, asset: str, version: int) -> dict[str, Any]:
    """One single-asset pool's row; wallet and margins include its isolated positions."""
    cross_wallet = engine.wallets.get(asset, ZERO)
    upnl, mm, im, isolated = pool_figures(engine, asset, cross_only=False)
    cross_upnl = pool_figures(engine, asset, cross_only=True)[0]
    available = engine.available(asset)
    wallet = cross_wallet + isolated
    figures = {
        "walletBalance": wallet,
        "unrealizedProfit": upnl,
        "marginBalance": wallet + upnl,
        "maintMargin": mm,
        "initialMargin": im,
        "positionInitialMargin": im,
        "crossWalletBalance": cross_wallet,
        "crossUnPnl": cross_upnl,
        "availableBalance": available,
        "maxWithdrawAmount": min(available, cross_wallet),
    }
    return _row(asset, figures, engine, version)


def _usd_figures(engine: Engine, version: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rates = engine.rates()
    account = usd(engine, rates)
    rows = []
    for asset in assets_listed(engine):
        wallet = engine.wallets.get(asset, ZERO)
        upnl, mm, im, _ = pool_figures(engine, asset, cross_only=False)
        available = account.available / rates[asset].ask
        figures = {
            "walletBalance": wallet,
            "unrealizedProfit": upnl,
            "marginBalance": wallet + upnl,
            "maintMargin": mm,
            "initialMargin": im,
            "positionInitialMargin": im,
            "crossWalletBalance": wallet,
            "crossUnPnl": upnl,
            "availableBalance": available,
            "maxWithdrawAmount": max(ZERO, min(available, wallet)),
        }
        rows.append(_row(asset, figures, engine, version))
    totals = {
        "totalInitialMargin": s8(account.im),
        "totalMaintMargin": s8(account.mm),
        "totalWalletBalance": s8(account.wallet),
        "totalUnrealizedProfit": s8(account.upnl),
        "totalMarginBalance": s8(account.equity),
        "totalPositionInitialMargin": s8(account.im),
        "totalOpenOrderInitialMargin": "0.00000000",
        "totalCrossWalletBalance": s8(account.wallet),
        "totalCrossUnPnl": s8(account.upnl),
        "availableBalance": s8(account.available),
        "maxWithdrawAmount": s8(account.available),
    }
    return totals, rows


def pools(engine: Engine) -> dict[str, dict[str, str | None]]:
    """`/_emulator/state`'s `pools`: each single-asset pool, or the one USD pool."""

    def entry(
        wallet: Decimal, balance: Decimal, mm: Decimal, im: Decimal, available: Decimal
    ) -> dict[str, str | None]:
        return {
            "wallet_balance": s8(wallet),
            "margin_balance": s8(balance),
            "maintenance_margin": s8(mm),
            "initial_margin": s8(im),
            "margin_ratio": s8(mm / balance) if balance > 0 else None,
            "available_balance": s8(available),
        }

    if engine.usd_mode:
        a = usd(engine)
        return {"USD": entry(a.wallet, a.equity, a.mm, a.im, a.available)}
    out = {}
    for asset in assets_listed(engine):
        balance, mm, im = engine.cross(asset)
        out[asset] = entry(
            engine.wallets.get(asset, ZERO), balance, mm, im, engine.available(asset)
        )
    return out
