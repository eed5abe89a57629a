"""The config's value types: durations ("30s", "15m"), sizes ("2GB", "500MB") and the
decimal fractions and amounts of the rules, each refused in one clear line when it is not a
finite, sensible value (`inf` and `nan` pass TOML, never this)."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

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
