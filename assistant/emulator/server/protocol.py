"""Binance's request rules: HMAC signatures, timestamps, API keys, request weight per client
address with 429 and 418 bans, and injected faults."""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from assistant.emulator.exchange.engine import Rejected

MAX_RECV_WINDOW = 60_000
DEFAULT_RECV_WINDOW = 5_000
STRIKES_BEFORE_BAN = 3  # requests refused with 429 in one window before the address is banned


def split_params(query: str, body: str) -> tuple[dict[str, str], str, str | None]:
    """(params, the signed payload without `signature`, the signature sent).

    Binance signs the query string concatenated with the body, each exactly as sent.
    """
    params: dict[str, str] = {}
    signature = None
    payload = []
    for part in (query, body):
        kept = []
        for item in part.split("&"):
            if item.startswith("signature="):
                signature = item[len("signature=") :]
            elif item:
                kept.append(item)
        payload.append("&".join(kept))
        params.update(parse_qsl(part, keep_blank_values=True))
    params.pop("signature", None)
    return params, "".join(payload), signature


def check_signed(
    params: dict[str, str], payload: str, signature: str | None, secret: str, now_ms: int
) -> None:
    if "timestamp" not in params:
        raise Rejected(
            -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
        )
    try:
        timestamp = int(params["timestamp"])
        window = int(params.get("recvWindow", DEFAULT_RECV_WINDOW))
    except ValueError:
        raise Rejected(
            -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
        ) from None
    if window > MAX_RECV_WINDOW:
        raise Rejected(-1131, "recvWindow must be less than 60000")
    if timestamp >= now_ms + 1000 or now_ms - timestamp > window:
        raise Rejected(-1021, "Timestamp for this request is outside of the recvWindow.")
    if signature is None:
        raise Rejected(
            -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."
        )
    expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.lower()):
        raise Rejected(-1022, "Signature for this request is not valid.")


@dataclass
class _Budget:
    window: int = -1
    used: int = 0
    strikes: int = 0


@dataclass
class RateLimiter:
    """Weight per client address per minute, as Binance counts it per IP."""

    futures_limit: int
    spot_limit: int
    ban_seconds: float
    budgets: dict[tuple[str, str], _Budget] = field(default_factory=dict)
    banned_until: dict[str, float] = field(default_factory=dict)
    orders: dict[str, list[float]] = field(default_factory=dict)

    def admit(
        self, address: str, family: str, weight: int, now: float
    ) -> tuple[int, dict[str, str]]:
        """Count the request; return the used weight and headers, or raise a 429/418."""
        until = self.banned_until.get(address, 0.0)
        if now < until:
            retry = math.ceil(until - now)
            raise Limited(
                418,
                -1003,
                f"Way too many requests; IP({address}) banned until {int(until * 1000)}. "
                "Please use the websocket for live updates to avoid bans.",
                retry,
            )
        budget = self.budgets.setdefault((address, family), _Budget())
        window = int(now // 60)
        if budget.window != window:
            budget.window, budget.used, budget.strikes = window, 0, 0
        limit = self.futures_limit if family == "futures" else self.spot_limit
        retry = math.ceil((window + 1) * 60 - now)
        if budget.used + weight > limit:
            budget.strikes += 1
            if budget.strikes > STRIKES_BEFORE_BAN:
                self.banned_until[address] = now + self.ban_seconds
                raise Limited(
                    418,
                    -1003,
                    f"Way too many requests; IP({address}) banned until "
                    f"{int((now + self.ban_seconds) * 1000)}.",
                    math.ceil(self.ban_seconds),
                )
            raise Limited(
                429,
                -1003,
                f"Too many requests; current limit of IP({address}) request weight "
                f"per minute is {limit}. Please use WebSocket Streams for live updates to avoid"
                " polling the API.",
                retry,
            )
        budget.used += weight
        return budget.used, {
            "X-MBX-USED-WEIGHT-1M": str(budget.used),
            "X-MBX-USED-WEIGHT": str(budget.used),
        }

    def count_order(self, address: str, now: float) -> dict[str, str]:
        times = [t for t in self.orders.get(address, []) if now - t < 60] + [now]
        self.orders[address] = times
        ten = sum(1 for t in times if now - t < 10)
        return {"X-MBX-ORDER-COUNT-10S": str(ten), "X-MBX-ORDER-COUNT-1M": str(len(times))}


class Limited(Rejected):
    def __init__(self, status: int, code: int, msg: str, retry_after: int) -> None:
        super().__init__(code, msg, status)
        self.retry_after = retry_after


@dataclass
class Fault:
    path: str
    method: str | None
    status: int
    code: int | None
    msg: str
    retry_after: int | None
    delay: float
    execute: bool  # carried out first, then answered with the fault
    late: bool  # held `delay` seconds, then carried out whether or not the client still waits
    count: int

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Fault:
        execute = raw.get("execute", False)
        if not (isinstance(execute, bool) or execute == "late"):
            raise ValueError(f'execute: true, false or "late", not {execute!r}')
        return cls(
            path=str(raw["path"]),
            method=(str(raw["method"]).upper() if raw.get("method") else None),
            status=int(raw.get("status", 503)),
            code=None if raw.get("code") is None else int(raw["code"]),
            msg=str(raw.get("msg", "Service Unavailable.")),
            retry_after=None if raw.get("retry_after") is None else int(raw["retry_after"]),
            delay=float(raw.get("delay", 0)),
            execute=execute is True,
            late=execute == "late",
            count=int(raw.get("count", 1)),
        )

    def matches(self, method: str, path: str) -> bool:
        return (
            self.count > 0 and self.path == path and (self.method is None or self.method == method)
        )
