"""Replay: journaled events through the same `step` as the live loop, on the recorded
clock. Pure: what the rules would have decided, given what arrived and when.

Decisions are not carried out. A decision the journal itself settled (the same rules made
it when it was recorded) is settled by the journal's own outcome, at its recorded time, so a
replay with the recording's config reproduces the recording exactly. A decision the journal
never saw is settled at once as "replayed" (nothing moved: the account and the market are
as recorded), so the rules go on deciding as they would after a dry-run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from assistant.core.actions import MoneyAction, SendAlert, describe, kind_of
from assistant.core.events import ActionSettled, Event
from assistant.core.mirror import MirrorState
from assistant.core.rules.config import Rules
from assistant.core.rules.control import effective
from assistant.core.rules.engine import Decision, Health
from assistant.core.rules.memory import Memory
from assistant.core.step import derived, step
from assistant.core.values import Mode, Outcome, Severity


@dataclass(frozen=True, slots=True)
class Happened:
    """An alert or an action the rules decided."""

    at: int
    kind: str  # "alert" | "action"
    key: str  # the alert's key, or the action's kind (deposit, reduce, isolated-margin)
    severity: Severity | Literal[""]  # the alert's; "" for an action
    text: str
    decision_id: str  # "" for an alert
    health: Health | None
    metric: str = ""  # the alert's (`SendAlert.metric`); "" for an action
    tier: Decimal | str | None = None  # the alert's (`SendAlert.tier`); None for an action


@dataclass(frozen=True, slots=True)
class Sample:
    at: int
    margin_ratio: Decimal | None
    distance: Decimal | None


@dataclass
class Replayer:
    rules: Rules
    settled_in_journal: frozenset[str] = frozenset()
    sample_every_ms: int = 1_000
    state: MirrorState = field(default_factory=MirrorState)
    memory: Memory = field(default_factory=Memory)
    happened: list[Happened] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    events: int = 0
    first_at: int | None = None
    last_at: int = 0

    def feed(self, at: int, event: Event) -> None:
        self.events += 1
        if self.first_at is None:
            self.first_at = at
        self.last_at = at
        if not derived(event):  # a journaled drift: `step` makes it again from its snapshot
            self._step(at, event)

    def feed_all(self, rows: Iterable[tuple[int, Event]]) -> Replayer:
        for at, event in rows:
            self.feed(at, event)
        return self

    def _step(self, at: int, event: Event) -> None:
        done = step(self.state, self.memory, self.rules, event, at)
        self.state, self.memory = done.state, done.memory
        decision = done.decision
        health = decision.health
        if (
            health is not None
            and not health.early  # the shadow mark's: the series is the real marks'
            and (not self.samples or at - self.samples[-1].at >= self.sample_every_ms)
        ):
            self.samples.append(Sample(at, health.margin_ratio, health.distance))
        unsettled = self._record(at, decision)
        for action in unsettled:  # never carried out: settled at once, nothing moved
            detail = "not carried out in a replay"
            settled = ActionSettled(
                action.decision_id, kind_of(action), Outcome.REPLAYED, detail, at
            )
            self._step(at, settled)

    def _record(self, at: int, decision: Decision) -> list[MoneyAction]:
        unsettled: list[MoneyAction] = []
        for action in decision.actions:
            if isinstance(action, SendAlert):
                self.happened.append(
                    Happened(
                        at,
                        "alert",
                        action.key,
                        action.severity,
                        action.text,
                        "",
                        decision.health,
                        action.metric,
                        action.tier,
                    )
                )
                continue
            self.happened.append(
                Happened(
                    at,
                    "action",
                    kind_of(action),
                    "",
                    describe(action),
                    action.decision_id,
                    decision.health,
                )
            )
            if action.decision_id not in self.settled_in_journal:
                unsettled.append(action)
        return unsettled

    @property
    def mode(self) -> Mode:
        return effective(self.rules, self.memory).mode
