"""The real service, python-telegram-bot and the fake Bot API server, all on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from assistant.core.ports import Clock
from assistant.core.rules.config import Rules
from assistant.emulator.server.app import Emulator
from assistant.emulator.telegram import Call, FakeBotApi
from assistant.service.bootstrap import ChatOptions, Chats, Runtime
from assistant.service.notifier import Notifier
from assistant.service.settings import Settings, Telegram
from assistant.telegram.render import ICONS
from tests.service.test_mirror_live import Running

TOKEN = "123456789:FAKE-test-token-for-loopback-only"
OWNER = 4242
STRANGER = 6666


def is_alert(call: Call) -> bool:
    return call.method == "sendMessage" and str(call.params.get("text", ""))[:1] in ICONS_FIRST


ICONS_FIRST = {icon[0] for icon in ICONS.values()}


class Harness:
    """`async with Harness(emulator, tmp_path) as h:` a mirrored service with Telegram on."""

    def __init__(
        self,
        emulator: Emulator,
        path: Path,
        *,
        rules: Rules | None = None,
        fake: FakeBotApi | None = None,
        keep_fake: bool = False,
        clock: Clock | None = None,
        **telegram: Any,
    ) -> None:
        self.emulator = emulator
        self.path = path
        self.rules = rules or replace(Rules(), mode="auto")
        self.fake = fake or FakeBotApi(TOKEN)
        self.keep_fake = keep_fake
        self.clock = clock
        self.telegram = Telegram(**{"allowed_chat_ids": (OWNER,), **telegram})
        self.chats: Chats | None = None
        self._running: Running | None = None
        self.service: Runtime | None = None
        self.notifier: Notifier | None = None
        self._taken: set[int] = set()

    async def __aenter__(self) -> Harness:
        if not self.fake.url:
            await self.fake.start()
        self.telegram = self.telegram.model_copy(update={"base_url": self.fake.url})
        self._running = Running(
            self.emulator,
            self.path / "a.db",
            rules=self.rules,
            settings=Settings(telegram=self.telegram),
            chats=ChatOptions(token=TOKEN),
            clock=self.clock,
        )
        service = self._running.service
        self.notifier = service.notifier
        self.chats = service.chats
        self.service = await self._running.__aenter__()
        await service.wait_for(lambda s: s.ready, 15)
        if not self.fake.down:
            await self.wait_calls("getUpdates", 1)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._running is not None
        await self._running.__aexit__(*exc)
        if not self.keep_fake:
            await self.fake.stop()

    async def stop_fake(self) -> None:
        await self.fake.stop()

    # ---- a person's side ---------------------------------------------------------------------

    async def wait_calls(self, method: str, count: int, timeout: float = 10) -> list[Call]:
        async with asyncio.timeout(timeout):
            while True:
                found = [c for c in self.fake.calls if c.method == method]
                if len(found) >= count:
                    return found
                await asyncio.sleep(0.01)

    async def take(self, match: Callable[[Call], bool], timeout: float = 10) -> Call:
        """The first call the bot made that matches and was not taken before."""
        async with asyncio.timeout(timeout):
            while True:
                for i, call in enumerate(self.fake.calls):
                    if i not in self._taken and match(call):
                        self._taken.add(i)
                        return call
                await asyncio.sleep(0.01)

    async def next_sent(
        self, chat_id: int = OWNER, timeout: float = 10, *, alerts: bool = False
    ) -> Call:
        """The next thing the bot sent to `chat_id`: a reply or an edit, or with `alerts`
        an alert."""

        def match(call: Call) -> bool:
            return (
                call.method in ("sendMessage", "sendPhoto", "editMessageText")
                and str(call.params.get("chat_id")) == str(chat_id)
                and is_alert(call) == alerts
            )

        return await self.take(match, timeout)

    async def ask(self, text: str, chat_id: int = OWNER, **kw: Any) -> Call:
        self.fake.push_text(chat_id, text, **kw)
        return await self.next_sent(chat_id)

    @staticmethod
    def buttons(call: Call) -> list[str]:
        markup = json.loads(call.params.get("reply_markup", "{}") or "{}")
        return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]

    async def press(self, data: str, message_id: int = 1, chat_id: int = OWNER, **kw: Any) -> Call:
        """The question edited with the outcome, or a notice (a used button) as the press's
        answer; either way `params["text"]` says what the person saw. `user_id` and
        `chat_type` as for `FakeBotApi.push_press`."""
        self.fake.push_press(chat_id, data, message_id, **kw)
        return await self.take(
            lambda c: (
                (
                    c.method == "editMessageText"
                    and str(c.params.get("chat_id")) == str(chat_id)
                    and str(c.params.get("message_id")) == str(message_id)
                )
                or (c.method == "answerCallbackQuery" and "text" in c.params)
            )
        )
