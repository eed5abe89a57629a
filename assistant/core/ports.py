"""The ports: what the pure core asks of the shell, as Protocols and plain data.

- `Clock`: the one source of time. Every decision reads `now_ms()` from the clock it was
  given, and every wait goes through `sleep`, so a test can step time instead of waiting.
- The chat port's plain data: what a chat handler answers (`Reply`, text in Telegram's HTML
  with every dynamic value escaped, buttons, a picture), who asked (`Who`), and the commands
  it knows. Telegram and the console both speak it, so each command is written once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


class Clock(Protocol):
    """Wall time in epoch milliseconds, and a way to wait on it."""

    def now_ms(self) -> int: ...

    async def sleep(self, seconds: float) -> None: ...


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


class ChatHandler(Protocol):
    """What answers a chat: the commands it knows, a message, a button press, where a
    question with buttons went (so it can be edited once answered), and the attempts the
    chat's own gate turned away (strangers: recorded, never answered)."""

    @property
    def commands(self) -> Sequence[Command]: ...

    async def handle(self, text: str, who: Who) -> list[Reply]: ...

    async def press(self, data: str, who: Who) -> Reply: ...

    def sent(self, data: str, chat_id: int, message_id: int) -> None: ...

    def refused(self, kind: str, text: str, who: Who, why: str) -> None: ...


class ChatPort(Protocol):
    """A way people talk to the service (Telegram, the console): it serves a handler until
    cancelled. What the service says to them goes the other way, through the notifier."""

    async def serve(self, handler: ChatHandler) -> None: ...
