"""`assistant run --console` through a pseudo-terminal, as an operator types at it: /help says
how to answer a question, an expired question is said to have expired, and the log lines on
stderr carry the time. Then `assistant status` in percent, as the chat says it."""

from __future__ import annotations

import asyncio
import os
import pty
import re
import signal
import subprocess
import sys
from pathlib import Path

from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator
from tests.emulator.conftest import fast

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


class Terminal:
    """The master side of a pseudo-terminal, read without blocking the event loop."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.seen = ""
        self.grew = asyncio.Event()
        asyncio.get_running_loop().add_reader(fd, self._read)

    def _read(self) -> None:
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # the other side closed
            asyncio.get_running_loop().remove_reader(self.fd)
            return
        self.seen += chunk.decode("utf-8", "replace").replace("\r\n", "\n")
        self.grew.set()

    async def until(self, text: str, timeout: float = 20) -> str:
        async with asyncio.timeout(timeout):
            while text not in self.seen:
                self.grew.clear()
                await self.grew.wait()
        return self.seen

    def type(self, line: str) -> None:
        os.write(self.fd, f"{line}\n".encode())

    def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self.fd)
        os.close(self.fd)


async def test_the_console_tells_an_expiry_shows_how_to_confirm_and_stamps_its_log(
    tmp_path: Path,
) -> None:
    emulator = await Emulator(load_scenario(fast("crash", mark_interval=3600))).start()
    config = tmp_path / "assistant.toml"
    config.write_text(
        f'[exchange]\nenvironment = "emulator"\nrest_url = "{emulator.urls["rest"]}"\n'
        f'ws_url = "{emulator.urls["ws"]}"\n[actions]\nmode = "auto"\n'
        '[telegram]\nconfirm_timeout = "2s"\n[store]\npath = "a.db"\n'
    )
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}  # in the foreground
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "assistant", "run", "-c", str(config), "--console",
        stdin=slave, stdout=slave, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    os.close(slave)
    terminal = Terminal(master)
    try:
        await terminal.until("console chat: type /help")
        terminal.type("/help")
        helped = await terminal.until("/cancel TOKEN")
        assert "type /confirm TOKEN or /cancel TOKEN" in helped.replace("\n", " ")
        for _ in range(40):  # bounded: until the account is mirrored, at most 20 s
            terminal.type("/status")
            try:
                await terminal.until("Margin ratio 6.00% (first alert at 80%)", 0.5)
                break
            except TimeoutError:
                continue  # "not mirrored yet", or a slow answer: ask again
        assert "Margin ratio 6.00% (first alert at 80%)" in terminal.seen
        terminal.type("/deposit 100")
        asked = await terminal.until("[Confirm] type: /confirm ")
        assert "Transfer 100.00 USDT from spot to futures?" in asked
        said = await terminal.until("(that question is closed)", 20)
        closing = said[said.rindex("Transfer 100.00 USDT") :]
        assert "Expired: nothing was done." in closing
        assert emulator.engine.transfers == []  # and nothing moved
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            _, err = await process.communicate()
        terminal.close()
        await emulator.stop()
    lines = [line for line in err.decode().splitlines() if line.strip()]
    assert lines and all(STAMP.match(line) for line in lines), lines[:5]
    assert any("confirmation" in line and "expired" in line for line in lines)

    shown = subprocess.run(
        [sys.executable, "-m", "assistant", "status", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "margin ratio 6.00%   margin balance 3,000.00 USDT" in shown.stdout, shown.stdout
    assert "down 6.29%, up never" in shown.stdout
