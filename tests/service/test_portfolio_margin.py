"""A Portfolio Margin account is refused loudly: `assistant run` (a real process) against an
emulated Portfolio Margin account, where Binance answers fapi's account calls with -2015 as it
does for a bad key, probes GET /papi/v1/account, delivers a critical alert to Telegram (the
fake Bot API), logs one line that says it is not supported, and exits with status 3 (the units'
RestartPreventExitStatus). A key that is merely refused keeps the bad-key path."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator
from assistant.emulator.telegram import FakeBotApi
from tests.emulator.conftest import fast
from tests.telegram.harness import OWNER, TOKEN


async def test_a_portfolio_margin_account_is_refused_with_exit_status_3(tmp_path: Path) -> None:
    raw = fast("calm")
    raw["portfolio_margin"] = True
    emulator = await Emulator(load_scenario(raw)).start()
    fake = await FakeBotApi(TOKEN).start()
    config = tmp_path / "assistant.toml"
    config.write_text(
        f'[exchange]\nenvironment = "emulator"\nrest_url = "{emulator.urls["rest"]}"\n'
        f'ws_url = "{emulator.urls["ws"]}"\n'
        f'[telegram]\ntoken = "env:TG_TOKEN"\nallowed_chat_ids = [{OWNER}]\n'
        f'base_url = "{fake.url}"\n[store]\npath = "a.db"\n'
    )
    env = {**os.environ, "TG_TOKEN": TOKEN}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "assistant", "run", "-c", str(config),
        stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        async with asyncio.timeout(40):
            _, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await fake.stop()
        paths = [r["path"] for r in emulator.requests]
        await emulator.stop()
    text = err.decode()
    assert process.returncode == 3, text
    [alert] = [t for t in fake.texts(OWNER) if "Portfolio Margin" in t]
    assert "CRITICAL" in alert and "NOT protected" in alert and "not support" in alert
    said = [line for line in text.splitlines() if "Portfolio Margin" in line]
    assert len(said) == 1 and "not support" in said[0], text
    assert "Traceback" not in text and "refused the API key" not in text
    assert "/papi/v1/account" in paths
    assert "/fapi/v1/listenKey" not in paths  # nothing was mirrored: it stopped at start
