"""A local fake of Telegram's Bot API, for tests, the benchmarks and trying the bot offline.

It speaks the real wire format (`POST /bot{token}/{method}`, form or multipart bodies, the
`{"ok": ..., "result": ...}` envelope, HTTP statuses PTB maps to its errors) and keeps
`getUpdates`' offset semantics: an update stays until a later offset confirms it. A test
pushes messages and button presses as if a person sent them, reads what the bot sent, and
can make the server answer 429 (flood control) or drop every connection (down).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import sys
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

BOT_ID = 777000
TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "code",
    "pre",
    "a",
    "tg-spoiler",
}


class _Checker(HTMLParser):
    """Telegram's HTML rules, strictly: known tags only, each closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.problem = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in TAGS:
            self.problem = self.problem or f'unsupported start tag "{tag}"'
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.problem = self.problem or f'unexpected end tag "{tag}"'

    def handle_entityref(self, name: str) -> None:
        if name not in ("lt", "gt", "amp", "quot"):
            self.problem = self.problem or f'unsupported entity "{name}"'


def html_problem(text: str) -> str:
    checker = _Checker()
    checker.feed(text)
    checker.close()
    if re.search(r"<(?!/?[a-z-]+( [^<>]*)?>)", text):
        return "a bare < (must be &lt;)"
    if re.search(r"&(?!(lt|gt|amp|quot|#\d+);)", text):
        return "a bare & (must be &amp;)"
    if not checker.problem and checker.stack:
        return f'unclosed tag "{checker.stack[-1]}"'
    return checker.problem


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    status: int = 0  # the HTTP status answered (0: the connection was dropped)

    @property
    def answered(self) -> bool:
        return self.status == 200


class FakeBotApi:
    def __init__(self, token: str, username: str = "fake_test_bot") -> None:
        self.token = token
        self.username = username
        self.calls: list[Call] = []
        self.sent: asyncio.Queue[Call] = asyncio.Queue()  # what the bot sent, as it arrives
        self.updates: list[dict[str, Any]] = []
        self._next_update = 1
        self._next_message = 1000
        self._wake = asyncio.Event()
        self.flood: int = 0  # answer this many sends with 429
        self.retry_after = 1
        self.down = False  # answer 502 Bad Gateway to everything (`stop()`: unreachable)
        self.blocked: set[int] = set()  # chats that blocked the bot: 403 on every send
        self.url = ""
        self.port = 0
        self._runner: web.AppRunner | None = None

    # ---- lifecycle ---------------------------------------------------------------------------

    async def start(self, port: int = 0) -> FakeBotApi:
        app = web.Application(client_max_size=20 * 2**20)
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/_fake/calls", self._calls)
        app.router.add_post("/_fake/message", self._message)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        server = site._server
        assert server is not None
        real_port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{real_port}/bot"
        self.port = real_port
        return self

    async def restart(self) -> None:
        """Back on the same port after `stop()` (an outage that ended)."""
        self._wake = asyncio.Event()
        await self.start(self.port)

    async def stop(self) -> None:
        self._wake.set()  # long polls return at once
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- a person's side ---------------------------------------------------------------------

    def push_text(
        self, chat_id: int, text: str, *, user_id: int | None = None, chat_type: str = "private"
    ) -> int:
        user = {"id": user_id or chat_id, "is_bot": False, "first_name": "P", "username": "p"}
        message: dict[str, Any] = {
            "message_id": self._message_id(),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": chat_type, "title": "g"},
            "from": user,
            "text": text,
        }
        if text.startswith("/"):
            length = len(text.split()[0]) if text.split() else 1
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return self._push({"message": message})

    def push_press(
        self,
        chat_id: int,
        data: str,
        message_id: int,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
    ) -> int:
        query = {
            "id": str(self._next_update + 5000),
            "from": {"id": user_id or chat_id, "is_bot": False, "first_name": "P"},
            "chat_instance": f"ci-{chat_id}",
            "data": data,
            "message": {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": chat_type, "title": "g"},
                "from": self._me(),
                "text": "question",
            },
        }
        return self._push({"callback_query": query})

    def texts(self, chat_id: int) -> list[str]:
        """Every text the bot sent to a chat (messages and edits), in order."""
        return [
            c.params.get("text", c.params.get("caption", ""))
            for c in self.calls
            if c.method in ("sendMessage", "editMessageText", "sendPhoto")
            and str(c.params.get("chat_id")) == str(chat_id)
        ]

    # ---- the server --------------------------------------------------------------------------

    def _push(self, body: dict[str, Any]) -> int:
        update_id = self._next_update
        self._next_update += 1
        self.updates.append({"update_id": update_id, **body})
        self._wake.set()
        return update_id

    def _message_id(self) -> int:
        self._next_message += 1
        return self._next_message

    def _me(self) -> dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Fake", "username": self.username}

    async def _calls(self, request: web.Request) -> web.Response:
        """Every call so far (`at` is this machine's monotonic clock, comparable across
        processes on Linux), for a benchmark or a person driving the fake from outside."""
        since = int(request.query.get("since", "0"))
        rows = [
            {
                "method": c.method,
                "at": c.at,
                "status": c.status,
                "params": {k: v for k, v in c.params.items() if isinstance(v, str)},
            }
            for c in self.calls[since:]
        ]
        return web.json_response(rows)

    async def _message(self, request: web.Request) -> web.Response:
        body = await request.json()
        update = self.push_text(int(body["chat_id"]), str(body["text"]))
        return web.json_response({"update_id": update})

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            params[key] = value if isinstance(value, str) else value.file.read()  # type: ignore[union-attr]
        call = Call(method, params)
        self.calls.append(call)
        if self.down:  # Telegram's side is down: its front answers 502, as it does
            call.status = 502
            return _error(502, "Bad Gateway")
        response = await self._respond(request, call)
        call.status = response.status
        if call.status == 200 and method not in ("getMe", "getUpdates", "setMyCommands"):
            self.sent.put_nowait(call)
        return response

    async def _respond(self, request: web.Request, call: Call) -> web.Response:
        method, params = call.method, call.params
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        if method == "getUpdates":
            return _ok(await self._get_updates(params))
        if method in ("sendMessage", "sendPhoto") and int(params.get("chat_id", 0)) in self.blocked:
            return _error(403, "Forbidden: bot was blocked by the user")
        if method in ("sendMessage", "sendPhoto") and self.flood > 0:
            self.flood -= 1
            return _error(
                429,
                f"Too Many Requests: retry after {self.retry_after}",
                {"retry_after": self.retry_after},
            )
        if params.get("parse_mode") == "HTML":
            problem = html_problem(str(params.get("text", params.get("caption", ""))))
            if problem:
                return _error(400, f"Bad Request: can't parse entities: {problem}")
        if len(str(params.get("text", ""))) > 4096:
            return _error(400, "Bad Request: message is too long")
        return _ok(self._answer(method, params))

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset", 0) or 0)
        self.updates = [u for u in self.updates if u["update_id"] >= offset]
        if not self.updates:
            self._wake.clear()
            try:
                async with asyncio.timeout(float(params.get("timeout", 0) or 0)):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        return list(self.updates)

    def _answer(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return {**self._me(), "can_join_groups": True, "can_read_all_group_messages": False}
        chat = {"id": int(params.get("chat_id", 0) or 0), "type": "private"}
        base = {"date": int(time.time()), "chat": chat, "from": self._me()}
        if method == "sendMessage":
            message = {"message_id": self._message_id(), **base, "text": params.get("text", "")}
            if "reply_markup" in params:
                message["reply_markup"] = json.loads(params["reply_markup"])
            return message
        if method == "sendPhoto":
            photo = {"file_id": "AgAD-fake", "file_unique_id": "u1", "width": 800, "height": 500}
            return {"message_id": self._message_id(), **base, "photo": [photo]}
        if method == "editMessageText":
            message_id = int(params.get("message_id", 0) or 0)
            return {
                "message_id": message_id,
                **base,
                "text": params.get("text", ""),
                "edit_date": 1,
            }
        return True


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=status)


async def _serve(token: str, port: int) -> None:
    fake = await FakeBotApi(token).start(port)
    print(json.dumps({"base_url": fake.url, "control": fake.url[: -len("/bot")] + "/_fake"}))
    sys.stdout.flush()
    try:
        await asyncio.Event().wait()
    finally:
        await fake.stop()


def main() -> None:
    """`python -m assistant.emulator.telegram --token T [--port P]`: serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--token", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.token, args.port))


if __name__ == "__main__":
    main()
