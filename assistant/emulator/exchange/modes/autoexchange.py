"""Multi-Assets mode: negative balances and Binance's auto-exchange.

A wallet below its asset's threshold (Binance's Multi-Assets FAQ, regular users: −5,000 USDT,
USDC or BNFCR, −0.1 BTC; ETH −5 and BNB −10 as in a 2024 exchangeInfo capture) is brought back
to zero by selling the account's other assets, largest USD value first. As in the FAQ's example
("5,000 USDC / 97.5% = 5,128.20 USDC of the BTC"), each asset sold is valued at its
autoExchangeBidRate and the debt at its asset's index. After a liquidation every negative
balance is exchanged this way; what no asset can cover is cleared by the insurance fund.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

from assistant.emulator.exchange.events import account_update
from assistant.emulator.exchange.modes.index import EIGHT, s8

if TYPE_CHECKING:
    from assistant.emulator.exchange.engine import Engine

D = Decimal
ZERO = D(0)
THRESHOLDS = {
    "USDT": D("-5000"),
    "USDC": D("-5000"),
    "BNFCR": D("-5000"),
    "BTC": D("-0.1"),
    "ETH": D("-5"),
    "BNB": D("-10"),
}


def threshold(asset: str) -> str:
    """exchangeInfo's `autoAssetExchange` for an asset ("0": never by threshold)."""
    return str(THRESHOLDS.get(asset, ZERO))


def auto_exchange(engine: Engine, now: int, after_liquidation: bool = False) -> None:
    rates = engine.rates()
    for asset in sorted(engine.wallets):
        debt = -engine.wallets[asset]
        limit = ZERO if after_liquidation else THRESHOLDS.get(asset)
        if debt <= 0 or limit is None or -debt >= limit:
            continue
        index = rates[asset].index
        need = debt * index  # USD still to cover
        changes: dict[str, Decimal] = {}
        sources = sorted(
            (a for a, w in engine.wallets.items() if a != asset and w > 0),
            key=lambda a: -engine.wallets[a] * rates[a].auto_bid,
        )
        for source in sources:
            if need <= 0:
                break
            rate = rates[source].auto_bid
            units = (need / rate).quantize(EIGHT, rounding=ROUND_CEILING)
            if units >= engine.wallets[source]:
                units = engine.wallets[source]
                need -= units * rate
            else:
                need = ZERO
            engine.wallets[source] -= units
            changes[source] = -units
        if not changes:
            continue
        gained = debt if need <= 0 else (debt - need / index).quantize(EIGHT, ROUND_DOWN)
        engine.wallets[asset] += gained
        changes = {asset: gained, **changes}
        engine.auto_exchanges.append(
            {
                "time": now,
                "asset": asset,
                "amount": s8(gained),
                "sold": {a: s8(-v) for a, v in changes.items() if a != asset},
            }
        )
        for name, change in changes.items():
            engine.income.append(_income(engine, "AUTO_EXCHANGE", name, change, now))
        engine.events.append(
            account_update(engine, "AUTO_EXCHANGE", [], ZERO, now, changes=changes)
        )
    if after_liquidation:
        insurance_clear(engine, now)


def insurance_clear(engine: Engine, now: int, assets: list[str] | None = None) -> None:
    """Negative wallets set to zero by the insurance fund (INSURANCE_CLEAR)."""
    for asset in assets if assets is not None else sorted(engine.wallets):
        wallet = engine.wallets.get(asset, ZERO)
        if wallet >= 0:
            continue
        engine.wallets[asset] = ZERO
        engine.income.append(_income(engine, "INSURANCE_CLEAR", asset, -wallet, now))
        engine.events.append(
            account_update(engine, "INSURANCE_CLEAR", [], -wallet, now, asset=asset)
        )


def _income(engine: Engine, kind: str, asset: str, amount: Decimal, now: int) -> dict[str, Any]:
    return {
        "symbol": "",
        "incomeType": kind,
        "income": s8(amount),
        "asset": asset,
        "info": "",
        "time": now,
        "tranId": engine.next_id(),
        "tradeId": "",
    }
