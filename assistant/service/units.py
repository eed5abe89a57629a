"""The config's value types: durations ("30s", "15m"), sizes ("2GB", "500MB") and the
decimal fractions and amounts of the rules, each refused in one clear line when it is not a
finite, sensible value (`inf` and `nan` pass TOML, never this); and how a refused value is
said: in the config's words (the list a key wants, the bound it broke, the key a typo meant),
not pydantic's."""

from __future__ import annotations

import difflib
import math
import re
import typing
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any) -> float:
    """Seconds from "250ms", "30s", "15m", "2h", "1d" (or a plain number of seconds)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*", str(value))
        if not match:
            raise ValueError(f'expected a duration like "30s" or "15m", got {value!r}')
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if not math.isfinite(seconds):
        raise ValueError(f"a duration must be a finite number of seconds, got {value!r}")
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


def format_duration(seconds: float) -> str:
    """A duration as the config writes it: 604800.0 is "7d", 5400.0 is "90m"."""
    for unit, size in sorted(_UNITS.items(), key=lambda item: -item[1]):
        count = seconds / size
        if count >= 1 and count == int(count):
            return f'"{int(count)}{unit}"'
    return f'"{seconds:g}s"'


Duration = Annotated[float, BeforeValidator(parse_duration)]
_BYTES = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}


def parse_size(value: Any) -> int:
    """Bytes from "2GB", "500MB", "64kB" (decimal units) or a plain number of bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?[bB])\s*", str(value))
        if not match:
            raise ValueError(f'expected a size like "2GB" or "500MB", got {value!r}')
        size = int(float(match.group(1)) * _BYTES[match.group(2).lower()])
    if size < 0:
        raise ValueError("a size cannot be negative")
    return size


Size = Annotated[int, BeforeValidator(parse_size)]


Fraction = Annotated[Decimal, Field(ge=0, le=10, allow_inf_nan=False)]
Positive = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]


def short_of_trigger(action: str, rule: Any) -> None:
    """Refuse a deposit or reduce rule whose target is at or past its own trigger: it would
    leave the account where the rule fires again, and could never be satisfied. A rule that is
    off is not checked: it does nothing, and must not keep the service from starting."""
    if not rule.enabled:
        return
    if rule.trigger_ratio is not None and rule.target_ratio >= rule.trigger_ratio:
        raise ValueError(
            f"target_ratio ({rule.target_ratio}) must be below trigger_ratio"
            f" ({rule.trigger_ratio}): {action} aimed there would leave the account at or past"
            " its own trigger"
        )
    target = rule.target_distance
    if rule.trigger_distance is not None and target is not None and target <= rule.trigger_distance:
        raise ValueError(
            f"target_distance ({target}) must be above trigger_distance"
            f" ({rule.trigger_distance}): {action} aimed there would leave the account at or"
            " past its own trigger"
        )


# ---- how a refused value is said ----------------------------------------------------------

# What a list key holds, said when its value (or an item of it) is not of that kind.
LISTS = {
    "allowed_chat_ids": "a list of chat ids, like [123456789] (groups are negative)",
    "allowed_user_ids": "a list of user ids, like [123456789]",
    "margin_ratio": "a list of fractions, like [0.80, 0.85, 0.90]",
    "isolated_ratio": "a list of fractions, like [0.80, 0.90]",
    "distance": "a list of fractions, like [0.10, 0.06, 0.03]",
    "priority": 'a list of symbols, like ["BTCUSDT", "ETHUSDT"]',
}
_KINDS = {
    "missing": "missing: this table needs it",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_type": 'expected text in quotes, like "..."',
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "decimal_type": "expected a number",
    "decimal_parsing": "expected a number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "finite_number": "expected a finite number",
    "tuple_type": "expected a list, like [1, 2]",
    "list_type": "expected a list, like [1, 2]",
}
_BOUNDS = {
    "greater_than_equal": ("ge", "must be at least"),
    "greater_than": ("gt", "must be above"),
    "less_than_equal": ("le", "must be at most"),
    "less_than": ("lt", "must be below"),
}


def _fields(model: Any, path: list[str]) -> list[str]:
    """The keys a table at `path` may hold (none when it is not a table)."""
    for name in path:
        if typing.get_origin(model) in (dict, Mapping):  # a table of tables: its key is free
            model = typing.get_args(model)[-1]
            continue
        field = getattr(model, "model_fields", {}).get(name)
        model = None if field is None else field.annotation
    fields = getattr(model, "model_fields", {})
    return [name for name, field in fields.items() if not field.exclude]


def said(item: Any, model: Any) -> tuple[str, str]:
    """One pydantic error as (dotted key, what is wrong) in the config's own words: the
    list a key wants, the bound a value broke, the nearest known key to a typo."""
    names = [str(part) for part in item["loc"] if not isinstance(part, int)]
    index = next((part for part in item["loc"] if isinstance(part, int)), None)
    kind, context = item["type"], item.get("ctx") or {}
    key = ".".join(names)
    if kind == "extra_forbidden":
        known = _fields(model, names[:-1])
        near = difflib.get_close_matches(names[-1], known, n=1, cutoff=0.6)
        if len(names) == 1:  # a whole section
            return key, "unknown section" + (f"; did you mean [{near[0]}]?" if near else "")
        return key, "unknown key" + (f'; did you mean "{near[0]}"?' if near else "")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return key, f"expected a table: a [{key}] section with its keys"
    if kind == "literal_error":
        words = re.findall(r"'([^']*)'", context.get("expected", ""))
        listed = ", ".join(f'"{word}"' for word in words)
        return key, f"expected one of {listed}; got {item['input']!r}"
    if kind in _BOUNDS:
        bound, text = _BOUNDS[kind]
        message = f"{text} {context.get(bound)}"
    elif names and names[-1] in LISTS and kind in _KINDS and kind != "finite_number":
        return key, f"expected {LISTS[names[-1]]}"
    elif kind in _KINDS:
        message = _KINDS[kind]
    else:
        message = str(item["msg"]).removeprefix("Value error, ")
    return key, message if index is None else f"item {index + 1}: {message}"


def problems(error: ValidationError, model: Any) -> list[str]:
    """`key: what is wrong`, one line per problem (each said once)."""
    lines: list[str] = []
    for item in error.errors():
        line = ": ".join(part for part in said(item, model) if part)
        if line not in lines:
            lines.append(line)
    return lines


def _a_cent_at_least(value: Decimal) -> Decimal:
    # Transfers are in whole cents and a cap is never rounded up: below one cent it would
    # allow no deposit at all.
    if value < Decimal("0.01"):
        raise ValueError("at least 0.01: deposits are made in whole cents, never over a cap")
    return value


Cap = Annotated[Positive, AfterValidator(_a_cent_at_least)]  # a deposit cap


def parse_asset(value: Any) -> str:
    """An asset's name (USDT, USDC, BTC...), in capitals."""
    name = str(value).upper()
    if not isinstance(value, str) or not re.fullmatch(r"[A-Z0-9]{2,12}", name):
        raise ValueError(f"expected an asset name such as USDT or USDC, got {str(value)[:20]!r}")
    return name


Asset = Annotated[str, BeforeValidator(parse_asset)]
