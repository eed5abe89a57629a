"""Confirmations: a question with Confirm and Cancel buttons that works once and expires.

Used for every money-moving chat command, for changes that let money move (`/mode auto`,
`/resume`), and for each action the rules propose in `confirm` mode. A token is random,
so a button cannot be guessed; pressing it twice, or after it expired, does nothing.

Each token belongs to the one chat it was sent to: pressed anywhere else it does nothing. A
person's own question (a manual command) can be answered only by that person; the rules'
proposal gets a token per chat, which anyone allowed in that chat may answer, and the first
answer, in any chat, closes the question everywhere (the other chats' copies are edited).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from assistant.core.ports import Button, Clock, Reply, Who
from assistant.telegram.render import esc

log = logging.getLogger(__name__)
Run = Callable[[Who], Awaitable[str]]  # carries out what was confirmed; returns the outcome
Expire = Callable[[str], Awaitable[None]]  # called with "cancelled", "expired" or "failed"
Edit = Callable[[int, int, str], Awaitable[None]]
Tell = Callable[[int, str], None]  # a chat that cannot edit (the console): say how it ended
GONE = "This button no longer works (already used, or expired)."
REMEMBERED = 256  # closed questions kept, to close a copy delivered after the answer


@dataclass(eq=False)
class Question:
    text: str  # HTML
    run: Run
    on_cancel: Expire | None
    expires_at: int  # epoch ms on the clock
    asker: int | None  # only this person may answer (a manual command); None: anyone allowed
    tokens: dict[str, int] = field(default_factory=dict)  # token -> the chat it was sent to
    messages: list[tuple[int, int]] = field(default_factory=list)  # (chat, message) asking
    handle: asyncio.Task[None] | None = None  # the expiry


class Confirmations:
    def __init__(
        self, timeout: float, clock: Clock, edit: Edit | None = None, tell: Tell | None = None
    ) -> None:
        self.timeout = timeout
        self.clock = clock
        self.edit = edit  # Telegram's: a closed question loses its buttons everywhere
        self.tell = tell  # the console's: a closed question is said again, with its end
        self.open: dict[str, Question] = {}  # token -> its question
        self.closed: OrderedDict[str, str] = OrderedDict()  # token -> how its question ended
        self._edits: set[asyncio.Task[None]] = set()

    # ---- asking ------------------------------------------------------------------------------

    def ask(self, text: str, run: Run, who: Who, on_cancel: Expire | None = None) -> Reply:
        """A person's own question (a manual command): its buttons work in that chat, for
        that person only."""
        question = self._question(text, run, on_cancel, asker=who.user_id)
        return self.reply_for(question, who.chat_id)

    def propose(self, text: str, run: Run, on_cancel: Expire | None = None) -> Question:
        """A question for several chats (the rules' proposal): `reply_for(question, chat)`
        gives each chat its own token, which anyone allowed in that chat may answer."""
        return self._question(text, run, on_cancel, asker=None)

    def reply_for(self, question: Question, chat_id: int) -> Reply:
        """The question as sent to one chat, with buttons that work there only."""
        token = secrets.token_urlsafe(9)
        question.tokens[token] = chat_id
        self.open[token] = question
        return Reply(
            f"{question.text}\n<i>Confirm within {int(self.timeout)} s; the buttons work once.</i>",
            (Button("Confirm", f"c:{token}"), Button("Cancel", f"x:{token}")),
        )

    def _question(
        self, text: str, run: Run, on_cancel: Expire | None, asker: int | None
    ) -> Question:
        expires_at = self.clock.now_ms() + int(self.timeout * 1000)
        question = Question(text, run, on_cancel, expires_at, asker)
        question.handle = asyncio.ensure_future(self._expire_later(question))
        return question

    def sent(self, data: str, chat_id: int, message_id: int) -> None:
        """Telegram's id of a message asking (so it can be edited when the question closes).
        A copy that arrives after the question closed is edited at once."""
        token = data[2:]
        question = self.open.get(token)
        if question is not None:
            question.messages.append((chat_id, message_id))
        elif token in self.closed and self.edit is not None:
            task = asyncio.ensure_future(self.edit(chat_id, message_id, self.closed[token]))
            self._edits.add(task)
            task.add_done_callback(self._edits.discard)

    def discard(self, question: Question) -> None:
        """Close a question that reached nobody, without its cancel action."""
        self._close(question)

    # ---- answering ---------------------------------------------------------------------------

    async def press(self, data: str, who: Who) -> Reply:
        return (await self.answer(data, who))[0]

    async def answer(self, data: str, who: Who) -> tuple[Reply, str]:
        """What the person sees, and what happened (for the audit table)."""
        kind, _, token = data.partition(":")
        question = self.open.get(token)
        if kind not in ("c", "x") or question is None:
            return Reply(GONE, edit=False), "no longer works"
        chat = question.tokens[token]
        if who.chat_id != chat:
            log.warning(
                "confirmation %s: pressed in chat %s, sent to %s", token[:4], who.chat_id, chat
            )
            return (
                Reply("This button belongs to another chat; nothing was done.", edit=False),
                f"refused: a button of chat {chat}",
            )
        if question.asker is not None and who.user_id != question.asker:
            return (
                Reply("Only the person who asked can answer this.", edit=False),
                f"refused: asked by user {question.asker}",
            )
        self._close(question)
        if self.clock.now_ms() > question.expires_at:
            await self._closed(question, "expired")
            text, outcome = f"{question.text}\n<b>Expired</b>: nothing was done.", "expired"
        elif kind == "x":
            await self._closed(question, "cancelled")
            who_name = esc(who.name or who.user_id)
            text, outcome = f"{question.text}\n<b>Cancelled</b> by {who_name}.", "cancelled"
        else:
            try:
                text, outcome = f"{question.text}\n{await question.run(who)}", "confirmed"
            except Exception:  # the question is closed either way; its decision must settle
                log.exception("confirmation %s: carrying it out failed", token[:4])
                await self._closed(question, "failed")
                text = f"{question.text}\n<b>Failed</b>: nothing was done (see the log)."
                outcome = "failed"
        self._remember(question, text)
        await self._edit_others(question, who, text)
        return Reply(text), outcome

    # ---- closing -----------------------------------------------------------------------------

    def _close(self, question: Question) -> None:
        """Every token of the question stops working; its expiry is called off."""
        for token in question.tokens:
            self.open.pop(token, None)
        if question.handle is not None and question.handle is not asyncio.current_task():
            question.handle.cancel()

    def _remember(self, question: Question, text: str) -> None:
        for token in question.tokens:
            self.closed[token] = text
        while len(self.closed) > REMEMBERED:
            self.closed.popitem(last=False)

    async def _expire_later(self, question: Question) -> None:
        await self.clock.sleep(self.timeout)
        if not any(self.open.get(token) is question for token in question.tokens):
            return
        self._close(question)
        text = f"{question.text}\n<b>Expired</b>: nothing was done."
        self._remember(question, text)
        await self._closed(question, "expired")
        await self._edit_others(question, None, text)

    async def _closed(self, question: Question, why: str) -> None:
        log.info("confirmation %s: %s", next(iter(question.tokens), "")[:4], why)
        if question.on_cancel is not None:
            await question.on_cancel(why)

    async def _edit_others(self, question: Question, who: Who | None, text: str) -> None:
        """Every copy of the question outside the answering chat (that one is edited by the
        answer itself) loses its buttons and says how it ended; a chat that cannot edit a
        message (the console) is told instead."""
        edited = set()
        for chat_id, message_id in question.messages:
            if self.edit is not None and (who is None or chat_id != who.chat_id):
                edited.add(chat_id)
                await self.edit(chat_id, message_id, text)
        if self.tell is None:
            return
        for chat_id in sorted(set(question.tokens.values()) - edited):
            if who is None or chat_id != who.chat_id:
                self.tell(chat_id, text)

    def close_all(self) -> None:
        for question in set(self.open.values()):
            if question.handle is not None:
                question.handle.cancel()
        self.open.clear()
