"""What a published mark does to the account: resting fills, conditional (algo) orders, margin
calls, liquidation per pool, auto-exchange, funding, and the history row the control API
serves."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from assistant.emulator.exchange import algo
from assistant.emulator.exchange.book import ZERO, Pos
from assistant.emulator.exchange.engine import Engine, s8
from assistant.emulator.exchange.events import account_update
from assistant.emulator.exchange.modes.autoexchange import auto_exchange, insurance_clear
from assistant.emulator.exchange.orders import fill, open_orders

D = Decimal


def publish_marks(engine: Engine, marks: dict[str, Decimal], now: int) -> None:
    engine.marks.update(marks)
    for order in open_orders(engine):
        mark = engine.marks[order["symbol"]]
        if (order["side"] == "BUY" and mark <= order["price"]) or (
            order["side"] == "SELL" and mark >= order["price"]
        ):
            fill(engine, order, order["price"], now)
    algo.trigger(engine, now)
    _isolated_liquidations(engine, now)
    pools = engine.pools()
    engine.in_margin_call &= set(pools)
    for pool in pools:
        balance, mm = engine.pool_health(pool)
        if balance <= mm:
            _liquidate(engine, _pool_positions(engine, pool), now)
        elif balance > 0 and mm / balance >= engine.settings.margin_call_ratio:
            if pool not in engine.in_margin_call:
                _margin_call(engine, pool, mm / balance, now)
            engine.in_margin_call.add(pool)
        else:
            engine.in_margin_call.discard(pool)
    if engine.usd_mode:
        auto_exchange(engine, now)
    engine.history.append(_history_row(engine, now))


def _pool_positions(engine: Engine, pool: str) -> list[Pos]:
    return [
        p
        for p in engine.open_positions()
        if pool == "USD" or (engine.is_cross(p.symbol) and engine.pool_of(p.symbol) == pool)
    ]


def _history_row(engine: Engine, now: int) -> dict[str, Any]:
    """The account's figures: the USD account in Multi-Assets mode, else the USDT pool (and
    each pool, when there is more than one)."""

    def figures(balance: Decimal, mm: Decimal) -> dict[str, Any]:
        return {
            "margin_balance": s8(balance),
            "maintenance_margin": s8(mm),
            "margin_ratio": s8(mm / balance) if balance > 0 else None,
        }

    if engine.usd_mode:
        return {
            "time": now,
            **figures(*engine.pool_health("USD")),
            "asset": "USD",
            **_marks(engine),
        }
    row = {"time": now, **figures(*engine.pool_health("USDT")), "asset": "USDT"}
    assets = {a for a, w in engine.wallets.items() if w} | set(engine.pools())
    if assets - {"USDT"}:
        row["pools"] = {a: figures(*engine.pool_health(a)) for a in sorted(assets)}
    return {**row, **_marks(engine)}


def _marks(engine: Engine) -> dict[str, Any]:
    return {"marks": {s: s8(p) for s, p in engine.marks.items()}}


def pay_funding(engine: Engine, now: int) -> None:
    """Funding at the configured rate: longs pay shorts when it is positive."""
    rate = engine.settings.funding_rate
    changed: list[Pos] = []
    totals: dict[str, Decimal] = {}
    for pos in engine.open_positions():
        amount = -pos.amount * engine.marks[pos.symbol] * rate
        asset = engine.pool_of(pos.symbol)
        if engine.is_cross(pos.symbol):
            engine.credit(asset, amount)
        else:
            pos.isolated_wallet += amount
            changed.append(pos)
        totals[asset] = totals.get(asset, ZERO) + amount
        engine.income.append(
            {
                "symbol": pos.symbol,
                "incomeType": "FUNDING_FEE",
                "income": s8(amount),
                "asset": asset,
                "info": "FUNDING_FEE",
                "time": now,
                "tranId": engine.next_id(),
                "tradeId": "",
            }
        )
    if engine.open_positions():
        engine.events.append(
            account_update(engine, "FUNDING_FEE", changed, ZERO, now, changes=totals)
        )


def _margin_call(engine: Engine, pool: str, ratio: Decimal, now: int) -> None:
    rows = []
    for pos in _pool_positions(engine, pool):
        mark = engine.marks[pos.symbol]
        rows.append(
            {
                "s": pos.symbol,
                "ps": pos.side,
                "pa": str(pos.amount),
                "mt": "CROSSED" if engine.is_cross(pos.symbol) else "ISOLATED",
                "iw": s8(pos.isolated_wallet),
                "mp": s8(mark),
                "up": s8(pos.upnl(mark)),
                "mm": s8(engine.pos_mm(pos)),
            }
        )
    wallet = engine.usd().wallet if pool == "USD" else engine.wallets.get(pool, ZERO)
    engine.margin_calls.append({"time": now, "margin_ratio": s8(ratio), "pool": pool})
    engine.events.append({"e": "MARGIN_CALL", "cw": s8(wallet), "p": rows})


def _isolated_liquidations(engine: Engine, now: int) -> None:
    for pos in engine.open_positions():
        if engine.is_cross(pos.symbol):
            continue
        mark = engine.marks[pos.symbol]
        if pos.isolated_wallet + pos.upnl(mark) <= engine.pos_mm(pos):
            _liquidate(engine, [pos], now)


def _liquidate(engine: Engine, victims: list[Pos], now: int) -> None:
    """Close the positions at mark with `autoclose-` orders, as Binance's liquidation engine
    does; a negative wallet is cleared by the insurance fund (INSURANCE_CLEAR), after the
    auto-exchange in Multi-Assets mode."""
    assets = set()
    for pos in victims:
        mark = engine.marks[pos.symbol]
        qty = abs(pos.amount)
        asset = engine.pool_of(pos.symbol)
        assets.add(asset)
        order: dict[str, Any] = {
            "orderId": engine.next_id(),
            "symbol": pos.symbol,
            "status": "NEW",
            "clientOrderId": f"autoclose-{now}",
            "price": mark,
            "avgPrice": ZERO,
            "origQty": qty,
            "executedQty": ZERO,
            "cumQuote": ZERO,
            "timeInForce": "IOC",
            "type": "LIMIT",
            "reduceOnly": True,
            "side": "SELL" if pos.amount > 0 else "BUY",
            "positionSide": pos.side,
            "time": now,
            "updateTime": now,
        }
        engine.orders.append(order)
        wallet_before = engine.wallets.get(asset, ZERO)
        fill(engine, order, mark, now, liquidation=True)
        if not engine.is_cross(pos.symbol):
            # An isolated position loses its whole margin and nothing more: the cross wallet
            # gets nothing back; what is left goes to the insurance fund.
            engine.wallets[asset] = wallet_before
            pos.isolated_wallet = ZERO
        engine.liquidations.append(
            {
                "symbol": pos.symbol,
                "positionSide": pos.side,
                "qty": str(qty),
                "price": s8(mark),
                "time": now,
            }
        )
    if engine.usd_mode:
        auto_exchange(engine, now, after_liquidation=True)
    else:
        insurance_clear(engine, now, sorted(assets))
