"""Supervision in one place: every long-running task restarts after a crash, with backoff,
and start-up steps are retried until the exchange answers. Nothing dies silently: a crash is
logged with its traceback, and `healthy` is false while any task waits to restart."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from assistant.core.ports import Clock
from assistant.errors import ExchangeError

log = logging.getLogger(__name__)
Job = Callable[[], Awaitable[None]]


def backoff(attempt: int, first: float = 0.5, ceiling: float = 30.0) -> float:
    """Seconds before the next try: doubling from `first`, at most `ceiling`."""
    return min(ceiling, first * 2.0 ** min(attempt, 16))


class Supervisor:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.crashed: set[str] = set()
        self.restarts: dict[str, int] = {}

    @property
    def healthy(self) -> bool:
        """Every supervised task is running; none is waiting to restart."""
        return not self.crashed

    async def keep(self, name: str, job: Job) -> None:
        """Run `job`; if it crashes, log it and start it again (never silently lost)."""
        for attempt in range(10**9):
            try:
                await job()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                self.crashed.add(name)
                self.restarts[name] = self.restarts.get(name, 0) + 1
                delay = backoff(attempt)
                log.exception("task %s crashed; restarting it in %.1fs", name, delay)
                await self.clock.sleep(delay)
                self.crashed.discard(name)

    async def until_ok(self, what: str, step: Job) -> None:
        """A start-up step, tried again (with backoff) while the exchange cannot answer."""
        for attempt in range(10**9):
            try:
                await step()
                return
            except ExchangeError as exc:
                delay = backoff(attempt, first=0.5, ceiling=30.0)
                log.warning("start-up step %s failed (%s); retrying in %.1fs", what, exc, delay)
                await self.clock.sleep(delay)
