"""A model of the money path around the pure core, for the cap properties.

The core decides (`core.step.step`, which runs `core.rules.engine.evaluate` and the money rules
on `core.rules.memory.Memory`); around it this models what the shell does with a decision:
the executor's intent rows (committed before any request), the outcomes it settles them with,
the inbox that carries each `ActionSettled` back (lost in a crash), the loop's saves of the
memory, and a restart, which is the loop's: the saved memory, then a `CapsRestored` built from
the intent rows alone (`store.money_facts`), through `step`.

The truth it keeps is the exchange's side: which deposits and top-ups moved money (done),
may have (unknown, or an intent still open), or did not, and for how much."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from assistant.core.actions import AddIsolatedMargin, TransferToFutures
from assistant.core.events import (
    AccountSnapshotted,
    ActionSettled,
    BracketsLoaded,
    CapsRestored,
    Event,
    ExchangeFigures,
    ManualDeposit,
    MarkPriceUpdated,
    PositionChange,
    StreamConnected,
)
from assistant.core.mirror import MirrorState, apply
from assistant.core.model import MarginType, PositionSide
from assistant.core.rules.config import AlertRules, DepositRule, ReduceRule, Rules
from assistant.core.rules.memory import DAY_MS, Memory
from assistant.core.step import step
from assistant.core.values import Mode, Outcome
from tests.helpers import real_2024_brackets

D = Decimal
BOTH = PositionSide.BOTH
START = 20_000 * DAY_MS - 3_600_000  # an hour before a UTC midnight
# Outcomes that come before any request (no intent row is committed for them).
NOT_SENT = (
    Outcome.DRY_RUN,
    Outcome.CANCELLED,
    Outcome.EXPIRED,
    Outcome.AWAITING_CONFIRMATION,
    Outcome.FAILED,  # e.g. the spot balance could not be read; or Binance refused it
)
DONE = Outcome.DONE
OUTCOMES = (Outcome.DONE, Outcome.UNKNOWN, Outcome.ABANDONED, *NOT_SENT)


def rules(
    max_per_action: str, max_per_day: str, min_amount: str, cooldown_ms: int, target: str
) -> Rules:
    return Rules(
        alerts=AlertRules(distance_tiers=(), stale_after_ms=10**12),
        deposit=DepositRule(
            trigger_ratio=D("0.03"),
            trigger_distance=None,
            target_ratio=D(target),
            target_distance=D(0),
            max_per_action=D(max_per_action),
            max_per_day=D(max_per_day),
            min_amount=D(min_amount),
            cooldown_ms=cooldown_ms,
        ),
        reduce=ReduceRule(enabled=False),
        mode=Mode.AUTO,
    )


def account(at: int, isolated: bool = True) -> MirrorState:
    """A cross BTCUSDT long whose margin ratio passes the deposit trigger, and (`isolated`)
    an isolated ETHUSDT long past its isolated tier: both kinds of deposit are due."""
    state = apply(MirrorState(), BracketsLoaded(real_2024_brackets(), at))
    legs = (
        PositionChange("BTCUSDT", BOTH, D("0.5"), D("60000"), MarginType.CROSS, D(0)),
        PositionChange(
            "ETHUSDT", BOTH, D("2") if isolated else D(0), D("3100"), MarginType.ISOLATED, D("228")
        ),
    )
    snapshot = AccountSnapshotted(
        taken_at=at,
        wallet_balance=D("3000"),
        hedge_mode=False,
        positions=legs,
        leverage={"BTCUSDT": 20, "ETHUSDT": 20},
        margin_types={"BTCUSDT": MarginType.CROSS, "ETHUSDT": MarginType.ISOLATED},
        open_orders=(),
        marks={"BTCUSDT": D("57000"), "ETHUSDT": D("3000")},
        exchange=ExchangeFigures(D(0), D(0)),
    )
    state = apply(state, snapshot)
    for stream in ("user", "market"):
        state = apply(state, StreamConnected(stream, at))
    return state


@dataclass
class Entry:
    """One money action as the exchange side sees it."""

    amount: Decimal  # as decided
    cap: Decimal  # max_per_action when decided
    at: int
    where: str = "queued"  # queued (no intent), in-flight (intent open), settled, lost
    outcome: Outcome | None = None
    moved: Decimal = D(0)  # what a done one moved (the spot wallet may have had less)


@dataclass
class Model:
    rules: Rules
    isolated: bool = True  # an isolated position wants top-ups too
    t: int = START
    state: MirrorState = field(init=False)
    memory: Memory = field(default_factory=Memory)
    saved: Memory = field(default_factory=Memory)  # the store's copy of the memory
    inbox: list[ActionSettled] = field(default_factory=list)
    entries: dict[str, Entry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.state = account(self.t, self.isolated)

    # ---- the loop ---------------------------------------------------------------------------

    def handle(self, event: Event) -> None:
        done = step(self.state, self.memory, self.rules, event, self.t)
        self.state, self.memory = done.state, done.memory
        money = isinstance(event, ManualDeposit)
        for action in done.decision.actions:
            if isinstance(action, (TransferToFutures, AddIsolatedMargin)):
                money = True
                cap = self.rules.deposit.max_per_action
                self.entries[action.decision_id] = Entry(action.amount, cap, action.at)
        if money:  # the loop saves the memory at once after a money decision or a chat event
            self.saved = self.memory

    def tick(self, seconds: int, price: str) -> None:
        self.t += seconds * 1000
        if self.isolated:
            self.handle(MarkPriceUpdated("ETHUSDT", D("3000"), self.t))
        self.handle(MarkPriceUpdated("BTCUSDT", D(price), self.t))

    def manual(self, amount: str) -> None:
        self.handle(ManualDeposit(D(amount), "ann", self.t))

    def save(self) -> None:  # the loop's save tick
        self.saved = self.memory

    def deliver(self) -> None:
        while self.inbox:
            self.handle(self.inbox.pop(0))

    # ---- the executor -------------------------------------------------------------------------

    def _pick(self, where: str, k: int) -> str | None:
        found = sorted(d for d, e in self.entries.items() if e.where == where)
        return found[k % len(found)] if found else None

    def send(self, k: int) -> None:
        """An intent row is committed for a queued action: its request may go out."""
        decision = self._pick("queued", k)
        if decision is not None:
            self.entries[decision].where = "in-flight"

    def settle(self, k: int, choice: int, spot: Decimal, now: bool) -> None:
        """The executor's last word on an action not settled yet; its `ActionSettled` is
        handled at once or waits in the inbox. An outcome that needs a request (done, unknown)
        commits the intent row first; one that comes before any (dry-run, a declined or
        unanswered question) is, for an action already sent, an abandoned retry. A done
        deposit moved at most what the spot wallet had."""
        decision = self._pick("in-flight", k) if k % 2 else self._pick("queued", k)
        decision = decision or self._pick("in-flight", k) or self._pick("queued", k)
        if decision is None:
            return
        entry = self.entries[decision]
        outcome = OUTCOMES[choice % len(OUTCOMES)]
        if entry.where == "in-flight" and outcome in NOT_SENT and outcome != Outcome.FAILED:
            outcome = Outcome.ABANDONED
        moved = None
        if outcome == Outcome.DONE:
            entry.moved = min(entry.amount, spot.quantize(D("0.01"), rounding=ROUND_FLOOR))
            if entry.moved <= 0:
                outcome, entry.moved = Outcome.FAILED, D(0)
            else:
                moved = entry.moved
        entry.where, entry.outcome = "settled", outcome
        kind = "deposit" if decision.startswith("deposit-") else "isolated-margin"
        self.inbox.append(ActionSettled(decision, kind, outcome, "", self.t, moved))
        if now:
            self.deliver()

    # ---- a restart ---------------------------------------------------------------------------

    def restart(self, clean: bool) -> None:
        """The process ends and starts again. Clean: SIGTERM, after the inbox was drained and
        the memory saved. Otherwise a kill: what was in the inbox is lost, and the memory is
        the last one saved. Actions with no intent row die with the process; the executor's
        recovery settles the intents still open later."""
        if clean:
            self.deliver()
            self.save()
        self.inbox.clear()
        for entry in self.entries.values():
            if entry.where == "queued":
                entry.where = "lost"
        day = self.t // DAY_MS
        moved, in_flight = D(0), {}
        for decision, entry in self.entries.items():  # what the intent rows say
            if entry.where == "in-flight":
                in_flight[decision] = entry.amount
            counted = entry.where == "in-flight" or entry.outcome in (DONE, Outcome.UNKNOWN)
            if counted and entry.at // DAY_MS == day:
                moved += entry.moved if entry.outcome == DONE else entry.amount
        self.memory = self.saved
        self.handle(CapsRestored(day, moved, in_flight, self.t))
        self.saved = self.memory

    # ---- the truth ---------------------------------------------------------------------------

    def moved_per_day(self) -> dict[int, Decimal]:
        """Per UTC day of the decision: what moved (done) or may have (unknown, in flight)."""
        days: dict[int, Decimal] = defaultdict(Decimal)
        for entry in self.entries.values():
            if entry.outcome == Outcome.DONE:
                days[entry.at // DAY_MS] += entry.moved
            elif entry.outcome == Outcome.UNKNOWN or entry.where == "in-flight":
                days[entry.at // DAY_MS] += entry.amount
        return dict(days)

    def violations(self) -> list[str]:
        found = [
            f"{d}: {e.amount} over the per-action cap {e.cap}"
            for d, e in self.entries.items()
            if e.amount > e.cap or e.amount <= 0
        ]
        cap = self.rules.deposit.max_per_day
        found += [
            f"day {day}: {total} moved or may have, over the daily cap {cap}"
            for day, total in sorted(self.moved_per_day().items())
            if total > cap
        ]
        return found
