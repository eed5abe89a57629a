"""What a chat handler answers: text (Telegram HTML), buttons, a picture. Shared by the
Telegram bot and the console chat, so each command is written once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Button:
    text: str
    data: str  # callback data, at most 64 bytes


@dataclass(frozen=True, slots=True)
class Reply:
    text: str  # Telegram HTML: every dynamic value already escaped
    buttons: tuple[Button, ...] = ()
    photo: bytes | None = None  # a PNG; `text` becomes its caption
    edit: bool = True  # an answer to a button: replace the question (False: a short notice)


@dataclass(frozen=True, slots=True)
class Who:
    chat_id: int
    user_id: int
    name: str = ""


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    usage: str
    help: str


Handle = Callable[[str, Who], Awaitable[list[Reply]]]
Press = Callable[[str, Who], Awaitable[Reply]]
