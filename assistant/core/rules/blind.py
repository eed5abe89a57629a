"""What the guardian cannot see, said out loud.

- A period without health (no fresh snapshot yet, a held symbol without a mark or brackets,
  positions that do not add up) longer than `stale_after` is a critical alert: the rules
  cannot act. It respects the cooldown, and ends with an info once health is back. The period
  starts again at every start of the service (`CapsRestored`), so a normal start-up shorter
  than `stale_after` says nothing.
- A held symbol computed at an assumed maintenance rate (Binance sent no brackets for it) is a
  warning naming the symbol and the rate, once while it lasts, and an info when it ends.
"""

from __future__ import annotations

from dataclasses import replace

from assistant.core import format as fmt
from assistant.core.actions import CLEAR, STALE, SendAlert
from assistant.core.events import CapsRestored, Event
from assistant.core.mirror import MirrorState, why_not_ready
from assistant.core.rules.config import Rules
from assistant.core.rules.memory import NEVER, Memory
from assistant.core.values import Severity

NO_HEALTH = "no_health"
BRACKETS = "brackets:"  # + symbol: an assumed maintenance rate


def no_health(
    state: MirrorState,
    memory: Memory,
    now: int,
    rules: Rules,
    healthy: bool,
    event: Event | None,
) -> tuple[Memory, list[SendAlert]]:
    """The no-health alert's state after one evaluation; `healthy`: health was computed."""
    active = memory.levels.get(NO_HEALTH, -1) >= 0
    if healthy:
        if memory.blind_since is None and not active:
            return memory, []  # the usual case: nothing to remember, nothing to say
        since = memory.blind_since
        memory = replace(memory, blind_since=None)
        if not active:
            return memory, []
        levels = {k: v for k, v in memory.levels.items() if k != NO_HEALTH}
        took = "" if since is None else f" after {(now - since) // 1000}s without it"
        text = f"all clear: health is computed again{took}; the rules act again"
        alert = SendAlert(NO_HEALTH, Severity.INFO, text, now, "health", CLEAR)
        return replace(memory, levels=levels), [alert]
    since = memory.blind_since
    if since is None or isinstance(event, CapsRestored):  # a start: the period starts now
        since = now
        memory = replace(memory, blind_since=since)
    a = rules.alerts
    if active or now - since <= a.stale_after_ms:
        return memory, []
    sent = f"{NO_HEALTH}:0"
    if now - memory.sent_at.get(sent, NEVER) <= a.cooldown_ms:
        return memory, []  # not announced, so not armed: it alerts once the cooldown ends
    text = (
        f"the account is NOT protected: health cannot be computed for {(now - since) // 1000}s"
        f" ({why_not_ready(state)}); the rules cannot act"
    )
    memory = replace(
        memory,
        levels={**memory.levels, NO_HEALTH: 0},
        sent_at={**memory.sent_at, sent: now},
    )
    return memory, [SendAlert(NO_HEALTH, Severity.CRITICAL, text, now, "health", STALE)]


def assumed_brackets(
    state: MirrorState, memory: Memory, now: int, rules: Rules
) -> tuple[Memory, list[SendAlert]]:
    """A warning for each held symbol newly computed at an assumed rate; an info for each
    whose assumption ended (its brackets arrived, or it is no longer held)."""
    if not state.assumed and not memory.assuming:
        return memory, []
    found: list[SendAlert] = []
    assuming = set(memory.assuming)
    sent_at = dict(memory.sent_at)
    for symbol in sorted(state.assumed.keys() - memory.assuming):
        key = f"{BRACKETS}{symbol}"
        if now - sent_at.get(f"{key}:0", NEVER) <= rules.alerts.cooldown_ms:
            continue  # not announced, so not armed: it alerts once the cooldown ends
        rate = state.assumed[symbol]
        source = (
            "[mirror] fallback_mmr"
            if rate == state.fallback_mmr
            else "the highest rate the held positions' own brackets give them"
        )
        text = (
            f"{symbol}: Binance sent no leverage brackets for it; its maintenance margin is"
            f" computed at an assumed {fmt.percent(rate)} ({source}) until they arrive"
        )
        found.append(SendAlert(key, Severity.WARNING, text, now, "assumed_mmr", rate))
        assuming.add(symbol)
        sent_at[f"{key}:0"] = now
    for symbol in sorted(memory.assuming - state.assumed.keys()):
        assuming.discard(symbol)
        if symbol in state.held_symbols:
            text = f"all clear: {symbol}'s leverage brackets arrived; its own table is used now"
        else:
            text = f"all clear: {symbol} is no longer held; no rate is assumed for it"
        key = f"{BRACKETS}{symbol}"
        found.append(SendAlert(key, Severity.INFO, text, now, "assumed_mmr", CLEAR))
    return replace(memory, assuming=frozenset(assuming), sent_at=sent_at), found
