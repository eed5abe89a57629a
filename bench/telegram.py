"""Telegram: from the threshold crossing on the emulator to the alert's sendMessage reaching
the (fake) Bot API server, p50 / p99.

Three processes, as in production: the emulator, the fake Bot API server, and the service with
python-telegram-bot. The crossing's time is taken just before the emulator is told to publish
the mark; the arrival is the fake server's own clock (monotonic, shared by processes on Linux).
So each figure spans the emulator's push, the websocket, the rules, the outbox commit, the rate
limiter and the HTTP request to Telegram.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import aiohttp

from assistant.binance.rest import BinanceRest
from assistant.service.bootstrap import ChatOptions, build
from assistant.service.scheduler import Timings
from assistant.service.settings import Settings, Telegram
from assistant.store.sqlite import SqliteStore
from bench.actions import DANGER, RULES, SAFE, SCENARIO, pct

CROSSINGS = 100
TOKEN = "123:bench-fake-token"
CHAT = 4242
ALERT_RULES = replace(RULES, reduce=replace(RULES.reduce, enabled=False))


async def measure(
    urls: dict[str, str], fake: dict[str, str], folder: Path, gap: float
) -> list[float]:
    rest = BinanceRest(api_key="emulator-key", api_secret="emulator-secret", rest_url=urls["rest"])
    store = SqliteStore(folder / f"bench-{gap}.db")
    telegram = Telegram(allowed_chat_ids=(CHAT,), base_url=fake["base_url"])
    service = build(
        Settings(telegram=telegram),
        rest=rest,
        ws_url=urls["ws"],
        store=store,
        rules=ALERT_RULES,
        timings=Timings(reconcile_every=3600, staleness_limit=3600),
        chats=ChatOptions(token=TOKEN),
        log_alerts=False,
        dedup_ms=0,
    )
    task = asyncio.create_task(service.run())
    delays: list[float] = []
    try:
        await service.wait_for(lambda s: s.ready, 20)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{fake['control']}/calls") as response:
                seen = len(await response.json())  # calls from an earlier run are not ours

            async def arrival(word: str) -> float:
                """When the next alert containing `word` reached the fake server."""
                nonlocal seen
                for _ in range(1000):  # bounded: 10 s
                    async with session.get(f"{fake['control']}/calls?since={seen}") as response:
                        calls = await response.json()
                    for i, call in enumerate(calls):
                        text = str(call["params"].get("text", ""))
                        if call["method"] == "sendMessage" and word in text:
                            seen += i + 1
                            return float(call["at"])
                    await asyncio.sleep(0.01)
                raise TimeoutError(word)

            for n in range(CROSSINGS):
                for price in (SAFE, DANGER):
                    start = time.monotonic()
                    async with session.post(
                        f"{urls['control']}/mark", json={"symbol": "BTCUSDT", "price": str(price)}
                    ):
                        pass
                    if price == DANGER:
                        delays.append((await arrival("past") - start) * 1000)
                    elif n:  # the way back is an alert too: let it go out before the next
                        await arrival("all clear")
                        await asyncio.sleep(gap)  # spacing, to measure with or without pacing
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        store.close()
        await rest.close()
    return delays


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        scenario = Path(folder) / "s.json"
        scenario.write_text(json.dumps(SCENARIO))
        command = [sys.executable, "-m", "assistant", "emulator", "--scenario", str(scenario)]
        fake_command = [sys.executable, "-m", "assistant.emulator.telegram", "--token", TOKEN]
        with (
            subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as emulator,
            subprocess.Popen(fake_command, stdout=subprocess.PIPE, text=True) as fake,
        ):
            try:
                assert emulator.stdout is not None and fake.stdout is not None
                urls = json.loads(emulator.stdout.readline())
                fake_urls = json.loads(fake.stdout.readline())
                spaced = asyncio.run(measure(urls, fake_urls, Path(folder), 0.05))
                bunched = asyncio.run(measure(urls, fake_urls, Path(folder), 0.0))
            finally:
                for process in (emulator, fake):
                    process.terminate()
                    process.wait(timeout=10)
    print(f"telegram: crossing on the emulator -> sendMessage at the Bot API ({len(spaced)} each)")
    for name, delays in (("50 ms after the last message", spaced), ("right after it", bunched)):
        p50, p99 = statistics.median(delays), pct(delays, 0.99)
        print(f"  {name}: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    print(
        "  (PTB's rate limiter paces messages at Telegram's 30/s: bunched alerts wait their turn)"
    )


if __name__ == "__main__":
    main()
