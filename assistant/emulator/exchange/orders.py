"""Orders against the emulator's engine, with Binance's rules and error codes."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from assistant.emulator.exchange.book import ZERO, Pos, max_notional
from assistant.emulator.exchange.engine import Engine, Rejected, s8
from assistant.emulator.exchange.events import account_update, order_event

D = Decimal
CONDITIONAL = ("STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET")
CLIENT_ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.:/_-")


def _decimal(params: dict[str, str], name: str) -> Decimal:
    try:
        value = D(params[name])
    except (KeyError, InvalidOperation):
        raise Rejected(
            -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
        ) from None
    if not value.is_finite():
        raise Rejected(
            -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
        )
    return value


def _fmt(value: Decimal, quantum: Decimal) -> str:
    exponent = quantum.as_tuple().exponent  # "n", "N" or "F" only for NaN and infinities
    return (
        str(value.quantize(quantum))
        if isinstance(exponent, int) and exponent < 0
        else str(value.quantize(D(1)))
    )


def order_view(engine: Engine, order: dict[str, Any]) -> dict[str, Any]:
    """An order as REST returns it."""
    state = engine.symbols[order["symbol"]]
    avg = order["avgPrice"]
    return {
        "orderId": order["orderId"],
        "symbol": order["symbol"],
        "status": order["status"],
        "clientOrderId": order["clientOrderId"],
        "price": _fmt(order["price"], state.tick),
        "avgPrice": s8(avg) if avg else "0",
        "origQty": _fmt(order["origQty"], state.step),
        "executedQty": _fmt(order["executedQty"], state.step),
        "cumQty": _fmt(order["executedQty"], state.step),
        "cumQuote": s8(order["cumQuote"]),
        "timeInForce": order["timeInForce"],
        "type": order["type"],
        "reduceOnly": order["reduceOnly"],
        "closePosition": False,
        "side": order["side"],
        "positionSide": order["positionSide"],
        "stopPrice": "0",
        "workingType": "CONTRACT_PRICE",
        "priceProtect": False,
        "origType": order["type"],
        "priceMatch": "NONE",
        "selfTradePreventionMode": "NONE",
        "goodTillDate": 0,
        "time": order["time"],
        "updateTime": order["updateTime"],
    }


def open_orders(engine: Engine, symbol: str | None = None) -> list[dict[str, Any]]:
    return [
        o
        for o in engine.orders
        if o["status"] == "NEW" and (symbol is None or o["symbol"] == symbol)
    ]


def find_order(engine: Engine, params: dict[str, str]) -> dict[str, Any]:
    symbol = params.get("symbol", "").upper()
    if "orderId" in params:
        matches = [
            o
            for o in engine.orders
            if str(o["orderId"]) == params["orderId"] and o["symbol"] == symbol
        ]
    elif "origClientOrderId" in params:
        # Client ids may be reused once an order is done: the newest one wins.
        matches = [
            o
            for o in engine.orders
            if o["clientOrderId"] == params["origClientOrderId"] and o["symbol"] == symbol
        ]
    else:
        raise Rejected(
            -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
        )
    if not matches:
        raise Rejected(-2013, "Order does not exist.")
    return matches[-1]


def cancel_order(engine: Engine, params: dict[str, str], now: int) -> dict[str, Any]:
    order = find_order(engine, params)
    if order["status"] != "NEW":
        raise Rejected(-2011, "Unknown order sent.")
    order["status"] = "CANCELED"
    order["updateTime"] = now
    engine.events.append(order_event(engine, order, "CANCELED", now))
    return order_view(engine, order)


def place_order(engine: Engine, params: dict[str, str], now: int) -> dict[str, Any]:
    symbol = params.get("symbol", "").upper()
    if symbol not in engine.symbols:
        raise Rejected(-1121, "Invalid symbol.")
    state = engine.symbols[symbol]
    side = params.get("side", "").upper()
    if side not in ("BUY", "SELL"):
        raise Rejected(-1117, "Invalid side.")
    kind = params.get("type", "").upper()
    if kind in CONDITIONAL:
        raise Rejected(
            -4120,
            "Order type not supported for this endpoint. Please use the Algo Order API"
            " endpoints instead.",
        )
    if kind not in ("MARKET", "LIMIT"):
        raise Rejected(-1116, "Invalid orderType.")
    qty = _decimal(params, "quantity")
    if qty <= 0:
        raise Rejected(-4003, "Quantity less than or equal to zero.")
    if qty % state.step:
        raise Rejected(-1111, "Precision is over the maximum defined for this asset.")
    if qty < state.min_qty:
        raise Rejected(-4004, "Quantity less than min quantity.")
    price = ZERO
    if kind == "LIMIT":
        price = _decimal(params, "price")
        if price <= 0 or price % state.tick:
            raise Rejected(-4014, "Price not increased by tick size.")
    position_side = params.get("positionSide", "BOTH").upper()
    reduce_only = params.get("reduceOnly", "false").lower() == "true"
    if engine.hedge:
        if position_side not in ("LONG", "SHORT"):
            raise Rejected(-4061, "Order's position side does not match user's setting.")
        if "reduceOnly" in params:
            raise Rejected(-1106, "Parameter 'reduceonly' sent when not required.")
    elif position_side != "BOTH":
        raise Rejected(-4061, "Order's position side does not match user's setting.")
    client_id = params.get("newClientOrderId") or f"emu-{engine.next_id()}"
    if len(client_id) > 36 or not set(client_id) <= CLIENT_ID_CHARS:
        raise Rejected(-4015, "Client order id is not valid.")
    if any(o["clientOrderId"] == client_id for o in open_orders(engine)):
        raise Rejected(-4116, "ClientOrderId is duplicated.")
    pos = engine.positions.setdefault((symbol, position_side), Pos(symbol, position_side))
    signed = qty if side == "BUY" else -qty
    closing = _reduces(pos, signed)
    if reduce_only or (engine.hedge and closing):
        if not closing:
            raise Rejected(-2022, "ReduceOnly Order is rejected.")
        resting = _resting_reduce_only(engine, symbol, position_side, side)
        if resting and qty + resting > abs(pos.amount):
            raise Rejected(-2022, "ReduceOnly Order is rejected.")
        if qty > abs(pos.amount):
            if engine.hedge:
                raise Rejected(-2022, "ReduceOnly Order is rejected.")
            qty = abs(pos.amount)
            signed = qty if side == "BUY" else -qty
    mark = engine.marks[symbol]
    exempt = reduce_only or (engine.hedge and closing)
    if not exempt and qty * (price or mark) < state.min_notional:
        raise Rejected(
            -4164,
            f"Order's notional must be no smaller than {state.min_notional}"
            " (unless you choose reduce only).",
        )
    opening = qty if not closing else max(ZERO, qty - abs(pos.amount))  # a flip opens the rest
    if opening:
        new_notional = abs((pos.amount + signed) * mark)
        if new_notional > max_notional(state.tiers, state.leverage):
            raise Rejected(-2027, "Exceeded the maximum allowable position at current leverage.")
        fee = qty * (price or mark) * engine.settings.taker_fee
        if (
            engine.available(engine.pool_of(symbol))
            < opening * (price or mark) / state.leverage + fee
        ):
            raise Rejected(-2019, "Margin is insufficient.")
    order = {
        "orderId": engine.next_id(),
        "symbol": symbol,
        "status": "NEW",
        "clientOrderId": client_id,
        "price": price,
        "avgPrice": ZERO,
        "origQty": qty,
        "executedQty": ZERO,
        "cumQuote": ZERO,
        "timeInForce": params.get("timeInForce", "GTC"),
        "type": kind,
        "reduceOnly": reduce_only,
        "side": side,
        "positionSide": position_side,
        "time": now,
        "updateTime": now,
    }
    engine.orders.append(order)
    engine.events.append(order_event(engine, order, "NEW", now))
    accepted = {k: v for k, v in order_view(engine, order).items() if k in ACK_KEYS}
    if kind == "MARKET":
        fill(engine, order, mark, now)
    elif (side == "BUY" and mark <= price) or (side == "SELL" and mark >= price):
        fill(engine, order, price, now)
    if params.get("newOrderRespType", "ACK").upper() == "ACK":  # Binance's default for futures
        return accepted
    return order_view(engine, order)


ACK_KEYS = {
    "orderId",
    "symbol",
    "status",
    "clientOrderId",
    "price",
    "avgPrice",
    "origQty",
    "executedQty",
    "cumQty",
    "cumQuote",
    "timeInForce",
    "type",
    "reduceOnly",
    "closePosition",
    "side",
    "positionSide",
    "stopPrice",
    "workingType",
    "priceProtect",
    "origType",
    "updateTime",
}


def _resting_reduce_only(engine: Engine, symbol: str, position_side: str, side: str) -> Decimal:
    """What the open reduce-only orders on this side of the position still have to close (in
    hedge mode every order on a leg's closing side counts as one)."""
    return sum(
        (
            o["origQty"] - o["executedQty"]
            for o in open_orders(engine, symbol)
            if o["positionSide"] == position_side
            and o["side"] == side
            and (o["reduceOnly"] or engine.hedge)
        ),
        ZERO,
    )


def _reduces(pos: Pos, signed: Decimal) -> bool:
    if pos.side == "LONG":
        return signed < 0
    if pos.side == "SHORT":
        return signed > 0
    return bool(pos.amount) and (pos.amount > 0) != (signed > 0)


def fill(
    engine: Engine, order: dict[str, Any], price: Decimal, now: int, liquidation: bool = False
) -> None:
    """Fill the whole order at `price`: position, realized PnL, fee, and the events."""
    symbol, qty = order["symbol"], order["origQty"]
    signed = qty if order["side"] == "BUY" else -qty
    pos = engine.positions.setdefault(
        (symbol, order["positionSide"]), Pos(symbol, order["positionSide"])
    )
    realized = apply_fill(pos, signed, price)
    pos.update_time = now
    notional = qty * price
    fee = notional * (
        engine.settings.taker_fee if not liquidation else engine.settings.taker_fee + D("0.0125")
    )
    asset = engine.pool_of(symbol)
    if engine.is_cross(symbol):
        engine.credit(asset, realized - fee)
    else:
        state = engine.symbols[symbol]
        if abs(pos.amount) > abs(pos.amount - signed):
            margin = notional / state.leverage  # opening: move IM from the cross wallet
            engine.credit(asset, -(margin + fee))
            pos.isolated_wallet += margin
        else:
            before = abs(pos.amount) + qty
            release = pos.isolated_wallet * qty / before if before else pos.isolated_wallet
            pos.isolated_wallet -= release
            engine.credit(asset, release + realized - fee)
    order.update(
        status="FILLED", executedQty=qty, avgPrice=price, cumQuote=notional, updateTime=now
    )
    trade_id = engine.next_id()
    for kind, amount in (("REALIZED_PNL", realized), ("COMMISSION", -fee)):
        if amount:
            engine.income.append(
                {
                    "symbol": symbol,
                    "incomeType": kind,
                    "income": s8(amount),
                    "asset": asset,
                    "info": "",
                    "time": now,
                    "tranId": engine.next_id(),
                    "tradeId": str(trade_id),
                }
            )
    engine.events.append(
        {
            "e": "TRADE_LITE",
            "T": now,
            "s": symbol,
            "q": str(qty),
            "p": str(order["price"]),
            "m": False,
            "c": order["clientOrderId"],
            "S": order["side"],
            "L": str(price),
            "l": str(qty),
            "t": trade_id,
            "i": order["orderId"],
        }
    )
    engine.events.append(account_update(engine, "ORDER", [pos], -fee, now))
    engine.events.append(
        order_event(engine, order, "TRADE", now, realized=realized, fee=fee, trade_id=trade_id)
    )


def apply_fill(pos: Pos, signed: Decimal, price: Decimal) -> Decimal:
    """Update amount and entry price; return the realized PnL."""
    old = pos.amount
    new = old + signed
    if not old or (old > 0) == (signed > 0):
        pos.entry = (old * pos.entry + signed * price) / new if new else ZERO
        pos.amount = new
        return ZERO
    closed = min(abs(signed), abs(old))
    realized = closed * (price - pos.entry) * (1 if old > 0 else -1)
    pos.amount = new
    if not new:
        pos.entry = ZERO
    elif (new > 0) != (old > 0):
        pos.entry = price
    return realized
