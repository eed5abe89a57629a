"""Rows Binance sends in both a REST body and a stream frame, under two sets of names: an open
order, a conditional (algo) order, an asset index rate. Pure; a row not shaped as Binance's
raises (KeyError, TypeError, InputError...), for the caller to turn into its own error."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from assistant.binance.wire import parse_decimal, parse_int, parse_side
from assistant.core.events import AlgoOrder, OpenOrder
from assistant.core.model import ZERO, AssetRate
from assistant.errors import InputError

ORDER_NAMES = {
    True: (
        "symbol",
        "orderId",
        "clientOrderId",
        "side",
        "positionSide",
        "type",
        "price",
        "origQty",
        "executedQty",
        "reduceOnly",
    ),
    False: ("s", "i", "c", "S", "ps", "o", "p", "q", "z", "R"),
}
# GET /fapi/v1/openAlgoOrders (REST) and ALGO_UPDATE's `o` (stream), in AlgoOrder's order:
# symbol, algo id, client algo id, side, position side, order type, trigger price, quantity,
# reduce only, close position; then the status.
ALGO_NAMES = {
    True: (
        "symbol",
        "algoId",
        "clientAlgoId",
        "side",
        "positionSide",
        "orderType",
        "triggerPrice",
        "quantity",
        "reduceOnly",
        "closePosition",
        "algoStatus",
    ),
    False: ("s", "aid", "caid", "S", "ps", "o", "tp", "q", "R", "cp", "X"),
}


def open_order(o: Mapping[str, Any], *, rest: bool) -> OpenOrder:
    """An open order of GET /fapi/v1/openOrders (`rest`) or ORDER_TRADE_UPDATE's `o`."""
    symbol, oid, cid, side, pside, kind, price, qty, filled, reduce = (
        o[n] for n in ORDER_NAMES[rest]
    )
    return OpenOrder(
        symbol=str(symbol).upper(),
        order_id=parse_int(oid, "orderId"),
        client_id=str(cid),
        side=str(side),
        position_side=parse_side(pside, "positionSide"),
        kind=str(kind),
        price=parse_decimal(price, "price"),
        quantity=parse_decimal(qty, "origQty"),
        filled=parse_decimal(filled, "executedQty"),
        reduce_only=_flag(reduce, "reduceOnly"),
    )


def algo_order(o: Mapping[str, Any], *, rest: bool) -> tuple[AlgoOrder, str]:
    """A conditional order of GET /fapi/v1/openAlgoOrders (`rest`) or ALGO_UPDATE's `o`, and
    its status (NEW, TRIGGERING, CANCELED...).

    A close-position order carries no quantity of its own (Binance sends "0", "" or nothing):
    it is 0 here, and closes whatever is held when it triggers. A trailing stop has no trigger
    price until it is activated: 0 likewise."""
    names = ALGO_NAMES[rest]
    symbol, aid, caid, side, pside, kind = (o[n] for n in names[:6])
    close = _flag(o.get(names[9], False), names[9])
    status = o[names[10]]
    if not isinstance(status, str) or not status:
        raise InputError(f"{names[10]}: expected a status, got {status!r}")
    order = AlgoOrder(
        symbol=str(symbol).upper(),
        algo_id=parse_int(aid, names[1]),
        client_id=str(caid),
        side=_side(side, names[3]),
        position_side=parse_side(pside or "BOTH", names[4]),
        kind=str(kind),
        trigger_price=_optional(o.get(names[6]), names[6]),
        quantity=_optional(o.get(names[7]), names[7]),
        reduce_only=_flag(o.get(names[8], False), names[8]),
        close_position=close,
    )
    return order, status.upper()


def asset_of(index_symbol: Any, where: str) -> str:
    """The collateral asset of an asset index symbol: `BTCUSD` is BTC, `USDTUSD` is USDT."""
    if not isinstance(index_symbol, str):
        raise InputError(f"{where}: expected an index symbol like BTCUSD, got {index_symbol!r}")
    name = index_symbol.strip().upper()
    if not name.endswith("USD") or len(name) < 4 or not name.isalnum():
        raise InputError(f"{where}: expected an index symbol like BTCUSD, got {name[:30]!r}")
    return name.removesuffix("USD")


def asset_rate(symbol: Any, index: Any, bid: Any, ask: Any, where: str) -> AssetRate:
    """One asset's USD rates: `bid` values a positive balance, `ask` a debt and a margin."""
    rate = AssetRate(
        asset_of(symbol, f"{where}.symbol"),
        parse_decimal(index, f"{where}.index"),
        parse_decimal(bid, f"{where}.bidRate"),
        parse_decimal(ask, f"{where}.askRate"),
    )  # AssetRate refuses 0 < bid <= ask broken (ValueError)
    if rate.index <= ZERO:
        raise InputError(f"{where}.index: must be positive, got {rate.index}")
    return rate


def _optional(value: Any, where: str) -> Decimal:
    """A number Binance may leave empty ("" or null): 0 then."""
    return ZERO if value is None or value == "" else parse_decimal(value, where)


def _flag(value: Any, where: str) -> bool:
    """A boolean as Binance sends it: true/false, or (seen in captures) 1/0 or "true"."""
    if isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InputError(f"{where}: expected true or false, got {value!r}"[:120])


def _side(value: Any, where: str) -> str:
    if isinstance(value, str) and value.upper() in ("BUY", "SELL"):
        return value.upper()
    raise InputError(f"{where}: expected BUY or SELL, got {value!r}"[:120])
