"""The composition root: `build` assembles one runtime from the settings and the adapters it
is given, and `run`, `demo`, `simulate`, the tests and the benchmarks all use it. Every
collaborator is a constructor argument; nothing is wired by setting attributes afterwards.

Construction follows the direction of the data:

    chat ports ─► confirmations ─► proposals ─┐
    store, dashboard hub ─► notifier ─────────┼─► executor ─┐
    inbox ─► streams, scheduler ──────────────┴─────────────┴─► loop ─► chat commands, dashboard

so no collaborator needs one built after it: the executor reaches the people through the
proposals, and their answers come back through the inbox; alerts reach the dashboard's pages
through its hub (a listener of the notifier), and the dashboard reads the loop.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import typing
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from assistant.binance.rest import BinanceRest
from assistant.binance.streams import BinanceStreams, StreamSettings
from assistant.chat.actions import ChatActions
from assistant.chat.commands import ChatCommands
from assistant.chat.confirm import Confirmations
from assistant.chat.console import ConsoleChat
from assistant.chat.proposals import Ask, Proposals
from assistant.core.events import DataWentStale, DriftDetected
from assistant.core.mirror import MirrorState
from assistant.core.ports import ChatPort, Clock
from assistant.core.rules import early
from assistant.core.rules.config import Rules
from assistant.core.rules.memory import Memory
from assistant.dashboard.hub import Hub
from assistant.dashboard.server import Dashboard, DashboardOptions
from assistant.errors import UnsupportedAccount
from assistant.service.clock import ExchangeClock
from assistant.service.loop import Loop
from assistant.service.metrics import Metrics
from assistant.service.money.executor import Executor
from assistant.service.notifier import Listener, Notifier
from assistant.service.scheduler import Inbox, Scheduler, Timings
from assistant.service.settings import Settings, rules_from
from assistant.service.storewatch import StoreWatch
from assistant.service.supervise import Job, Supervisor
from assistant.store.sqlite import SqliteStore
from assistant.telegram.bot import TelegramBot
from assistant.telegram.delivery import deliver
from assistant.telegram.render import alert_html

log = logging.getLogger(__name__)


# Channels, not the protection path.
OPTIONAL = frozenset({"telegram", "outbox", "console", "dashboard"})
DELIVERY_WAIT = 10.0  # seconds a refused account's alert may take to reach Telegram


class From(enum.Enum):
    CONFIG = "config"  # take the rules from the settings


@dataclass(frozen=True)
class ChatOptions:
    token: str = ""  # Telegram's bot token, resolved; "" = no Telegram
    console: TextIO | None = None  # a console chat: replies written here, commands from stdin
    console_alerts: bool = True  # the console prints every alert too


@dataclass
class Chats:
    """The chat side of a runtime (None when no chat is configured)."""

    commands: ChatCommands
    actions: ChatActions
    confirmations: Confirmations
    bot: TelegramBot | None = None
    console: ConsoleChat | None = None


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    store: SqliteStore
    rest: BinanceRest
    inbox: Inbox
    notifier: Notifier
    executor: Executor
    streams: BinanceStreams
    scheduler: Scheduler
    supervisor: Supervisor
    loop: Loop
    chats: Chats | None = None
    metrics: Metrics | None = None
    dashboard: Dashboard | None = None
    jobs: list[tuple[str, Job]] = field(default_factory=list)

    # ---- what a test, the status line or the demo may read ---------------------------------

    @property
    def state(self) -> MirrorState:
        return self.loop.state

    @property
    def memory(self) -> Memory:
        return self.loop.memory

    @property
    def drift(self) -> list[DriftDetected]:
        return self.loop.drift

    @property
    def stale(self) -> list[DataWentStale]:
        return self.loop.stale

    @property
    def applied(self) -> int:
        return self.loop.applied

    def effective_rules(self) -> Rules:
        return self.loop.effective_rules()

    @property
    def alive(self) -> bool:
        """For systemd's watchdog: every supervised task is running."""
        return self.supervisor.healthy

    async def wait_for(
        self, predicate: Callable[[MirrorState], bool], timeout: float
    ) -> MirrorState:
        return await self.loop.wait_for(predicate, timeout)

    async def started(self) -> str:
        """Once the account is mirrored (""), or the start-up is blocked (why, e.g. the API
        key was refused): for systemd's READY=1, which must come either way."""
        ready = asyncio.ensure_future(self.loop.wait_for(lambda s: s.ready, timeout=10**9))
        blocked = asyncio.ensure_future(self.supervisor.blocked_changed.wait())
        try:
            await asyncio.wait({ready, blocked}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (ready, blocked):
                waiter.cancel()
            await asyncio.gather(ready, blocked, return_exceptions=True)
        return "" if self.state.ready else self.supervisor.blocked

    async def run(self) -> None:
        """Until cancelled; on the way out the journal is flushed and the state saved. An
        account of a kind the service refuses (Portfolio Margin) raises UnsupportedAccount,
        once its alert has gone out (or `DELIVERY_WAIT` has passed)."""
        self.loop.load()
        refused: UnsupportedAccount | None = None
        try:
            async with asyncio.TaskGroup() as group:
                # The channels first: whatever goes wrong from here on, someone is told.
                for name, job in self.jobs:
                    if name in OPTIONAL:
                        group.create_task(self.supervisor.keep(name, job))
                try:
                    await self.supervisor.until_ok("filters", self.scheduler.load_filters)
                    await self.supervisor.until_ok("brackets", self.scheduler.load_brackets)
                except UnsupportedAccount:
                    await self._delivered()
                    raise
                self.scheduler.start()
                for name, job in self.jobs:
                    if name not in OPTIONAL:
                        group.create_task(self.supervisor.keep(name, job))
        except* UnsupportedAccount as stopped:
            refused = typing.cast(UnsupportedAccount, stopped.exceptions[0])
        finally:
            self.scheduler.stop()
            try:
                self.loop.save()
            except Exception:
                log.exception("could not save the state on the way out")
        if refused is not None:
            raise refused

    async def _delivered(self) -> None:
        """Until the outbox is empty (Telegram took every message), at most DELIVERY_WAIT."""
        for _ in range(int(DELIVERY_WAIT / 0.1)):
            if not self.store.outbox.count_pending():
                return
            await self.clock.sleep(0.1)
        log.warning("stopping with messages still in the outbox; they go out on the next start")


def timings_from(settings: Settings) -> Timings:
    m = settings.mirror
    return Timings(
        staleness_limit=m.staleness_limit,
        reconcile_every=m.reconcile_every,
        brackets_every=m.brackets_every,
        keepalive_every=m.keepalive_every,
        flush_every=m.flush_every,
        retention=settings.store.retention,
        retention_book=settings.store.retention_book,
    )


def build(
    settings: Settings,
    *,
    rest: BinanceRest,
    ws_url: str,
    store: SqliteStore,
    chats: ChatOptions | None = None,
    clock: Clock | None = None,
    rules: Rules | From | None = From.CONFIG,
    timings: Timings | None = None,
    stream_settings: StreamSettings | None = None,
    listeners: Sequence[Listener] = (),
    log_alerts: bool = True,
    dedup_ms: int = 600_000,
    metrics: Metrics | None = None,
    inbox: Inbox | None = None,
    dashboard: DashboardOptions | None = None,
) -> Runtime:
    """One runtime. `rules=None` mirrors only (no alerts, no actions). The adapters (the
    exchange client, the store, a metrics endpoint) are the caller's to open and close."""
    clock = clock or ExchangeClock(rest.server_ms)
    rules = rules_from(settings) if rules is From.CONFIG else rules
    timings = timings or timings_from(settings)
    telegram = settings.telegram
    inbox = inbox or Inbox()
    options = chats or ChatOptions()

    bot = None
    if options.token:
        bot = TelegramBot(
            token=options.token,
            base_url=telegram.base_url,
            allowed_chat_ids=telegram.allowed_chat_ids,
            allowed_user_ids=telegram.allowed_user_ids,
        )
    console = ConsoleChat(options.console) if options.console is not None else None
    ports: list[ChatPort] = [p for p in (bot, console) if p is not None]
    confirmations = Confirmations(
        telegram.confirm_timeout,
        clock,
        edit=bot.edit if bot is not None else None,
        tell=console.closed if console is not None else None,
    )
    heard: list[Listener] = list(listeners)
    if console is not None and options.console_alerts:
        heard.append(console.alert)
    if metrics is not None:
        heard.append(metrics.alert)
    hub = Hub() if dashboard is not None else None
    if hub is not None:
        heard.append(hub.alert)
    notifier = Notifier(
        store,
        chats=telegram.allowed_chat_ids if bot is not None else (),
        render=alert_html,
        listeners=heard,
        dedup_ms=dedup_ms,
        log_alerts=log_alerts,
    )
    asks: list[Ask] = []
    if bot is not None:
        asks.append(notifier.question)  # durable: the outbox, like every message
    if console is not None:
        asks.append(console.ask)
    proposals = Proposals(confirmations, inbox, asks, clock)
    executor = Executor(
        rest=rest,
        store=store,
        put=inbox.put,
        notifier=notifier,
        clock=clock,
        propose=proposals.propose if ports else None,
        lookup_margin=settings.exchange.lookup_margin,
    )
    streams = BinanceStreams(
        ws_url=ws_url,
        rest=rest,
        sink=inbox.put,
        clock=clock,
        future_tolerance_ms=int(settings.mirror.future_tolerance * 1000),
        settings=stream_settings
        or StreamSettings(
            keepalive_seconds=timings.keepalive_every, stale_after=timings.staleness_limit
        ),
        shadow=rules is not None and early.wanted(rules),
    )
    scheduler = Scheduler(
        inbox=inbox,
        rest=rest,
        clock=clock,
        timings=timings,
        daily_summary=settings.alerts.daily_summary if rules is not None else "",
        fallback_mmr=settings.mirror.fallback_mmr,
    )
    loop = Loop(
        inbox=inbox,
        store=store,
        clock=clock,
        rules=rules,
        notifier=notifier,
        executor=executor,
        streams=streams,
        scheduler=scheduler,
        timings=timings,
        watch=StoreWatch(
            store,
            notifier,
            clock,
            warn_free=settings.store.warn_free,
            critical_free=settings.store.critical_free,
        ),
        metrics=metrics,
    )
    jobs: list[tuple[str, Job]] = [
        ("consumer", loop.consume),
        ("flusher", loop.flush_journal),
        ("streams", streams.run),
    ]
    if rules is not None:
        jobs.append(("executor", executor.run))
    board = None
    if dashboard is not None and hub is not None:
        board = Dashboard(dashboard, hub=hub, watched=loop, records=store, clock=clock)
        jobs.append(("dashboard", board.serve))
    chat = None
    if ports:
        actions = ChatActions(loop, inbox, confirmations, clock)
        commands = ChatCommands(loop, store, actions, clock)
        chat = Chats(commands, actions, confirmations, bot, console)
        if bot is not None:
            jobs.append(("telegram", _serving(bot, commands)))
            jobs.append(("outbox", _delivering(bot, store, notifier, clock)))
        if console is not None:
            jobs.append(("console", _serving(console, commands)))
    return Runtime(
        settings=settings,
        clock=clock,
        store=store,
        rest=rest,
        inbox=inbox,
        notifier=notifier,
        executor=executor,
        streams=streams,
        scheduler=scheduler,
        supervisor=Supervisor(
            clock, optional=OPTIONAL, alert=notifier, portfolio_margin=rest.portfolio_margin
        ),
        loop=loop,
        chats=chat,
        metrics=metrics,
        dashboard=board,
        jobs=jobs,
    )


def _serving(port: ChatPort, commands: ChatCommands) -> Callable[[], Awaitable[None]]:
    async def serve() -> None:
        await port.serve(commands)

    return serve


def _delivering(
    bot: TelegramBot, store: SqliteStore, notifier: Notifier, clock: Clock
) -> Callable[[], Awaitable[None]]:
    async def delivery() -> None:
        await deliver(bot.send, store.outbox, notifier.wake, clock)

    return delivery
