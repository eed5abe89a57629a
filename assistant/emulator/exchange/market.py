"""What a published mark does to the account: resting fills, margin calls, liquidation,
funding, and the history row the control API serves."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from assistant.emulator.exchange.book import ZERO, Pos
from assistant.emulator.exchange.engine import Engine, s8
from assistant.emulator.exchange.events import account_update
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
    _isolated_liquidations(engine, now)
    balance, mm, _ = engine.cross()
    ratio = mm / balance if balance > 0 else None
    if any(engine.is_cross(p.symbol) for p in engine.open_positions()):
        if balance <= mm:
            _liquidate(
                engine, [p for p in engine.open_positions() if engine.is_cross(p.symbol)], now
            )
        elif ratio is not None and ratio >= engine.settings.margin_call_ratio:
            if not engine._in_margin_call:
                _margin_call(engine, ratio, now)
            engine._in_margin_call = True
        else:
            engine._in_margin_call = False
    balance, mm, _ = engine.cross()
    engine.history.append(
        {
            "time": now,
            "margin_balance": s8(balance),
            "maintenance_margin": s8(mm),
            "margin_ratio": s8(mm / balance) if balance > 0 else None,
            "marks": {s: s8(p) for s, p in engine.marks.items()},
        }
    )


def pay_funding(engine: Engine, now: int) -> None:
    """Funding at the configured rate: longs pay shorts when it is positive."""
    rate = engine.settings.funding_rate
    changed: list[Pos] = []
    total = ZERO
    for pos in engine.open_positions():
        amount = -pos.amount * engine.marks[pos.symbol] * rate
        if engine.is_cross(pos.symbol):
            engine.wallet += amount
        else:
            pos.isolated_wallet += amount
            changed.append(pos)
        total += amount
        engine.income.append(
            {
                "symbol": pos.symbol,
                "incomeType": "FUNDING_FEE",
                "income": s8(amount),
                "asset": "USDT",
                "info": "FUNDING_FEE",
                "time": now,
                "tranId": engine.next_id(),
                "tradeId": "",
            }
        )
    if engine.open_positions():
        engine.events.append(account_update(engine, "FUNDING_FEE", changed, total, now))


def _margin_call(engine: Engine, ratio: Decimal, now: int) -> None:
    rows = []
    for pos in engine.open_positions():
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
    engine.margin_calls.append({"time": now, "margin_ratio": s8(ratio)})
    engine.events.append({"e": "MARGIN_CALL", "cw": s8(engine.wallet), "p": rows})


def _isolated_liquidations(engine: Engine, now: int) -> None:
    for pos in engine.open_positions():
        if engine.is_cross(pos.symbol):
            continue
        mark = engine.marks[pos.symbol]
        if pos.isolated_wallet + pos.upnl(mark) <= engine.pos_mm(pos):
            _liquidate(engine, [pos], now)


def _liquidate(engine: Engine, victims: list[Pos], now: int) -> None:
    """Close the positions at mark with `autoclose-` orders, as Binance's liquidation engine
    does; a negative wallet is cleared by the insurance fund (INSURANCE_CLEAR)."""
    for pos in victims:
        mark = engine.marks[pos.symbol]
        qty = abs(pos.amount)
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
        wallet_before = engine.wallet
        fill(engine, order, mark, now, liquidation=True)
        if not engine.is_cross(pos.symbol):
            # An isolated position loses its whole margin and nothing more: the cross wallet
            # gets nothing back; what is left goes to the insurance fund.
            engine.wallet = wallet_before
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
    if engine.wallet < 0:
        cleared = -engine.wallet
        engine.wallet = ZERO
        engine.income.append(
            {
                "symbol": "",
                "incomeType": "INSURANCE_CLEAR",
                "income": s8(cleared),
                "asset": "USDT",
                "info": "",
                "time": now,
                "tranId": engine.next_id(),
                "tradeId": "",
            }
        )
        engine.events.append(account_update(engine, "INSURANCE_CLEAR", [], cleared, now))
