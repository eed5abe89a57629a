"""Tiered alerts with hysteresis and cooldowns, and an all-clear when a condition ends.

A tier is crossed when the metric reaches it; it re-arms only once the metric is back beyond
the tier by the band, so a ratio hovering at a threshold yields one alert per real crossing,
not one per mark. The same tier does not alert again within the cooldown; if the condition
still holds when the cooldown ends, it alerts then.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from decimal import Decimal

from assistant.core import format as fmt
from assistant.core.actions import CLEAR, SendAlert
from assistant.core.events import (
    AccountModeChanged,
    ActionSettled,
    DriftDetected,
    Event,
    MarginCallReceived,
    OrderUpdated,
)
from assistant.core.rules.config import Rules
from assistant.core.rules.memory import Memory
from assistant.core.values import Outcome, Severity


def level(
    value: Decimal | None,
    tiers: Sequence[Decimal],
    band: Decimal,
    current: int,
    higher_is_worse: bool,
) -> int:
    """The active tier after `value` (-1: none), with hysteresis around `current`.
    None means "beyond every tier" when higher is worse (no margin balance left), and
    "no tier at all" when lower is worse (nothing can be liquidated)."""
    if value is None:
        return len(tiers) - 1 if higher_is_worse else -1
    new = current
    if higher_is_worse:
        while new + 1 < len(tiers) and value >= tiers[new + 1]:
            new += 1
        while new >= 0 and value < tiers[new] - band:
            new -= 1
    else:
        while new + 1 < len(tiers) and value <= tiers[new + 1]:
            new += 1
        while new >= 0 and value > tiers[new] + band:
            new -= 1
    return new


def tiered(
    memory: Memory,
    key: str,
    label: str,
    value: Decimal | None,
    tiers: Sequence[Decimal],
    band: Decimal,
    higher_is_worse: bool,
    now: int,
    cooldown_ms: int,
    describe: str | Callable[[], str],
    *,
    metric: str,
    tag: str | None = None,
) -> tuple[Memory, list[SendAlert]]:
    """Update the level of one metric; an alert on a worse tier, an all-clear when it ends.
    `describe` may be a function, called only when there is something to say. The alert
    carries `metric` and its tier: the threshold crossed (or `tag` in its place), or CLEAR."""
    old = memory.levels.get(key, -1)
    new = level(value, tiers, band, old, higher_is_worse)
    if new == old:
        return memory, []
    if new > old:
        sent = f"{key}:{new}"
        if now - memory.sent_at.get(sent, -cooldown_ms - 1) <= cooldown_ms:
            return memory, []  # not announced, so not armed: it alerts once the cooldown ends
    memory = replace(memory, levels={**memory.levels, key: new})
    if callable(describe):
        describe = describe()
    if new > old:
        severity = Severity.CRITICAL if new == len(tiers) - 1 else Severity.WARNING
        text = f"{label} {describe}: past {fmt.threshold(tiers[new])}"
        memory = replace(memory, sent_at={**memory.sent_at, sent: now})
        crossed = tiers[new] if tag is None else tag
        return memory, [SendAlert(key, severity, text, now, metric, crossed)]
    if new == -1 and value is None:  # nothing left to liquidate is not a recovery: no all-clear
        return memory, []
    if new == -1:
        text = f"all clear: {label} {describe}"
        return memory, [SendAlert(key, Severity.INFO, text, now, metric, CLEAR)]
    return memory, []


def of_event(event: Event | None, rules: Rules, now: int) -> list[SendAlert]:
    """The alerts an event is by itself: a mode switch, drift, a liquidation, a margin call,
    a money action that failed or whose outcome is unknown."""
    if isinstance(event, AccountModeChanged):
        text = (
            "the account switched to Multi-Assets mode: its figures are now one pool in USD over"
            " every collateral asset, at Binance's asset index rates"
            if event.multi_assets
            else "the account switched to single-asset mode: one pool per margin asset again"
        )
        return [SendAlert("account_mode", Severity.CRITICAL, text, now, metric="account_mode")]
    if isinstance(event, DriftDetected) and event.what == "account mode":
        text = f"the account's mode changed from {event.ours} to {event.theirs} (found by a"
        text += " reconcile); its health is computed in the new mode from now on"
        return [SendAlert("account_mode", Severity.CRITICAL, text, now, metric="account_mode")]
    if isinstance(event, DriftDetected) and rules.alerts.drift:
        return [
            SendAlert(
                "drift",
                Severity.WARNING,
                f"{event.what} differs: ours {event.ours}, Binance's {event.theirs}"
                " (Binance's state is taken)",
                now,
            )
        ]
    if (
        isinstance(event, OrderUpdated)
        and event.order.client_id.startswith("autoclose-")
        and event.execution == "TRADE"
    ):
        return [
            SendAlert(
                "liquidation",
                Severity.CRITICAL,
                f"Binance liquidated {event.order.symbol} {event.order.position_side.value}:"
                f" {fmt.quantity(event.order.filled)} at the liquidation engine's price",
                now,
            )
        ]
    if isinstance(event, MarginCallReceived):
        return [
            SendAlert(
                "margin_call",
                Severity.CRITICAL,
                f"Binance sent a MARGIN_CALL for {', '.join(event.symbols) or 'the account'}",
                now,
            )
        ]
    if isinstance(event, ActionSettled) and event.outcome in (Outcome.FAILED, Outcome.UNKNOWN):
        word = "failed" if event.outcome == Outcome.FAILED else "has an UNKNOWN outcome"
        text = f"{fmt.kind(event.kind)} {event.decision_id} {word}: {event.detail}"
        return [SendAlert("action", Severity.CRITICAL, text, now)]
    return []
