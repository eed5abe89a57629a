"""Pure text helpers for chat messages: HTML escaping, plain-text conversion, splitting."""

from __future__ import annotations

import html
import re

from assistant.core.actions import SendAlert

LIMIT = 4096  # Telegram's limit on a message's text, in characters
CAPTION_LIMIT = 1024
ICONS = {"critical": "🔴", "warning": "🟠", "info": "🔵"}


def esc(value: object) -> str:
    """Any dynamic value, safe inside Telegram HTML."""
    return html.escape(str(value), quote=False)


def b(value: object) -> str:
    return f"<b>{esc(value)}</b>"


def code(value: object) -> str:
    return f"<code>{esc(value)}</code>"


def plain(text: str) -> str:
    """Telegram HTML as terminal text."""
    return html.unescape(re.sub(r"</?(b|i|u|s|code|pre)>", "", text))


def split(text: str, limit: int = LIMIT) -> list[str]:
    """The text in pieces of at most `limit` characters, cut at line ends where possible,
    never inside an HTML tag or entity."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        if cut <= 0:
            cut = limit
            opened = max(text.rfind("<", 0, cut), text.rfind("&", 0, cut))
            closed = max(text.rfind(">", 0, cut), text.rfind(";", 0, cut))
            if opened > closed:
                cut = opened
        pieces.append(text[:cut])
        text = text[cut:].lstrip("\n")
    if text or not pieces:
        pieces.append(text)
    return _balanced(pieces)


def _balanced(pieces: list[str]) -> list[str]:
    """Each piece closes the tags it opened and reopens the ones carried over."""
    out: list[str] = []
    carried: list[str] = []
    for piece in pieces:
        body = "".join(f"<{t}>" for t in carried) + piece
        stack: list[str] = []
        for closing, tag in re.findall(r"<(/?)(b|i|u|s|code|pre)>", body):
            if closing and stack and stack[-1] == tag:
                stack.pop()
            elif not closing:
                stack.append(tag)
        out.append(body + "".join(f"</{t}>" for t in reversed(stack)))
        carried = stack
    return out


def alert_html(alert: SendAlert) -> str:
    """An alert as a Telegram message: icon, severity, key, then the text."""
    icon = ICONS.get(alert.severity, "•")
    return f"{icon} <b>{esc(alert.severity.upper())}</b> {esc(alert.key)}\n{esc(alert.text)}"
