"""Supervision in one place: every long-running task restarts after a crash, with backoff,
and start-up steps are retried until the exchange answers. Nothing dies silently: a crash is
logged with its traceback.

Tasks are of two kinds. The protection path (the consumer, the journal, the streams, the
executor) decides `healthy`, which feeds systemd's watchdog: while one of them waits to
restart, the pings stop. An optional channel (Telegram, its outbox, the console) being down
never stops them: it is a critical alert, through every channel that still works, and the
guardian goes on protecting."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from assistant.core.actions import SendAlert
from assistant.core.ports import Clock
from assistant.core.values import Severity
from assistant.errors import ExchangeError, Rejected, UnsupportedAccount

log = logging.getLogger(__name__)
Job = Callable[[], Awaitable[None]]
Probe = Callable[[], Awaitable[bool]]
Alert = Callable[[SendAlert], None]
UP_AGAIN_AFTER = 30.0  # an optional channel that stays up this long after a crash is back
KEY_REFUSED = {-2014, -2015, -1022}  # bad API key format, key/IP/permissions, bad signature
REFUSED_RETRY = 300.0  # a refused key is tried again this often
REFUSED_REPEAT_MS = 3_600_000  # and said again this often while it stays refused


def backoff(attempt: int, first: float = 0.5, ceiling: float = 30.0) -> float:
    """Seconds before the next try: doubling from `first`, at most `ceiling`."""
    return min(ceiling, first * 2.0 ** min(attempt, 16))


class Supervisor:
    def __init__(
        self,
        clock: Clock,
        *,
        optional: frozenset[str] = frozenset(),
        alert: Alert | None = None,
        portfolio_margin: Probe | None = None,
    ) -> None:
        self.clock = clock
        self.portfolio_margin = portfolio_margin  # is a refused key a Portfolio Margin account?
        self.optional = optional  # channels whose outage is an alert, not a death
        self.alert = alert
        self.crashed: set[str] = set()
        self.restarts: dict[str, int] = {}
        self.down: set[str] = set()  # optional channels in an outage (alerted once)
        self.blocked = ""  # why the account cannot be mirrored ("" while it can)
        self.blocked_changed = asyncio.Event()

    @property
    def healthy(self) -> bool:
        """Every task of the protection path is running; none is waiting to restart."""
        return not (self.crashed - self.optional)

    def _say(self, key: str, severity: Severity, text: str) -> None:
        """An alert (the notifier logs it too); the log alone if it cannot be raised."""
        level = logging.CRITICAL if severity is Severity.CRITICAL else logging.INFO
        if self.alert is None:
            log.log(level, text)
            return
        try:
            self.alert(SendAlert(key, severity, text, self.clock.now_ms()))
        except Exception:  # the alert's own channels may be what is down
            log.log(level, text)
            log.exception("could not raise that alert")

    async def _up_again(self, name: str) -> None:
        await self.clock.sleep(UP_AGAIN_AFTER)
        if name in self.down:
            self.down.discard(name)
            self._say(f"channel:{name}", Severity.INFO, f"{name} is working again")

    async def keep(self, name: str, job: Job) -> None:
        """Run `job`; if it crashes, log it and start it again (never silently lost)."""
        for attempt in range(10**9):
            watch = None
            if name in self.down:  # back once this attempt stays up a while
                watch = asyncio.ensure_future(self._up_again(name))
            try:
                await job()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.crashed.add(name)
                self.restarts[name] = self.restarts.get(name, 0) + 1
                delay = backoff(attempt)
                log.exception("task %s crashed; restarting it in %.1fs", name, delay)
                if name in self.optional and name not in self.down:
                    self.down.add(name)
                    self._say(
                        f"channel:{name}",
                        Severity.CRITICAL,
                        # The error's type only: its text can quote a secret (PTB's InvalidToken
                        # quotes the bot token), and this alert is stored and sent.
                        f"{name} is down ({type(exc).__name__}; details in the log); retrying."
                        " Protection goes on; messages wait in the outbox",
                    )
                await self.clock.sleep(delay)
                self.crashed.discard(name)
            finally:
                if watch is not None:
                    watch.cancel()

    async def until_ok(self, what: str, step: Job) -> None:
        """A start-up step, tried again (with backoff) while the exchange cannot answer. A
        refused API key is no passing trouble: it is a critical alert (again every hour while
        it lasts), `blocked` says so (systemd's status), and it is tried every 5 minutes.

        Unless the key is a Portfolio Margin account's (Binance refuses fapi's account calls
        for those, and answers GET /papi/v1/account): that is a critical alert and
        `UnsupportedAccount`, which stops the service, never running with wrong figures."""
        said_at: int | None = None
        for attempt in range(10**9):
            try:
                await step()
                if self.blocked:
                    self.blocked = ""
                    self.blocked_changed.set()
                    self._say("api_key", Severity.INFO, "the API key works again: mirroring")
                return
            except Rejected as exc:
                if exc.code not in KEY_REFUSED:
                    raise
                if self.portfolio_margin is not None and await self.portfolio_margin():
                    self._refuse_portfolio_margin()
                now = self.clock.now_ms()
                self.blocked = f"not mirrored: the API key was refused ({exc.code})"
                self.blocked_changed.set()
                log.error("%s: Binance refused the API key: %s", what, exc)
                if said_at is None or now - said_at >= REFUSED_REPEAT_MS:
                    said_at = now
                    self._say(
                        "api_key",
                        Severity.CRITICAL,
                        f"the account is NOT protected: Binance refused the API key ({exc.code})."
                        " Check the key, its IP allow-list and its permissions (futures);"
                        " trying again every 5 minutes",
                    )
                await self.clock.sleep(REFUSED_RETRY)
            except ExchangeError as exc:
                delay = backoff(attempt, first=0.5, ceiling=30.0)
                log.warning("start-up step %s failed (%s); retrying in %.1fs", what, exc, delay)
                await self.clock.sleep(delay)

    def _refuse_portfolio_margin(self) -> None:
        """A Portfolio Margin account: said through every channel (the alert's log line is the
        one that says it), then `UnsupportedAccount`."""
        self.blocked = "stopped: a Portfolio Margin account is not supported yet"
        self.blocked_changed.set()
        self._say(
            "portfolio_margin",
            Severity.CRITICAL,
            "the account is NOT protected: it is a Portfolio Margin account, which the"
            " assistant does not support yet (its figures would be wrong); the service stops"
            " (exit status 3, not restarted)",
        )
        raise UnsupportedAccount("a Portfolio Margin account is not supported yet")
