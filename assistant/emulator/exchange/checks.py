"""A scenario's shape, checked before it is read: each mistake is one line naming the key, what
was found and what was expected (docs/emulator.md, "Scenarios", is the format). Keys this does
not know are left alone at the top level and inside symbols and positions (rows pasted from
Binance carry more), as the format says; inside `settings` they are errors."""

from __future__ import annotations

import difflib
from dataclasses import fields
from decimal import Decimal, InvalidOperation
from typing import Any

from assistant.errors import InputError

SIDES = ("BOTH", "LONG", "SHORT")
FILTERS = ("tickSize", "stepSize", "minQty", "minNotional")
BRACKET_NUMBERS = ("notionalFloor", "notionalCap", "maintMarginRatio")
POSITIVE = ("mark_interval", "speed")


def _bad(key: str, problem: str) -> InputError:
    return InputError(f"scenario {key}: {problem}" if key else f"scenario: {problem}")


def _what(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."


def _object(value: Any, key: str, expected: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(key, f"expected {expected}, got {_what(value)}")
    return value


def _list(value: Any, key: str, expected: str) -> list[Any]:
    if not isinstance(value, list):
        raise _bad(key, f"expected {expected}, got {_what(value)}")
    return value


LIMIT = Decimal("1e15")  # no Binance price, amount or balance comes near: a typo, not a market
LIMIT_LOW = Decimal("1e-12")


def number(
    value: Any,
    key: str,
    *,
    low: Decimal | None = None,
    above: bool = False,
    limit: Decimal = LIMIT,
) -> Decimal:
    """A JSON number or a decimal string, finite (and at least / above `low`)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _bad(key, f"not a number: {_what(value)} (give a number or a decimal string)")
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise _bad(key, f"not a number: {_what(value)}") from None
    if not result.is_finite():
        raise _bad(key, f"not a finite number: {_what(value)}")
    if result and not LIMIT_LOW <= abs(result) <= limit:
        raise _bad(key, f"out of range: {_what(value)} (within {LIMIT_LOW}..{limit:.0e})")
    if low is not None and (result <= low if above else result < low):
        raise _bad(key, f"must be {'above' if above else 'at least'} {low}, got {_what(value)}")
    return result


def _whole(value: Any, key: str, low: int) -> int:
    """A whole number, also as a string of digits (Binance's rows send leverage as "20")."""
    digits = isinstance(value, str) and value.strip().isdigit()
    if not digits and (isinstance(value, bool) or not isinstance(value, int)):
        raise _bad(key, f"expected a whole number of at least {low}, got {_what(value)}")
    if int(value) < low:
        raise _bad(key, f"expected a whole number of at least {low}, got {_what(value)}")
    return int(value)


def check_scenario(raw: Any, settings_type: type) -> None:
    """Raise InputError on the first thing in `raw` that is not a scenario."""
    top = _object(raw, "", 'a JSON object with at least "symbols"')
    if "symbols" not in top:
        near = difflib.get_close_matches("symbols", [str(k) for k in top], n=1, cutoff=0.6)
        hint = f' (there is "{near[0]}": did you mean "symbols"?)' if near else ""
        raise _bad(
            "symbols", f'missing; expected an object like {{"BTCUSDT": {{"mark": "60000"}}}}{hint}'
        )
    symbols = _object(top["symbols"], "symbols", "an object of symbols by name, each with a mark")
    if not symbols:
        raise _bad("symbols", "empty; list at least one symbol with its mark")
    names = {str(name).upper() for name in symbols}
    for name, spec in symbols.items():
        _symbol(str(name), spec)
    for key in ("api_key", "api_secret"):
        if key in top and not isinstance(top[key], str):
            raise _bad(key, f"expected a string, got {_what(top[key])}")
    mode = top.get("position_mode", "oneway")
    if mode not in ("oneway", "hedge"):
        raise _bad("position_mode", f"oneway or hedge, got {_what(mode)}")
    for asset, amount in _object(top.get("spot", {}), "spot", "an object: asset -> amount").items():
        number(amount, f"spot.{asset}")
    futures = _object(top.get("futures", {}), "futures", 'an object like {"USDT": "1000"}')
    for asset, amount in futures.items():  # which may be negative: the account's mode says
        number(amount, f"futures.{asset}")
    for i, pos in enumerate(_list(top.get("positions", []), "positions", "a list of positions")):
        _position(i, pos, names)
    for i, point in enumerate(_list(top.get("path", []), "path", "a list of points")):
        _point(i, point, names)
    _settings(top.get("settings", {}), settings_type)


def _symbol(name: str, spec: Any) -> None:
    key = f"symbols.{name}"
    spec = _object(spec, key, 'an object with a mark, like {"mark": "60000"}')
    if "mark" not in spec:
        raise _bad(key, 'needs a mark (its starting mark price, like "60000")')
    number(spec["mark"], f"{key}.mark", low=Decimal(0), above=True)
    filters = _object(spec.get("filters", {}), f"{key}.filters", "an object of filters")
    for name_ in FILTERS:
        if name_ in filters:
            number(filters[name_], f"{key}.filters.{name_}", low=Decimal(0), above=True)
    rows = _list(spec.get("brackets", []), f"{key}.brackets", "a list of bracket rows")
    for i, row in enumerate(rows):
        where = f"{key}.brackets[{i}]"
        row = _object(row, where, "a bracket row (notionalFloor, notionalCap, maintMarginRatio)")
        for field in BRACKET_NUMBERS:
            if field not in row:
                raise _bad(where, f"needs {field} (rows as GET /fapi/v1/leverageBracket gives)")
            # a top tier's cap may be Binance's "no limit" (2^63 − 1)
            number(row[field], f"{where}.{field}", low=Decimal(0), limit=Decimal("1e19"))
        if "cum" in row:
            number(row["cum"], f"{where}.cum", low=Decimal(0))
        if "initialLeverage" in row:
            _whole(row["initialLeverage"], f"{where}.initialLeverage", 1)
    if "hide_brackets" in spec and not isinstance(spec["hide_brackets"], bool):
        raise _bad(
            f"{key}.hide_brackets", f"expected true or false, got {_what(spec['hide_brackets'])}"
        )


def _position(i: int, pos: Any, names: set[str]) -> None:
    key = f"positions[{i}]"
    pos = _object(pos, key, "an object with symbol, positionAmt and entryPrice")
    symbol = str(pos.get("symbol", "")).upper()
    if symbol not in names:
        raise _bad(key, f"unknown or missing symbol {_what(pos.get('symbol'))} (not in symbols)")
    for field in ("positionAmt", "entryPrice"):
        if field not in pos:
            raise _bad(key, f"needs {field}")
    number(pos["positionAmt"], f"{key}.positionAmt")
    number(pos["entryPrice"], f"{key}.entryPrice", low=Decimal(0), above=True)
    side = pos.get("positionSide", "BOTH")
    if not isinstance(side, str) or side.upper() not in SIDES:
        raise _bad(f"{key}.positionSide", f"expected BOTH, LONG or SHORT, got {_what(side)}")
    if "leverage" in pos:
        _whole(pos["leverage"], f"{key}.leverage", 1)
    if "isolatedWallet" in pos:
        number(pos["isolatedWallet"], f"{key}.isolatedWallet", low=Decimal(0))


def _point(i: int, point: Any, names: set[str]) -> None:
    key = f"path[{i}]"
    point = _object(point, key, 'an object like {"t": 10, "BTCUSDT": "59000"}')
    if "t" not in point:
        raise _bad(key, "needs t (scenario seconds)")
    number(point["t"], f"{key}.t")
    for symbol, price in point.items():
        if symbol == "t":
            continue
        if str(symbol).upper() not in names:
            raise _bad(key, f"unknown symbol {symbol} (not in symbols)")
        number(price, f"{key}.{symbol}", low=Decimal(0), above=True)


def _settings(given: Any, settings_type: type) -> None:
    given = _object(given, "settings", "an object of settings")
    defaults = {f.name: f.default for f in fields(settings_type)}
    for name, value in given.items():
        if name not in defaults:
            near = difflib.get_close_matches(str(name), list(defaults), n=1, cutoff=0.6)
            hint = f"; did you mean {near[0]}?" if near else ""
            raise _bad("settings", f"unknown key {name}{hint}")
        default, key = defaults[name], f"settings.{name}"
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise _bad(key, f"expected true or false, got {_what(value)}")
        elif isinstance(default, int):
            whole = isinstance(value, int) or (isinstance(value, str) and value.isdigit())
            if isinstance(value, bool) or not whole:
                raise _bad(key, f"expected a whole number, got {_what(value)}")
        else:  # seconds, rates, fees: decimal numbers; two of them must be above zero
            number(value, key, low=Decimal(0) if name in POSITIVE else None, above=True)
