"""Reading Binance's answers: the one place a failed call's error is classified (by Binance's
`code` and the HTTP status), and where a body is checked before it is read, so that a body not
shaped as Binance's is a retryable `BadResponse`, never a crash."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import ccxt.async_support as ccxt

from assistant.errors import (
    BadResponse,
    Banned,
    ClockSkew,
    ExchangeError,
    InputError,
    OutcomeUnknown,
    RateLimited,
    Rejected,
    Retryable,
)


def classify(
    exc: BaseException, status: int | None, body: object, retry_after: float | None
) -> ExchangeError:
    """Our error for a failed call: by Binance's code and the HTTP status."""
    code = body.get("code") if isinstance(body, dict) else None
    if not isinstance(code, int):
        match = re.search(r'"code"\s*:\s*(-?\d+)', str(exc))
        code = int(match.group(1)) if match else None
    message = body.get("msg") if isinstance(body, dict) else None
    shown = "" if code is None else str(code)
    text = f"Binance {status or '-'} {shown} {message or type(exc).__name__}"
    wait = retry_after if retry_after is not None else 60.0
    if status == 418:
        return Banned(text, retry_after=wait, code=code, status=status)
    if status == 429 or code == -1003:
        return RateLimited(text, retry_after=wait, code=code, status=status)
    if code == -1021:
        return ClockSkew(text, code=code, status=status)
    if status is None or status >= 500 or status == 408 or isinstance(exc, ccxt.NetworkError):
        return OutcomeUnknown(text, code=code, status=status)
    if code in (-1000, -1001, -1006, -1007, -1008):
        return Retryable(text, code=code, status=status)
    return Rejected(text, code=code, status=status)


@contextlib.contextmanager
def reading(what: str) -> Iterator[None]:
    """A body not shaped as Binance's becomes BadResponse (retryable), never a crash."""
    try:
        yield
    except (
        InputError,
        KeyError,
        TypeError,
        ValueError,
        AttributeError,
        IndexError,
        RecursionError,
    ) as exc:
        detail = f"{what}: an answer we cannot read ({type(exc).__name__}: {exc})"
        raise BadResponse(detail[:300]) from None


def json_object(value: object, what: str) -> dict[str, Any]:
    """A JSON object from an answer (ccxt's values are untyped). Anything else is a TypeError,
    as indexing it would have been: `reading` turns it into BadResponse."""
    if not isinstance(value, dict):
        raise TypeError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value
