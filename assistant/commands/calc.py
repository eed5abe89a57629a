"""`assistant calc`: an account as JSON in, its independent margin health as JSON out."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import ROUND_DOWN, Decimal, localcontext
from typing import Any

from assistant.binance.wire import (
    parse_decimal,
    parse_int,
    parse_leverage_brackets,
    parse_margin_type,
    parse_side,
)
from assistant.core.margin.book import MarginBook
from assistant.core.margin.health import AccountHealth, book_health
from assistant.core.margin.liquidation import uniform_distance
from assistant.core.model import ZERO, Account, MarginType, Position
from assistant.errors import InputError

QUANTUM = Decimal("0.00000001")  # Binance's API prints amounts truncated to 8 decimals


def read_json(text: str) -> Any:
    """JSON with every non-integer number as an exact Decimal; NaN and Infinity refused."""

    def refuse(name: str) -> Any:
        raise InputError(f"not a number: {name}")

    try:
        return json.loads(text, parse_float=Decimal, parse_constant=refuse)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except (ValueError, ArithmeticError) as exc:  # a number Python cannot hold
        raise InputError(f"not valid JSON: a number out of range ({type(exc).__name__})") from None
    except RecursionError:
        raise InputError("not valid JSON: nested too deeply") from None


def load_account(data: Any) -> Account:
    if not isinstance(data, Mapping):
        raise InputError("expected a JSON object with wallet_balance, positions and brackets")
    if "wallet_balance" not in data:
        raise InputError("wallet_balance: missing")
    wallet = parse_decimal(data["wallet_balance"], "wallet_balance")
    rows = data.get("positions", [])
    if not isinstance(rows, list):
        raise InputError("positions: expected a list")
    brackets = parse_leverage_brackets(data.get("brackets", {}), strict=True)
    positions: list[Position] = []
    marks: dict[str, Decimal] = {}
    for i, row in enumerate(rows):
        position, mark = _position(row, f"positions[{i}]")
        if marks.setdefault(position.symbol, mark) != mark:
            raise InputError(
                f"positions[{i}].markPrice: differs from another leg of {position.symbol}"
            )
        if position.symbol not in brackets:
            raise InputError(f"brackets: no brackets for {position.symbol}")
        positions.append(position)
    account = Account(wallet, tuple(positions), marks, brackets)
    try:
        MarginBook.build(account)
    except ValueError as exc:
        raise InputError(f"positions: {exc}") from None
    return account


def _position(row: Any, where: str) -> tuple[Position, Decimal]:
    if not isinstance(row, Mapping):
        raise InputError(f"{where}: expected an object")
    for name in ("symbol", "positionAmt", "entryPrice", "markPrice"):
        if name not in row:
            raise InputError(f"{where}: missing {name}")
    symbol = row["symbol"]
    if not isinstance(symbol, str) or not symbol.strip():
        raise InputError(f"{where}.symbol: expected a symbol name")
    mark = parse_decimal(row["markPrice"], f"{where}.markPrice")
    if mark <= ZERO:
        raise InputError(f"{where}.markPrice: must be positive")
    leverage = row.get("leverage")
    margin_type = parse_margin_type(row.get("marginType", "cross"), f"{where}.marginType")
    try:
        position = Position(
            symbol=symbol.strip().upper(),
            side=parse_side(row.get("positionSide", "BOTH"), f"{where}.positionSide"),
            amount=parse_decimal(row["positionAmt"], f"{where}.positionAmt"),
            entry_price=parse_decimal(row["entryPrice"], f"{where}.entryPrice"),
            margin_type=margin_type,
            isolated_wallet=(
                parse_decimal(row.get("isolatedWallet", 0), f"{where}.isolatedWallet")
                if margin_type is MarginType.ISOLATED
                else ZERO
            ),
            leverage=None if leverage is None else parse_int(leverage, f"{where}.leverage"),
        )
    except ValueError as exc:
        raise InputError(f"{where}: {exc}") from None
    return position, mark


def fixed(value: Decimal | None) -> str | None:
    """Fixed-point, 8 decimals, truncated toward zero like Binance; never an exponent."""
    if value is None:
        return None
    with localcontext(prec=60):  # quantizing a large value needs more than 28 digits
        text = format(value.quantize(QUANTUM, rounding=ROUND_DOWN), "f")
    return "0.00000000" if text == "-0.00000000" else text


def render(health: AccountHealth, down: Decimal | None, up: Decimal | None) -> dict[str, Any]:
    return {
        "margin_balance": fixed(health.margin_balance),
        "unrealized_pnl": fixed(health.unrealized_pnl),
        "maintenance_margin": fixed(health.maintenance_margin),
        "initial_margin": fixed(health.initial_margin),
        "margin_ratio": fixed(health.margin_ratio),
        "available_balance": fixed(health.available_balance),
        "distance_to_liquidation": {"down": fixed(down), "up": fixed(up)},
        "positions": [
            {
                "symbol": p.position.symbol,
                "positionSide": p.position.side.value,
                "notional": fixed(p.notional),
                "unrealized_pnl": fixed(p.unrealized_pnl),
                "initial_margin": fixed(p.initial_margin),
                "maintenance_margin": fixed(p.maintenance_margin),
                "margin_ratio": fixed(p.margin_ratio),
                "liquidation_price": fixed(p.liquidation_price),
            }
            for p in health.positions
        ],
    }


def calc(text: str) -> dict[str, Any]:
    """The whole command minus its I/O: JSON text in, the output object back."""
    account = load_account(read_json(text))
    try:
        book = MarginBook.build(account)
        down, up = uniform_distance(book)
        return render(book_health(book), down, up)
    except ArithmeticError as exc:  # decimal overflow on absurd (but in-range) combinations
        raise InputError(f"numbers too large to compute exactly ({type(exc).__name__})") from None
