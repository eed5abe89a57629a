"""`step`: the one place that decides, for the live service and for replay alike.

    (state, memory, rules, event, at) -> Step(state, memory, decision, drift)

The event is applied to the mirror; a fresh snapshot is compared with the mirror it replaces
and its figures with ours (each difference a `DriftDetected`); then the rules decide on the
event and on each drift, in that order (the journal's order). Pure: the same inputs always
give the same step, so a replay of the journal reproduces every decision live made.

Drift is derived here from the snapshot, never read back: live journals its drift rows for
the record, and replay skips them (`derived`) because this function makes them again.

A quote (`QuoteUpdated`, the book between marks) moves only the shadow mark's estimator, and
only the early rules (`rules.early`) decide on it; every other event's real health settles
the early warnings still open (confirmed or withdrawn).
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.core.events import AccountSnapshotted, DriftDetected, Event, QuoteUpdated
from assistant.core.mirror import MirrorState, apply
from assistant.core.reconcile import figure_drift, mirror_drift
from assistant.core.rules import early
from assistant.core.rules.config import Rules
from assistant.core.rules.engine import Decision, evaluate
from assistant.core.rules.memory import Memory


@dataclass(frozen=True, slots=True)
class Step:
    state: MirrorState
    memory: Memory
    decision: Decision  # the event's and its drifts' actions, in order; the memory after all
    drift: tuple[DriftDetected, ...]


def derived(event: Event) -> bool:
    """True for an event `step` makes itself (a journaled drift): replay must not feed it."""
    return isinstance(event, DriftDetected)


def step(state: MirrorState, memory: Memory, rules: Rules | None, event: Event, at: int) -> Step:
    if isinstance(event, QuoteUpdated):
        state = apply(state, event)
        if rules is None or not early.wanted(rules):
            return Step(state, memory, Decision((), memory, None), ())
        decision = early.decide(state, memory, at, rules)
        return Step(state, decision.memory, decision, ())
    drift: list[DriftDetected] = []
    if isinstance(event, AccountSnapshotted) and state.snapshot_at:
        drift = mirror_drift(state, event)
    state = apply(state, event)
    if isinstance(event, AccountSnapshotted):
        drift += figure_drift(state)
    if rules is None:
        return Step(state, memory, Decision((), memory, None), tuple(drift))
    decision = evaluate(state, memory, at, rules, event)
    if drift:
        actions, health = list(decision.actions), decision.health
        for item in drift:
            later = evaluate(state, decision.memory, at, rules, item)
            actions += later.actions
            decision = later
        decision = Decision(tuple(actions), decision.memory, health or decision.health)
    memory, settled = early.settle(decision.memory, at, rules.alerts, decision.health)
    if settled or memory is not decision.memory:
        decision = Decision((*decision.actions, *settled), memory, decision.health)
    return Step(state, decision.memory, decision, tuple(drift))
