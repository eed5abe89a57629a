"""A refused API key at start-up: one error line in the log, a critical Telegram alert (the
bot starts before the exchange is asked), READY=1 with the reason as systemd's status, and
the watchdog fed, so systemd does not restart-loop it. `assistant run` as a real process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator
from assistant.emulator.telegram import FakeBotApi
from tests.telegram.harness import OWNER, TOKEN


async def test_a_refused_key_is_told_and_the_service_stays_up(tmp_path: Path) -> None:
    emulator = await Emulator(load_scenario("calm")).start()
    fake = await FakeBotApi(TOKEN).start()
    config = tmp_path / "assistant.toml"
    config.write_text(
        f'[exchange]\nenvironment = "emulator"\nrest_url = "{emulator.urls["rest"]}"\n'
        f'ws_url = "{emulator.urls["ws"]}"\napi_key = "not-the-emulator-key"\n'
        'api_secret = "not-the-emulator-secret"\n'
        f'[telegram]\ntoken = "env:TG_TOKEN"\nallowed_chat_ids = [{OWNER}]\n'
        f'base_url = "{fake.url}"\n[store]\npath = "a.db"\n'
    )
    notify = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify))
    sock.setblocking(False)
    env = {**os.environ, "TG_TOKEN": TOKEN, "NOTIFY_SOCKET": str(notify), "WATCHDOG_USEC": "200000"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "assistant", "run", "-c", str(config),
        stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    messages: list[str] = []
    try:
        async with asyncio.timeout(30):
            while not any("READY=1" in m for m in messages):
                messages.append((await loop.sock_recv(sock, 4096)).decode())
            pings = 0
            while pings < 10:  # the watchdog stays fed while the key is refused
                pings += "WATCHDOG=1" in (await loop.sock_recv(sock, 4096)).decode()
            while not any("NOT protected" in t for t in fake.texts(OWNER)):
                await asyncio.sleep(0.05)
        assert process.returncode is None  # up, retrying: no exit for systemd to restart
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            _, err = await process.communicate()
        sock.close()
        await fake.stop()
        await emulator.stop()
    ready = next(m for m in messages if "READY=1" in m)
    assert "STATUS=not mirrored: the API key was refused (-2015)" in ready
    alert = next(t for t in fake.texts(OWNER) if "NOT protected" in t)
    assert "CRITICAL" in alert and "-2015" in alert
    text = err.decode()
    assert process.returncode == 0, text
    assert "Binance refused the API key" in text and "Traceback" not in text
