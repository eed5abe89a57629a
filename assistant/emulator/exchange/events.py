"""User-data events in Binance's shapes: ACCOUNT_UPDATE and ORDER_TRADE_UPDATE.

`E` is stamped by the server when the events are published; `T` is the engine's time.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from assistant.emulator.exchange.book import ZERO, Pos
from assistant.emulator.exchange.engine import Engine, s8


def account_update(
    engine: Engine,
    reason: str,
    changed: list[Pos],
    balance_change: Decimal,
    now: int,
    asset: str | None = None,
    changes: dict[str, Decimal] | None = None,
) -> dict[str, Any]:
    """Partial, as Binance's: `B` the assets whose balance changed (`asset`, by default the
    changed positions' pool or USDT, by `balance_change`; or each of `changes`), `P` the
    positions that changed."""
    engine.balance_time = now
    if changes is None:
        asset = asset or (engine.pool_of(changed[0].symbol) if changed else "USDT")
        changes = {asset: balance_change}
    rows = []
    for pos in changed:
        mark = engine.marks[pos.symbol]
        rows.append(
            {
                "s": pos.symbol,
                "pa": str(pos.amount),
                "ep": str(pos.entry),
                "bep": str(pos.entry),
                "cr": "0",
                "up": s8(pos.upnl(mark)),
                "mt": engine.symbols[pos.symbol].margin_type,
                "iw": s8(pos.isolated_wallet),
                "ps": pos.side,
                "ma": engine.pool_of(pos.symbol),
            }
        )
    balances = []
    for name, change in changes.items():
        isolated = sum(
            (
                p.isolated_wallet
                for p in engine.positions.values()
                if engine.pool_of(p.symbol) == name
            ),
            ZERO,
        )
        wallet = engine.wallets.get(name, ZERO)
        balances.append(
            {"a": name, "wb": s8(wallet + isolated), "cw": s8(wallet), "bc": s8(change)}
        )
    return {"e": "ACCOUNT_UPDATE", "T": now, "a": {"m": reason, "B": balances, "P": rows}}


def order_event(
    engine: Engine,
    order: dict[str, Any],
    execution: str,
    now: int,
    realized: Decimal = ZERO,
    fee: Decimal = ZERO,
    trade_id: int = 0,
) -> dict[str, Any]:
    filled = execution == "TRADE"
    event = {
        "e": "ORDER_TRADE_UPDATE",
        "T": now,
        "o": {
            "s": order["symbol"],
            "c": order["clientOrderId"],
            "S": order["side"],
            "o": order["type"],
            "f": order["timeInForce"],
            "q": str(order["origQty"]),
            "p": str(order["price"]),
            "ap": str(order["avgPrice"]) if filled else "0",
            "sp": "0",
            "x": execution,
            "X": order["status"],
            "i": order["orderId"],
            "l": str(order["origQty"]) if filled else "0",
            "z": str(order["executedQty"]),
            "L": str(order["avgPrice"]) if filled else "0",
            "T": now,
            "t": trade_id,
            "b": "0",
            "a": "0",
            "m": False,
            "R": order["reduceOnly"],
            "wt": "CONTRACT_PRICE",
            "ot": order["type"],
            "ps": order["positionSide"],
            "cp": False,
            "rp": s8(realized),
            "pP": False,
            "si": 0,
            "ss": 0,
            "V": "NONE",
            "pm": "NONE",
            "gtd": 0,
        },
    }
    if filled:  # Binance sends the commission only on trades
        event["o"].update(n=s8(fee), N=engine.pool_of(order["symbol"]))  # type: ignore[attr-defined]
    return event
