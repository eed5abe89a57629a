"""`evaluate`: the mirrored state, the rules' memory and the time in; actions and the new
memory out. Pure: the same inputs always give the same decision, so a replay of the journal
reproduces every one."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from assistant.core import format as fmt
from assistant.core.actions import STALE, Action, SendAlert
from assistant.core.events import (
    ActionSettled,
    CapsRestored,
    Event,
    ManualDeposit,
    ManualReduce,
    ModeSet,
    MuteSet,
    PauseSet,
)
from assistant.core.margin.book import MarginBook, margin_ratio
from assistant.core.margin.liquidation import distance_lower_bound, nearest_distance
from assistant.core.mirror import MirrorState
from assistant.core.rules import alerts, blind, money
from assistant.core.rules.config import Rules
from assistant.core.rules.control import control, effective, manual
from assistant.core.rules.funding import funding
from assistant.core.rules.memory import DAY_MS, Memory, decided_day
from assistant.core.values import Outcome, Severity


@dataclass(frozen=True, slots=True)
class Health:
    """The figures a decision was made on (journaled with it)."""

    margin_ratio: Decimal | None
    distance: Decimal | None  # nearest liquidation as a fraction of price; None: none possible
    margin_balance: Decimal
    maintenance_margin: Decimal
    pool: str = "USDT"  # the pool these figures are of: the one closest to liquidation
    early: bool = False  # at the shadow mark (`rules.early`), not at the real marks


def pool_words(state: MirrorState, pool: str) -> str:
    """ " in the USDC pool" where more than one pool or not USDT's; "" for a USDT-only account."""
    if pool == "USDT" and len(state.pools) <= 1:
        return ""
    if state.multi_assets:
        return f" (Multi-Assets, in {pool})"
    return f" in the {pool} pool"


@dataclass(frozen=True, slots=True)
class Decision:
    actions: tuple[Action, ...]
    memory: Memory
    health: Health | None


def measure(state: MirrorState, horizon: Decimal) -> Health | None:
    return None if state.book is None else measure_book(state.book, horizon)


def measure_book(book: MarginBook, horizon: Decimal, early: bool = False) -> Health:
    """Health of a margin book (the real one, or one at the shadow marks), solving the
    distance exactly only when the cheap bound cannot rule out that it lies within `horizon`."""
    bound = distance_lower_bound(book)
    if bound is None:
        nearest = None
    elif bound >= horizon:
        nearest = bound  # far enough: every rule sees it as "beyond", which it is
    else:
        nearest = nearest_distance(book)
    return Health(book.margin_ratio, nearest, book.margin_balance, book.mm, book.asset, early)


def evaluate(
    state: MirrorState, memory: Memory, now: int, rules: Rules, event: Event | None = None
) -> Decision:
    memory = _settle(memory, event)
    if isinstance(event, CapsRestored):
        memory = restored(memory, event)
    if isinstance(event, (ModeSet, PauseSet, MuteSet)):
        memory = control(memory, event, rules)
    rules = effective(rules, memory)
    actions: list[Action] = list(alerts.of_event(event, rules, now))
    if isinstance(event, (ManualDeposit, ManualReduce)):
        memory, ordered, refused = manual(state, memory, rules, event)
        if ordered is not None:
            actions.append(ordered)
        else:
            actions.append(SendAlert("manual", Severity.WARNING, f"not done: {refused}", now))
    horizon = rules.distance_horizon
    health = measure(state, horizon) if state.ready else None
    memory, found = blind.no_health(state, memory, now, rules, health is not None, event)
    actions += found
    memory, found = blind.assumed_brackets(state, memory, now, rules)
    actions += found
    if health is None:
        return Decision(tuple(actions), memory, None)
    a = rules.alerts
    memory, found = alerts.tiered(
        memory,
        "margin_ratio",
        "margin ratio",
        health.margin_ratio,
        a.ratio_tiers,
        a.ratio_band,
        True,
        now,
        a.cooldown_ms,
        lambda: f"{_ratio_now(health)}{pool_words(state, health.pool)}",
        metric="margin_ratio",
    )
    actions += found
    memory, found = alerts.tiered(
        memory,
        "distance",
        "distance to liquidation",
        health.distance,
        a.distance_tiers,
        a.distance_band,
        False,
        now,
        a.cooldown_ms,
        lambda: f"at {fmt.percent(health.distance)} of price{pool_words(state, health.pool)}",
        metric="distance",
    )
    actions += found
    memory = _isolated_and_stale(state, memory, now, rules, actions)
    book = state.book
    if book is not None:
        memory = _unfunded(book, memory, now, rules, health, actions)
    # Paused, the money rules still decide (with their cooldowns): the executor announces
    # "paused: would ..." and nothing moves, so a paused guardian still says what it would do.
    if (
        book is not None
        and money_may_act(health, rules, state)
        and fresh(state, now, a.stale_after_ms)
    ):
        memory, transfers = money.deposit(
            book, memory, now, rules.deposit, health.margin_ratio, health.distance
        )
        actions += transfers
        top_trigger = a.isolated_ratio_tiers[0] if a.isolated_ratio_tiers else Decimal("0.9")
        memory, top_ups = money.isolated_top_ups(state, memory, now, rules.deposit, top_trigger)
        actions += top_ups
        after = with_pending_deposits(state, memory, horizon)
        reduce_state, reduce_health = after if after is not None else (state, health)
        memory, orders = money.reduce(
            reduce_state,
            memory,
            now,
            rules.reduce,
            reduce_health.margin_ratio,
            reduce_health.distance,
            a.cooldown_ms,
        )
        actions += orders
    return Decision(tuple(actions), memory, health)


def _ratio_now(health: Health) -> str:
    """The margin ratio as an alert says it; undefined once the balance is ≤ 0 (liquidation
    is then certain), with the balance."""
    if health.margin_ratio is not None:
        return f"at {fmt.percent(health.margin_ratio)}"
    return f"past 100% (margin balance {fmt.coins(health.margin_balance, health.pool)}, ≤ 0)"


def _unfunded(
    book: MarginBook, memory: Memory, now: int, rules: Rules, health: Health, actions: list[Action]
) -> Memory:
    """A pool the deposit rule would top up but may not (no caps for its asset): said once per
    crossing, critical, so the owner knows nothing will come."""
    d = rules.deposit
    why = funding(book, d)
    if not d.enabled or not isinstance(why, str):
        return memory
    wants = money.triggered(
        health.margin_ratio, health.distance, d.trigger_ratio, d.trigger_distance
    )
    memory, found = alerts.tiered(
        memory,
        f"unfunded:{book.asset}",
        f"the {book.asset} pool",
        Decimal(1) if wants else Decimal(0),
        (Decimal(1),),
        Decimal(0),
        True,
        now,
        rules.alerts.cooldown_ms,
        f"needs margin, but {why}: nothing is transferred; add margin yourself"
        if wants
        else "no longer needs margin",
        metric="deposit",
        tag="unfunded",
    )
    actions += found
    return memory


def money_may_act(health: Health, rules: Rules, state: MirrorState) -> bool:
    """False when no money rule can act on this health (their own checks would say no):
    the freshness check and the rules are then skipped, which is most of the time."""
    d, r = rules.deposit, rules.reduce
    ratio, near = health.margin_ratio, health.distance
    if d.enabled and (
        any(pool.isolated for pool in state.pools.values())
        or money.triggered(ratio, near, d.trigger_ratio, d.trigger_distance)
    ):
        return True
    return r.enabled and money.triggered(ratio, near, r.trigger_ratio, r.trigger_distance)


def fresh(state: MirrorState, now: int, stale_after_ms: int) -> bool:
    """Money moves only on live data: both streams up, every held mark recent."""
    if not (state.connected.get("user") and state.connected.get("market")):
        return False
    return all(now - state.mark_at.get(s, 0) <= stale_after_ms for s in state.held_symbols)


def with_pending_deposits(
    state: MirrorState, memory: Memory, horizon: Decimal
) -> tuple[MirrorState, Health] | None:
    """The state as it will be once the deposits decided but not yet seen have landed."""
    book = state.book
    if book is None:
        return None
    collateral = book.account.collateral
    if collateral is None:
        pending = memory.pending_deposits(book.asset)
        if not pending:
            return None
        account = replace(book.account, wallet_balance=book.account.wallet_balance + pending)
    else:
        landing = {a: memory.pending_deposits(a) for a in collateral.rates}
        if not any(landing.values()):
            return None
        wallets = dict(collateral.wallets)
        for asset, amount in landing.items():
            if amount:
                wallets[asset] = wallets.get(asset, Decimal(0)) + amount
        account = replace(book.account, collateral=replace(collateral, wallets=wallets))
    after = replace(state, book=MarginBook.build(account))
    health = measure(after, horizon)
    return (after, health) if health is not None else None


def restored(memory: Memory, event: CapsRestored) -> Memory:
    """The caps after a start, from the store's intents: today's total, and a booking for each
    decision still in flight. Anything else pending died with the process (a question nobody
    answered, a dry-run in passing): nothing of it moved, so none of it stays booked."""
    return replace(
        memory,
        deposit_day=event.day,
        deposit_total=event.moved_today,
        asset_totals=dict(event.moved_by_asset),
        pending=frozenset(event.in_flight),
        booked=dict(event.in_flight),
        booked_assets={d: a for d, a in event.in_flight_assets.items() if d in event.in_flight},
    )


def _settle(memory: Memory, event: Event | None) -> Memory:
    """An outcome frees its kind for the next decision, and gives back to the daily cap what
    was booked but not moved (failed, abandoned, dry-run, or less than decided)."""
    if not isinstance(event, ActionSettled) or event.decision_id not in memory.pending:
        return memory
    booked = dict(memory.booked)
    amount = booked.pop(event.decision_id, None)
    assets = dict(memory.booked_assets)
    asset = assets.pop(event.decision_id, "USDT")
    memory = replace(
        memory, pending=memory.pending - {event.decision_id}, booked=booked, booked_assets=assets
    )
    if amount is None or event.outcome == Outcome.UNKNOWN:  # it may have moved; keep it
        return memory
    moved = Decimal(0)
    if event.outcome in (Outcome.DONE, Outcome.REPLAYED):  # a replay's: as if it had moved
        moved = event.amount if event.amount is not None else amount
    day = decided_day(event.decision_id)
    if memory.deposit_day == (event.at // DAY_MS if day is None else day):
        if asset == "USDT":
            total = max(Decimal(0), memory.deposit_total - (amount - moved))
            memory = replace(memory, deposit_total=total)
        else:
            left = max(Decimal(0), memory.asset_totals.get(asset, Decimal(0)) - (amount - moved))
            memory = replace(memory, asset_totals={**memory.asset_totals, asset: left})
    return memory


def _isolated_and_stale(
    state: MirrorState, memory: Memory, now: int, rules: Rules, actions: list[Action]
) -> Memory:
    a = rules.alerts
    isolated = [(pool, p) for pool in state.pools.values() for p in pool.isolated]
    for book, pos in isolated:
        mark = book.account.marks[pos.symbol]
        mm = book.account.brackets[pos.symbol].maintenance_margin(abs(pos.amount) * mark)
        ratio = margin_ratio(mm, pos.isolated_balance(mark))
        memory, found = alerts.tiered(
            memory,
            f"isolated:{pos.symbol}:{pos.side.value}",
            f"{pos.symbol} {pos.side.value} isolated margin ratio",
            ratio,
            a.isolated_ratio_tiers,
            a.ratio_band,
            True,
            now,
            a.cooldown_ms,
            f"at {fmt.percent(ratio)}" if ratio is not None else fmt.RATIO_UNDEFINED,
            metric="isolated_ratio",
        )
        actions += found
    return _stale(state, memory, now, rules, actions)


def _stale(
    state: MirrorState, memory: Memory, now: int, rules: Rules, actions: list[Action]
) -> Memory:
    """A stale-mark alert per held symbol, and its all-clear. No mark can be stale before
    the oldest one's age passes the limit, so the symbols are looked at only from then on
    (and at least every second, for a symbol newly held), or while one is stale."""
    a = rules.alerts
    if now < memory.stale_check_at and not memory.stale_active:
        return memory
    levels = memory.levels
    held = state.held_symbols
    for symbol in sorted(held):
        age = now - state.mark_at.get(symbol, 0)
        if age <= a.stale_after_ms and levels.get(f"stale:{symbol}", -1) == -1:
            continue  # fresh and was fresh: nothing to say (what `tiered` would conclude)
        stale = Decimal(1) if age > a.stale_after_ms else Decimal(0)
        memory, found = alerts.tiered(
            memory,
            f"stale:{symbol}",
            f"{symbol} mark price",
            stale,
            (Decimal(1),),
            Decimal(0),
            True,
            now,
            a.cooldown_ms,
            f"is {age // 1000}s old" if stale else "is fresh again",
            metric="mark_age",
            tag=STALE,
        )
        actions += found
    oldest = min((state.mark_at.get(symbol, 0) for symbol in held), default=now)
    active = any(memory.levels.get(f"stale:{symbol}", -1) >= 0 for symbol in held)
    next_check = min(oldest + a.stale_after_ms + 1, now + 1_000)
    return replace(memory, stale_check_at=next_check, stale_active=active)
