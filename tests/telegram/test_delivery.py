"""Alerts always arrive: through flood control, an outage and a restart, once each, in order."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

import pytest

from assistant.core.actions import SendAlert
from assistant.emulator.server.app import Emulator
from assistant.emulator.telegram import FakeBotApi
from tests.telegram.harness import OWNER, TOKEN, Harness, is_alert


def alert(n: int) -> SendAlert:
    return SendAlert("test", "warning", f"alert number {n} <&>", n)


def delivered(fake: FakeBotApi) -> list[str]:
    """Alert texts the fake accepted (answered 200), in order."""
    return [
        str(c.params["text"]).split("\n")[1]
        for c in fake.calls
        if is_alert(c) and "alert number" in str(c.params["text"]) and c.answered
    ]


async def wait_for(fake: FakeBotApi, count: int, timeout: float = 20) -> list[str]:
    async with asyncio.timeout(timeout):
        while len(delivered(fake)) < count:
            await asyncio.sleep(0.02)
    return delivered(fake)


async def test_flood_control_delays_alerts_but_keeps_them_all_in_order(
    emulator: Emulator, tmp_path: Path
) -> None:
    async with Harness(emulator, tmp_path) as h:
        assert h.service is not None
        h.fake.flood = 3  # the next three sends get 429 retry_after=1
        for n in range(1, 6):
            h.service.notifier(alert(n))
        texts = await wait_for(h.fake, 5)
        assert texts == [f"alert number {n} &lt;&amp;&gt;" for n in range(1, 6)]
        flooded = [c for c in h.fake.calls if c.status == 429]
        assert len(flooded) == 3


# After Telegram's 502s, httpx leaves a pooled socket or two in a reference cycle, unclosed
# (found by the garbage collector; not our code): collected here so it is reported on this
# test, and tolerated on this test only.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_alerts_raised_while_telegram_is_down_arrive_once_it_is_back_even_after_a_restart(
    emulator: Emulator, tmp_path: Path
) -> None:
    fake = await FakeBotApi(TOKEN).start()
    try:
        async with Harness(emulator, tmp_path, fake=fake, keep_fake=True) as h:
            assert h.service is not None
            h.service.notifier(alert(1))
            await wait_for(fake, 1)
            fake.down = True  # Telegram down: 502 Bad Gateway to every call
            for n in range(2, 5):
                h.service.notifier(alert(n))
            outbox = h.service.store.outbox
            async with asyncio.timeout(10):  # the outbox tried and failed at least once
                while not any(r.attempts for r in outbox.pending()):
                    await asyncio.sleep(0.02)
            fake.down = False
            await wait_for(fake, 4)
            fake.down = True
            for n in range(5, 8):
                h.service.notifier(alert(n))
            assert h.service.store.outbox.count_pending() == 3
        del h
        gc.collect()  # see above
        # Stopped with three alerts undelivered; a new process on the same store sends them.
        fake.down = False
        async with Harness(emulator, tmp_path, fake=fake, keep_fake=True) as h:
            texts = await wait_for(fake, 7)
            assert h.service is not None
            assert h.service.store.outbox.count_pending() == 0
        del h
    finally:
        await fake.stop()
        gc.collect()
    numbers = [int(t.split()[2]) for t in texts]
    assert numbers == list(range(1, 8)), "each alert once, in order"
    assert all(str(c.params.get("chat_id")) == str(OWNER) for c in fake.calls if is_alert(c))
