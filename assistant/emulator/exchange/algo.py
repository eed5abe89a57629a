"""Conditional orders, served by Binance's algo service since December 2025:
POST/GET/DELETE /fapi/v1/algoOrder, GET /fapi/v1/openAlgoOrders and allAlgoOrders, DELETE
/fapi/v1/algoOpenOrders, and the user-stream event ALGO_UPDATE on every change.

An algo order waits (NEW) until a published mark reaches its trigger price — a STOP sells at or
below it and buys at or above it, a TAKE_PROFIT the other way round — then goes to the matching
engine as a MARKET (STOP_MARKET, TAKE_PROFIT_MARKET) or LIMIT (STOP, TAKE_PROFIT) order:
TRIGGERING, TRIGGERED, then FINISHED once that order is filled or cancelled; REJECTED when the
order is refused (a reduce-only order that would not reduce), EXPIRED when a close-position
order finds no position.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from assistant.emulator.exchange.book import ZERO
from assistant.emulator.exchange.engine import Engine, Rejected, s8
from assistant.emulator.exchange.orders import CLIENT_ID_CHARS, _fmt, place_order
from assistant.errors import InputError

D = Decimal
TYPES = {
    "STOP_MARKET": "MARKET",
    "TAKE_PROFIT_MARKET": "MARKET",
    "STOP": "LIMIT",
    "TAKE_PROFIT": "LIMIT",
}
MAX_PER_SYMBOL = 10  # exchangeInfo's MAX_NUM_ALGO_ORDERS


def _malformed(name: str) -> Rejected:
    return Rejected(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def _positive(params: dict[str, str], name: str) -> Decimal:
    try:
        value = D(params[name])
    except (KeyError, InvalidOperation):
        raise _malformed(name) from None
    if not value.is_finite() or value <= 0:
        raise _malformed(name)
    return value


def _true(params: dict[str, str], name: str) -> bool:
    return params.get(name, "false").lower() == "true"


def open_algo(engine: Engine, symbol: str | None = None) -> list[dict[str, Any]]:
    return [
        a for a in engine.algo_orders if a["algoStatus"] == "NEW" and symbol in (None, a["symbol"])
    ]


def would_trigger(algo: dict[str, Any], mark: Decimal) -> bool:
    stop = algo["orderType"].startswith("STOP")
    price: Decimal = algo["triggerPrice"]
    return mark <= price if (algo["side"] == "SELL") == stop else mark >= price


def place(engine: Engine, params: dict[str, str], now: int, seeded: bool = False) -> dict[str, Any]:
    """POST /fapi/v1/algoOrder (a scenario's `algo_orders` come through here too)."""
    if params.get("algoType", "").upper() != "CONDITIONAL":
        raise _malformed("algoType")
    symbol = params.get("symbol", "").upper()
    if symbol not in engine.symbols:
        raise Rejected(-1121, "Invalid symbol.")
    state = engine.symbols[symbol]
    side = params.get("side", "").upper()
    if side not in ("BUY", "SELL"):
        raise Rejected(-1117, "Invalid side.")
    kind = params.get("type", "").upper()
    if kind not in TYPES:
        raise Rejected(-1116, "Invalid orderType.")
    trigger = _positive(params, "triggerPrice")
    if trigger % state.tick:
        raise Rejected(-4014, "Price not increased by tick size.")
    price = ZERO
    if TYPES[kind] == "LIMIT":
        price = _positive(params, "price")
        if price % state.tick:
            raise Rejected(-4014, "Price not increased by tick size.")
    close = _true(params, "closePosition")
    if close and TYPES[kind] != "MARKET":
        raise Rejected(-1106, "Parameter 'closePosition' sent when not required.")
    if close and "quantity" in params:
        raise Rejected(-1106, "Parameter 'quantity' sent when not required.")
    if close and "reduceOnly" in params:
        raise Rejected(-1106, "Parameter 'reduceOnly' sent when not required.")
    qty = ZERO
    if not close:
        qty = _positive(params, "quantity")
        if qty % state.step:
            raise Rejected(-1111, "Precision is over the maximum defined for this asset.")
        if qty < state.min_qty:
            raise Rejected(-4004, "Quantity less than min quantity.")
    position_side = params.get("positionSide", "BOTH").upper()
    if engine.hedge:
        if position_side not in ("LONG", "SHORT"):
            raise Rejected(-4061, "Order's position side does not match user's setting.")
        if "reduceOnly" in params:
            raise Rejected(-1106, "Parameter 'reduceonly' sent when not required.")
    elif position_side != "BOTH":
        raise Rejected(-4061, "Order's position side does not match user's setting.")
    client_id = params.get("clientAlgoId") or f"emualgo-{engine.next_id()}"
    if len(client_id) > 36 or not set(client_id) <= CLIENT_ID_CHARS:
        raise Rejected(-4015, "Client order id is not valid.")
    if any(a["clientAlgoId"] == client_id for a in open_algo(engine)):
        raise Rejected(-4116, "ClientOrderId is duplicated.")
    if len(open_algo(engine, symbol)) >= MAX_PER_SYMBOL:
        raise Rejected(-4045, "Reach max stop order limit.")
    algo: dict[str, Any] = {
        "algoId": engine.next_id(),
        "clientAlgoId": client_id,
        "algoType": "CONDITIONAL",
        "orderType": kind,
        "symbol": symbol,
        "side": side,
        "positionSide": position_side,
        "timeInForce": params.get("timeInForce", "GTC").upper(),
        "quantity": qty,
        "algoStatus": "NEW",
        "triggerPrice": trigger,
        "price": price,
        "workingType": params.get("workingType", "CONTRACT_PRICE").upper(),
        "closePosition": close,
        "priceProtect": _true(params, "priceProtect"),
        "reduceOnly": _true(params, "reduceOnly"),
        "createTime": now,
        "updateTime": now,
        "triggerTime": 0,
        "actualOrderId": "",
        "reason": "",
    }
    if not seeded and would_trigger(algo, engine.marks[symbol]):
        raise Rejected(-2021, "Order would immediately trigger.")
    engine.algo_orders.append(algo)
    _event(engine, algo, now)
    return view(engine, algo)


def seed(engine: Engine, now: int) -> None:
    """The scenario's `algo_orders`, placed at start (checked as on REST; they may trigger at
    the first mark)."""
    for i, raw in enumerate(engine.scenario.account.algo_orders):
        params = {"algoType": "CONDITIONAL"}
        params.update(
            {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in raw.items()}
        )
        try:
            place(engine, params, now, seeded=True)
        except Rejected as exc:
            raise InputError(f"scenario algo_orders[{i}]: {exc.msg} ({exc.code})") from None
    engine.events.clear()


def find(engine: Engine, params: dict[str, str]) -> dict[str, Any]:
    if params.get("algoId"):
        matches = [a for a in engine.algo_orders if str(a["algoId"]) == params["algoId"]]
    elif params.get("clientAlgoId"):
        matches = [a for a in engine.algo_orders if a["clientAlgoId"] == params["clientAlgoId"]]
    else:
        raise Rejected(
            -1102, "Param 'algoId' or 'clientAlgoId' must be sent, but both were empty/null!"
        )
    if not matches:
        raise Rejected(-2013, "Order does not exist.")
    return matches[-1]


def cancel(engine: Engine, params: dict[str, str], now: int) -> dict[str, Any]:
    algo = find(engine, params)
    if algo["algoStatus"] != "NEW":
        raise Rejected(-2011, "Unknown order sent.")
    _set(engine, algo, "CANCELED", now)
    return {
        "algoId": algo["algoId"],
        "clientAlgoId": algo["clientAlgoId"],
        "code": "200",
        "msg": "success",
    }


def cancel_all(engine: Engine, params: dict[str, str], now: int) -> dict[str, Any]:
    symbol = params.get("symbol", "").upper()
    if symbol not in engine.symbols:
        raise Rejected(-1121, "Invalid symbol.")
    for algo in open_algo(engine, symbol):
        _set(engine, algo, "CANCELED", now)
    return {"code": 200, "msg": "The operation of cancel all open order is done."}


def trigger(engine: Engine, now: int) -> None:
    """At a published mark: orders whose trigger is reached go to the matching engine; orders
    triggered before finish when their order is done."""
    for algo in list(engine.algo_orders):
        if algo["algoStatus"] == "TRIGGERED":
            order = _actual(engine, algo)
            if order is not None and order["status"] != "NEW":
                _set(engine, algo, "FINISHED", now)
        elif algo["algoStatus"] == "NEW" and would_trigger(algo, engine.marks[algo["symbol"]]):
            _fire(engine, algo, now)


def _fire(engine: Engine, algo: dict[str, Any], now: int) -> None:
    algo["triggerTime"] = now
    _set(engine, algo, "TRIGGERING", now)
    symbol, side = algo["symbol"], algo["side"]
    params = {
        "symbol": symbol,
        "side": side,
        "type": TYPES[algo["orderType"]],
        "positionSide": algo["positionSide"],
        "newClientOrderId": f"algo-{algo['algoId']}",
        "newOrderRespType": "RESULT",
    }
    qty = algo["quantity"]
    if algo["closePosition"]:
        pos = engine.positions.get((symbol, algo["positionSide"]))
        closing = pos is not None and pos.amount and ((pos.amount > 0) == (side == "SELL"))
        if not closing:
            _set(engine, algo, "EXPIRED", now)
            return
        qty = abs(pos.amount)  # type: ignore[union-attr]
    params["quantity"] = str(qty)
    if TYPES[algo["orderType"]] == "LIMIT":
        params.update(price=str(algo["price"]), timeInForce=algo["timeInForce"])
    if not engine.hedge and (algo["reduceOnly"] or algo["closePosition"]):
        params["reduceOnly"] = "true"
    try:
        placed = place_order(engine, params, now)
    except Rejected as exc:
        algo["reason"] = "Reduce Only reject" if exc.code == -2022 else exc.msg
        _set(engine, algo, "REJECTED", now)
        return
    algo["actualOrderId"] = str(placed["orderId"])
    _set(engine, algo, "TRIGGERED", now)
    if placed["status"] != "NEW":
        _set(engine, algo, "FINISHED", now)


def _actual(engine: Engine, algo: dict[str, Any]) -> dict[str, Any] | None:
    return next((o for o in engine.orders if str(o["orderId"]) == algo["actualOrderId"]), None)


def _set(engine: Engine, algo: dict[str, Any], status: str, now: int) -> None:
    algo["algoStatus"] = status
    algo["updateTime"] = now
    _event(engine, algo, now)


def _event(engine: Engine, algo: dict[str, Any], now: int) -> None:
    order = _actual(engine, algo) if algo["actualOrderId"] else None
    filled = order is not None and order["executedQty"]
    state = engine.symbols[algo["symbol"]]
    body = {
        "caid": algo["clientAlgoId"],
        "aid": algo["algoId"],
        "at": algo["algoType"],
        "o": algo["orderType"],
        "s": algo["symbol"],
        "S": algo["side"],
        "ps": algo["positionSide"],
        "f": algo["timeInForce"],
        "q": _fmt(algo["quantity"], state.step),
        "X": algo["algoStatus"],
        "ai": algo["actualOrderId"],
        "ap": s8(order["avgPrice"]) if filled and order else "0.00000",
        "aq": _fmt(order["executedQty"], state.step) if filled and order else "0.00000",
        "act": order["type"] if order else "0",
        "tp": _fmt(algo["triggerPrice"], state.tick),
        "p": _fmt(algo["price"], state.tick),
        "V": "NONE",
        "wt": algo["workingType"],
        "pm": "NONE",
        "cp": algo["closePosition"],
        "pP": algo["priceProtect"],
        "R": algo["reduceOnly"],
        "tt": algo["triggerTime"],
        "gtd": 0,
    }
    if algo["reason"]:
        body["rm"] = algo["reason"]
    engine.events.append({"e": "ALGO_UPDATE", "T": now, "o": body})


def view(engine: Engine, algo: dict[str, Any]) -> dict[str, Any]:
    """An algo order as REST returns it."""
    state = engine.symbols[algo["symbol"]]
    order = _actual(engine, algo) if algo["actualOrderId"] else None
    return {
        "algoId": algo["algoId"],
        "clientAlgoId": algo["clientAlgoId"],
        "algoType": algo["algoType"],
        "orderType": algo["orderType"],
        "symbol": algo["symbol"],
        "side": algo["side"],
        "positionSide": algo["positionSide"],
        "timeInForce": algo["timeInForce"],
        "quantity": _fmt(algo["quantity"], state.step),
        "algoStatus": algo["algoStatus"],
        "actualOrderId": algo["actualOrderId"],
        "actualPrice": s8(order["avgPrice"]) if order and order["executedQty"] else "0.00000",
        "triggerPrice": _fmt(algo["triggerPrice"], state.tick),
        "price": _fmt(algo["price"], state.tick),
        "icebergQuantity": None,
        "tpTriggerPrice": "0.000",
        "tpPrice": "0.000",
        "slTriggerPrice": "0.000",
        "slPrice": "0.000",
        "tpOrderType": "",
        "selfTradePreventionMode": "NONE",
        "workingType": algo["workingType"],
        "priceMatch": "NONE",
        "closePosition": algo["closePosition"],
        "priceProtect": algo["priceProtect"],
        "reduceOnly": algo["reduceOnly"],
        "createTime": algo["createTime"],
        "updateTime": algo["updateTime"],
        "triggerTime": algo["triggerTime"],
        "goodTillDate": 0,
    }


def listing(engine: Engine, params: dict[str, str], only_open: bool) -> list[dict[str, Any]]:
    """GET /fapi/v1/openAlgoOrders (optional `symbol`) and allAlgoOrders (`symbol` required)."""
    symbol = params.get("symbol", "").upper() or None
    if symbol is not None and symbol not in engine.symbols:
        raise Rejected(-1121, "Invalid symbol.")
    if not only_open and symbol is None:
        raise _malformed("symbol")
    rows = (
        open_algo(engine, symbol)
        if only_open
        else [a for a in engine.algo_orders if a["symbol"] == symbol]
    )
    views = [view(engine, a) for a in rows]
    return views if only_open else views[-int(params.get("limit", 500)) :]
