"""Binance wire values to core values: numbers, sides, margin types, leverage brackets.

Numbers arrive as JSON numbers or decimal strings; both become `Decimal`
without passing through binary floats when the JSON is read with
`parse_float=Decimal`. Every failure is an `InputError` naming the field.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from assistant.core.model import Bracket, BracketTable, MarginType, PositionSide
from assistant.errors import InputError

log = logging.getLogger(__name__)
DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")

# Money, prices and quantities on Binance stay far inside these bounds; outside them a
# value is a typo or an attack, and the exact arithmetic would overflow or crawl.
MAX_EXPONENT = 15  # |value| < 1e15
MIN_EXPONENT = -18  # |value| >= 1e-18


def parse_decimal(value: Any, where: str) -> Decimal:
    """A finite decimal from a JSON number or a decimal string."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise InputError(f"{where}: expected a number or a decimal string, got {_show(value)}")
    try:
        if isinstance(value, float):
            # A JSON number a library already read as a binary float (ccxt does): its shortest
            # repr is the decimal that was sent, 0.004 and not 0.004000000000000000083...
            value = repr(value)
        if isinstance(value, str):
            value = value.strip()
            if not DECIMAL_TEXT.fullmatch(
                value
            ):  # Decimal() would take "1_000" and other scripts' digits
                raise InvalidOperation
        number = Decimal(value)
    except InvalidOperation:
        raise InputError(f"{where}: not a decimal number: {_show(value)}") from None
    if not number.is_finite():
        raise InputError(f"{where}: not a finite number: {_show(value)}")
    if number and not MIN_EXPONENT <= number.adjusted() < MAX_EXPONENT:
        raise InputError(f"{where}: out of range: {_show(value)}")
    return number


def parse_int(value: Any, where: str) -> int:
    number = parse_decimal(value, where)
    if number != number.to_integral_value():
        raise InputError(f"{where}: expected a whole number, got {_show(value)}")
    return int(number)


def parse_side(value: Any, where: str) -> PositionSide:
    if isinstance(value, str):
        try:
            return PositionSide(value.strip().upper())
        except ValueError:
            pass
    raise InputError(f"{where}: positionSide must be BOTH, LONG or SHORT, got {_show(value)}")


def parse_margin_type(value: Any, where: str) -> MarginType:
    """`cross`, `crossed` or `isolated` in any case (Binance uses several spellings)."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("cross", "crossed"):
            return MarginType.CROSS
        if text == "isolated":
            return MarginType.ISOLATED
    raise InputError(f"{where}: marginType must be cross or isolated, got {_show(value)}")


@dataclass(frozen=True, slots=True)
class _Tier:
    """A bracket as sent, before a missing `cum` is derived (a `Bracket` always has one)."""

    floor: Decimal
    cap: Decimal
    mmr: Decimal
    cum: Decimal | None
    initial_leverage: int
    number: int


def parse_bracket_table(rows: Any, where: str) -> BracketTable:
    """The `brackets` list of one symbol from `GET /fapi/v1/leverageBracket`."""
    if not isinstance(rows, list) or not rows:
        raise InputError(f"{where}: expected a non-empty list of brackets")
    tiers = []
    for i, row in enumerate(rows):
        here = f"{where}[{i}]"
        if not isinstance(row, Mapping):
            raise InputError(f"{here}: expected an object")
        tiers.append(
            _Tier(
                floor=parse_decimal(_field(row, "notionalFloor", here), f"{here}.notionalFloor"),
                cap=parse_decimal(_field(row, "notionalCap", here), f"{here}.notionalCap"),
                mmr=parse_decimal(
                    _field(row, "maintMarginRatio", here), f"{here}.maintMarginRatio"
                ),
                cum=None if row.get("cum") is None else parse_decimal(row["cum"], f"{here}.cum"),
                initial_leverage=parse_int(
                    row.get("initialLeverage", 1), f"{here}.initialLeverage"
                ),
                number=parse_int(row.get("bracket", i + 1), f"{here}.bracket"),
            )
        )
    tiers.sort(key=lambda t: t.floor)
    try:
        return BracketTable(tuple(_with_cum(tiers)))
    except ValueError as exc:
        raise InputError(f"{where}: {exc}") from None


def _with_cum(tiers: list[_Tier]) -> list[Bracket]:
    """A missing `cum` is derived by Binance's recursion: cum_n = floor_n × (mmr_n − mmr_n−1)
    + cum_n−1, cum_1 = 0 (a given one is checked against it by BracketTable)."""
    out: list[Bracket] = []
    for tier in tiers:
        cum = tier.cum
        if cum is None:
            cum = out[-1].cum + tier.floor * (tier.mmr - out[-1].mmr) if out else Decimal(0)
        out.append(Bracket(tier.floor, tier.cap, tier.mmr, cum, tier.initial_leverage, tier.number))
    return out


def parse_leverage_brackets(
    payload: Any, where: str = "brackets", *, strict: bool = False
) -> dict[str, BracketTable]:
    """Every form of leverage brackets: the endpoint's array, its single object (with
    `symbol`), or a mapping `{symbol: [brackets]}`.

    One symbol's malformed table (or an entry without a symbol, or a symbol sent twice) does
    not sink the others: it is left out with a logged warning, and a held symbol left out is
    computed at an assumed rate until a good table comes. `strict` raises instead (`calc`:
    the user wrote the file). A payload of the wrong shape always raises."""
    if isinstance(payload, Mapping) and "brackets" in payload and "symbol" in payload:
        payload = [payload]
    if isinstance(payload, list):
        entries = [(f"{where}[{i}]", item, None) for i, item in enumerate(payload)]
    elif isinstance(payload, Mapping):
        entries = [(where, rows, symbol) for symbol, rows in payload.items()]
    else:
        raise InputError(
            f"{where}: expected an object keyed by symbol or the leverageBracket array"
        )
    tables: dict[str, BracketTable] = {}
    twice: set[str] = set()
    for here, item, key in entries:
        try:
            symbol, table = _entry(here, item, key)
        except InputError as exc:
            if strict:
                raise
            log.warning("leverage brackets: %s; that entry is left out", exc)
            continue
        if symbol in tables or symbol in twice:
            where_twice = f"{here}.symbol" if key is None else f"{here}.{key}"
            if strict:
                raise InputError(f"{where_twice}: {symbol} appears twice")
            log.warning("leverage brackets: %s appears twice; neither is used", symbol)
            twice.add(symbol)
            tables.pop(symbol, None)  # which of the two is right is unknown
            continue
        tables[symbol] = table
    return tables


def _entry(here: str, item: Any, key: Any) -> tuple[str, BracketTable]:
    """One symbol's table: an item of the endpoint's array (`key` None), or `key: item` of
    the mapping form."""
    if key is not None:
        return _symbol(key, here), parse_bracket_table(item, f"{here}.{key}")
    if not isinstance(item, Mapping):
        raise InputError(f"{here}: expected an object with symbol and brackets")
    symbol = _symbol(_field(item, "symbol", here), f"{here}.symbol")
    return symbol, parse_bracket_table(_field(item, "brackets", here), f"{here}.brackets")


@dataclass(frozen=True, slots=True)
class Transfer:
    """One row of the spot ↔ futures transfer history (`GET /sapi/v1/asset/transfer`)."""

    tran_id: int
    amount: Decimal
    asset: str = "USDT"  # as Binance says when it says; these are the defaults when it does not
    status: str = "CONFIRMED"  # CONFIRMED | PENDING | FAILED


def parse_transfers(payload: Any, where: str = "transfers") -> list[Transfer]:
    """The `rows` of a transfer history answer (none: an empty list)."""
    if not isinstance(payload, Mapping):
        raise InputError(f"{where}: expected an object with rows, got {_show(payload)}")
    rows = payload.get("rows") or []
    if not isinstance(rows, list):
        raise InputError(f"{where}.rows: expected a list, got {_show(rows)}")
    out = []
    for i, row in enumerate(rows):
        here = f"{where}.rows[{i}]"
        if not isinstance(row, Mapping):
            raise InputError(f"{here}: expected an object")
        tran_id = _field(row, "tranId", here)
        wrong = f"{here}.tranId: expected a whole number, got {_show(tran_id)}"
        if isinstance(tran_id, bool) or not isinstance(tran_id, (int, str)):
            raise InputError(wrong)
        try:
            number = int(tran_id)
        except ValueError:
            raise InputError(wrong) from None
        amount = parse_decimal(_field(row, "amount", here), f"{here}.amount")
        asset, status = row.get("asset", "USDT"), row.get("status", "CONFIRMED")
        out.append(Transfer(number, amount, str(asset), str(status)))
    return out


def _symbol(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: expected a symbol name, got {_show(value)}")
    return value.strip().upper()


def _field(row: Mapping[str, Any], name: str, where: str) -> Any:
    if name not in row:
        raise InputError(f"{where}: missing {name}")
    return row[name]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_exchange_info(
    info: Mapping[str, Any],
) -> tuple[int | None, dict[str, dict[str, Decimal]]]:
    """exchangeInfo: the futures weight limit per minute (None if not given), and each
    symbol's tick and step sizes, minimum quantity and notional, those it gives."""
    weight = None
    for limit in info.get("rateLimits", []):
        if limit.get("rateLimitType") == "REQUEST_WEIGHT" and limit.get("interval") == "MINUTE":
            weight = int(limit["limit"])
    filters: dict[str, dict[str, Decimal]] = {}
    for symbol in info.get("symbols", []):
        found: dict[str, Decimal] = {}
        for f in symbol.get("filters", []):
            if f.get("filterType") == "PRICE_FILTER":
                found["tick_size"] = parse_decimal(f["tickSize"], "tickSize")
            elif f.get("filterType") == "LOT_SIZE":
                found["step_size"] = parse_decimal(f["stepSize"], "stepSize")
                found["min_qty"] = parse_decimal(f["minQty"], "minQty")
            elif f.get("filterType") == "MIN_NOTIONAL":
                found["min_notional"] = parse_decimal(f["notional"], "notional")
        filters[str(symbol["symbol"])] = found
    return weight, filters
