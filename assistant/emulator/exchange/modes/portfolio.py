"""A Portfolio Margin account as GET /papi/v1/account shows it (Binance's PM documentation).

The emulator values such an account as a Multi-Assets one: accountEquity is the haircut equity
in USD, actualEquity the same at the index without haircuts, accountMaintMargin and
accountInitialMargin the margins in USD, uniMMR = accountEquity / accountMaintMargin ("0" with no
maintenance margin). accountStatus follows uniMMR by Binance's published bands: above 1.5
NORMAL, above 1.2 MARGIN_CALL, above 1.05 SUPPLY_MARGIN, else ACTIVE_LIQUIDATION.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from assistant.emulator.exchange.modes.index import s8
from assistant.emulator.exchange.modes.valuation import pool_figures, usd

if TYPE_CHECKING:
    from assistant.emulator.exchange.engine import Engine

D = Decimal
BANDS = ((D("1.5"), "NORMAL"), (D("1.2"), "MARGIN_CALL"), (D("1.05"), "SUPPLY_MARGIN"))


def account(engine: Engine) -> dict[str, Any]:
    rates = engine.rates()
    figures = usd(engine, rates)
    actual = sum(
        (
            (wallet + pool_figures(engine, asset, cross_only=False)[0]) * rates[asset].index
            for asset, wallet in engine.wallets.items()
        ),
        D(0),
    )
    status = "NORMAL"
    uni = D(0)
    if figures.mm > 0:
        uni = figures.equity / figures.mm
        status = next((name for floor, name in BANDS if uni > floor), "ACTIVE_LIQUIDATION")
    return {
        "uniMMR": s8(uni),
        "accountEquity": s8(figures.equity),
        "actualEquity": s8(actual),
        "accountInitialMargin": s8(figures.im),
        "accountMaintMargin": s8(figures.mm),
        "accountStatus": status,
        "virtualMaxWithdrawAmount": s8(figures.available),
        "totalAvailableBalance": s8(figures.available),
        "totalMarginOpenLoss": "0.00000000",
        "updateTime": engine.balance_time,
    }
