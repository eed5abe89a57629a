"""Regressions for bugs an independent review found in the Telegram change."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from telegram.error import BadRequest, NetworkError

from assistant.chat.confirm import Confirmations
from assistant.core.actions import SendAlert, TransferToFutures
from assistant.core.events import CapsRestored
from assistant.core.mirror import MirrorState
from assistant.core.ports import Who
from assistant.core.rules.config import Rules
from assistant.core.rules.engine import evaluate
from assistant.core.rules.memory import Memory
from assistant.emulator.server.app import Emulator
from assistant.emulator.telegram import FakeBotApi
from assistant.service.clock import SteppedClock, SystemClock
from assistant.service.notifier import Notifier
from assistant.store.sqlite import SqliteStore
from assistant.telegram.delivery import deliver
from tests.telegram.harness import OWNER, TOKEN, Harness
from tests.telegram.test_confirmations import wait_until
from tests.telegram.test_proposals import EAGER

WHO = Who(OWNER, OWNER, "owner")


async def test_a_proposal_nobody_saw_expires_unsent_and_the_bot_recovers(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Telegram is down when the rules propose: the question waits in the outbox with its cap
    booked; when it expires the cap is given back, and it is never delivered late."""
    fake = await FakeBotApi(TOKEN).start()
    fake.down = True  # Telegram is down when the service starts and when the rules propose
    clock = SteppedClock(int(time.time() * 1000))  # the expiry is stepped, not waited for
    try:
        slow = replace(EAGER, deposit=replace(EAGER.deposit, cooldown_ms=600_000))
        harness = Harness(emulator, tmp_path, rules=slow, fake=fake, keep_fake=True, clock=clock)
        async with harness as h:
            service = h.service
            assert service is not None
            outbox = service.store.outbox
            await wait_until(lambda: any(r.key == "question" for r in outbox.pending()))
            question = next(r for r in outbox.pending() if r.key == "question")
            assert "The rules propose" in question.text and question.expires_at is not None
            token = question.buttons[0].data
            assert service.memory.pending  # an open question keeps its cap booked
            await clock.advance(61)  # confirm_timeout is 60 s
            await wait_until(lambda: not service.memory.pending)  # expired: nobody can confirm
            assert service.memory.deposited_today(clock.now_ms()) == 0
            fake.down = False  # Telegram is back: the bot's supervised restart resumes polling
            polls = len([c for c in fake.calls if c.method == "getUpdates"])
            await clock.advance(30)  # the longest restart backoff, on the same clock
            await h.wait_calls("getUpdates", polls + 1, timeout=20)
            late = await h.press(token)
            assert "no longer works" in late.params["text"]
            status = await h.ask("/status")
            assert "Margin ratio" in status.params["text"]
            await wait_until(lambda: outbox.count_pending() == 0)
            delivered = [
                c
                for c in fake.calls
                if "The rules propose" in str(c.params.get("text")) and c.status == 200
            ]
            assert delivered == []  # the expired question was dropped, not sent late
        del h
    finally:
        await fake.stop()
    assert emulator.engine.transfers == []


async def test_a_pause_stops_money_already_queued(emulator: Emulator, tmp_path: Path) -> None:
    async with Harness(emulator, tmp_path) as h:
        service = h.service
        assert service is not None
        await h.ask("/pause")
        await wait_until(lambda: service.effective_rules().paused)
        queued = TransferToFutures("deposit-1-0", Decimal(100), "queued before the pause", 1, "x")
        service.executor.submit(queued, replace(Rules(), mode="auto"), None)
        await wait_until(
            lambda: any(
                r["decision_id"] == "deposit-1-0" and r["what"] == "dry-run"
                for r in service.store.audit_rows()
            )
        )
        rows = [r for r in service.store.audit_rows() if r["decision_id"] == "deposit-1-0"]
        assert [(r["what"], r["detail"]) for r in rows if r["what"] == "dry-run"] == [
            ("dry-run", "paused")
        ]
    assert emulator.engine.transfers == []


async def test_a_chat_that_blocked_the_bot_does_not_hold_up_the_others(
    emulator: Emulator, tmp_path: Path
) -> None:
    blocked = 777
    async with Harness(emulator, tmp_path, allowed_chat_ids=(blocked, OWNER)) as h:
        assert h.service is not None
        h.fake.blocked.add(blocked)
        for n in range(150):  # more than a page of the blocked chat's messages
            h.service.notifier(SendAlert(f"k{n}", "warning", f"alert {n}", n))
        async with asyncio.timeout(20):
            while sum("alert 149" in t for t in h.fake.texts(OWNER)) < 1:
                await asyncio.sleep(0.02)
        owner = [t for t in h.fake.texts(OWNER) if "alert " in t]
        assert [int(t.rsplit(" ", 1)[1]) for t in owner] == list(range(150))
        kept = [
            r
            for r in h.service.store.outbox.pending(1000)
            if r.chat_id == blocked and r.text.endswith(tuple(f"alert {n}" for n in range(150)))
        ]
        assert len(kept) == 150  # every one kept for the blocked chat


async def test_a_transient_error_on_the_plain_text_retry_keeps_the_message(
    tmp_path: Path,
) -> None:
    store = SqliteStore(tmp_path / "a.db")
    store.outbox.add(1, "k", "warning", "<b>x</b>", 1, 0)
    calls: list[bool] = []

    async def send(chat_id: int, text: str, *, html: bool = True, buttons: object = ()) -> None:
        calls.append(html)
        if html:
            raise BadRequest("Can't parse entities: unsupported start tag")
        raise NetworkError("connection reset")

    wake = asyncio.Event()
    task = asyncio.create_task(deliver(send, store.outbox, wake, SystemClock(), max_backoff=0.05))
    async with asyncio.timeout(5):
        while len(calls) < 4:
            await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert store.outbox.count_pending() == 1  # still waiting, not closed
    store.close()


def test_money_notices_are_never_merged_or_muted(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db")
    notifier = Notifier(store, chats=(1,), log_alerts=False)
    done = "done: transfer 200 USDT from spot to futures (asked from chat)"
    notifier(SendAlert("deposit", "warning", done, 1_000), muted=True)
    notifier(SendAlert("deposit", "warning", done, 180_000), muted=True)
    notifier(SendAlert("distance", "warning", "muted, this one", 180_000), muted=True)
    assert [r.key for r in store.outbox.pending()] == ["deposit", "deposit"]
    store.close()


def test_a_restart_gives_back_what_unanswered_questions_booked() -> None:
    memory = Memory(
        deposit_day=0,
        deposit_total=Decimal(1500),
        pending=frozenset({"deposit-1-0", "deposit-2-1"}),
        booked={"deposit-1-0": Decimal(1000), "deposit-2-1": Decimal(500)},
    )
    # Only deposit-2-1 had an intent open: the store's facts say so, and nothing else moved.
    restart = CapsRestored(0, Decimal(500), {"deposit-2-1": Decimal(500)}, 10)
    after = evaluate(MirrorState(), memory, 10, Rules(), restart).memory
    assert after.pending == {"deposit-2-1"} and after.booked == {"deposit-2-1": Decimal(500)}
    assert after.deposit_total == Decimal(500)


async def test_a_crafted_button_cannot_close_a_question_and_a_failure_settles_it() -> None:
    closed: list[str] = []

    async def run(who: Who) -> str:
        raise RuntimeError("boom")

    async def on_cancel(why: str) -> None:
        closed.append(why)

    confirmations = Confirmations(60, SystemClock())
    reply = confirmations.ask("move money?", run, WHO, on_cancel)
    token = reply.buttons[0].data[2:]
    crafted = await confirmations.press(f"z:{token}", WHO)
    assert "no longer works" in crafted.text and token in confirmations.open
    failed = await confirmations.press(f"c:{token}", WHO)
    assert "Failed" in failed.text and closed == ["failed"]
    confirmations.close_all()
