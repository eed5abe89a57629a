"""The bot token never reaches a log line (the HTTP client logs request URLs, which carry it;
PTB's InvalidToken error quotes it), nor the store: `assistant run` as a separate process,
with every library's debug logging on."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator
from assistant.emulator.telegram import FakeBotApi
from tests.telegram.harness import OWNER, TOKEN


async def run_with(fake: FakeBotApi, emulator: Emulator, folder: Path, getme: int) -> str:
    """`assistant run` until the fake saw `getme` getMe calls and answered one /status."""
    config = folder / "assistant.toml"
    config.write_text(
        f'[exchange]\nenvironment = "emulator"\nrest_url = "{emulator.urls["rest"]}"\n'
        f'ws_url = "{emulator.urls["ws"]}"\n'
        f'[telegram]\ntoken = "env:TG_TOKEN"\nallowed_chat_ids = [{OWNER}]\n'
        f'base_url = "{fake.url}"\n[store]\npath = "a.db"\n'
    )
    env = {**os.environ, "TG_TOKEN": TOKEN, "ASSISTANT_DEBUG": "1"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "assistant",
        "run",
        "-c",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        async with asyncio.timeout(30):
            while sum(c.method == "getMe" for c in fake.calls) < getme:
                await asyncio.sleep(0.05)
            if fake.token == TOKEN:
                while not any(c.method == "getUpdates" for c in fake.calls):
                    await asyncio.sleep(0.05)
                while not any("Margin ratio" in t for t in fake.texts(OWNER)):
                    seen = len(fake.texts(OWNER))
                    fake.push_text(OWNER, "/status")  # "not mirrored yet" until it is
                    while len(fake.texts(OWNER)) == seen:
                        await asyncio.sleep(0.05)
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            out, err = await process.communicate()
    return out.decode() + err.decode()


async def test_the_token_is_in_no_log_line_and_not_in_the_store(tmp_path: Path) -> None:
    emulator = await Emulator(load_scenario("calm")).start()
    fake = await FakeBotApi(TOKEN).start()
    wrong = await FakeBotApi("999:a-different-token").start()  # answers 401: InvalidToken
    try:
        (tmp_path / "ok").mkdir()
        (tmp_path / "bad").mkdir()
        logs = await run_with(fake, emulator, tmp_path / "ok", getme=1)
        assert any("Margin ratio" in t for t in fake.texts(OWNER))
        assert "HTTP Request: POST" in logs and "/bot<redacted>/getUpdates" in logs
        # The user stream's URL is logged too (websockets, at debug): its listenKey is not.
        assert "listenKey=<redacted>" in logs
        assert not re.search(r"listenKey=[A-Za-z0-9_-]{16,}", logs)
        keys = [k for k in emulator.listen_keys if len(k) >= 16]
        assert keys and not any(key in logs for key in keys)
        rejected = await run_with(wrong, emulator, tmp_path / "bad", getme=2)
        assert "InvalidToken" in rejected and "task telegram crashed" in rejected
    finally:
        await fake.stop()
        await wrong.stop()
        await emulator.stop()
    secret_parts = (TOKEN, TOKEN.split(":")[1])
    for text in (logs, rejected):
        assert not any(part in text for part in secret_parts)
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix != ".toml":
            data = path.read_bytes()
            assert not any(part.encode() in data for part in secret_parts), path
