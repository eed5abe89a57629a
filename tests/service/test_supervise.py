"""Supervision on a stepped clock: a crashed task restarts after its backoff, and not before;
the watchdog's health is false while it waits. Time is stepped, never waited for."""

from __future__ import annotations

import asyncio

from assistant.errors import ExchangeError
from assistant.service.clock import SteppedClock
from assistant.service.supervise import Supervisor


async def settle() -> None:
    """Let every ready task run to its next wait (bounded)."""
    for _ in range(50):
        await asyncio.sleep(0)


async def test_a_crashed_task_restarts_after_its_backoff_and_not_before() -> None:
    clock = SteppedClock()
    supervisor = Supervisor(clock)
    runs: list[int] = []

    async def job() -> None:
        runs.append(clock.now_ms())
        if len(runs) < 3:
            raise RuntimeError("boom")
        await asyncio.Event().wait()  # the third run stays up

    task = asyncio.create_task(supervisor.keep("job", job))
    try:
        await settle()
        assert len(runs) == 1 and not supervisor.healthy
        await clock.advance(0.49)
        assert len(runs) == 1  # the first backoff is 0.5 s
        await clock.advance(0.01)
        assert len(runs) == 2 and not supervisor.healthy
        await clock.advance(0.99)
        assert len(runs) == 2  # the second is 1 s
        await clock.advance(0.01)
        assert len(runs) == 3 and supervisor.healthy
        assert supervisor.restarts == {"job": 2}
        assert [r - runs[0] for r in runs] == [0, 500, 1500]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_start_up_step_is_retried_while_the_exchange_cannot_answer() -> None:
    clock = SteppedClock()
    supervisor = Supervisor(clock)
    tries: list[int] = []

    async def step() -> None:
        tries.append(clock.now_ms())
        if len(tries) < 4:
            raise ExchangeError("503 from the exchange")

    task = asyncio.create_task(supervisor.until_ok("brackets", step))
    await settle()
    for _ in range(10):  # bounded: 0.5 + 1 + 2 s of backoff
        if task.done():
            break
        await clock.advance(0.5)
    assert task.done() and task.exception() is None
    assert [t - tries[0] for t in tries] == [0, 500, 1500, 3500]


async def test_a_stepped_sleep_wakes_in_deadline_order() -> None:
    clock = SteppedClock(0)
    woke: list[str] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append(f"{name}@{clock.now_ms()}")

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("b", 2), ("a", 1), ("c", 3))]
    await settle()
    await clock.advance(2.5)
    assert woke == ["a@1000", "b@2000"] and clock.now_ms() == 2500
    await clock.advance(1)
    assert woke[-1] == "c@3000"
    await asyncio.gather(*tasks)
