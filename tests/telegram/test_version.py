"""`/version` in the chat answers what `assistant --version` says, and is in the bot's menu."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from assistant.emulator.server.app import Emulator
from tests.telegram.harness import Harness


async def test_version_in_the_chat_is_the_command_lines(emulator: Emulator, tmp_path: Path) -> None:
    said = subprocess.run(
        [sys.executable, "-m", "assistant", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    async with Harness(emulator, tmp_path) as h:
        reply = await h.ask("/version")
        assert reply.params["text"] == said
        menu = await h.wait_calls("setMyCommands", 1)
        names = [c["command"] for c in json.loads(str(menu[0].params["commands"]))]
        assert "version" in names
        help_text = (await h.ask("/help")).params["text"]
        assert "/version" in help_text
