"""The executor: the only code that moves money.

Exactly once, whatever happens: an intent row is committed before any request; an order
carries a client id made from its decision; and because Binance accepts a filled order's
client id again, the order (or, for a deposit, the transfer history) is looked up before any
retry: after a timeout, a 5xx (outcome unknown) or a crash. Finding nothing counts only once
Binance can no longer carry the request out (`_sure_after`). Modes: `dry-run` decides and
announces, touching nothing; `confirm` announces and waits for a person; `auto` acts.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, replace
from decimal import ROUND_FLOOR, Decimal

from assistant.binance.rest import BinanceRest
from assistant.core import format as fmt
from assistant.core.actions import (
    AddIsolatedMargin,
    MoneyAction,
    PlaceReduceOnly,
    SendAlert,
    TransferToFutures,
    describe,
    kind_of,
    reason_of,
)
from assistant.core.events import ActionSettled, Event
from assistant.core.model import STABLE
from assistant.core.ports import Clock
from assistant.core.rules.config import Rules
from assistant.core.rules.engine import Health
from assistant.core.values import Outcome, Severity
from assistant.errors import (
    ClockSkew,
    ExchangeError,
    RateLimited,
    Rejected,
    StoreUnwritable,
)
from assistant.service.money import failpoints
from assistant.service.money.exchange import moved, rebuild, send
from assistant.service.money.lookups import LOOKUP_MARGIN, UNKNOWN, Lookups, backoff
from assistant.service.notifier import Notifier
from assistant.store.sqlite import SqliteStore

log = logging.getLogger(__name__)
Sink = Callable[[Event, str | None, int], Awaitable[None]]
Propose = Callable[["MoneyAction", "Rules", "Health | None"], Awaitable[bool]]
Job = tuple[MoneyAction, "Rules | None", "Health | None", str]


class Executor:
    def __init__(
        self,
        *,
        rest: BinanceRest,
        store: SqliteStore,
        put: Sink,
        notifier: Notifier,
        clock: Clock,
        attempts: int = 5,
        propose: Propose | None = None,
        lookup_margin: float = LOOKUP_MARGIN,
    ) -> None:
        self.rest = rest
        self.store = store
        self.put = put  # settlements go back to the loop's inbox
        self.notifier = notifier
        self.clock = clock
        self.attempts = attempts
        self.propose = propose  # asks a person in `confirm` mode (None: nobody can be asked)
        self.lookups = Lookups(rest, store, clock, lookup_margin, attempts)
        # The mode and the kill switch as they are now (a /pause after the decision counts):
        # the loop tells us each time they change.
        self._rules_now: Rules | None = None
        # (action, rules, health, "") to carry out; (action, None, None, why) to decline
        self._queue: asyncio.Queue[Job] = asyncio.Queue()

    # ---- entry points ----------------------------------------------------------------------

    def follow(self, rules: Rules) -> None:
        """The rules in force changed (a /mode or /pause): they apply from the next step."""
        self._rules_now = rules

    def submit(self, action: MoneyAction, rules: Rules, health: Health | None) -> None:
        """Queued and carried out one at a time, in the order decided."""
        self._queue.put_nowait((action, rules, health, ""))

    @property
    def idle(self) -> bool:
        return self._queue.empty()

    def answer(self, action: MoneyAction, by: str, why: str, rules: Rules) -> None:
        """A person's answer to a proposal. Confirmed: carried out in its turn (the mode and
        the kill switch as they are now still apply). Declined (cancelled, expired): nothing
        moves, and its cap is given back."""
        if by:
            self.store.audit(self.clock.now_ms(), action.decision_id, "confirmed", by)
            self.submit(replace(action, by=by), rules, None)
        else:
            self._queue.put_nowait((action, None, None, why))

    async def run(self) -> None:
        await self.recover()
        while True:
            action, rules, health, declined = await self._queue.get()
            try:
                if rules is None:
                    await self._settle(
                        action, kind_of(action), declined, f"{declined} in chat: nothing moved"
                    )
                    continue
                await self.carry_out(action, rules, health)
            except Exception as exc:  # a bug or a broken store must not silence later actions
                await self._interrupted(action, exc)

    async def _interrupted(self, action: MoneyAction, exc: Exception) -> None:
        """Something raised while carrying out `action`. Before its intent row exists no
        request can have left: it failed, and its cap is given back. Once the intent exists a
        request may have left the process, so the outcome is unknown: only a lookup on the
        exchange may settle it, and until one does, its cap stays booked."""
        kind = kind_of(action)
        if isinstance(exc, ExchangeError):
            log.error("action %s: %s", action.decision_id, exc)
        else:
            log.exception("action %s interrupted", action.decision_id)
        try:
            row = self.store.intent(action.decision_id)
            before_any_request = row is None
            settled = row is not None and row["status"] != "pending"
        except Exception:  # the store cannot say: as if a request had left
            log.exception("action %s: its intent cannot be read", action.decision_id)
            before_any_request, settled = False, False
        if before_any_request:
            await self._settle(action, kind, "failed", str(exc)[:200] or type(exc).__name__)
            return
        if settled:
            return  # its outcome was written before the error: nothing more to say
        found = await self.lookups.until_known(
            action, action.at, self.lookups.sure_after(action.decision_id)
        )
        if found is not None and found is not UNKNOWN:
            await self._finish(action, kind, "done", f"found after {exc!r}: {found}", moved(action))
            return
        detail = f"{type(exc).__name__} after its intent was written; not found on the exchange"
        if found is UNKNOWN:
            detail = f"{type(exc).__name__} after its intent was written; the exchange cannot say"
        text = f"outcome unknown: {describe(action)}: {detail}; its cap stays booked"
        self._announce(action, Severity.CRITICAL, text, Outcome.UNKNOWN)
        await self._finish(action, kind, "unknown", detail)

    # ---- one action --------------------------------------------------------------------------

    async def carry_out(self, action: MoneyAction, rules: Rules, health: Health | None) -> None:
        kind, what = kind_of(action), describe(action)
        if self._rules_now is not None:
            now = self._rules_now
            rules = replace(rules, mode=now.mode, paused=now.paused)
        if rules.mode == "dry-run" or rules.paused:
            halt = "dry-run" if rules.mode == "dry-run" else "paused"
            text = f"{halt}: would {what} ({reason_of(action)})"
            self._announce(action, Severity.INFO, text, Outcome.DRY_RUN)
            await self._settle(action, kind, "dry-run", halt)
            return
        if rules.mode == "confirm" and not action.by:  # a person's own request is confirmed
            if self.propose is not None and await self.propose(action, rules, health):
                return  # pending until confirmed (then queued again), cancelled or expired
            text = f"needs confirmation, but no chat is set up: {what} ({reason_of(action)})"
            self._announce(action, Severity.WARNING, text, Outcome.AWAITING_CONFIRMATION)
            await self._settle(action, kind, "awaiting-confirmation", "nobody can confirm it")
            return
        if self.store.intent(action.decision_id) is not None:
            return  # this decision was already taken into account: never twice
        if isinstance(action, TransferToFutures):
            capped = await self._within_spot(action)
            if capped is None:
                return
            if capped.amount != action.amount:
                note = (
                    f"; LOWERED from {fmt.usdt(action.amount)} to the spot wallet's free"
                    f" {fmt.usdt(capped.amount)}"
                )
                capped = replace(capped, reason=capped.reason + note)
            action, what = capped, describe(capped)
        payload = {k: str(v) if isinstance(v, Decimal) else v for k, v in asdict(action).items()}
        health_row = None if health is None else {k: str(v) for k, v in asdict(health).items()}
        try:
            self.store.record_intent(
                action.decision_id, kind, payload, action.at, rules.version, health_row, what
            )
        except StoreUnwritable as exc:
            if not isinstance(action, PlaceReduceOnly):  # a transfer needs its row to be found
                text = f"NOT done: {what}: its intent could not be recorded ({exc})"
                self._announce(action, Severity.CRITICAL, text, Outcome.FAILED)
                await self._settle(action, kind, "failed", f"no intent row: {exc}")
                return
            # An order's client id is made from its decision: looked up by it, it cannot go
            # twice, row or no row. Protection does not wait on the store.
            log.error("%s %s goes without its intent row: %s", kind, action.decision_id, exc)
        failpoints.hit("after-intent")
        await self._attempt(action, kind, what, action.at)

    async def _within_spot(self, action: TransferToFutures) -> TransferToFutures | None:
        """The deposit limited by the spot wallet's free balance (None: nothing to move)."""
        try:
            free = await self.rest.spot_free_usdt(action.asset)
        except ExchangeError as exc:
            await self._settle(action, "deposit", "failed", f"spot balance unknown: {exc}")
            return None
        unit = Decimal("0.01") if action.asset in STABLE else Decimal("0.00000001")
        amount = min(action.amount, free.quantize(unit, rounding=ROUND_FLOOR))
        if amount <= 0:
            why = f"spot wallet has {free} {action.asset} free"
            await self._settle(action, "deposit", "failed", why)
            return None
        return replace(action, amount=amount) if amount != action.amount else action

    def _halted(self) -> str:
        """Why nothing may be sent now ("" if it may)."""
        now = self._rules_now
        if now is None:
            return ""
        return "paused" if now.paused else ("dry-run" if now.mode == "dry-run" else "")

    async def _attempt(self, action: MoneyAction, kind: str, what: str, since: int) -> None:
        for attempt in range(self.attempts):
            if attempt and (halt := self._halted()):  # looked up: not on the exchange
                await self._finish(action, kind, "abandoned", f"{halt} before a retry; not sent")
                return
            try:
                result = await send(
                    self.rest, self.store, action, self.lookups.stamp(action.decision_id)
                )
            except Rejected as exc:
                await self._finish(action, kind, "failed", f"Binance refused: {exc}")
                return
            except ExchangeError as exc:
                # Unknown outcome (5xx, timeout), rate limit, clock: look before trying again.
                if isinstance(action, AddIsolatedMargin):  # no trace to look up: never resend
                    detail = f"{exc}; check the position's margin"
                    await self._finish(action, kind, "unknown", detail)
                    return
                # Refused (429, 418, -1021): Binance says it did nothing. Otherwise it may yet.
                refused = isinstance(exc, (RateLimited, ClockSkew))
                sure_after = None if refused else self.lookups.sure_after(action.decision_id)
                found = await self.lookups.until_known(action, since, sure_after)
                if found is UNKNOWN:
                    await self._finish(
                        action, kind, "unknown", f"{exc}; and the exchange could not be asked"
                    )
                    return
                if found is not None:
                    await self._finish(action, kind, "done", f"found after {exc}: {found}")
                    text = f"done: {what} (confirmed after: {exc})"
                    self._announce(action, Severity.WARNING, text, Outcome.DONE)
                    return
                wait = backoff(exc, attempt)
                self.store.audit(
                    self.clock.now_ms(), action.decision_id, "retry", f"{exc}; again in {wait:.1f}s"
                )
                log.warning(
                    "%s %s: %s; not found on the exchange; again in %.1fs",
                    kind,
                    action.decision_id,
                    exc,
                    wait,
                )
                await self.clock.sleep(wait)
                continue
            failpoints.hit("after-accept")
            await self._finish(
                action, kind, "done", json.dumps(result, default=str)[:500], amount=moved(action)
            )
            text = f"done: {what} ({reason_of(action)})"
            self._announce(action, Severity.WARNING, text, Outcome.DONE)
            return
        await self._finish(action, kind, "failed", f"gave up after {self.attempts} attempts")

    # ---- after a crash -----------------------------------------------------------------------

    async def recover(self) -> None:
        """Every intent left pending by a crash: found on the exchange (done), or abandoned —
        no request is sent for it again; the rules decide anew on fresh data. If the exchange
        cannot be asked, the outcome is unknown, and said so loudly."""
        for row in self.store.pending_intents():
            payload = json.loads(row["payload"])
            action = rebuild(row["kind"], payload)
            if isinstance(action, AddIsolatedMargin):
                await self._finish(
                    action,
                    row["kind"],
                    "unknown",
                    "interrupted by a restart; check the position's margin",
                )
                continue
            sure_after = self.lookups.sure_after(action.decision_id)
            found = await self.lookups.until_known(action, int(row["created_at"]), sure_after)
            if found is UNKNOWN:
                await self._finish(
                    action,
                    row["kind"],
                    "unknown",
                    "interrupted by a restart, and the exchange could not be asked",
                )
            elif found is not None:
                await self._finish(action, row["kind"], "done", found, amount=moved(action))
            else:
                await self._finish(action, row["kind"], "abandoned", "not found after a restart")

    # ---- bookkeeping -------------------------------------------------------------------------

    async def _finish(
        self,
        action: MoneyAction,
        kind: str,
        outcome: str,
        detail: str,
        amount: Decimal | None = None,
    ) -> None:
        if outcome in ("failed", "unknown"):
            log.error("%s %s %s: %s", kind, action.decision_id, outcome, detail)
        self.store.settle_intent(
            action.decision_id, outcome, {"detail": detail}, self.clock.now_ms()
        )
        await self._settle(action, kind, outcome, detail, amount)

    async def _settle(
        self,
        action: MoneyAction,
        kind: str,
        outcome: str,
        detail: str,
        amount: Decimal | None = None,
    ) -> None:
        now = self.clock.now_ms()
        self.store.audit(now, action.decision_id, outcome, detail)
        settled = ActionSettled(
            action.decision_id, kind, Outcome(outcome), detail[:300], now, amount
        )
        await self.put(settled, None, now)

    def _announce(
        self, action: MoneyAction, severity: Severity, text: str, outcome: Outcome
    ) -> None:
        amount = moved(action)
        alert = SendAlert(
            kind_of(action),
            severity,
            text,
            self.clock.now_ms(),
            amount=amount,
            outcome=outcome,
            decision_id=action.decision_id,
        )
        self.notifier(alert)
