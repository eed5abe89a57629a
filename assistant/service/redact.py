"""A logging filter that removes secrets from every record, exceptions included.

The HTTP client under python-telegram-bot logs each request's URL, which carries the bot
token, and PTB's InvalidToken message quotes the token itself; ccxt errors can echo a key;
the websocket client logs the user stream's URL, whose listenKey lets anyone read the account's
events (it changes, so it is matched by shape, not by value). This filter sits on the process's
log handlers, so nothing written there can carry them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import quote

MASK = "<redacted>"
LISTEN_KEY = re.compile(r"(listenKey[\"']?\s*[=:]\s*[\"']?)[A-Za-z0-9_-]{16,}")


class Redact(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        found = {s for s in secrets if len(s) >= 8}
        found |= {quote(s, safe="") for s in found}
        self.secrets = sorted(found, key=len, reverse=True)

    def clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return LISTEN_KEY.sub(rf"\g<1>{MASK}", text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.clean(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self.clean(record.stack_info)
        return True


def install(secrets: Iterable[str]) -> Redact:
    """On every handler of the root logger (call after logging is configured)."""
    redact = Redact(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)
    return redact
