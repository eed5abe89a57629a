"""Clocks for the `Clock` port: the system's, and a stepped one for tests and simulations.

`SteppedClock` never reads the wall: `now_ms()` is what it was set to, and `sleep(s)` returns
when someone `advance`s the clock past the sleeper's deadline, in deadline order. A test can
so run a backoff, an expiry or a periodic job through its whole schedule without waiting.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable


class SystemClock:
    def now_ms(self) -> int:
        return int(time.time() * 1000)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class ExchangeClock:
    """The service's clock: the host's, corrected by the offset to the exchange's clock that
    the REST client measures (`BinanceRest.server_ms`). Every decision, freshness check and
    cooldown is in the exchange's time, so a host clock that is off (30 s ahead, say) neither
    makes every mark look stale nor lets a future-dated frame pass."""

    def __init__(self, server_ms: Callable[[], int]) -> None:
        self.server_ms = server_ms

    def now_ms(self) -> int:
        return self.server_ms()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class SteppedClock:
    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._now = start_ms
        self._order = itertools.count()
        self._sleepers: list[tuple[int, int, asyncio.Future[None]]] = []

    def now_ms(self) -> int:
        return self._now

    async def sleep(self, seconds: float) -> None:
        deadline = self._now + max(0, round(seconds * 1000))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline, next(self._order), future))
        await future

    @property
    def sleepers(self) -> int:
        """How many waits are pending (cancelled ones included until the clock passes them)."""
        return sum(1 for _, _, f in self._sleepers if not f.done())

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking each sleeper whose deadline is passed, in order; after
        each wake the woken tasks run until they wait again."""
        target = self._now + round(seconds * 1000)
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            if not future.done():
                future.set_result(None)
                for _ in range(20):  # let the woken task (and what it wakes) run to its next wait
                    await asyncio.sleep(0)
        self._now = target
