"""The loop: one consumer of the inbox, one step function, outputs routed.

    streams ─┐
    REST ────┤                 ┌─► journal (store.append)
    executor ┼─► inbox ─► step ┼─► alerts → notifier
    chat ────┤                 └─► money actions → executor.submit
    ticks ───┘

`core.step.step` decides (the same function replay runs). On start the loop resumes the last
state from the store, not ready until a fresh snapshot lands. Every (re)connect of the user
stream asks the scheduler for a snapshot; drift between a snapshot and the mirror is journaled
after the snapshot and decided on, and the snapshot wins. A held symbol without leverage
brackets asks it for brackets at once (and every `brackets_retry` while it lasts), not at the
hourly refresh.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from assistant.binance.streams import BinanceStreams
from assistant.core import format as fmt
from assistant.core.actions import SendAlert
from assistant.core.events import (
    CapsRestored,
    DataWentStale,
    DriftDetected,
    Event,
    ManualDeposit,
    ManualReduce,
    MarkPriceUpdated,
    ModeSet,
    MuteSet,
    PauseSet,
    StreamConnected,
)
from assistant.core.margin.liquidation import uniform_distance
from assistant.core.mirror import MirrorState
from assistant.core.ports import Clock
from assistant.core.rules.config import Rules
from assistant.core.rules.control import effective, muted
from assistant.core.rules.engine import Decision
from assistant.core.rules.memory import DAY_MS, Memory
from assistant.core.step import step
from assistant.core.values import Severity
from assistant.service.metrics import Metrics
from assistant.service.money.executor import Executor
from assistant.service.notifier import Notifier
from assistant.service.scheduler import Answer, Inbox, Item, Scheduler, Tick, Timings
from assistant.service.storewatch import StoreWatch
from assistant.store.sqlite import SqliteStore

log = logging.getLogger(__name__)
CHAT_EVENTS = (ModeSet, PauseSet, MuteSet, ManualDeposit, ManualReduce)
HEALTH_STEP = Decimal("0.01")  # a margin ratio move that earns a health row before its time
HEALTH_JUMP = Decimal("0.05")  # ... and one that earns it at once


class Loop:
    def __init__(
        self,
        *,
        inbox: Inbox,
        store: SqliteStore,
        clock: Clock,
        rules: Rules | None,
        notifier: Notifier,
        executor: Executor,
        streams: BinanceStreams,
        scheduler: Scheduler,
        timings: Timings,
        watch: StoreWatch,
        metrics: Metrics | None = None,
    ) -> None:
        self.inbox = inbox
        self.watch = watch
        self.store = store
        self.clock = clock
        self.rules = rules
        self.notifier = notifier
        self.executor = executor
        self.streams = streams
        self.scheduler = scheduler
        self.timings = timings
        self.metrics = metrics
        self.state = MirrorState()
        self.memory = Memory()
        self.changed = asyncio.Condition()
        self.drift: list[DriftDetected] = []
        self.stale: list[DataWentStale] = []
        self.decisions: list[Decision] = []
        self.applied = 0
        self._last_health = 0
        self._last_ratio: Decimal | None = None  # the margin ratio of the last health row
        self._last_prune = 0
        self._brackets_asked = -(2**62)  # when brackets were last asked for out of turn
        self._brackets_missing: frozenset[str] = frozenset()  # the symbols last said missing

    # ---- the one consumer -------------------------------------------------------------------

    def handle(self, event: Event, raw: str | None, received_at: int) -> None:
        held, multi_assets = self.state.held_symbols, self.state.multi_assets
        done = step(self.state, self.memory, self.rules, event, received_at)
        self.state, self.memory = done.state, done.memory
        if self.state.held_symbols != held:
            self.streams.follow(self.state.held_symbols)
        self.store.append(event, received_at, raw)
        self.applied += 1
        alerted = self.rules is not None and self.rules.alerts.drift  # the alert logs it
        for item in done.drift:  # journaled after their snapshot: replay's order
            log.log(
                logging.INFO if alerted else logging.WARNING,
                "drift: %s differs: ours %s, Binance's %s (Binance's state is taken)",
                item.what,
                item.ours,
                item.theirs,
            )
            self.store.append(item, received_at)
            self.drift.append(item)
        if self._health_due(done.decision, received_at):
            self._optional(self._record_health, received_at)
        self._route(event, done.decision, received_at)
        if isinstance(event, DataWentStale):
            log.warning("stale data: %s since %s", event.what, fmt.when(event.since))
            self.stale.append(event)
        if isinstance(event, StreamConnected) and event.stream == "user":
            self.scheduler.reconcile_now()
        self._ask_for_missing_brackets(received_at)
        if not isinstance(event, MarkPriceUpdated):  # a mark changes no wallet, mode or pool
            self._follow_asset_index(switched=multi_assets != self.state.multi_assets)

    def _follow_asset_index(self, *, switched: bool) -> None:
        """Multi-Assets mode needs the asset index: the stream follows it (the rates of the
        assets that matter), the scheduler refreshes it, and a switch reads it at once, or
        health stays blind (and says so) until the next refresh."""
        state = self.state
        assets = frozenset(
            {a for a, amount in state.wallets.items() if amount}
            | {state.margin_asset(s) for s in state.held_symbols}
        )
        self.streams.follow_asset_index(state.multi_assets, assets)
        self.scheduler.follow_asset_index(state.multi_assets, assets)
        if switched and state.multi_assets:
            self.scheduler.asset_index_now()

    def _ask_for_missing_brackets(self, at: int) -> None:
        """A held symbol without brackets (newly listed, or left out of the last answer) is
        computed at an assumed rate, or not at all: ask the exchange now, not in an hour, and
        again every `brackets_retry` while it lasts."""
        if at - self._brackets_asked < self.timings.brackets_retry * 1000:
            return
        missing = self.state.missing_brackets
        if missing:
            self._brackets_asked = at
            level = logging.WARNING if missing != self._brackets_missing else logging.DEBUG
            log.log(level, "no leverage brackets for %s: asking the exchange", sorted(missing))
            self.scheduler.brackets_now()
        self._brackets_missing = missing

    def _route(self, event: Event, decision: Decision, at: int) -> None:
        """Alerts to the notifier, money actions to the executor; control changes to both."""
        if self.rules is None:
            return
        rules = effective(self.rules, self.memory)
        money = isinstance(event, CHAT_EVENTS)
        if isinstance(event, (ModeSet, PauseSet)):
            if isinstance(event, ModeSet):
                asked = f"mode {event.mode or 'as the config says'} asked"
            else:
                asked = "money actions " + ("paused" if event.paused else "resumed")
            log.warning(
                "chat: %s by %s; in force now: mode %s%s",
                asked,
                event.by,
                rules.mode,
                ", paused (no money moves)" if rules.paused else "",
            )
            self.executor.follow(rules)
        for action in decision.actions:
            if isinstance(action, SendAlert):
                self.notifier(action, muted=muted(self.memory, action.severity, at))
            else:
                money = True
                self.executor.submit(action, rules, decision.health)
        if decision.actions:
            self.decisions.append(decision)
        if money:
            self._optional(self.store.save_memory, self.memory, at)

    def _handle_safely(self, event: Event, raw: str | None, received_at: int) -> None:
        """One event; a bug it triggers is logged with the event, and the next one goes on."""
        try:
            self.handle(event, raw, received_at)
            if self.metrics is not None:
                self.metrics.observe(self.state, event)
        except Exception:
            log.exception("could not handle an event (%s); skipped", fmt.event(event))

    def _tick(self, tick: Tick, at: int) -> None:
        try:
            if tick is Tick.SAVE:
                self.save()
                self.watch.check_space(at)
                # Every save, what aged out since the last one (a bounded batch: a backlog
                # goes over many ticks, never in one long delete that holds up the loop).
                self.store.prune(at - int(self.timings.retention * 1000))
                self.store.prune_book(at - int(self.timings.retention_book * 1000))
                if at - self._last_prune >= 3_600_000:
                    self.store.prune_health(at - int(self.timings.health_keep * 1000))
                    self._last_prune = at
            elif tick is Tick.SUMMARY:
                alert = self.summary(at)
                self.notifier(alert, muted=muted(self.memory, alert.severity, at))
        except Exception:
            log.exception("could not do %s; it comes again", tick.value)

    def _take(self, item: Item) -> None:
        what, raw, at = item
        if isinstance(what, Tick):
            self._tick(what, at)
        elif isinstance(what, Answer):  # the mode and the kill switch as they are now apply
            self.executor.answer(what.action, what.by, what.why, self.effective_rules())
        else:
            self._handle_safely(what, raw, at)

    async def consume(self) -> None:
        while True:
            self._take(await self.inbox.get())
            while not self.inbox.empty():  # drain a burst before waking waiters
                self._take(self.inbox.get_nowait())
            async with self.changed:
                self.changed.notify_all()

    async def flush_journal(self) -> None:
        """The journal's group commit (it never raises: a store that cannot write keeps the
        rows and says so, and the watch turns that into an alert)."""
        while True:
            await self.clock.sleep(self.timings.flush_every)
            self.store.flush()
            self.watch.check_writes()

    def _optional(self, write: Callable[..., object], *args: object) -> None:
        """A write protection does not wait on (the health series, the memory's snapshot):
        while the store cannot write it is skipped; an error is the store's to report."""
        if not self.store.held.writable or self.store.held.conserving:
            return  # the space left is for intents, settlements and messages
        try:
            write(*args)
        except sqlite3.Error as exc:
            self.store.held.failed(exc)

    async def wait_for(
        self, predicate: Callable[[MirrorState], bool], timeout: float
    ) -> MirrorState:
        """The first state satisfying `predicate`, within `timeout` seconds (for tests, status)."""
        async with asyncio.timeout(timeout), self.changed:
            await self.changed.wait_for(lambda: predicate(self.state))
        return self.state

    # ---- what the loop knows ----------------------------------------------------------------

    def effective_rules(self) -> Rules:
        """The rules in force: the config's, with the chat's overrides."""
        return effective(self.rules or Rules(), self.memory)

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
        deposited = self.memory.deposited_today(at)
        text = (
            f"daily summary: margin ratio {fmt.ratio(book.margin_ratio)},"
            f" margin balance {fmt.coins(book.margin_balance, book.asset)}, distance to"
            f" liquidation {fmt.distance(min(moves) if moves else None)} (every mark together),"
            f" {len(self.state.positions)} position(s), deposited today {fmt.usdt(deposited)},"
            f" mode {self.effective_rules().mode if self.rules else 'mirror only'}"
        )
        return SendAlert("summary", Severity.INFO, text, at)

    def _health_due(self, decision: Decision, at: int) -> bool:
        """A row of the health series every `health_every`, and sooner while health moves
        fast or the rules act: at most one a second for a move of a percentage point, one
        every 0.1 s for an alert, an action or a jump of five: the last moments before a
        liquidation are the ones a chart must show."""
        since = at - self._last_health
        if since >= self.timings.health_every * 1000:
            return True
        health = decision.health
        if since < 100 or health is None:
            return False
        ratio, last = health.margin_ratio, self._last_ratio
        if ratio is None or last is None:
            moved = HEALTH_JUMP if ratio is not last else Decimal(0)
        else:
            moved = abs(ratio - last)
        if decision.actions or moved >= HEALTH_JUMP:
            return True
        return since >= 1000 and moved >= HEALTH_STEP

    def _record_health(self, at: int) -> None:
        """One row of the health series."""
        book = self.state.book
        if book is None or not self.state.ready:
            return
        down, up = uniform_distance(book)
        moves = [m for m in (down, up) if m is not None]
        self.store.record_health(
            at, book.margin_ratio, book.margin_balance, book.mm, min(moves) if moves else None
        )
        self._last_health = at
        self._last_ratio = book.margin_ratio

    # ---- lifecycle --------------------------------------------------------------------------

    def load(self) -> None:
        """Resume from the store; the state is not ready until a fresh snapshot lands."""
        loaded = self.store.load_state()
        if loaded is not None:
            state, saved_at = loaded
            # Not ready, not connected: nothing may act on this until a fresh snapshot lands.
            self.state = replace(state, snapshot_at=0, connected={})
            self.streams.follow(self.state.held_symbols)
            self._follow_asset_index(switched=False)  # the first snapshot reads the index
            log.info("resumed from the store (saved at %s); reconciling before acting", saved_at)
        memory = self.store.load_memory(Memory)
        if memory is not None:
            self.memory = memory  # alert levels, cooldowns, the chat's overrides
        # The caps are never taken from that snapshot (a kill can land between a transfer and
        # the next save): they are rebuilt from the intents, as an event, so replay agrees.
        now = self.clock.now_ms()
        facts = self.store.asset_facts(now // DAY_MS)
        moved, in_flight = facts.moved.pop("USDT", Decimal(0)), facts.in_flight
        restored = CapsRestored(
            now // DAY_MS, moved, in_flight, now, dict(facts.moved), dict(facts.assets)
        )
        self.handle(restored, None, now)
        log.info(
            "caps restored from the store: %s moved today, %d decision(s) in flight",
            moved,
            len(in_flight),
        )
        if self.rules is not None:
            self.executor.follow(self.effective_rules())

    def save(self) -> None:
        now = self.clock.now_ms()
        self.store.flush()
        self._optional(self.store.save_state, self.state, now)
        self._optional(self.store.checkpoint)
        if self.rules is not None:
            self._optional(self.store.save_memory, self.memory, now)
