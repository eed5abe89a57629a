"""`assistant emulator`: the emulator alone, until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import sys

from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator


async def serve(host: str, port: int, scenario_name: str | None) -> int:
    scenario = load_scenario(scenario_name)  # InputError -> exit 2 in the CLI
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
