"""`[store] retention` in the running service: on its save tick, journal, audit and sent (or
given-up) outbox rows older than the setting go; intents, claims, undelivered messages, newer
rows, and the newest filters and chat mode a replay starts from stay."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from assistant.core import events
from assistant.core.events import MarkPriceUpdated
from assistant.core.values import Outcome
from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator
from assistant.service.bootstrap import timings_from
from assistant.service.clock import SteppedClock
from assistant.service.settings import Settings, Store
from assistant.store.sqlite import SqliteStore
from tests.service.test_mirror_live import WAIT, Running, steady

DAY = 86_400_000
FRAME = '{"e":"markPriceUpdate","s":"BTCUSDT","p":"97000.10000000"}'


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    emu = await Emulator(load_scenario(steady())).start()
    yield emu
    await emu.stop()


def mark(at: int) -> MarkPriceUpdated:
    return MarkPriceUpdated("BTCUSDT", Decimal("97000.10000000"), at - 3)


def seed(path: Path, old: int, new: int) -> tuple[str, list[events.Event]]:
    """Rows of eight days ago and of six days ago; returns the old decision and the old rows
    a replay starts from."""
    store = SqliteStore(path)
    context: list[events.Event] = [events.FiltersLoaded({}, old), events.ModeSet("", "ann", old)]
    for event in context:
        store.append(event, old)
    for i in range(100):
        store.append(mark(old + i), old + i, FRAME)
    decision = f"deposit-{old}-1"
    settled = events.ActionSettled(decision, "deposit", Outcome.DONE, "", old + 200)
    store.append(settled, old + 200)
    store.append(mark(new), new, FRAME)
    store.flush()
    store.audit(old, "", "note", "an old note")
    store.audit(new, "", "note", "a newer note")
    payload = {"amount": "10", "at": old}
    store.record_intent(decision, "deposit", payload, old, "v1", None, "deposit 10")
    store.settle_intent(decision, "done", {"tran_id": 111}, old + 200)
    assert store.claim_transfer(111, decision)
    for text, at in [("sent long ago", old), ("given up", old), ("waiting", old)]:
        assert store.outbox.add(1, "k", "info", text, at, 0)
    store.outbox.add(1, "k", "info", "sent lately", new, 0)
    sent, given_up, _, lately = store.outbox.pending()
    store.outbox.sent(sent.id, old + 1)
    store.outbox.failed(given_up.id, "expired", give_up_at=old + 2)
    store.outbox.sent(lately.id, new + 1)
    store.close()
    return decision, context


def older_than(store: SqliteStore, cutoff: int) -> tuple[int, int]:
    """(journal rows, audit rows) received or written before `cutoff`."""
    journal = store.db.execute("SELECT COUNT(*) FROM journal WHERE received_at < ?", [cutoff])
    audit = store.db.execute("SELECT COUNT(*) FROM audit WHERE at < ?", [cutoff])
    return int(journal.fetchone()[0]), int(audit.fetchone()[0])


async def test_the_save_tick_prunes_rows_older_than_the_retention(
    emulator: Emulator, tmp_path: Path
) -> None:
    now = int(time.time() * 1000)
    clock = SteppedClock(now)  # never advanced: every save tick is at `now`
    old, new, cutoff = now - 8 * DAY, now - 6 * DAY, now - 7 * DAY
    path = tmp_path / "a.db"
    decision, context = seed(path, old, new)
    async with Running(emulator, path, clock=clock, retention=7 * 86400.0) as service:
        store = service.store
        await service.wait_for(lambda _: older_than(store, cutoff) == (len(context), 0), WAIT)
        journal = list(store.journal())
        start = store.journal_start()
        audit = [r["detail"] for r in store.audit_rows()]
        outbox = [r[0] for r in store.db.execute("SELECT text FROM outbox ORDER BY id")]
        claims = list(store.db.execute("SELECT tran_id, decision_id FROM claims"))
        intent = store.intent(decision)
    assert [r.event for r in journal[: len(context) + 1]] == [*context, mark(new)]
    assert [r.received_at for r in journal[len(context) + 1 :]] == [now] * (
        len(journal) - len(context) - 1
    )  # and what the service journaled since it started
    assert start == new
    assert audit == ["a newer note"]  # the old intent's audit row went with the old note
    assert intent is not None and intent["status"] == "done"
    assert claims == [(111, decision)]
    assert outbox == ["waiting", "sent lately"]


def test_the_setting_reaches_the_loop() -> None:
    assert timings_from(Settings()).retention == 7 * 86400.0
    assert timings_from(Settings(store=Store(retention="2d"))).retention == 2 * 86400.0
