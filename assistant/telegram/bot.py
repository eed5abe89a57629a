"""The Telegram side: python-telegram-bot inside the service's own event loop (initialize,
start, start polling; never `run_polling`), an owners-only gate, and sending.

Everything a chat can do is answered by the handler it serves (`serve(handler)`, the chat
port); this module only moves text and buttons between Telegram and it. Anyone outside
`allowed_chat_ids`, and in a group chat anyone outside `allowed_user_ids` (everyone, when that
list is empty: the config refuses a group without one, and the gate refuses it again here), gets
no answer; the attempt is logged and handed to the handler's `refused` for the audit table.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
from collections.abc import Sequence
from io import BytesIO

# Flood-control waits as timedelta (the int form is deprecated and warns): set before use.
os.environ.setdefault("PTB_TIMEDELTA", "1")

from telegram import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from assistant.core.ports import Button, ChatHandler, Reply, Who
from assistant.telegram.render import CAPTION_LIMIT, LIMIT, plain, split

log = logging.getLogger(__name__)
DEFAULT_BASE_URL = "https://api.telegram.org/bot"


def retry_seconds(value: int | dt.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


class TelegramBot:
    def __init__(
        self,
        *,
        token: str,
        base_url: str,
        allowed_chat_ids: Sequence[int],
        allowed_user_ids: Sequence[int],
        poll_timeout: int = 10,
    ) -> None:
        base = (base_url or DEFAULT_BASE_URL).rstrip("/")
        file_base = base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base
        self.app = (
            Application.builder()
            .token(token)
            .base_url(base)
            .base_file_url(file_base)
            .rate_limiter(AIORateLimiter(max_retries=2))
            .get_updates_read_timeout(poll_timeout + 5)
            .job_queue(None)
            .build()
        )
        self.allowed_chats = frozenset(allowed_chat_ids)
        self.allowed_users = frozenset(allowed_user_ids)
        self.handler: ChatHandler | None = None  # set by `serve`
        self.poll_timeout = poll_timeout
        self.app.add_handler(MessageHandler(filters.UpdateType.MESSAGE, self._on_message))
        self.app.add_handler(CallbackQueryHandler(self._on_press))
        self.app.add_error_handler(self._on_error)

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(self, handler: ChatHandler) -> None:
        self.handler = handler
        await self.app.initialize()
        await self.app.bot.set_my_commands(
            [BotCommand(c.name, c.help[:256]) for c in handler.commands if c.name]
        )
        await self.app.start()
        updater = self.app.updater
        assert updater is not None
        await updater.start_polling(
            timeout=self.poll_timeout, drop_pending_updates=False, bootstrap_retries=3
        )
        log.info("telegram: polling as @%s", self.app.bot.username)

    async def stop(self) -> None:
        """Whatever part of `start` happened is undone, so a restart begins clean."""
        updater = self.app.updater
        steps = []
        if updater is not None and updater.running:
            steps.append(updater.stop)
        if self.app.running:
            steps.append(self.app.stop)
        steps.append(self.app.shutdown)
        for step in steps:
            try:
                await step()
            except Exception as exc:  # the next step must still run
                log.warning("telegram: while stopping: %s: %s", type(exc).__name__, exc)

    async def serve(self, handler: ChatHandler) -> None:
        """Start, then wait until cancelled (for the service's supervisor: a failed start
        is undone and raised, and the supervisor starts it again later)."""
        try:
            await self.start(handler)
            await asyncio.Event().wait()
        finally:
            await self.stop()

    # ---- the gate -------------------------------------------------------------------------

    def _refusal(self, chat_id: int, chat_type: str, user_id: int | None) -> str:
        """Why this person in this chat may not use the bot; "" if they may."""
        if chat_id not in self.allowed_chats:
            return "chat not in allowed_chat_ids"
        if chat_type != ChatType.PRIVATE or chat_id < 0:  # a group: the people are listed
            if not self.allowed_users:
                return "a group chat, and allowed_user_ids is empty"
            if user_id not in self.allowed_users:
                return "user not in allowed_user_ids"
        return ""

    def _refused(self, kind: str, text: str, who: Who, why: str) -> None:
        log.warning(
            "telegram: ignored a %s from chat %s (user %s): %s", kind, who.chat_id, who.user_id, why
        )
        assert self.handler is not None  # updates arrive only once started
        self.handler.refused(kind, text, who, why)

    async def _on_message(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.message
        if message is None:
            return
        user = message.from_user
        who = Who(message.chat.id, user.id if user else 0, user.username or "" if user else "")
        text = message.text or ""
        first = text.split(maxsplit=1)[0] if text.split() else ""
        if "@" in first and first.split("@", 1)[1].lower() != (self.app.bot.username or "").lower():
            return  # a command for another bot in the same group: not for us, from anyone
        why = self._refusal(message.chat.id, message.chat.type, user.id if user else None)
        if why:
            self._refused("message", text, who, why)
            return
        assert self.handler is not None  # updates arrive only once started
        replies = await self.handler.handle(text, who)
        for reply in replies:
            await self._reply(message.chat.id, reply)

    async def _on_press(self, update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        message = query.message
        chat = message.chat if message is not None else None
        user = query.from_user
        who = Who(chat.id if chat is not None else 0, user.id, user.username or "")
        why = "no chat" if chat is None else self._refusal(chat.id, chat.type, user.id)
        if why:
            self._refused("button", query.data or "", who, why)
            await self._answer(query)
            return
        assert chat is not None
        assert self.handler is not None
        reply = await self.handler.press(query.data or "", who)
        if not reply.edit:  # e.g. a used button: a notice, the question keeps its outcome
            await self._answer(query, plain(reply.text))
            return
        await self._answer(query)
        if isinstance(message, Message):
            await self.edit(chat.id, message.message_id, reply.text)

    @staticmethod
    async def _answer(query: CallbackQuery, text: str | None = None) -> None:
        """Stop the button's spinner; a failure (a query too old) must not lose the press."""
        try:
            await query.answer(text[:200] if text else None)
        except TelegramError as exc:
            log.info("telegram: could not answer a button press: %s", exc)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram: %s: %s", type(context.error).__name__, context.error)

    # ---- sending ----------------------------------------------------------------------------

    async def _reply(self, chat_id: int, reply: Reply, ref: str = "") -> None:
        try:
            await self.deliver(chat_id, reply, ref)
        except TelegramError as exc:
            log.error("telegram: a reply to chat %s was not sent: %s", chat_id, exc)

    async def deliver(self, chat_id: int, reply: Reply, ref: str = "") -> None:
        bot = self.app.bot
        if reply.photo is not None:
            caption = split(reply.text, CAPTION_LIMIT - 64)
            await bot.send_photo(
                chat_id, BytesIO(reply.photo), caption=caption[0], parse_mode=ParseMode.HTML
            )
            return
        pieces = split(reply.text, LIMIT - 64)
        markup = _markup(reply.buttons) if reply.buttons else None
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            sent = await bot.send_message(
                chat_id,
                piece,
                parse_mode=ParseMode.HTML,
                reply_markup=markup if last else None,
            )
            if last and self.handler is not None and reply.buttons:
                self.handler.sent(reply.buttons[0].data, chat_id, sent.message_id)

    async def send(
        self, chat_id: int, text: str, *, html: bool = True, buttons: tuple[Button, ...] = ()
    ) -> None:
        """One outbox message (raises Telegram's errors: the outbox decides what to do). A
        question's buttons go on its last piece, and the handler learns where it went."""
        pieces = (
            split(text, LIMIT - 64)
            if html
            else [text[i : i + LIMIT] for i in range(0, len(text), LIMIT)]
        )
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            sent = await self.app.bot.send_message(
                chat_id,
                piece,
                parse_mode=ParseMode.HTML if html else None,
                reply_markup=_markup(buttons) if last and buttons else None,
            )
            if last and buttons and self.handler is not None:
                self.handler.sent(buttons[0].data, chat_id, sent.message_id)

    async def edit(self, chat_id: int, message_id: int, text: str) -> None:
        """Replace a message's text and drop its buttons (a confirmation that was used)."""
        try:
            await self.app.bot.edit_message_text(
                split(text, LIMIT - 64)[0],
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=ParseMode.HTML,
            )
        except BadRequest as exc:
            log.info("telegram: could not edit message %s: %s", message_id, exc)
        except TelegramError as exc:
            log.warning("telegram: could not edit message %s: %s", message_id, exc)


def _markup(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.text, callback_data=b.data) for b in buttons]]
    )
