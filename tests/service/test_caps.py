"""The daily cap after a restart comes from durable facts (the intents), never from the
rules' memory snapshot, which a kill can leave a second behind a transfer."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from assistant.core.events import ActionSettled, CapsRestored
from assistant.core.mirror import MirrorState
from assistant.core.rules.config import Rules
from assistant.core.rules.engine import evaluate
from assistant.core.rules.memory import DAY_MS, Memory
from assistant.core.values import Outcome
from assistant.store.sqlite import SqliteStore

DAY = 20_000  # a UTC day number
T0 = DAY * DAY_MS + 3_600_000  # 01:00 that day


def intent(store: SqliteStore, decision: str, kind: str, amount: str, status: str) -> None:
    at = int(decision.split("-")[1])
    store.record_intent(decision, kind, {"amount": amount, "at": at}, at, "v", None)
    if status != "pending":
        store.settle_intent(decision, status, {"detail": status}, at + 5)


def test_the_days_total_is_rebuilt_from_the_intents(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db")
    intent(store, f"deposit-{T0}-1", "deposit", "300", "done")  # the snapshot missed it
    intent(store, f"isolated-{T0 + 1}-2", "isolated-margin", "50", "unknown")  # may have moved
    intent(store, f"deposit-{T0 + 2}-3", "deposit", "120", "pending")  # in flight at the kill
    intent(store, f"deposit-{T0 + 3}-4", "deposit", "999", "failed")  # refused: nothing moved
    intent(store, f"deposit-{T0 + 4}-5", "deposit", "999", "abandoned")  # never sent
    intent(store, f"reduce-{T0 + 5}-6", "reduce", "0", "done")  # an order: no transfer
    yesterday = T0 - DAY_MS
    intent(store, f"deposit-{yesterday}-7", "deposit", "700", "done")  # another day's cap
    intent(store, f"deposit-{yesterday + 1}-8", "deposit", "40", "pending")  # still booked
    moved, in_flight = store.money_facts(DAY)
    store.close()
    assert moved == Decimal(470)  # 300 + 50 + 120
    assert in_flight == {f"deposit-{T0 + 2}-3": Decimal(120), f"deposit-{yesterday + 1}-8": 40}


def test_a_stale_memory_snapshot_cannot_free_the_cap() -> None:
    """The memory was saved before a 300 deposit; the intents know it happened."""
    stale = Memory(deposit_day=DAY, deposit_total=Decimal(0))
    restart = CapsRestored(DAY, Decimal(300), {}, T0 + 10)
    memory = evaluate(MirrorState(), stale, T0 + 10, Rules(), restart).memory
    assert memory.deposited_today(T0 + 10) == Decimal(300)
    assert memory.pending == frozenset() and memory.booked == {}


def test_a_booking_counts_against_the_day_it_was_decided() -> None:
    """A deposit decided yesterday and abandoned today gives nothing back to today's cap."""
    yesterday = f"deposit-{T0 - DAY_MS}-1"
    restart = CapsRestored(DAY, Decimal(200), {yesterday: Decimal(500)}, T0)
    memory = evaluate(MirrorState(), Memory(), T0, Rules(), restart).memory
    settled = ActionSettled(yesterday, "deposit", Outcome.ABANDONED, "not found", T0 + 1)
    memory = evaluate(MirrorState(), memory, T0 + 1, Rules(), settled).memory
    assert memory.deposited_today(T0 + 1) == Decimal(200)
    assert memory.pending == frozenset()
