"""The disk under the store fills up in the middle of the crash, in auto mode: protection goes
on (reduce-only orders still go, the account is not liquidated), the owner is told at once
through Telegram, and the process stays up. The store sits on a small tmpfs that is filled
for real; where mounting is impossible the test is skipped and says why."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator
from assistant.emulator.telegram import FakeBotApi
from tests.emulator.conftest import fast
from tests.telegram.harness import OWNER, TOKEN

SPEED = 10.0


@contextlib.contextmanager
def small_disk(folder: Path, size: str = "8m") -> Iterator[Path]:
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}): the full disk is untested")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> None:
    """Write until the file system says it is full."""
    with open(folder / "filler", "wb") as out:
        block = b"\0" * 65536
        with contextlib.suppress(OSError):
            for _ in range(100_000):  # bounded: far more than the disk
                out.write(block)
                out.flush()
    assert os.statvfs(folder).f_bavail < 16


async def until(predicate: object, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.05)


async def test_a_full_disk_mid_crash_is_told_and_protection_goes_on(tmp_path: Path) -> None:
    emulator = await Emulator(load_scenario(fast("crash", speed=SPEED))).start()
    fake = await FakeBotApi(TOKEN).start()
    try:
        with small_disk(tmp_path / "disk") as disk:
            config = tmp_path / "assistant.toml"
            config.write_text(
                f'[exchange]\nenvironment = "emulator"\nrest_url = "{emulator.urls["rest"]}"\n'
                f'ws_url = "{emulator.urls["ws"]}"\n[store]\npath = "{disk / "a.db"}"\n'
                '[actions]\nmode = "auto"\n[alerts]\ncooldown = "30s"\nstale_after = "60s"\n'
                '[deposit]\ncooldown = "3s"\n[reduce]\ncooldown = "1s"\n'
                f'[telegram]\ntoken = "env:TG_TOKEN"\nallowed_chat_ids = [{OWNER}]\n'
                f'base_url = "{fake.url}"\n'
            )
            env = {**os.environ, "TG_TOKEN": TOKEN}
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "assistant", "run", "-c", str(config),
                stderr=asyncio.subprocess.PIPE, env=env,
            )  # fmt: skip
            try:
                await until(lambda: any("distance" in t for t in fake.texts(OWNER)), 30)
                fill(disk)  # the crash is under way: from here on nothing can be written
                filled_at = emulator.now_ms()
                await until(
                    lambda: any("cannot write the store" in t for t in fake.texts(OWNER)), 10
                )
                await until(
                    lambda: emulator.scenario_time() > 112 or bool(emulator.engine.liquidations),
                    30,
                )
                assert process.returncode is None  # alive through it all
            finally:
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
                async with asyncio.timeout(20):
                    _, err = await process.communicate()
    finally:
        await fake.stop()
        await emulator.stop()
    engine = emulator.engine
    assert engine.liquidations == [], "liquidated while the disk was full"
    after = [
        o for o in engine.orders
        if o["clientOrderId"].startswith("mg-") and int(o["time"]) > filled_at
    ]  # fmt: skip
    assert after, "no reduce-only order went out once the disk was full"
    told = next(t for t in fake.texts(OWNER) if "cannot write the store" in t)
    assert "CRITICAL" in told and "Protection goes on" in told
    text = err.decode()
    assert "Traceback" not in text or "database or disk is full" in text
    assert text.count("cannot write the store") == 1  # said once, not at every flush
