"""Once a request has left the process, a failure is an unknown outcome: only a lookup on the
exchange settles it, and its cap stays booked meanwhile. The store write right after the
exchange accepted a transfer fails here (a trigger in the real SQLite file makes it fail)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import sqlite_utils

from assistant.emulator.server.app import Emulator
from tests.service.test_actions_live import danger, example_rules  # noqa: F401  (a fixture)
from tests.service.test_mirror_live import Running

# Any write to `claims` fails with an OperationalError, as a full or failing disk would.
REFUSE_CLAIMS = (
    "CREATE TRIGGER refuse_claims BEFORE INSERT ON claims"
    " BEGIN SELECT abs(-9223372036854775808); END"
)


async def wait_until(predicate: object, timeout: float = 15) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.05)


async def test_a_failed_write_after_an_accepted_transfer_never_frees_the_cap(
    danger: Emulator,  # noqa: F811
    tmp_path: Path,
) -> None:
    path = tmp_path / "a.db"
    rules = example_rules(speed=1, reduce=replace(example_rules().reduce, enabled=False))
    rules = replace(rules, deposit=replace(rules.deposit, cooldown_ms=0))  # would go again at once
    running = Running(danger, path, rules=rules)
    running.store.db.execute(REFUSE_CLAIMS)  # every claim of a tranId fails, from the start
    async with running as service:
        await wait_until(lambda: len(danger.engine.transfers) == 1)
        first = service.memory.deposited_today(service.clock.now_ms())
        # The write after acceptance failed: the decision stays booked, nothing is sent again,
        # however often the executor is restarted and looks (its lookup cannot claim either).
        await wait_until(lambda: service.supervisor.restarts.get("executor", 0) >= 2)
        assert len(danger.engine.transfers) == 1
        assert service.memory.pending and service.memory.deposited_today(0) == 0
        assert service.memory.deposited_today(service.clock.now_ms()) == first > 0
        row = service.store.intent(next(iter(service.memory.pending)))
        assert row is not None and row["status"] == "pending"
        service.store.db.execute("DROP TRIGGER refuse_claims")  # the disk is back
        await wait_until(lambda: not service.memory.pending)
        assert len(danger.engine.transfers) == 1  # found on the exchange, not sent again
    rows = list(sqlite_utils.Database(path).query("SELECT status FROM intents"))
    assert next(r["status"] for r in rows) == "done"
    assert Decimal(danger.engine.transfers[0]["amount"]) == first
