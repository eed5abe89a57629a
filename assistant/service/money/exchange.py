"""The exchange side of a money action: the one request that carries it out, the lookup that
says whether an earlier attempt took effect, and the action an intent row was written for."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from assistant.binance.rest import BinanceRest
from assistant.core.actions import (
    AddIsolatedMargin,
    MoneyAction,
    PlaceReduceOnly,
    TransferToFutures,
)
from assistant.core.model import PositionSide
from assistant.service.money import failpoints
from assistant.store.sqlite import SqliteStore

MONEY_PATHS = ("/fapi/v1/order", "/sapi/v1/asset/transfer", "/fapi/v1/positionMargin")
CLOCK_SKEW_MS = 5_000  # how far back the transfer history is searched for a deposit's trace


def moved(action: MoneyAction) -> Decimal | None:
    """The USDT a done action moved into futures (deposits and top-ups count against caps)."""
    return action.amount if isinstance(action, (TransferToFutures, AddIsolatedMargin)) else None


def on_request_sent(method: str, path: str) -> None:
    """Hooked into BinanceRest: the `request-in-flight` failpoint, for money requests only."""
    if method == "POST" and path in MONEY_PATHS:
        failpoints.hit("request-in-flight")


async def send(
    rest: BinanceRest, store: SqliteStore, action: MoneyAction, stamp: Callable[[int], None]
) -> Any:
    """The request for `action` (raises the exchange's errors: the executor decides); `stamp`
    is told its signed timestamp before it leaves. A reduce-only order is preceded by the
    cancels of our own stale orders in its way: a cancel is idempotent (an order already gone
    is fine), so a retry may repeat them safely."""
    if isinstance(action, TransferToFutures):
        return {"tranId": await _transfer(rest, store, action, stamp)}
    if isinstance(action, AddIsolatedMargin):
        return await rest.add_isolated_margin(
            action.symbol, action.position_side, action.amount, stamp=stamp
        )
    for client_id in action.cancel:  # our own stale orders in its way; gone already is fine
        await rest.cancel_order(action.symbol, client_id)
    return await rest.reduce_only(
        symbol=action.symbol,
        side=action.side,
        quantity=action.quantity,
        client_id=action.client_id,
        position_side=action.position_side.value,
        stamp=stamp,
    )


async def _transfer(
    rest: BinanceRest, store: SqliteStore, action: TransferToFutures, stamp: Callable[[int], None]
) -> int:
    tran_id = await rest.transfer_to_futures(action.amount, stamp=stamp, asset=action.asset)
    store.claim_transfer(tran_id, action.decision_id)
    return tran_id


async def look(
    rest: BinanceRest, store: SqliteStore, action: MoneyAction, since: int
) -> Any | None:
    """Did an earlier attempt of this decision take effect on the exchange?"""
    if isinstance(action, PlaceReduceOnly):
        order = await rest.order_by_client_id(action.symbol, action.client_id)
        return None if order is None else f"order {order.get('orderId')} {order.get('status')}"
    if isinstance(action, TransferToFutures):
        for row in await rest.transfers_since(since - CLOCK_SKEW_MS):
            usable = (
                row.asset == action.asset and row.status != "FAILED" and row.amount == action.amount
            )
            if usable and store.claim_transfer(row.tran_id, action.decision_id):
                return f"transfer {row.tran_id} ({row.status})"
        return None
    return None  # isolated margin has no trace to look up (it is never resent)


def rebuild(kind: str, payload: dict[str, Any]) -> MoneyAction:
    """The action an intent row was written for (to look it up after a crash)."""
    decision, reason, at = payload["decision_id"], payload["reason"], int(payload["at"])
    by = payload.get("by", "")
    if kind == "deposit":
        asset = str(payload.get("asset") or "USDT")
        return TransferToFutures(decision, Decimal(payload["amount"]), reason, at, by, asset)
    side = PositionSide(payload["position_side"])
    if kind == "isolated-margin":
        return AddIsolatedMargin(
            decision, payload["symbol"], side, Decimal(payload["amount"]), reason, at, by
        )
    quantity = Decimal(payload["quantity"])
    cancel = tuple(str(c) for c in payload.get("cancel", ()))
    return PlaceReduceOnly(
        decision, payload["symbol"], side, payload["side"], quantity, reason, at, by, cancel
    )
