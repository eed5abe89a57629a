"""SIGTERM stops `assistant run` within 5 s in every state, flushing what it holds: after a
Telegram conversation (a confirmed /deposit, a /chart in its thread, the crash's alerts), with
a question open, with an outbox backlog while Telegram is down, and with a slow exchange."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator
from assistant.emulator.server.protocol import Fault
from assistant.emulator.telegram import FakeBotApi
from assistant.store.sqlite import SqliteStore
from tests.emulator.conftest import fast
from tests.telegram.harness import OWNER, TOKEN

LIMIT = 5.0  # seconds from SIGTERM to exit


def buttons(fake: FakeBotApi, word: str) -> list[str]:
    """The buttons of the last message delivered that contains `word`."""
    for call in reversed(fake.calls):
        if call.method == "sendMessage" and word in str(call.params.get("text")) and call.answered:
            markup = json.loads(call.params.get("reply_markup") or "{}")
            data = [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]
            if data:
                return data
    return []


async def until(predicate: object, timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("state", ["conversation", "question-open", "telegram-down", "slow"])
async def test_sigterm_stops_within_five_seconds(tmp_path: Path, state: str) -> None:
    emulator = await Emulator(load_scenario(fast("crash", speed=5.0))).start()
    fake = await FakeBotApi(TOKEN).start()
    config = tmp_path / "assistant.toml"
    config.write_text(
        f'[exchange]\nenvironment = "emulator"\nrest_url = "{emulator.urls["rest"]}"\n'
        f'ws_url = "{emulator.urls["ws"]}"\n[actions]\nmode = "confirm"\n'
        f'[telegram]\ntoken = "env:TG_TOKEN"\nallowed_chat_ids = [{OWNER}]\n'
        f'base_url = "{fake.url}"\n[store]\npath = "a.db"\n[mirror]\nreconcile_every = "1s"\n'
    )
    history = SqliteStore(tmp_path / "a.db")  # an hour of health rows, so /chart draws
    now = int(time.time() * 1000)
    for i in range(360):
        at = now - 3_600_000 + i * 10_000
        history.record_health(at, Decimal("0.06"), Decimal(3000), Decimal(180), Decimal("0.06"))
    history.close()
    env = {**os.environ, "TG_TOKEN": TOKEN}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "assistant", "run", "-c", str(config),
        stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        await until(lambda: any(c.method == "getUpdates" for c in fake.calls))
        fake.push_text(OWNER, "/status")
        await until(lambda: any("Margin ratio" in t for t in fake.texts(OWNER)))
        if state == "conversation":
            fake.push_text(OWNER, "/deposit 50")
            await until(lambda: buttons(fake, "Transfer"))
            fake.push_press(OWNER, buttons(fake, "Transfer")[0], 1)
            await until(lambda: len(emulator.engine.transfers) == 1)
            fake.push_text(OWNER, "/chart 1h")
            await until(lambda: any(c.method == "sendPhoto" for c in fake.calls), 40)
            fake.push_text(OWNER, "/chart 1h")  # and one more in its thread at the SIGTERM
        elif state == "question-open":
            await until(lambda: buttons(fake, "The rules propose"), 40)
        elif state == "telegram-down":
            fake.down = True
            fake.push_text(OWNER, "/status")
            await until(lambda: emulator.scenario_time() > 40, 40)  # the crash's alerts queue
        else:
            emulator.faults.append(Fault.parse({"path": "/fapi", "status": 200, "delay": 30}))
            await until(lambda: emulator.scenario_time() > 20, 40)
        start = time.monotonic()
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(LIMIT + 10):
            _, err = await process.communicate()
        took = time.monotonic() - start
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await fake.stop()
        await emulator.stop()
    text = err.decode()
    assert process.returncode == 0, text[-2000:]
    assert took < LIMIT, f"{state}: {took:.1f} s after SIGTERM"
    assert "stopped after" in text  # the journal was flushed on the way out
    with sqlite3.connect(tmp_path / "a.db") as conn:  # and the state saved
        assert conn.execute("SELECT COUNT(*) FROM journal").fetchone()[0] > 0
