"""Alerts carry their facts as fields: the metric, the tier crossed (or CLEAR / STALE), and
the severity as a `Severity`; the text is only for people."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from assistant.core.actions import CLEAR, STALE, SendAlert
from assistant.core.events import ActionSettled, DriftDetected
from assistant.core.rules.alerts import tiered
from assistant.core.rules.config import AlertRules
from assistant.core.rules.engine import evaluate
from assistant.core.rules.memory import Memory
from assistant.core.values import Outcome, Severity
from tests.core.rules.test_engine import ALERTS_ONLY, at_price, price_for_ratio
from tests.core.test_mirror import ready

D = Decimal


def alerts_of(actions: tuple[object, ...], key: str) -> list[SendAlert]:
    return [a for a in actions if isinstance(a, SendAlert) and a.key == key]


def test_a_crossing_carries_its_metric_and_tier_and_the_all_clear_says_clear() -> None:
    state, memory = ready(), Memory()
    seen: list[SendAlert] = []
    for t, ratio in ((3_000, "0.81"), (4_000, "0.86"), (5_000, "0.91"), (6_000, "0.50")):
        state = at_price(state, str(price_for_ratio(D(ratio))), t)
        decision = evaluate(state, memory, t, ALERTS_ONLY)
        memory = decision.memory
        seen += alerts_of(decision.actions, "margin_ratio")
    assert [(a.metric, a.tier, a.severity) for a in seen] == [
        ("margin_ratio", D("0.80"), Severity.WARNING),
        ("margin_ratio", D("0.85"), Severity.WARNING),
        ("margin_ratio", D("0.90"), Severity.CRITICAL),
        ("margin_ratio", CLEAR, Severity.INFO),
    ]
    assert all(type(a.severity) is Severity for a in seen)
    assert all(a.amount is None and a.outcome is None for a in seen)


def test_a_tier_is_the_configured_threshold_and_reads_as_configured() -> None:
    """A tier is carried as the configured threshold, and written as configured: 12.347%
    and 12.348% are two tiers and read as two; 10% and 6% read alike (no "10.0%" beside
    "6.00%")."""
    memory = Memory()
    for tier, text in (
        (D("0.12347"), "12.347%"),
        (D("0.12348"), "12.348%"),
        (D("0.10"), "10%"),
        (D("0.06"), "6%"),
    ):
        tiers, band = (tier,), D("0.01")
        _, found = tiered(
            memory, "d", "distance", D("0.01"), tiers, band, False, 1, 0, "x", metric="d"
        )
        assert found[0].text == f"distance x: past {text}" and found[0].tier == tier


def test_a_stale_mark_is_tagged_stale_then_clear() -> None:
    rules = replace(ALERTS_ONLY, alerts=replace(ALERTS_ONLY.alerts, stale_after_ms=5_000))
    state = at_price(ready(), "60000", 2_000)
    stale = evaluate(state, Memory(), 10_000, rules)
    (alert,) = alerts_of(stale.actions, "stale:BTCUSDT")
    assert (alert.metric, alert.tier, alert.severity) == ("mark_age", STALE, Severity.CRITICAL)
    state = at_price(state, "60000", 11_000)
    fresh = evaluate(state, stale.memory, 11_000, rules)
    (alert,) = alerts_of(fresh.actions, "stale:BTCUSDT")
    assert (alert.metric, alert.tier, alert.severity) == ("mark_age", CLEAR, Severity.INFO)


def test_event_alerts_have_no_metric_or_tier() -> None:
    rules = replace(ALERTS_ONLY, alerts=AlertRules(distance_tiers=(), drift=True))
    state = ready()
    drift = evaluate(state, Memory(), 3_000, rules, DriftDetected("wallet", "1", "2", 3_000))
    failed = ActionSettled("deposit-1-0", "deposit", Outcome.FAILED, "refused", 3_000)
    action = evaluate(state, Memory(), 3_000, rules, failed)
    for alert in (*alerts_of(drift.actions, "drift"), *alerts_of(action.actions, "action")):
        assert alert.metric == "" and alert.tier is None and alert.outcome is None
    assert [a.severity for a in alerts_of(action.actions, "action")] == [Severity.CRITICAL]
