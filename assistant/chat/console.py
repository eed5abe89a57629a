"""The console chat: the same commands as Telegram, typed in the terminal (`assistant demo`,
`assistant run --console`). Buttons become `/confirm TOKEN` and `/cancel TOKEN`; pictures
are written to a file."""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
from collections.abc import Callable
from typing import TextIO

from assistant.core.actions import SendAlert
from assistant.core.ports import ChatHandler, Reply, Who
from assistant.telegram.render import plain

log = logging.getLogger(__name__)
CONSOLE = Who(chat_id=0, user_id=0, name="console")


class ConsoleChat:
    def __init__(
        self,
        out: TextIO | None = None,
        *,
        stream: TextIO | None = None,
        handler: ChatHandler | None = None,
    ) -> None:
        self.out = out or sys.stdout
        self.stream = stream  # where commands are read (default: stdin)
        self.handler = handler  # or the one `serve` is given

    async def ask(self, reply_for: Callable[[int], Reply], at: int, expires_at: int) -> bool:
        """A question: shown at once (the terminal is there or it is not)."""
        self.show(reply_for(CONSOLE.chat_id))
        return True

    def show(self, reply: Reply) -> None:
        text = plain(reply.text)
        if reply.photo is not None:
            with tempfile.NamedTemporaryFile(prefix="chart-", suffix=".png", delete=False) as f:
                f.write(reply.photo)
            text += f"\n(picture saved to {f.name})"
        for button in reply.buttons:
            verb = "confirm" if button.data.startswith("c:") else "cancel"
            text += f"\n  [{button.text}] type: /{verb} {button.data[2:]}"
        print(text, file=self.out, flush=True)

    def closed(self, chat_id: int, text: str) -> None:
        """A question shown here closed without an answer typed here (it expired, or was
        answered in Telegram): say so, its buttons are gone."""
        if chat_id == CONSOLE.chat_id:
            print(f"{plain(text)}\n(that question is closed)", file=self.out, flush=True)

    def alert(self, alert: SendAlert) -> None:
        print(f"[{alert.severity}] {alert.key}: {alert.text}", file=self.out, flush=True)

    async def line(self, text: str) -> None:
        assert self.handler is not None, "serve() first"
        words = text.split()
        if len(words) == 2 and words[0] in ("/confirm", "/cancel"):
            prefix = "c" if words[0] == "/confirm" else "x"
            self.show(await self.handler.press(f"{prefix}:{words[1]}", CONSOLE))
            return
        if not words:
            return
        for reply in await self.handler.handle(text, CONSOLE):
            self.show(reply)

    async def serve(self, handler: ChatHandler) -> None:
        """Read commands from stdin (or the given stream) until it closes."""
        self.handler = handler
        stream = self.stream
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=4096)
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), stream or sys.stdin
        )
        print("console chat: type /help", file=self.out, flush=True)
        while True:
            try:
                raw = await reader.readline()
            except ValueError:  # a line longer than the limit
                await self.line("x" * 10_000)
                continue
            if not raw:
                return
            await self.line(raw.decode("utf-8", "replace").strip())
