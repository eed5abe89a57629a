"""Money moves only after a Confirm press: once, before the buttons expire, never after."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from assistant.core.rules.config import Rules
from assistant.emulator.server.app import Emulator
from assistant.service.clock import SteppedClock
from tests.telegram.harness import Harness


async def wait_until(predicate: object, timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.01)


async def test_a_deposit_happens_once_on_confirm_and_a_second_press_does_nothing(
    emulator: Emulator, tmp_path: Path
) -> None:
    async with Harness(emulator, tmp_path) as h:
        question = await h.ask("/deposit 150")
        text = question.params["text"]
        assert "Transfer <b>150.00 USDT</b>" in text and "Margin ratio" in text
        confirm, cancel = h.buttons(question)
        assert confirm.startswith("c:") and cancel.startswith("x:")
        assert emulator.engine.transfers == []  # nothing moves before the press
        done = await h.press(confirm)
        assert "Confirmed" in done.params["text"]
        await wait_until(lambda: len(emulator.engine.transfers) == 1)
        again = await h.press(confirm)
        assert "no longer works" in again.params["text"]
        await h.take(lambda c: "done: transfer 150.00 USDT" in str(c.params.get("text")))
        assert [Decimal(t["amount"]) for t in emulator.engine.transfers] == [Decimal("150")]


async def test_an_expired_or_cancelled_question_moves_nothing(
    emulator: Emulator, tmp_path: Path
) -> None:
    clock = SteppedClock(int(time.time() * 1000))  # expiry by stepping time, not waiting
    async with Harness(emulator, tmp_path, clock=clock, confirm_timeout=60) as h:
        question = await h.ask("/reduce BTCUSDT 10%")
        confirm, _ = h.buttons(question)
        await clock.advance(59)
        still = [c for c in h.fake.calls if c.method == "editMessageText"]
        assert still == []  # a second before its time, the question is open
        await clock.advance(2)
        expired = await h.next_sent()  # the question is edited when it expires
        assert expired.method == "editMessageText" and "Expired" in expired.params["text"]
        late = await h.press(confirm)
        assert "no longer works" in late.params["text"]
        question = await h.ask("/deposit 50")
        _, cancel = h.buttons(question)
        cancelled = await h.press(cancel)
        assert "Cancelled" in cancelled.params["text"]
        assert h.service is not None
        h.service.store.flush()
    assert emulator.engine.transfers == []
    assert not [o for o in emulator.engine.orders if o["clientOrderId"].startswith("mg-")]


async def test_over_the_daily_cap_is_refused_before_any_question(
    emulator: Emulator, tmp_path: Path
) -> None:
    rules = replace(Rules(), mode="auto")
    rules = replace(rules, deposit=replace(rules.deposit, enabled=False, max_per_day=Decimal(100)))
    async with Harness(emulator, tmp_path, rules=rules) as h:
        reply = await h.ask("/deposit 150")
        assert "over the per-deposit cap" in reply.params["text"] or "cap" in reply.params["text"]
        assert h.buttons(reply) == []
        reply = await h.ask("/mode dry-run")
        reply = await h.ask("/deposit 50")
        assert "dry-run" in reply.params["text"] and h.buttons(reply) == []
    assert emulator.engine.transfers == []


async def test_switching_to_auto_and_resuming_ask_first_pausing_does_not(
    emulator: Emulator, tmp_path: Path
) -> None:
    async with Harness(emulator, tmp_path, rules=replace(Rules(), mode="dry-run")) as h:
        service = h.service
        assert service is not None
        question = await h.ask("/mode auto")
        assert service.effective_rules().mode == "dry-run"
        await h.press(h.buttons(question)[0])
        await wait_until(lambda: service.effective_rules().mode == "auto")
        await h.ask("/pause")
        await wait_until(lambda: service.effective_rules().paused)
        question = await h.ask("/resume")
        assert service.effective_rules().paused
        await h.press(h.buttons(question)[0])
        await wait_until(lambda: not service.effective_rules().paused)
        status = await h.ask("/status")
        assert "Mode <b>auto</b> (from chat)" in status.params["text"]
