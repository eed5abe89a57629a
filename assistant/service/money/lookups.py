"""Looking a money action up on the exchange, by rule and not by accident.

A request that timed out may still be carried out by Binance until its signed `timestamp +
recvWindow` passes on Binance's clock. So a lookup that finds nothing proves nothing before
that moment plus `lookup_margin`: until then the lookup is asked again, the intent stays
pending and its cap booked. Each request's last moment is told to `stamp` before it leaves
and committed with the intent (kept in memory too, should the store be unable to write), so
the recovery after a crash obeys the same rule."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import Any

from assistant.binance.rest import BinanceRest
from assistant.core.actions import MoneyAction
from assistant.core.ports import Clock
from assistant.errors import ExchangeError, RateLimited
from assistant.service.money.exchange import look
from assistant.store.sqlite import SqliteStore

log = logging.getLogger(__name__)
UNKNOWN = object()  # a lookup that could not be made
# Added to a request's last moment (`timestamp + recvWindow`) before a lookup that finds
# nothing proves it was not carried out: for the error of our estimate of Binance's clock, and
# the time Binance takes to show what it did. A chosen bound, not a measurement
# (`[exchange] lookup_margin`).
LOOKUP_MARGIN = 5.0
LOOK_EVERY = 0.5  # seconds between lookups while a request may still be carried out
MAX_RECV_WINDOW_MS = 60_000  # the longest recvWindow Binance accepts


def backoff(exc: ExchangeError, attempt: int) -> float:
    return exc.retry_after if isinstance(exc, RateLimited) else min(5.0, 0.2 * 2**attempt)


class Lookups:
    def __init__(
        self,
        rest: BinanceRest,
        store: SqliteStore,
        clock: Clock,
        lookup_margin: float = LOOKUP_MARGIN,
        attempts: int = 5,
    ) -> None:
        self.rest = rest
        self.store = store
        self.clock = clock
        self.lookup_margin_ms = int(lookup_margin * 1000)
        self.attempts = attempts
        self._sent_until: dict[str, int] = {}  # decision -> its requests' last moment

    async def until_known(self, action: MoneyAction, since: int, sure_after: int | None) -> Any:
        """`look`, asked again while the exchange cannot answer (UNKNOWN if it never can), and
        while a request for `action` may still be carried out: finding nothing counts only
        from a lookup made at `sure_after` or later (Binance's clock as estimated; None: at
        once). Until then the intent stays pending, its cap booked."""
        failures = 0
        left = 0.0 if sure_after is None else (sure_after - self.rest.server_ms()) / 1000
        polls_left = int(max(0.0, left) / LOOK_EVERY) + 3  # bounded, should the clock stall
        while True:
            asked_at = self.rest.server_ms()
            try:
                found = await look(self.rest, self.store, action, since)
            except ExchangeError as exc:
                failures += 1
                if failures >= self.attempts:
                    return UNKNOWN
                wait = backoff(exc, failures - 1)
                log.warning(
                    "lookup for %s failed (%s); again in %.1fs", action.decision_id, exc, wait
                )
                await self.clock.sleep(wait)
                continue
            if found is not None or sure_after is None or asked_at >= sure_after:
                return found
            polls_left -= 1
            if polls_left <= 0:
                return UNKNOWN
            await self.clock.sleep(min(LOOK_EVERY, (sure_after - asked_at) / 1000))

    def stamp(self, decision_id: str) -> Callable[[int], None]:
        """Told each request's signed timestamp before it leaves: Binance may carry it out
        until `timestamp + recvWindow` on its clock. Committed, so `recover` knows it too."""

        def stamp(timestamp: int) -> None:
            until = timestamp + self.rest.recv_window_ms
            self._sent_until[decision_id] = max(until, self._sent_until.get(decision_id, until))
            try:
                self.store.mark_sent(decision_id, until)
            except sqlite3.Error as exc:  # a full disk: kept in memory, and the request goes
                self.store.held.failed(exc)

        return stamp

    def sure_after(self, decision_id: str) -> int | None:
        """The moment (Binance's clock, ms) from which a lookup that finds nothing proves that
        no request sent for this decision was carried out: the last moment Binance may carry
        the latest one out, plus `lookup_margin`. None: none was sent."""
        try:
            row = self.store.intent(decision_id)
        except sqlite3.Error:  # the store cannot say: as if sent just now
            row = {"sent_until": -1}
        until = None if row is None else row["sent_until"]
        if decision_id in self._sent_until and until != -1:  # what this process sent
            until = max(self._sent_until[decision_id], until or 0)
        if until is None:
            return None
        if until < 0:  # left pending by a version that did not record it: sent before now
            until = self.rest.server_ms() + MAX_RECV_WINDOW_MS
        return int(until) + self.lookup_margin_ms
