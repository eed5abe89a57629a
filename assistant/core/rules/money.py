"""The money rules: when to add margin from spot, and when and how much to reduce.

Both act on the cross account's margin ratio or its distance to liquidation, whichever
triggers first; both are sized by `core.sizing` to the rule's target, capped, and spaced by
a cooldown. A decision still waiting for its outcome blocks the next one of its kind.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from assistant.core import format as fmt
from assistant.core.actions import (
    CLIENT_PREFIX,
    AddIsolatedMargin,
    PlaceReduceOnly,
    SendAlert,
    TransferToFutures,
)
from assistant.core.events import OpenOrder
from assistant.core.margin.book import MarginBook
from assistant.core.margin.sizing import (
    Room,
    cross_deposit,
    deposit_for_distance,
    fit,
    isolated_deposit,
    reduce_room,
    reduce_to_ratio,
)
from assistant.core.mirror import MirrorState
from assistant.core.model import STABLE, ZERO, Position, PositionSide
from assistant.core.rules.config import DepositRule, ReduceRule
from assistant.core.rules.funding import book_deposit, funding, in_asset
from assistant.core.rules.memory import DAY_MS, Memory, decided
from assistant.core.values import Policy, Severity

CENT = Decimal("0.01")
SATOSHI = Decimal("0.00000001")
BLOCKED = "reduce_blocked"  # the alert that says which of the user's orders block a reduction


def in_cents(wanted: Decimal, *caps: Decimal, unit: Decimal = CENT) -> Decimal:
    """The amount to move, in whole cents (or `unit`s): what is wanted, rounded up, but never
    more than any cap, each rounded down. A cap below one unit allows nothing."""
    amount = wanted.quantize(unit, rounding=ROUND_CEILING)
    for cap in caps:
        amount = min(amount, cap.quantize(unit, rounding=ROUND_FLOOR))
    return amount


def triggered(
    ratio: Decimal | None,
    distance: Decimal | None,
    trigger_ratio: Decimal | None,
    trigger_distance: Decimal | None,
) -> bool:
    by_ratio = trigger_ratio is not None and (ratio is None or ratio >= trigger_ratio)
    by_distance = (
        trigger_distance is not None and distance is not None and distance <= trigger_distance
    )
    return by_ratio or by_distance


def _pending(memory: Memory, prefix: str) -> bool:
    return any(d.startswith(prefix) for d in memory.pending)


def deposit(
    book: MarginBook,
    memory: Memory,
    now: int,
    rule: DepositRule,
    ratio: Decimal | None,
    distance: Decimal | None,
) -> tuple[Memory, list[TransferToFutures]]:
    if (
        not rule.enabled
        or _pending(memory, "deposit-")
        or now - memory.deposit_at < rule.cooldown_ms
    ):
        return memory, []
    if not triggered(ratio, distance, rule.trigger_ratio, rule.trigger_distance):
        return memory, []
    source = funding(book, rule)
    if isinstance(source, str):
        return memory, []  # the pool's alerts say it; check-config said it is not funded
    asset, caps = source
    need = max(
        cross_deposit(book, rule.target_ratio), deposit_for_distance(book, rule.target_distance)
    )
    wanted = in_asset(book, need, asset)
    if wanted is None:
        return memory, []
    left_today = caps.max_per_day - memory.deposited_today(now, asset)
    unit = CENT if asset in STABLE else SATOSHI  # BTC, ETH, BNB collateral: 8 decimals
    amount = in_cents(wanted, caps.max_per_action, left_today, unit=unit)
    if amount <= ZERO or (asset in STABLE and amount < rule.min_amount):
        return memory, []
    decision = f"deposit-{now}-{memory.decisions}"
    pool = "" if book.asset == "USDT" else f"{book.asset} pool "
    why = (
        f"{pool}{fmt.trigger(ratio, distance, rule.trigger_ratio, rule.trigger_distance)};"
        f" to reach {fmt.targets(rule.target_ratio, rule.target_distance)}"
        f"{capped(wanted, amount, caps.max_per_action, left_today, caps.max_per_day, asset)}"
    )
    memory = book_deposit(memory, now, decision, asset, amount)
    return memory, [TransferToFutures(decision, amount, why, now, asset=asset)]


def isolated_top_ups(
    state: MirrorState, memory: Memory, now: int, rule: DepositRule, trigger: Decimal
) -> tuple[Memory, list[AddIsolatedMargin]]:
    """Isolated positions whose own ratio passed `trigger`: margin added to them directly
    (USDT-margined ones: the isolated transfer moves the position's own margin asset, and
    only USDT's caps are the `[deposit]` ones)."""
    if state.book is None or not rule.enabled or _pending(memory, "isolated-"):
        return memory, []
    if now - memory.deposit_at < rule.cooldown_ms:
        return memory, []
    actions = []
    isolated = [(pool, p) for pool in state.pools.values() for p in pool.isolated]
    for book, pos in isolated:
        if pos.margin_asset != "USDT" or book.valued is not None:
            continue
        mark = book.account.marks[pos.symbol]
        mm = book.account.brackets[pos.symbol].maintenance_margin(abs(pos.amount) * mark)
        margin = pos.isolated_balance(mark)
        if margin > 0 and mm / margin < trigger:
            continue
        left_today = rule.max_per_day - memory.deposited_today(now)  # one daily cap for both
        wanted = isolated_deposit(book, pos, rule.target_ratio)
        amount = in_cents(wanted, rule.max_per_action, left_today)
        if amount <= ZERO or amount < rule.min_amount:
            continue
        decision = f"isolated-{now}-{memory.decisions}"
        memory = replace(
            decided(memory, decision),
            deposit_at=now,
            deposit_day=now // DAY_MS,
            deposit_total=memory.deposited_today(now) + amount,
            booked={**memory.booked, decision: amount},
        )
        ratio = None if margin <= ZERO else mm / margin
        why = (
            f"isolated margin ratio {fmt.ratio(ratio)} ≥ {fmt.threshold(trigger)};"
            f" to reach {fmt.targets(rule.target_ratio, None)}"
            f"{capped(wanted, amount, rule.max_per_action, left_today, rule.max_per_day)}"
        )
        actions.append(AddIsolatedMargin(decision, pos.symbol, pos.side, amount, why, now))
        break  # one at a time
    return memory, actions


def choose(book: MarginBook, rule: ReduceRule) -> Position | None:
    """The position a reduction takes from, by the rule's policy."""
    cross = [p for p in book.account.positions if p.is_cross and p.amount]
    if not cross:
        return None
    marks, brackets = book.account.marks, book.account.brackets

    def mm(p: Position) -> Decimal:
        return brackets[p.symbol].maintenance_margin(abs(p.amount) * marks[p.symbol])

    def loss(p: Position) -> Decimal:
        return -(p.amount * (marks[p.symbol] - p.entry_price))

    if rule.policy == Policy.PRIORITY:
        for symbol in rule.priority:
            listed = [p for p in cross if p.symbol == symbol]
            if listed:
                return max(listed, key=mm)
    if rule.policy == Policy.LARGEST_LOSS:
        return max(cross, key=loss)
    return max(cross, key=mm)


def reduce(
    state: MirrorState,
    memory: Memory,
    now: int,
    rule: ReduceRule,
    ratio: Decimal | None,
    distance: Decimal | None,
    alert_cooldown_ms: int = 300_000,
) -> tuple[Memory, list[PlaceReduceOnly | SendAlert]]:
    """A reduce-only order sized to the targets, and to the room the reduce-only orders
    already open on that position leave (Binance refuses more: -2022). Our own stale ones in
    the way are cancelled first; the user's own are never touched: the order is sized down,
    or not placed, and the owner is told which orders block."""
    book = state.book
    if book is None or not rule.enabled or _pending(memory, "reduce-"):
        return memory, []
    if now - memory.reduce_at < rule.cooldown_ms:
        return memory, []
    if not triggered(ratio, distance, rule.trigger_ratio, rule.trigger_distance):
        return memory, []
    position = choose(book, rule)
    if position is None:
        return memory, []
    room = reduce_room(position, state.open_orders.values(), CLIENT_PREFIX)
    if room.without_ours <= ZERO:  # the user's orders cover the whole position
        memory = replace(memory, reduce_at=now)  # tried: the cooldown spaces the next try
        return _told(memory, now, position, room, ZERO, ZERO, alert_cooldown_ms)
    filters = state.filters.get(position.symbol)
    step = filters.step_size if filters else Decimal("0.001")
    min_qty = filters.min_qty if filters else step
    plan = reduce_to_ratio(
        book,
        position.key,
        rule.target_ratio,
        step,
        min_qty,
        rule.fee_rate,
        min_distance=rule.target_distance,
    )
    size = abs(position.amount)
    cap = (size * rule.max_fraction / step).to_integral_value(ROUND_FLOOR) * step
    cap = max(cap, min(min_qty, size))
    wanted = min(plan.quantity, cap)
    if wanted <= ZERO:
        return memory, []
    in_the_way = wanted > room.free and bool(room.ours)
    quantity = fit(wanted, room.without_ours if in_the_way else room.free, step)
    if quantity <= ZERO or (quantity < wanted and quantity < min_qty):
        memory = replace(memory, reduce_at=now)
        return _told(memory, now, position, room, wanted, ZERO, alert_cooldown_ms)
    decision = f"reduce-{now}-{memory.decisions}"
    side = "SELL" if position.amount > 0 else "BUY"
    why = (
        f"{fmt.trigger(ratio, distance, rule.trigger_ratio, rule.trigger_distance)};"
        f" toward {fmt.targets(rule.target_ratio, rule.target_distance)}"
    )
    if wanted < plan.quantity:
        why += f" (capped at {fmt.threshold(rule.max_fraction)} of the position per step)"
    why += conditional_note(state, position)
    cancel = tuple(o.client_id for o in room.ours) if in_the_way else ()
    memory = replace(decided(memory, decision), reduce_at=now)
    order = PlaceReduceOnly(
        decision, position.symbol, position.side, side, quantity, why, now, cancel=cancel
    )
    if quantity == wanted:
        return memory, [order]
    memory, told = _told(memory, now, position, room, wanted, quantity, alert_cooldown_ms)
    return memory, [order, *told]


def conditional_note(state: MirrorState, position: Position) -> str:
    """The user's own stop or take-profit orders that would close this position once triggered.

    They are told, not counted against the reduction: Binance does not hold an untriggered
    conditional order against a reduce-only order's room (-2022 counts open orders only), and a
    close-position stop-loss on every position must not keep the guardian from protecting it.
    Once triggered, such an order is an open order and is counted like any other."""
    closing = "SELL" if position.amount > ZERO else "BUY"
    mine = [
        o
        for o in state.algo_orders.values()
        if o.symbol == position.symbol
        and o.position_side == position.side
        and o.side == closing
        and (o.reduce_only or o.close_position or position.side != PositionSide.BOTH)
    ]
    if not mine:
        return ""
    filters = state.filters.get(position.symbol)
    tick = filters.tick_size if filters else None
    said = ", ".join(
        f"{o.kind.replace('_', ' ').lower()} at {fmt.price(o.trigger_price, tick)}"
        + (" (closes it all)" if o.close_position else f" ({fmt.exact(o.quantity)})")
        for o in sorted(mine, key=lambda o: o.algo_id)
    )
    return f"; your own conditional order(s) on it, untouched: {said}"


def describe_orders(orders: tuple[OpenOrder, ...]) -> str:
    return ", ".join(f"{o.client_id} ({o.side} {o.quantity - o.filled})" for o in orders)


def _told(
    memory: Memory,
    now: int,
    position: Position,
    room: Room,
    wanted: Decimal,
    quantity: Decimal,
    cooldown_ms: int,
) -> tuple[Memory, list[PlaceReduceOnly | SendAlert]]:
    """The owner told which of their own orders block a reduction: a warning when ours was
    sized down, critical when none could be placed; each at most once per alert cooldown for
    that position."""
    where = f"{position.symbol} {position.side.value}"
    severity = Severity.WARNING if quantity > ZERO else Severity.CRITICAL
    key = f"{BLOCKED}:{where}:{severity.value}"
    if now - memory.sent_at.get(key, now - cooldown_ms - 1) <= cooldown_ms:
        return memory, []
    theirs = (
        f"your own open reduce-only order(s) {describe_orders(room.theirs)} cover"
        f" {room.size - room.without_ours} of the {room.size} position, and Binance refuses"
        " more (-2022)"
    )
    if quantity > ZERO:
        text = f"reduce-only order on {where} sized down from {wanted} to {quantity}: {theirs}"
    else:
        text = (
            f"no reduce-only order possible on {where}: {theirs}."
            " Cancel or lower them to let the guardian reduce"
        )
    memory = replace(memory, sent_at={**memory.sent_at, key: now})
    return memory, [SendAlert(BLOCKED, severity, text, now)]


def capped(
    wanted: Decimal,
    amount: Decimal,
    per_action: Decimal,
    left_today: Decimal,
    per_day: Decimal,
    asset: str = "USDT",
) -> str:
    """What a deposit says when a cap made it smaller than the targets need ("" if not)."""
    unit = CENT if asset in STABLE else SATOSHI
    needed = wanted.quantize(unit, rounding=ROUND_CEILING)
    if amount >= needed:
        return ""

    def said(value: Decimal) -> str:
        return fmt.limit(value) if asset == "USDT" else fmt.coins(value, asset)

    if amount == per_action.quantize(unit, rounding=ROUND_FLOOR):
        cap = f"max_per_action {said(per_action)}"
    else:
        cap = f"today's cap: {said(left_today)} left of max_per_day {said(per_day)}"
    return (
        f"; CAPPED at {fmt.coins(amount, asset)} by {cap}"
        f" (the targets need {fmt.coins(needed, asset)})"
    )
