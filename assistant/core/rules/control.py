"""What a person changes from chat: the mode, the kill switch, muting, and manual actions.

Chat overrides live in the rules' memory (so they survive a restart) and hold while the
config file is the one they were set under: editing the config and restarting starts from
the file's mode. A pause from chat holds until a person lifts it. Manual actions are
checked against the same caps as the rules' own.
"""

from __future__ import annotations

from dataclasses import replace

from assistant.core import format as fmt
from assistant.core.actions import CLIENT_PREFIX, MANUAL, PlaceReduceOnly, TransferToFutures
from assistant.core.events import (
    ManualDeposit,
    ManualReduce,
    ModeSet,
    MuteSet,
    PauseSet,
)
from assistant.core.margin.sizing import reduce_room
from assistant.core.mirror import MirrorState
from assistant.core.model import ZERO
from assistant.core.rules.config import Rules
from assistant.core.rules.memory import DAY_MS, Memory
from assistant.core.rules.money import describe_orders
from assistant.core.values import Mode, Severity

MODES = tuple(Mode)  # members compare equal to their words: `"auto" in MODES`


def effective(rules: Rules, memory: Memory) -> Rules:
    """The rules with the chat's overrides applied (when set under this config)."""
    if memory.overrides_version != rules.version:
        # Another config file: its mode holds; a pause from chat still holds too.
        return replace(rules, paused=True) if memory.paused else rules
    mode = Mode(memory.mode) if memory.mode else rules.mode
    paused = rules.paused if memory.paused is None else memory.paused
    if mode == rules.mode and paused == rules.paused:
        return rules
    return replace(rules, mode=mode, paused=paused)


def _fresh_overrides(memory: Memory, rules: Rules) -> Memory:
    """Overrides set under another config file are dropped before a new one is recorded,
    except a pause: only a person lifts the kill switch."""
    if memory.overrides_version == rules.version:
        return memory
    paused = True if memory.paused else None
    return replace(memory, mode="", paused=paused, overrides_version=rules.version)


def control(memory: Memory, event: ModeSet | PauseSet | MuteSet, rules: Rules) -> Memory:
    if isinstance(event, MuteSet):
        return replace(memory, muted_until=event.until)
    memory = _fresh_overrides(memory, rules)
    if isinstance(event, ModeSet):
        if event.mode and event.mode not in MODES:
            return memory
        return replace(memory, mode="" if event.mode == rules.mode else event.mode)
    return replace(memory, paused=None if event.paused == rules.paused else event.paused)


def muted(memory: Memory, severity: str, now: int) -> bool:
    return severity != Severity.CRITICAL and now < memory.muted_until


def manual(
    state: MirrorState, memory: Memory, rules: Rules, event: ManualDeposit | ManualReduce
) -> tuple[Memory, TransferToFutures | PlaceReduceOnly | None, str]:
    """The action a confirmed chat command becomes, within the caps; or why it cannot."""
    now = event.at
    if isinstance(event, ManualDeposit):
        rule = rules.deposit
        left = rule.max_per_day - memory.deposited_today(now)
        if event.amount <= ZERO:
            return memory, None, "the amount must be positive"
        if any(d.startswith("deposit-") for d in memory.pending):
            return memory, None, "a deposit is still in progress; try again when it settles"
        if event.amount > rule.max_per_action:
            cap = fmt.limit(rule.max_per_action)
            return memory, None, f"over the per-deposit cap (max_per_action) of {cap}"
        if event.amount > left:
            return (
                memory,
                None,
                (
                    f"over today's deposit cap: {fmt.limit(max(left, ZERO))} left of"
                    f" max_per_day {fmt.limit(rule.max_per_day)}"
                ),
            )
        decision = f"deposit-{now}-{memory.decisions}"
        memory = replace(
            memory,
            pending=memory.pending | {decision},
            decisions=memory.decisions + 1,
            deposit_day=now // DAY_MS,
            deposit_total=memory.deposited_today(now) + event.amount,
            booked={**memory.booked, decision: event.amount},
        )
        return (
            memory,
            TransferToFutures(decision, event.amount, MANUAL, now, event.by),
            "",
        )
    change = state.positions.get((event.symbol, event.position_side))
    if change is None or not change.amount:
        return memory, None, f"no {event.symbol} {event.position_side.value} position"
    if event.quantity <= ZERO or event.quantity > abs(change.amount):
        return memory, None, f"the quantity must be above 0 and at most {abs(change.amount)}"
    if any(d.startswith("reduce-") for d in memory.pending):
        return memory, None, "a reduce-only order is still in progress; try again when it settles"
    room = reduce_room(change, state.open_orders.values(), CLIENT_PREFIX)
    if event.quantity > room.without_ours:  # the user's own orders are in the way
        return (
            memory,
            None,
            f"your open reduce-only order(s) {describe_orders(room.theirs)} leave"
            f" {room.without_ours} of the position to reduce (Binance refuses more);"
            " cancel or lower them first",
        )
    in_the_way = event.quantity > room.free  # our own stale orders: cancelled first
    decision = f"reduce-{now}-{memory.decisions}"
    side = "SELL" if change.amount > 0 else "BUY"
    memory = replace(memory, pending=memory.pending | {decision}, decisions=memory.decisions + 1)
    order = PlaceReduceOnly(
        decision,
        event.symbol,
        event.position_side,
        side,
        event.quantity,
        MANUAL,
        now,
        event.by,
        tuple(o.client_id for o in room.ours) if in_the_way else (),
    )
    return memory, order, ""
