"""Fuzzing the chat: any text, and every command with any arguments. Nothing crashes, every
answer is valid Telegram HTML, and a refused message changes nothing."""

from __future__ import annotations

import asyncio
import io
from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.binance.rest import BinanceRest
from assistant.core.ports import Who
from assistant.core.rules.config import Rules
from assistant.emulator.telegram import html_problem
from assistant.service.bootstrap import ChatOptions, build
from assistant.service.settings import Settings
from assistant.store.sqlite import SqliteStore
from bench.mirror import ready_state

NAMES = [
    "status",
    "positions",
    "health",
    "stress",
    "alerts",
    "rules",
    "mode",
    "pause",
    "resume",
    "mute",
    "deposit",
    "reduce",
    "chart",
    "help",
    "start",
    "nope",
]
WORDS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["-10", "50%", "SYM001USDT", "LONG", "auto", "30m", "1e9", "NaN", "-0", "0"]),
)
MESSAGES = st.one_of(
    st.text(max_size=600),
    st.tuples(st.sampled_from(NAMES), st.lists(WORDS, max_size=6)).map(
        lambda t: " ".join([f"/{t[0]}", *t[1]])
    ),
)


@settings(max_examples=200, deadline=None)
@given(MESSAGES)
def test_any_message_gets_a_valid_answer_and_garbage_changes_nothing(
    tmp_path_factory: object, text: str
) -> None:
    folder: Path = tmp_path_factory.mktemp("chat")  # type: ignore[attr-defined]

    async def main() -> None:
        rest = BinanceRest(api_key="k", api_secret="s", rest_url="http://127.0.0.1:9")
        store = SqliteStore(folder / "a.db")
        runtime = build(
            Settings(),
            rest=rest,
            ws_url="ws://127.0.0.1:9",
            store=store,
            rules=replace(Rules(), mode="auto"),
            chats=ChatOptions(console=io.StringIO()),
        )
        service = runtime.loop  # not running: the state is set as a snapshot would set it
        service.state = replace(ready_state(), connected={"user": True, "market": True})
        assert runtime.chats is not None
        chat, confirmations = runtime.chats.commands, runtime.chats.confirmations
        memory = service.memory
        try:
            replies = await chat.handle(text, Who(1, 1, "x"))
            assert replies
            for reply in replies:
                assert "Something went wrong" not in reply.text, text
                assert html_problem(reply.text) == "", (text, reply.text)
            if replies[0].text.startswith("⚠️"):  # refused: nothing queued, nothing asked
                assert runtime.inbox.empty() and not confirmations.open
                assert service.memory == memory
        finally:
            confirmations.close_all()
            store.close()
            await rest.close()

    asyncio.run(main())
