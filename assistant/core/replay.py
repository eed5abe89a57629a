"""Replay: journaled events through the same `step` as the live loop, on the recorded
clock. Pure: what the rules would have decided, given what arrived and when.

Decisions are not carried out. A decision the journal itself settled (the same rules made
it when it was recorded) is settled by the journal's own outcome, at its recorded time, so a
replay with the recording's config reproduces the recording exactly. So is a deposit or an
order a person asked for in chat (its event is in the journal): under other rules its
decision may be numbered differently, and it is matched to the recorded one by its kind and
the moment it was asked, so what it moved counts against the day's cap as it did.

A decision the journal never saw is settled at once, as the mode in force then would have
had it: dry-run or paused, nothing moved and its amount goes back to the cap; a `confirm`
proposal or an `auto` action counts as done (the account and the market stay as recorded,
but the caps and cooldowns go on as if it had moved, so the replay never shows more than
the caps allow). Each replayed action says which it would have been (`Happened.would`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Literal

from assistant.core.actions import (
    MANUAL,
    MoneyAction,
    SendAlert,
    describe,
    kind_of,
    reason_of,
    size,
    symbol_of,
)
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
    size: Decimal | None = None  # an action's: USDT moved, or the order's quantity
    symbol: str = ""  # an order's or a top-up's symbol; a transfer's asset
    would: str = ""  # an action's fate: WOULD_DONE, WOULD_ASK, "dry-run" or "paused"


JUMP = Decimal("0.05")  # a margin ratio move that is sampled at once
WOULD_DONE = "done"
WOULD_ASK = "confirm proposal"


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
    # A recorded decision id -> the replay's own id for the same chat request.
    aliases: dict[str, str] = field(default_factory=dict)

    def feed(self, at: int, event: Event) -> None:
        self.events += 1
        if self.first_at is None:
            self.first_at = at
        self.last_at = at
        if isinstance(event, ActionSettled) and event.decision_id in self.aliases:
            event = replace(event, decision_id=self.aliases.pop(event.decision_id))
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
        if health is not None and not health.early and self._sample_due(at, decision):
            # (an early decision's health is the shadow mark's: the series is the real marks')
            self.samples.append(Sample(at, health.margin_ratio, health.distance))
        unsettled = self._record(at, decision)
        for action, would in unsettled:  # never carried out: settled at once
            moved = would in (WOULD_DONE, WOULD_ASK)  # counted as moved; else given back
            outcome = Outcome.REPLAYED if moved else Outcome.DRY_RUN
            detail = f"not carried out in a replay (it would have been: {would})"
            settled = ActionSettled(action.decision_id, kind_of(action), outcome, detail, at)
            self._step(at, settled)

    def _sample_due(self, at: int, decision: Decision) -> bool:
        """A sample every `sample_every_ms`, and at once when the rules act or the margin
        ratio jumps (five points, or to or from undefined): the moments before a liquidation
        are the ones a plot must show."""
        if not self.samples or at - self.samples[-1].at >= self.sample_every_ms:
            return True
        assert decision.health is not None
        last, ratio = self.samples[-1].margin_ratio, decision.health.margin_ratio
        if decision.actions or (last is None) != (ratio is None):
            return True
        return last is not None and ratio is not None and abs(ratio - last) >= JUMP

    def _would(self, action: MoneyAction) -> str:
        """What the executor would have made of it, with the mode and kill switch in force."""
        rules = effective(self.rules, self.memory)
        if rules.mode == Mode.DRY_RUN or rules.paused:
            return "dry-run" if rules.mode == Mode.DRY_RUN else "paused"
        if rules.mode == Mode.CONFIRM and action.reason != MANUAL:  # a person's own: confirmed
            return WOULD_ASK
        return WOULD_DONE

    def _recorded_twin(self, action: MoneyAction) -> str | None:
        """The recorded decision of the same chat request (same kind, same moment), if the
        journal settled one under another number."""
        if action.reason != MANUAL:
            return None
        kind, at, _ = action.decision_id.split("-")
        prefix = f"{kind}-{at}-"
        twins = sorted(d for d in self.settled_in_journal if d.startswith(prefix))
        taken = set(self.aliases)
        return next((d for d in twins if d not in taken), None)

    def _record(self, at: int, decision: Decision) -> list[tuple[MoneyAction, str]]:
        unsettled: list[tuple[MoneyAction, str]] = []
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
            would = self._would(action)
            self.happened.append(
                Happened(
                    at,
                    "action",
                    kind_of(action),
                    "",
                    f"{describe(action)} ({reason_of(action)})",
                    action.decision_id,
                    decision.health,
                    size=size(action),
                    symbol=symbol_of(action),
                    would=would,
                )
            )
            if action.decision_id in self.settled_in_journal:
                continue
            twin = self._recorded_twin(action)
            if twin is not None:  # its recorded outcome settles it, when it comes
                self.aliases[twin] = action.decision_id
            else:
                unsettled.append((action, would))
        return unsettled

    @property
    def mode(self) -> Mode:
        return effective(self.rules, self.memory).mode
