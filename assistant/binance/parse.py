"""Binance JSON to `core.events`: pure functions, wire names stop here.

A frame that cannot be understood is not an error for the caller to crash on: it comes back
as `Skipped` with the reason, for the stream adapter to log and count.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from assistant.binance.wire import parse_decimal, parse_int, parse_margin_type, parse_side
from assistant.core.events import (
    AccountSnapshotted,
    BalanceAndPositionUpdated,
    Event,
    ExchangeFigures,
    LeverageChanged,
    ListenKeyExpired,
    MarginCallReceived,
    MarkPriceUpdated,
    OpenOrder,
    OrderUpdated,
    PositionChange,
)
from assistant.core.model import MarginType, PositionSide
from assistant.errors import InputError

T = TypeVar("T")

SYMBOL = re.compile(r"[A-Z0-9]{2,30}")
# Events we know and deliberately do not mirror.
KNOWN_UNUSED = {
    "TRADE_LITE",
    "ALGO_UPDATE",
    "CONDITIONAL_ORDER_TRIGGER_REJECT",
    "STRATEGY_UPDATE",
    "GRID_UPDATE",
}


# What a frame that is not shaped as Binance's raises while it is read (nested too deeply
# included): it is skipped as malformed, never a crash.
MALFORMED = (
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
    IndexError,
    InputError,
    RecursionError,
)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A frame that yields no event: `malformed` ones are counted as errors."""

    reason: str
    malformed: bool


def _load(frame: str | bytes | Mapping[str, Any] | list[Any]) -> Any:
    if isinstance(frame, (str, bytes)):
        return json.loads(frame, parse_float=Decimal)
    return frame


def _unwrap(data: Any) -> Any:
    if isinstance(data, Mapping) and "data" in data and "stream" in data:
        return data["data"]
    return data


def parse_user_frame(frame: str | bytes | Mapping[str, Any]) -> Event | Skipped:
    """One user-data frame (raw or `{"stream","data"}`-wrapped) to an event."""
    try:
        data = _unwrap(_load(frame))
        if not isinstance(data, Mapping):
            return Skipped("not a JSON object", True)
        kind = data.get("e")
        if kind == "ACCOUNT_UPDATE":
            return _account_update(data)
        if kind == "ORDER_TRADE_UPDATE":
            return _order_update(data)
        if kind == "ACCOUNT_CONFIG_UPDATE":
            if "ac" in data:
                ac = data["ac"]
                return LeverageChanged(
                    str(ac["s"]).upper(), parse_int(ac["l"], "ac.l"), _time(data, "E")
                )
            return Skipped("ACCOUNT_CONFIG_UPDATE without a leverage change", False)
        if kind == "MARGIN_CALL":
            cw = data.get("cw")
            rows = data.get("p") or []
            return MarginCallReceived(
                _time(data, "E"),
                None if cw is None else parse_decimal(cw, "cw"),
                tuple(str(r["s"]).upper() for r in rows),
            )
        if kind == "listenKeyExpired":
            return ListenKeyExpired(_time(data, "E"))
        if kind in KNOWN_UNUSED:
            return Skipped(f"{kind} is not mirrored", False)
        return Skipped(f"unknown event type {str(kind)[:40]!r}", True)
    except MALFORMED as exc:
        return Skipped(f"malformed frame: {exc}"[:200], True)


def parse_market_frame(
    frame: str | bytes | Mapping[str, Any] | list[Any],
) -> list[MarkPriceUpdated] | Skipped:
    """A mark-price frame: one `markPriceUpdate`, or the `!markPrice@arr` array."""
    try:
        data = _unwrap(_load(frame))
        if isinstance(data, Mapping) and "result" in data and "id" in data:
            return Skipped("subscription reply", False)
        items = data if isinstance(data, list) else [data]
        updates = []
        for item in items:
            if not isinstance(item, Mapping) or item.get("e") != "markPriceUpdate":
                return Skipped("not a markPriceUpdate", True)
            price = parse_decimal(item["p"], "p")
            if price <= 0:
                return Skipped("mark price not positive", True)
            symbol = item["s"]
            if not isinstance(symbol, str) or not SYMBOL.fullmatch(symbol):
                return Skipped("not a symbol name", True)
            updates.append(MarkPriceUpdated(symbol, price, _time(item, "E")))
        return updates
    except MALFORMED as exc:
        return Skipped(f"malformed frame: {exc}"[:200], True)


def _time(data: Mapping[str, Any], key: str) -> int:
    """Event times are ints, except `listenKeyExpired.E`, which Binance has sent as a string."""
    return parse_int(data[key], key)


def _change(row: Mapping[str, Any], where: str) -> PositionChange:
    margin = row.get("mt")
    wallet = row.get("iw")
    return PositionChange(
        symbol=str(row["s"]).upper(),
        side=parse_side(row.get("ps", "BOTH"), f"{where}.ps"),
        amount=parse_decimal(row["pa"], f"{where}.pa"),
        entry_price=parse_decimal(row["ep"], f"{where}.ep"),
        margin_type=None if margin is None else parse_margin_type(margin, f"{where}.mt"),
        isolated_wallet=None if wallet is None else parse_decimal(wallet, f"{where}.iw"),
    )


def _account_update(data: Mapping[str, Any]) -> BalanceAndPositionUpdated:
    body = data["a"]
    cross = None
    for row in body.get("B") or []:
        if row.get("a") == "USDT":
            cross = parse_decimal(row["cw"], "B.cw")
    changes = tuple(_change(row, f"P[{i}]") for i, row in enumerate(body.get("P") or []))
    return BalanceAndPositionUpdated(str(body.get("m", "")), _time(data, "E"), cross, changes)


def _order(o: Mapping[str, Any], *, rest: bool) -> OpenOrder:
    names = (
        (
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
        )
        if rest
        else ("s", "i", "c", "S", "ps", "o", "p", "q", "z", "R")
    )
    symbol, oid, cid, side, pside, kind, price, qty, filled, reduce = (o[n] for n in names)
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
        reduce_only=bool(reduce),
    )


def _order_update(data: Mapping[str, Any]) -> OrderUpdated:
    o = data["o"]
    return OrderUpdated(_time(data, "E"), _order(o, rest=False), str(o["X"]), str(o["x"]))


def _shape_errors_are_input_errors(parse: Callable[..., T]) -> Callable[..., T]:
    """A body not shaped as Binance's (a missing key, a null, a wrong type) becomes an
    InputError naming the parser, never a KeyError or AttributeError from deep inside it."""

    @functools.wraps(parse)
    def checked(*args: Any, **kwargs: Any) -> T:
        try:
            return parse(*args, **kwargs)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            what = parse.__name__.removeprefix("parse_")
            raise InputError(f"{what}: unexpected body ({type(exc).__name__}: {exc})") from None

    return checked


@_shape_errors_are_input_errors
def parse_snapshot(
    *,
    taken_at: int,
    account: Mapping[str, Any],
    position_risk: list[Mapping[str, Any]],
    symbol_config: list[Mapping[str, Any]],
    open_orders: list[Mapping[str, Any]],
    dual_side: Mapping[str, Any],
) -> AccountSnapshotted:
    """REST bodies (GET /fapi/v3/account, /fapi/v3/positionRisk, /fapi/v1/symbolConfig,
    /fapi/v1/openOrders, /fapi/v1/positionSide/dual) to one snapshot event. Raises InputError
    when a body is not what Binance sends."""
    usdt = next((a for a in account.get("assets", []) if a.get("asset") == "USDT"), None)
    if usdt is None:
        raise InputError("account: no USDT asset")
    leverage = {
        str(c["symbol"]).upper(): parse_int(c["leverage"], "symbolConfig.leverage")
        for c in symbol_config
    }
    margin_types = {
        str(c["symbol"]).upper(): parse_margin_type(c["marginType"], "symbolConfig.marginType")
        for c in symbol_config
    }
    positions = []
    marks: dict[str, Decimal] = {}
    liquidation: dict[tuple[str, PositionSide], Decimal] = {}
    maint: dict[tuple[str, PositionSide], Decimal] = {}
    for i, row in enumerate(position_risk):
        where = f"positionRisk[{i}]"
        symbol = str(row["symbol"]).upper()
        side = parse_side(row.get("positionSide", "BOTH"), f"{where}.positionSide")
        mark = parse_decimal(row["markPrice"], f"{where}.markPrice")
        if mark > 0:
            marks[symbol] = mark
        amount = parse_decimal(row["positionAmt"], f"{where}.positionAmt")
        if not amount:
            continue
        wallet = parse_decimal(row.get("isolatedWallet", "0"), f"{where}.isolatedWallet")
        margin_type = margin_types.get(symbol, MarginType.ISOLATED if wallet else MarginType.CROSS)
        positions.append(
            PositionChange(
                symbol,
                side,
                amount,
                parse_decimal(row["entryPrice"], f"{where}.entryPrice"),
                margin_type,
                wallet,
            )
        )
        liquidation[(symbol, side)] = parse_decimal(
            row.get("liquidationPrice", "0"), f"{where}.liquidationPrice"
        )
        maint[(symbol, side)] = parse_decimal(row.get("maintMargin", "0"), f"{where}.maintMargin")
    return AccountSnapshotted(
        taken_at=taken_at,
        wallet_balance=parse_decimal(usdt["crossWalletBalance"], "account.crossWalletBalance"),
        hedge_mode=bool(dual_side.get("dualSidePosition", False)),
        positions=tuple(positions),
        leverage=leverage,
        margin_types=margin_types,
        open_orders=tuple(_order(o, rest=True) for o in open_orders),
        marks=marks,
        exchange=ExchangeFigures(
            total_maint_margin=parse_decimal(
                account["totalMaintMargin"], "account.totalMaintMargin"
            ),
            total_margin_balance=parse_decimal(
                account["totalMarginBalance"], "account.totalMarginBalance"
            ),
            liquidation_prices=liquidation,
            maint_margins=maint,
        ),
    )
