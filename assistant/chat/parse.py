"""Reading a chat command's arguments: numbers, durations, and the polite error for bad ones."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from assistant.core import format as fmt
from assistant.service.units import parse_duration
from assistant.telegram.render import code, esc

NUMBER = re.compile(r"^[+-]?\d{1,12}(\.\d{1,12})?$")


class BadInput(Exception):
    """Said back to the person as it is (already HTML-safe)."""


def number(text: str, what: str) -> Decimal:
    text = text.strip().rstrip("%")
    if not NUMBER.match(text):
        raise BadInput(f"{esc(what)}: expected a number, got {code(text[:20])}")
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # pragma: no cover - the pattern rules it out
        raise BadInput(f"{esc(what)}: not a number") from exc


def duration(text: str, what: str, most: float) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError:
        raise BadInput(f"{esc(what)}: expected a duration like 30m or 24h") from None
    if seconds > most:
        raise BadInput(f"{esc(what)}: at most {int(most // 3600)}h")
    return seconds


def clock(at_ms: int) -> str:
    return fmt.when(at_ms)
