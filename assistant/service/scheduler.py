"""The inbox and the producers that only put things in it.

Everything the service learns arrives through one `Inbox` and is handled by one consumer
(`loop.Loop`), in order: stream frames, REST snapshots, the executor's settlements, chat
commands, and the scheduler's ticks. The scheduler is apscheduler, for wall-clock periodic
jobs; each job fetches from the exchange and puts the result in the inbox, or puts a `Tick`
(save the state, send the daily summary) for the consumer to act on. No job touches the
state itself.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from assistant.binance.rest import BinanceRest
from assistant.core.actions import MoneyAction
from assistant.core.events import Event
from assistant.core.ports import Clock
from assistant.errors import ExchangeError

log = logging.getLogger(__name__)


class Tick(enum.Enum):
    """A periodic chore the consumer does on its own state."""

    SAVE = "save"  # flush the journal, save state and memory, prune old health rows
    SUMMARY = "summary"  # the daily health summary


@dataclass(frozen=True, slots=True)
class Answer:
    """A person's answer to a proposal: confirmed `by` someone, or declined (`by` empty,
    `why` cancelled, expired or failed). The loop hands it to the executor."""

    action: MoneyAction
    by: str
    why: str = ""


Item = tuple[Event | Tick | Answer, str | None, int]  # (what, its raw frame, when received)
Sink = Callable[[Event, str | None, int], Awaitable[None]]


class Inbox:
    """The one queue between the producers and the consumer."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Item] = asyncio.Queue()

    async def put(self, event: Event, raw: str | None, received_at: int) -> None:
        self._queue.put_nowait((event, raw, received_at))

    def tick(self, tick: Tick, at: int) -> None:
        self._queue.put_nowait((tick, None, at))

    def answer(self, action: MoneyAction, by: str, why: str = "") -> None:
        self._queue.put_nowait((Answer(action, by, why), None, 0))

    async def get(self) -> Item:
        return await self._queue.get()

    def get_nowait(self) -> Item:
        return self._queue.get_nowait()

    def empty(self) -> bool:
        return self._queue.empty()

    def qsize(self) -> int:
        return self._queue.qsize()


@dataclass(frozen=True)
class Timings:
    staleness_limit: float = 5.0
    reconcile_every: float = 60.0
    brackets_every: float = 3600.0
    brackets_retry: float = 30.0  # a held symbol has no brackets: asked at once, then this often
    asset_index_every: float = 30.0  # Multi-Assets mode: the rates by REST besides the stream
    keepalive_every: float = 1800.0
    flush_every: float = 0.05
    save_every: float = 1.0
    health_every: float = 10.0  # one health row per this many seconds
    health_keep: float = 90 * 86400.0  # health rows older than this are pruned
    retention: float = 7 * 86400.0  # `[store] retention`: journal, audit, sent outbox rows


class Scheduler:
    def __init__(
        self,
        *,
        inbox: Inbox,
        rest: BinanceRest,
        clock: Clock,
        timings: Timings,
        daily_summary: str = "",  # "HH:MM" UTC, "" for none
        fallback_mmr: Decimal | None = None,  # `[mirror] fallback_mmr`, sent with the brackets
    ) -> None:
        self.inbox = inbox
        self.rest = rest
        self.clock = clock
        self.timings = timings
        self.daily_summary = daily_summary
        self.fallback_mmr = fallback_mmr
        self._scheduler: AsyncIOScheduler | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._brackets: asyncio.Future[None] | None = None  # a load out of turn, while it runs
        self._index = False  # Multi-Assets mode: the asset index is refreshed
        self._assets: frozenset[str] = frozenset()  # the assets whose rates matter

    # ---- producers ---------------------------------------------------------------------------

    async def load_filters(self) -> None:
        """Symbol filters (start-up; an ExchangeError propagates for the retry)."""
        await self.inbox.put(await self.rest.filters(), None, self.clock.now_ms())

    async def load_brackets(self) -> None:
        """Leverage brackets, with the rate the core assumes for a held symbol they leave out
        (start-up; an ExchangeError propagates for the retry)."""
        loaded = await self.rest.brackets()
        if self.fallback_mmr is not None:
            loaded = replace(loaded, fallback_mmr=self.fallback_mmr)
        await self.inbox.put(loaded, None, self.clock.now_ms())

    async def reconcile(self) -> None:
        """A REST snapshot; the consumer compares it with the mirror and takes it."""
        try:
            await self.inbox.put(await self.rest.snapshot(), None, self.clock.now_ms())
        except ExchangeError as exc:
            log.warning("reconcile failed, will retry: %s", exc)

    async def refresh_brackets(self) -> None:
        try:
            await self.load_brackets()
        except ExchangeError as exc:
            log.warning("bracket refresh failed, will retry: %s", exc)

    def follow_asset_index(self, on: bool, assets: frozenset[str]) -> None:
        """Multi-Assets mode on or off (the loop says), and the assets whose rates matter."""
        self._index, self._assets = on, assets

    async def refresh_asset_index(self) -> None:
        """Multi-Assets mode: the rates of the assets that matter, by REST (the stream brings
        them every second; this keeps them coming while it does not)."""
        if not self._index:
            return
        try:
            update = await self.rest.asset_index()
        except ExchangeError as exc:
            log.warning("asset index refresh failed, will retry: %s", exc)
            return
        rates = tuple(r for r in update.rates if r.asset in self._assets)
        if rates:
            await self.inbox.put(replace(update, rates=rates), None, self.clock.now_ms())

    def asset_index_now(self) -> None:
        """The asset index out of turn: Multi-Assets mode was just switched on, and health
        cannot be computed without it."""
        self._index = True
        self._spawn(self._every_rate())

    async def _every_rate(self) -> None:
        """All the rates (the assets that matter are not known yet right after a switch)."""
        try:
            await self.inbox.put(await self.rest.asset_index(), None, self.clock.now_ms())
        except ExchangeError as exc:
            log.warning("asset index after the switch failed; the next refresh retries: %s", exc)

    def _spawn(self, job: Awaitable[None]) -> None:
        task = asyncio.ensure_future(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def reconcile_now(self) -> None:
        """A snapshot out of turn (the user stream (re)connected)."""
        task = asyncio.ensure_future(self.reconcile())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def brackets_now(self) -> None:
        """Brackets out of turn (a held symbol has none), not in an hour; one load at a time."""
        if self._brackets is not None and not self._brackets.done():
            return
        task = asyncio.ensure_future(self.refresh_brackets())
        self._brackets = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _save(self) -> None:  # coroutines: apscheduler runs plain functions in threads
        self.inbox.tick(Tick.SAVE, self.clock.now_ms())

    async def _summary(self) -> None:
        self.inbox.tick(Tick.SUMMARY, self.clock.now_ms())

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        scheduler = AsyncIOScheduler()
        t = self.timings
        scheduler.add_job(self.reconcile, "interval", seconds=t.reconcile_every)
        scheduler.add_job(self.refresh_brackets, "interval", seconds=t.brackets_every)
        scheduler.add_job(self.refresh_asset_index, "interval", seconds=t.asset_index_every)
        scheduler.add_job(self._save, "interval", seconds=t.save_every)
        if self.daily_summary:
            hour, minute = (int(x) for x in self.daily_summary.split(":"))
            scheduler.add_job(self._summary, "cron", hour=hour, minute=minute, timezone="UTC")
        scheduler.start()
        self._scheduler = scheduler

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        for task in list(self._tasks):
            task.cancel()
