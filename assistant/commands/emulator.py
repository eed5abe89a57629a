"""`assistant emulator`: the emulator alone, until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import sys

from assistant.emulator.exchange.scenario import Scenario, load_scenario
from assistant.emulator.server.app import Emulator
from assistant.errors import InputError

FORMAT = 'the format: docs/emulator.md, "Scenarios"'


def scenario_from(name: str | None) -> Scenario:
    """A built-in or a file, for a command: a bad one is one line (exit 2 in the CLI) that
    says what is wrong and where the format is described."""
    try:
        return load_scenario(name)
    except InputError as exc:
        raise InputError(f"{exc} ({FORMAT})") from None


async def serve(host: str, port: int, scenario_name: str | None) -> int:
    scenario = scenario_from(scenario_name)
    emulator = await Emulator(scenario, host, port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    sys.stdout.write(json.dumps(emulator.urls) + "\n")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        await emulator.stop()
    return 0


def run(host: str, port: int, scenario_name: str | None) -> int:
    return asyncio.run(serve(host, port, scenario_name))
