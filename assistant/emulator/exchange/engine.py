"""The emulator's account engine: wallets, positions, orders, fills, liquidation.

Synchronous and clock-free: callers pass `now` (ms). User-data events it causes are queued
in `self.events` as Binance payloads (without `E`), for the server to stamp and publish.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from assistant.emulator.exchange.book import ZERO, Pos, Tier, maint_margin, tiers_from
from assistant.emulator.exchange.modes import valuation
from assistant.emulator.exchange.modes.index import Rates, all_rates
from assistant.emulator.exchange.scenario import Scenario

D = Decimal
EIGHT = D("0.00000001")
LIQUIDATION_FEE = D("0.0125")  # BTCUSDT's real exchangeInfo liquidationFee


class Rejected(Exception):
    """A request Binance would refuse: HTTP status, Binance code and message."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


def s8(value: Decimal) -> str:
    return format(value.quantize(EIGHT, rounding=ROUND_DOWN), "f")


@dataclass
class SymbolState:
    tiers: list[Tier]
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    min_notional: Decimal
    margin_asset: str = "USDT"
    leverage: int = 20
    margin_type: str = "cross"


class Engine:
    def __init__(self, scenario: Scenario, now: int) -> None:
        self.scenario = scenario
        self.settings = scenario.settings
        self.spot = dict(scenario.spot)
        self.account = scenario.account
        self.wallets = dict(scenario.futures)  # cross wallet balance per asset
        self.multi_assets = scenario.account.multi_assets
        self.credits = scenario.account.credits
        self.portfolio_margin = scenario.account.portfolio_margin
        self.config_time = now  # accountConfig's updateTime
        self.hedge = scenario.position_mode == "hedge"
        self.marks = {s: spec.mark for s, spec in scenario.symbols.items()}
        self.symbols = {
            s: SymbolState(
                tiers_from(spec.brackets),
                spec.tick_size,
                spec.step_size,
                spec.min_qty,
                spec.min_notional,
                spec.margin_asset,
            )
            for s, spec in scenario.symbols.items()
        }
        # Symbols GET /fapi/v1/leverageBracket leaves out (a new listing not in it yet).
        self.hidden_brackets = {s for s, spec in scenario.symbols.items() if spec.hide_brackets}
        self.positions: dict[tuple[str, str], Pos] = {}
        self.orders: list[dict[str, Any]] = []
        self.transfers: list[dict[str, Any]] = []
        self.income: list[dict[str, Any]] = []
        self.liquidations: list[dict[str, Any]] = []
        self.margin_calls: list[dict[str, Any]] = []
        self.history: deque[dict[str, Any]] = deque(maxlen=100_000)
        self.events: list[dict[str, Any]] = []
        self.algo_orders: list[dict[str, Any]] = []
        self.auto_exchanges: list[dict[str, Any]] = []
        self._ids = 1000
        self.balance_time = now  # when a wallet last changed (the assets' updateTime)
        self.in_margin_call: set[str] = set()  # the pools that have had their MARGIN_CALL
        for raw in scenario.positions:
            self._seed_position(raw, now)

    # ---- set-up -------------------------------------------------------------------------

    def _seed_position(self, raw: dict[str, Any], now: int) -> None:
        symbol = str(raw["symbol"]).upper()
        side = str(raw.get("positionSide", "BOTH")).upper()
        state = self.symbols[symbol]
        state.leverage = int(raw.get("leverage", state.leverage))
        state.margin_type = (
            "isolated" if str(raw.get("marginType", "cross")).lower() == "isolated" else "cross"
        )
        self.positions[(symbol, side)] = Pos(
            symbol,
            side,
            D(str(raw["positionAmt"])),
            D(str(raw["entryPrice"])),
            D(str(raw.get("isolatedWallet", "0"))),
            now,
        )

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    # ---- figures ------------------------------------------------------------------------

    @property
    def wallet(self) -> Decimal:
        """The USDT cross wallet (the single-asset USDT pool's)."""
        return self.wallets.get("USDT", ZERO)

    @wallet.setter
    def wallet(self, value: Decimal) -> None:
        self.wallets["USDT"] = value

    @property
    def usd_mode(self) -> bool:
        """One account-wide pool in USD: Multi-Assets or credits mode (and the emulator's
        Portfolio Margin account, valued the same way)."""
        return self.multi_assets or self.portfolio_margin

    def pool_of(self, symbol: str) -> str:
        """The asset a symbol's margin, PnL, fees and funding are in: its margin asset, or
        BNFCR in credits mode."""
        return "BNFCR" if self.credits else self.symbols[symbol].margin_asset

    def credit(self, asset: str, amount: Decimal) -> None:
        self.wallets[asset] = self.wallets.get(asset, ZERO) + amount

    def open_positions(self) -> list[Pos]:
        return [p for p in self.positions.values() if p.amount]

    def is_cross(self, symbol: str) -> bool:
        return self.symbols[symbol].margin_type == "cross"

    def pos_mm(self, pos: Pos) -> Decimal:
        return maint_margin(self.symbols[pos.symbol].tiers, pos.amount * self.marks[pos.symbol])

    def pos_im(self, pos: Pos) -> Decimal:
        return abs(pos.amount * self.marks[pos.symbol]) / self.symbols[pos.symbol].leverage

    def cross(self, asset: str = "USDT") -> tuple[Decimal, Decimal, Decimal]:
        """(margin balance, maintenance margin, initial margin) of one cross pool, in its
        asset (single-asset mode)."""
        upnl, mm, im, _ = valuation.pool_figures(self, asset, cross_only=True)
        return self.wallets.get(asset, ZERO) + upnl, mm, im

    def rates(self) -> dict[str, Rates]:
        return all_rates(self)

    def usd(self) -> valuation.Usd:
        return valuation.usd(self)

    def available(self, asset: str = "USDT") -> Decimal:
        """What an order or a transfer out may use, in `asset`."""
        if self.usd_mode:
            return self.usd().available / self.rates()[asset].ask
        balance, _, im = self.cross(asset)
        return max(ZERO, balance - im)

    def pools(self) -> list[str]:
        """The pools that hold cross positions now: assets, or "USD" for the whole account."""
        if self.usd_mode:
            return ["USD"] if self.open_positions() else []
        return sorted(
            {self.pool_of(p.symbol) for p in self.open_positions() if self.is_cross(p.symbol)}
        )

    def pool_health(self, pool: str) -> tuple[Decimal, Decimal]:
        """(margin balance, maintenance margin) of a pool: an asset's, or "USD"."""
        if pool == "USD":
            figures = self.usd()
            return figures.equity, figures.mm
        balance, mm, _ = self.cross(pool)
        return balance, mm

    # ---- wire rows ----------------------------------------------------------------------

    def position_row(self, pos: Pos) -> dict[str, Any]:
        mark = self.marks[pos.symbol]
        notional = pos.amount * mark
        upnl = pos.upnl(mark)
        isolated = not self.is_cross(pos.symbol)
        return {
            "symbol": pos.symbol,
            "positionSide": pos.side,
            "positionAmt": str(pos.amount),
            "entryPrice": str(pos.entry),
            "breakEvenPrice": str(pos.entry),
            "markPrice": s8(mark),
            "unRealizedProfit": s8(upnl),
            "liquidationPrice": s8(self.liquidation_price(pos)),
            "isolatedMargin": s8(pos.isolated_wallet + upnl) if isolated else "0",
            "notional": s8(notional),
            "marginAsset": self.pool_of(pos.symbol),
            "isolatedWallet": s8(pos.isolated_wallet) if isolated else "0",
            "initialMargin": s8(self.pos_im(pos)),
            "maintMargin": s8(self.pos_mm(pos)),
            "positionInitialMargin": s8(self.pos_im(pos)),
            "openOrderInitialMargin": "0",
            "adl": 0,
            "bidNotional": "0",
            "askNotional": "0",
            "updateTime": pos.update_time,
        }

    def liquidation_price(self, pos: Pos) -> Decimal:
        """Found by bisection on this engine's own health check (0 when none)."""
        if not pos.amount:
            return ZERO
        original = self.marks[pos.symbol]

        def liquidated(price: Decimal) -> bool:
            self.marks[pos.symbol] = price
            try:
                if self.usd_mode or self.is_cross(pos.symbol):
                    balance, mm = self.pool_health(
                        "USD" if self.usd_mode else self.pool_of(pos.symbol)
                    )
                    return balance <= mm
                return pos.isolated_wallet + pos.upnl(price) <= self.pos_mm(pos)
            finally:
                self.marks[pos.symbol] = original

        if liquidated(original):
            return original
        net = pos.amount
        if self.is_cross(pos.symbol):
            net = sum((p.amount for p in self.open_positions() if p.symbol == pos.symbol), ZERO)
        far = original * D("1e-9") if net > 0 else original * D("1e6")
        if not liquidated(far):
            return ZERO
        near = original
        for _ in range(200):
            mid = (near + far) / 2
            if liquidated(mid):
                far = mid
            else:
                near = mid
            if abs(far - near) <= EIGHT:
                break
        return far
