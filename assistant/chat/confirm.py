"""Confirmations: a question with Confirm and Cancel buttons that works once and expires.

Used for every money-moving chat command, for changes that let money move (`/mode auto`,
`/resume`), and for each action the rules propose in `confirm` mode. A token is random,
so a button cannot be guessed; pressing it twice, or after it expired, does nothing.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from assistant.core.ports import Button, Clock, Reply, Who
from assistant.telegram.render import esc

log = logging.getLogger(__name__)
Run = Callable[[Who], Awaitable[str]]  # carries out what was confirmed; returns the outcome
Expire = Callable[[str], Awaitable[None]]  # called with "cancelled" or "expired"
Edit = Callable[[int, int, str], Awaitable[None]]


@dataclass
class Pending:
    token: str
    question: str  # HTML
    run: Run
    on_cancel: Expire | None
    expires_at: int  # epoch ms on the clock
    messages: list[tuple[int, int]] = field(default_factory=list)  # (chat, message) asking
    handle: asyncio.Task[None] | None = None  # the expiry


class Confirmations:
    def __init__(self, timeout: float, clock: Clock, edit: Edit | None = None) -> None:
        self.timeout = timeout
        self.clock = clock
        self.edit = edit  # Telegram's: a closed question loses its buttons everywhere
        self.open: dict[str, Pending] = {}

    def ask(self, question: str, run: Run, on_cancel: Expire | None = None) -> Reply:
        token = secrets.token_urlsafe(9)
        expires_at = self.clock.now_ms() + int(self.timeout * 1000)
        pending = Pending(token, question, run, on_cancel, expires_at)
        pending.handle = asyncio.ensure_future(self._expire_later(token))
        self.open[token] = pending
        seconds = int(self.timeout)
        return Reply(
            f"{question}\n<i>Confirm within {seconds} s; the buttons work once.</i>",
            (Button("Confirm", f"c:{token}"), Button("Cancel", f"x:{token}")),
        )

    def sent(self, data: str, chat_id: int, message_id: int) -> None:
        """Telegram's id of a message asking (so it can be edited when the question closes)."""
        pending = self.open.get(data[2:])
        if pending is not None:
            pending.messages.append((chat_id, message_id))

    def discard(self, reply: Reply) -> None:
        """Close a question that reached nobody, without its cancel action."""
        if reply.buttons:
            pending = self.open.pop(reply.buttons[0].data[2:], None)
            if pending is not None and pending.handle is not None:
                pending.handle.cancel()

    async def press(self, data: str, who: Who) -> Reply:
        kind, _, token = data.partition(":")
        if kind not in ("c", "x") or token not in self.open:
            return Reply("This button no longer works (already used, or expired).", edit=False)
        pending = self.open.pop(token)
        if pending.handle is not None:
            pending.handle.cancel()
        if self.clock.now_ms() > pending.expires_at:
            await self._closed(pending, "expired")
            text = f"{pending.question}\n<b>Expired</b>: nothing was done."
        elif kind == "x":
            await self._closed(pending, "cancelled")
            text = f"{pending.question}\n<b>Cancelled</b> by {esc(who.name or who.user_id)}."
        else:
            try:
                text = f"{pending.question}\n{await pending.run(who)}"
            except Exception:  # the question is closed either way; its decision must settle
                log.exception("confirmation %s: carrying it out failed", token[:4])
                await self._closed(pending, "failed")
                text = f"{pending.question}\n<b>Failed</b>: nothing was done (see the log)."
        await self._edit_others(pending, who, text)
        return Reply(text)

    async def _expire_later(self, token: str) -> None:
        await self.clock.sleep(self.timeout)
        pending = self.open.pop(token, None)
        if pending is not None:
            await self._closed(pending, "expired")
            await self._edit_others(
                pending, None, f"{pending.question}\n<b>Expired</b>: nothing was done."
            )

    async def _closed(self, pending: Pending, why: str) -> None:
        log.info("confirmation %s: %s", pending.token[:4], why)
        if pending.on_cancel is not None:
            await pending.on_cancel(why)

    async def _edit_others(self, pending: Pending, who: Who | None, text: str) -> None:
        if self.edit is None:
            return
        for chat_id, message_id in pending.messages:
            if who is None or chat_id != who.chat_id:
                await self.edit(chat_id, message_id, text)

    def close_all(self) -> None:
        for pending in self.open.values():
            if pending.handle is not None:
                pending.handle.cancel()
        self.open.clear()
