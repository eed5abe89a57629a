"""The mirror service: streams and REST into one queue, one consumer, one reducer.

    streams ─┐
    REST ────┼─► queue ─► state = mirror.apply(state, event) ─► store.append(event)
    ticks ───┘

On start it loads the last state from the store, then reconciles (a REST snapshot) before
the state counts as ready. Every (re)connect of the user stream triggers a snapshot, and a
periodic reconcile compares a fresh snapshot with the mirror and the exchange's figures
with ours: each difference is a `DriftDetected` event, and the snapshot wins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from assistant.binance.rest import BinanceRest
from assistant.binance.streams import BinanceStreams, StreamSettings
from assistant.core.actions import SendAlert
from assistant.core.events import (
    AccountSnapshotted,
    DataWentStale,
    DriftDetected,
    Event,
    ManualDeposit,
    ManualReduce,
    ModeSet,
    MuteSet,
    PauseSet,
    StreamConnected,
)
from assistant.core.margin.liquidation import uniform_distance
from assistant.core.mirror import MirrorState, apply
from assistant.core.ports import Reply
from assistant.core.reconcile import figure_drift, mirror_drift
from assistant.core.rules.config import Rules
from assistant.core.rules.control import effective
from assistant.core.rules.engine import Decision, evaluate
from assistant.core.rules.memory import Memory
from assistant.core.values import Severity
from assistant.errors import ExchangeError
from assistant.service.executor import Executor
from assistant.service.metrics import Metrics
from assistant.store.sqlite import SqliteStore

log = logging.getLogger(__name__)
CHAT_EVENTS = (ModeSet, PauseSet, MuteSet, ManualDeposit, ManualReduce)


@dataclass(frozen=True)
class MirrorTimings:
    staleness_limit: float = 5.0
    reconcile_every: float = 60.0
    brackets_every: float = 3600.0
    keepalive_every: float = 1800.0
    flush_every: float = 0.05
    save_every: float = 1.0
    health_every: float = 10.0  # one health row per this many seconds
    health_keep: float = 90 * 86400.0  # health rows older than this are pruned


def now_ms() -> int:
    return int(time.time() * 1000)


def log_alert(alert: SendAlert) -> None:
    """Alerts go to the log (the terminal, journald) until Telegram is configured."""
    level = {"critical": logging.CRITICAL, "warning": logging.WARNING}.get(
        alert.severity, logging.INFO
    )
    log.log(level, "ALERT %s: %s", alert.key, alert.text)


def resumed(memory: Memory, in_flight: set[str]) -> Memory:
    """The rules' memory after a restart. A decision with an intent still open was perhaps
    sent: it stays pending (the executor's recovery settles it). Any other pending decision
    (a question nobody answered, a dry-run in passing) died with the process: nothing moved,
    so what it booked against the daily cap is given back."""
    pending = memory.pending & in_flight
    booked = {k: v for k, v in memory.booked.items() if k in pending}
    freed = sum((v for k, v in memory.booked.items() if k not in pending), Decimal(0))
    total = max(Decimal(0), memory.deposit_total - freed)
    return replace(memory, pending=pending, booked=booked, deposit_total=total)


class MirrorService:
    def __init__(
        self,
        *,
        rest: BinanceRest,
        store: SqliteStore,
        ws_url: str,
        timings: MirrorTimings | None = None,
        stream_settings: StreamSettings | None = None,
        rules: Rules | None = None,
        notify: Callable[[SendAlert], None] | None = None,
    ) -> None:
        self.rest = rest
        self.store = store
        self.timings = timings or MirrorTimings()
        self.queue: asyncio.Queue[tuple[Event, str | None, int]] = asyncio.Queue()
        self.state = MirrorState()
        self.changed = asyncio.Condition()
        self.drift: list[DriftDetected] = []
        self.stale: list[DataWentStale] = []
        self.applied = 0
        settings = stream_settings or StreamSettings(
            keepalive_seconds=self.timings.keepalive_every, stale_after=self.timings.staleness_limit
        )
        self.streams = BinanceStreams(
            ws_url=ws_url,
            rest=rest,
            sink=self.put,
            held_symbols=lambda: self.state.held_symbols,
            settings=settings,
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self.rules = rules
        self.memory = Memory()
        self.decisions: list[Decision] = []
        self.executor = Executor(rest=rest, store=store, put=self.put, notify=notify or log_alert)
        self.executor.rules_now = self.effective_rules
        self._last_health = 0
        self._last_prune = 0
        self._crashed: set[str] = set()
        self.metrics: Metrics | None = None
        self.daily_summary = ""  # "HH:MM" UTC, set by the composition root
        # Set by the composition root: more supervised tasks (Telegram, the outbox, the
        # console chat), and where a question for every chat goes.
        self.extra_tasks: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self.broadcasters: list[Callable[[Reply], Awaitable[bool]]] = []

    async def put(self, event: Event, raw: str | None, received_at: int) -> None:
        await self.queue.put((event, raw, received_at))

    # ---- the one consumer -------------------------------------------------------------------

    def handle(self, event: Event, raw: str | None, received_at: int) -> None:
        drift: list[DriftDetected] = []
        if isinstance(event, AccountSnapshotted) and self.state.snapshot_at:
            drift = mirror_drift(self.state, event)
        held = self.state.held_symbols
        self.state = apply(self.state, event)
        if self.state.held_symbols != held:
            self.streams.symbols_changed()
        self.store.append(event, received_at, raw)
        self.applied += 1
        if isinstance(event, AccountSnapshotted):
            drift += figure_drift(self.state)
        if received_at - self._last_health >= self.timings.health_every * 1000:
            self._record_health(received_at)
        self._decide(event, received_at)
        for item in drift:  # journaled and decided after their snapshot: replay's order
            log.warning(
                "drift: %s: ours %s, exchange %s (the exchange's state is taken)",
                item.what,
                item.ours,
                item.theirs,
            )
            self.store.append(item, received_at)
            self.drift.append(item)
            self._decide(item, received_at)
        if isinstance(event, DataWentStale):
            log.warning("stale data: %s since %s", event.what, event.since)
            self.stale.append(event)
        if isinstance(event, StreamConnected) and event.stream == "user":
            self._spawn(self.reconcile())

    def _handle_safely(self, event: Event, raw: str | None, received_at: int) -> None:
        """One event; a bug it triggers is logged with the event, and the next one goes on."""
        try:
            self.handle(event, raw, received_at)
            if self.metrics is not None:
                self.metrics.observe(self.state, event)
        except Exception:
            log.exception("could not handle %s; skipped", type(event).__name__)

    def _decide(self, event: Event, at: int) -> None:
        """The rules on the new state; alerts go out at once, money actions to the executor."""
        if self.rules is None:
            return
        decision = evaluate(self.state, self.memory, at, self.rules, event)
        self.memory = decision.memory
        rules = effective(self.rules, self.memory)
        money = isinstance(event, CHAT_EVENTS)
        if isinstance(event, (ModeSet, PauseSet)):
            log.warning(
                "%s from chat (%s): mode %s%s",
                type(event).__name__,
                event.by,
                rules.mode,
                ", paused" if rules.paused else "",
            )
        for action in decision.actions:
            if isinstance(action, SendAlert):
                self.executor.alert(action)
            else:
                money = True
                self.executor.queue.put_nowait((action, rules, decision.health))
        if decision.actions:
            self.decisions.append(decision)
        if money:
            self.store.save_memory(self.memory, at)

    def effective_rules(self) -> Rules:
        """The rules in force: the config's, with the chat's overrides."""
        return effective(self.rules or Rules(), self.memory)

    async def broadcast(self, reply: Reply) -> bool:
        """A question for every chat (Telegram, console); True if at least one got it."""
        results = [await send(reply) for send in self.broadcasters]
        return any(results)

    def _record_health(self, at: int) -> None:
        """One row of the health series (downsampled to `health_every`)."""
        book = self.state.book
        if book is None or not self.state.ready:
            return
        down, up = uniform_distance(book)
        moves = [m for m in (down, up) if m is not None]
        self.store.record_health(
            at, book.margin_ratio, book.margin_balance, book.mm, min(moves) if moves else None
        )
        self._last_health = at

    async def consume(self) -> None:
        while True:
            self._handle_safely(*await self.queue.get())
            while not self.queue.empty():  # drain a burst before waking waiters
                self._handle_safely(*self.queue.get_nowait())
            async with self.changed:
                self.changed.notify_all()

    async def wait_for(
        self, predicate: Callable[[MirrorState], bool], timeout: float
    ) -> MirrorState:
        """The first state satisfying `predicate`, within `timeout` seconds (for tests, status)."""
        async with asyncio.timeout(timeout), self.changed:
            await self.changed.wait_for(lambda: predicate(self.state))
        return self.state

    # ---- REST side --------------------------------------------------------------------------

    async def reconcile(self) -> None:
        try:
            await self.put(await self.rest.snapshot(), None, now_ms())
        except ExchangeError as exc:
            log.warning("reconcile failed, will retry: %s", exc)

    async def _load_filters(self) -> None:
        await self.put(await self.rest.filters(), None, now_ms())

    async def _load_brackets(self) -> None:
        await self.put(await self.rest.brackets(), None, now_ms())

    async def refresh_brackets(self) -> None:
        try:
            await self._load_brackets()
        except ExchangeError as exc:
            log.warning("bracket refresh failed, will retry: %s", exc)

    def _spawn(self, coroutine: object) -> None:
        task = asyncio.ensure_future(coroutine)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- lifecycle --------------------------------------------------------------------------

    def load(self) -> None:
        """Resume from the store; the state is not ready until a fresh snapshot lands."""
        loaded = self.store.load_state()
        if loaded is not None:
            state, saved_at = loaded
            # Not ready, not connected: nothing may act on this until a fresh snapshot lands.
            self.state = replace(state, snapshot_at=0, connected={})
            self.streams.symbols_changed()
            log.info("resumed from the store (saved at %s); reconciling before acting", saved_at)
        memory = self.store.load_memory(Memory)
        if memory is not None:
            self.memory = resumed(
                memory, {row["decision_id"] for row in self.store.pending_intents()}
            )

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(self.timings.flush_every)
            self.store.flush()

    async def _summary_job(self) -> None:
        self.executor.alert(self.summary(now_ms()))

    def summary(self, at: int) -> SendAlert:
        """The daily health summary, as an info alert."""
        book = self.state.book
        if book is None or not self.state.ready:
            return SendAlert(
                "summary",
                Severity.WARNING,
                "daily summary: the account is not mirrored right now",
                at,
            )
        down, up = uniform_distance(book)
        moves = [m for m in (down, up) if m is not None]
        nearest = f"{min(moves) * 100:.2f}%" if moves else "none"
        ratio = book.margin_ratio
        deposited = self.memory.deposited_today(at)
        text = (
            f"daily summary: margin ratio {'n/a' if ratio is None else f'{ratio * 100:.2f}%'},"
            f" margin balance {book.margin_balance:.2f} USDT, liquidation at a {nearest} move,"
            f" {len(self.state.positions)} position(s), deposited today {deposited:.2f} USDT,"
            f" mode {self.effective_rules().mode if self.rules else 'mirror only'}"
        )
        return SendAlert("summary", Severity.INFO, text, at)

    async def _save_job(self) -> None:  # a coroutine: apscheduler runs plain functions in threads
        self.save()
        now = now_ms()
        if now - self._last_prune >= 3_600_000:
            self.store.prune_health(now - int(self.timings.health_keep * 1000))
            self._last_prune = now

    def save(self) -> None:
        self.store.flush()
        self.store.save_state(self.state, now_ms())
        self.store.checkpoint()
        if self.rules is not None:
            self.store.save_memory(self.memory, now_ms())

    async def run(self) -> None:
        """Until cancelled; on the way out the journal is flushed and the state saved."""
        self.load()
        await self._until_ok(self._load_filters)
        await self._until_ok(self._load_brackets)
        scheduler = AsyncIOScheduler()
        scheduler.add_job(self.reconcile, "interval", seconds=self.timings.reconcile_every)
        scheduler.add_job(self.refresh_brackets, "interval", seconds=self.timings.brackets_every)
        scheduler.add_job(self._save_job, "interval", seconds=self.timings.save_every)
        if self.daily_summary:
            hour, minute = (int(x) for x in self.daily_summary.split(":"))
            scheduler.add_job(self._summary_job, "cron", hour=hour, minute=minute, timezone="UTC")
        scheduler.start()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._supervised("consumer", self.consume))
                group.create_task(self._supervised("flusher", self._flusher))
                group.create_task(self._supervised("streams", self.streams.run))
                if self.rules is not None:
                    group.create_task(self._supervised("executor", self.executor.run))
                for name, job in self.extra_tasks:
                    group.create_task(self._supervised(name, job))
        finally:
            scheduler.shutdown(wait=False)
            for task in list(self._tasks):
                task.cancel()
            with contextlib.suppress(Exception):
                self.save()

    @property
    def alive(self) -> bool:
        """For systemd's watchdog: every supervised task is running, none is in a restart."""
        return not self._crashed

    async def _supervised(self, name: str, job: Callable[[], Awaitable[None]]) -> None:
        """Run `job`; if it crashes, log it and start it again (never silently lost)."""
        for attempt in range(10**9):
            try:
                await job()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                self._crashed.add(name)
                delay = min(30.0, 0.5 * 2 ** min(attempt, 6))
                log.exception("task %s crashed; restarting it in %.1fs", name, delay)
                await asyncio.sleep(delay)
                self._crashed.discard(name)

    async def _until_ok(self, step: Callable[[], object]) -> None:
        for attempt in range(1_000_000):
            try:
                await step()  # type: ignore[misc]
                return
            except ExchangeError as exc:
                delay = min(30.0, 0.5 * 2**attempt)
                log.warning("start-up step failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
