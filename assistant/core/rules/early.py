"""Early warnings: the rules on the shadow mark, between Binance's one-second marks.

On every quote (`QuoteUpdated`) the account is valued at the shadow marks (`core.shadow`)
twice: at each estimate (`center`), and at the edge of each estimate's band that is better
for the account (`edge`). A margin ratio or distance tier the edge passes, beyond the tier the
real marks hold, is an early alert ("early: the book says the margin ratio is about to pass
85%"): the estimate crossed the tier by more than its uncertainty. The next real marks settle
it: one that passes the tier confirms it (a record in the audit table, sent to nobody: the
mark's own alert follows), none within `CONFIRM_MS` withdraws it (a message saying so). The
real alerts' levels are never touched here, so an estimate never un-fires a real alert, and
the health every other channel shows stays the real marks'.

Money moves early only where the owner opted in (`[deposit] early`, `[reduce] early`): the
rule triggers on the edge and sizes on the estimates, with the same caps, cooldowns and
pending checks as on real marks, and only while the real data is fresh.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from assistant.core import format as fmt
from assistant.core.actions import (
    CONFIRMED,
    WITHDRAWN,
    Action,
    PlaceReduceOnly,
    SendAlert,
)
from assistant.core.margin.book import MarginBook
from assistant.core.margin.pools import worst
from assistant.core.mirror import MirrorState
from assistant.core.model import ZERO
from assistant.core.rules import alerts, money
from assistant.core.rules.config import AlertRules, Rules
from assistant.core.rules.control import effective
from assistant.core.rules.engine import (
    Decision,
    Health,
    fresh,
    measure_book,
    money_may_act,
    with_pending_deposits,
)
from assistant.core.rules.memory import Memory
from assistant.core.shadow import ONE, usable
from assistant.core.values import Severity

CONFIRM_MS = 3_000  # the real marks of this long after an early alert confirm or withdraw it
EARLY = "early (the book, before the mark): "
METRICS = ("margin_ratio", "distance")


def wanted(rules: Rules) -> bool:
    """Whether anything reads the shadow mark: early alerts, or a money rule that may act on
    it. Without, the book and trade streams are not followed at all."""
    d, r = rules.deposit, rules.reduce
    return rules.alerts.early or (d.enabled and d.early) or (r.enabled and r.early)


def _net(book: MarginBook, symbol: str) -> Decimal:
    """How the pool gains as `symbol`'s mark rises: its net position there (and, in
    Multi-Assets mode, collateral that moves with that mark)."""
    totals = book.per_symbol.get(symbol)
    if totals is not None:
        return totals.net
    return ZERO if book.valued is None else book.valued.linked.get(symbol, ZERO)


def shadow_books(
    state: MirrorState, at: int, rules: AlertRules
) -> tuple[MarginBook, MarginBook] | None:
    """(center, edge): the real margin book (the pool closest to liquidation, as the mirror
    picks it) with every usable estimate's symbol at its shadow mark, and at the edge of its
    band better for the account (the pool long that symbol: above; short: below). None while
    no held symbol has a usable estimate, or while no edge is worse for the account than its
    real mark (then nothing can pass a tier early that the real marks have not: the common
    case, and the cheap one)."""
    if state.book is None or not state.ready:
        return None
    estimates: dict[str, tuple[Decimal, Decimal]] = {}
    worse = False
    for pool in state.pools.values():
        for symbol, real in pool.account.marks.items():
            found = estimates.get(symbol) or usable(
                state.quotes.get(symbol), at, rules.early_stale_after_ms, rules.early_max_spread
            )
            if found is None:
                continue
            estimates[symbol] = found
            net = _net(pool, symbol)
            price, band = found
            better = price * (ONE + band) if net > ZERO else price * (ONE - band)
            worse = worse or (net > ZERO and better < real) or (net < ZERO and better > real)
    if not worse:
        return None
    centers, edges = dict(state.pools), dict(state.pools)
    for asset, pool in state.pools.items():
        center = edge = pool
        for symbol in pool.account.marks:
            if symbol in estimates:
                price, band = estimates[symbol]
                net = _net(pool, symbol)
                better = price if not net else price * (ONE + band if net > ZERO else ONE - band)
                center = center.with_mark(symbol, price)
                edge = edge.with_mark(symbol, better)
        centers[asset], edges[asset] = center, edge
    if len(state.pools) == 1:
        return next(iter(centers.values())), next(iter(edges.values()))
    return worst(centers), worst(edges)


def decide(state: MirrorState, memory: Memory, at: int, rules: Rules) -> Decision:
    """The rules on the shadow mark, after a quote: early alerts, early money actions."""
    rules = effective(rules, memory)
    books = shadow_books(state, at, rules.alerts)
    if books is None:
        return Decision((), memory, None)
    center, edge = books
    horizon = rules.distance_horizon
    at_edge = measure_book(edge, horizon, early=True)
    actions: list[Action] = []
    if rules.alerts.early:
        for metric in METRICS:
            memory, found = _warn(memory, at, rules, metric, at_edge, center, state)
            actions += found
    memory, moved = _money(state, memory, at, rules, center, edge, at_edge)
    actions += moved
    health = measure_book(center, horizon, early=True) if moved else None
    return Decision(tuple(actions), memory, health)


def _spec(metric: str, a: AlertRules) -> tuple[str, tuple[Decimal, ...], Decimal, bool]:
    """(label, tiers, band, higher is worse) of a metric."""
    if metric == "margin_ratio":
        return "margin ratio", a.ratio_tiers, a.ratio_band, True
    return "distance to liquidation", a.distance_tiers, a.distance_band, False


def _value(health: Health, metric: str) -> Decimal | None:
    return health.margin_ratio if metric == "margin_ratio" else health.distance


def _warn(
    memory: Memory,
    at: int,
    rules: Rules,
    metric: str,
    at_edge: Health,
    center: MarginBook,
    state: MirrorState,
) -> tuple[Memory, list[SendAlert]]:
    """An early alert when the edge passes a tier beyond both the real level and the early
    one; the early level follows the edge down (with the band's hysteresis)."""
    a = rules.alerts
    label, tiers, band, worse_up = _spec(metric, a)
    key = f"early:{metric}"
    mine = memory.levels.get(key, -1)
    current = max(memory.levels.get(metric, -1), mine)
    new = alerts.level(_value(at_edge, metric), tiers, band, current, worse_up)
    if new <= current:
        if new < mine:
            memory = replace(memory, levels={**memory.levels, key: new})
        return memory, []
    sent = f"{key}:{new}"
    if at - memory.sent_at.get(sent, -a.cooldown_ms - 1) <= a.cooldown_ms:
        return memory, []  # a warning of this tier went out recently (and was withdrawn)
    memory = replace(
        memory,
        levels={**memory.levels, key: new},
        sent_at={**memory.sent_at, sent: at},
        early_open={**memory.early_open, f"{metric}:{new}": at},
    )
    severity = Severity.CRITICAL if new == len(tiers) - 1 else Severity.WARNING
    shadow = measure_book(center, rules.distance_horizon, early=True)
    if worse_up:
        real = state.book.margin_ratio if state.book is not None else None
        text = (
            f"early: the book says the {label} is about to pass {fmt.threshold(tiers[new])}:"
            f" {fmt.ratio(_value(shadow, metric))} at the shadow mark,"
            f" {fmt.ratio(real)} at the mark"
        )
    else:
        text = (
            f"early: the book says the {label} is about to fall to {fmt.threshold(tiers[new])} of"
            f" price: {fmt.distance(_value(shadow, metric))} at the shadow mark"
        )
    return memory, [SendAlert(key, severity, text, at, metric, tiers[new])]


def settle(
    memory: Memory, at: int, a: AlertRules, health: Health | None
) -> tuple[Memory, list[SendAlert]]:
    """Open early warnings against the real health: a tier passed confirms (recorded only),
    none passed `CONFIRM_MS` after the warning withdraws (said), and the early level falls
    back to the real one, so the next crossing may warn again (after the cooldown)."""
    if not memory.early_open or health is None or health.early:
        return memory, []
    opened = dict(memory.early_open)
    levels = dict(memory.levels)
    out: list[SendAlert] = []
    for name, fired in sorted(memory.early_open.items()):
        metric, _, number = name.rpartition(":")
        label, tiers, _, worse_up = _spec(metric, a)
        index = int(number)
        if index >= len(tiers):  # the config's tiers changed under it
            del opened[name]
            continue
        tier, value = tiers[index], _value(health, metric)
        passed = _passes(value, tier, worse_up)
        key = f"early:{metric}"
        if passed:
            text = (
                f"early warning confirmed: the {label} passed {fmt.threshold(tier)} at the mark"
                f" {at - fired} ms after the book said so"
            )
            out.append(SendAlert(key, Severity.INFO, text, at, metric, CONFIRMED, quiet=True))
        elif at - fired > CONFIRM_MS:
            text = (
                f"early warning withdrawn: the {label} did not pass {fmt.threshold(tier)} at"
                f" the marks of the {CONFIRM_MS // 1000} s after the book said it would"
            )
            out.append(SendAlert(key, Severity.INFO, text, at, metric, WITHDRAWN))
            levels[key] = min(levels.get(key, -1), levels.get(metric, -1))
        else:
            continue
        del opened[name]
    if not out and opened == memory.early_open:
        return memory, []
    return replace(memory, early_open=opened, levels=levels), out


def _passes(value: Decimal | None, tier: Decimal, worse_up: bool) -> bool:
    """Whether the real value is at or beyond the tier (no balance: beyond every ratio tier;
    nothing to liquidate: within no distance tier)."""
    if worse_up:
        return value is None or value >= tier
    return value is not None and value <= tier


def _money(
    state: MirrorState,
    memory: Memory,
    at: int,
    rules: Rules,
    center: MarginBook,
    edge: MarginBook,
    at_edge: Health,
) -> tuple[Memory, list[Action]]:
    """The deposit and reduce rules that opted in, triggered at the edge, sized at the
    estimates (after the deposits decided but not yet landed), within the same caps."""
    d, r = rules.deposit, rules.reduce
    deposit_rule = d if d.early else replace(d, enabled=False)
    reduce_rule = r if r.early else replace(r, enabled=False)
    if not (deposit_rule.enabled or reduce_rule.enabled):
        return memory, []
    early_rules = replace(rules, deposit=deposit_rule, reduce=reduce_rule)
    if not money_may_act(at_edge, early_rules, state):
        return memory, []
    if not fresh(state, at, rules.alerts.stale_after_ms):
        return memory, []
    actions: list[Action] = []
    memory, transfers = money.deposit(
        center, memory, at, deposit_rule, at_edge.margin_ratio, at_edge.distance
    )
    actions += [replace(t, reason=EARLY + t.reason) for t in transfers]
    horizon = rules.distance_horizon
    sized = replace(state, book=center)
    trigger = at_edge
    landed = with_pending_deposits(sized, memory, horizon)
    if landed is not None:  # the deposits decided and not yet seen, as if they had landed
        sized = landed[0]
        after_edge = with_pending_deposits(replace(state, book=edge), memory, horizon)
        trigger = at_edge if after_edge is None else replace(after_edge[1], early=True)
    memory, orders = money.reduce(
        sized,
        memory,
        at,
        reduce_rule,
        trigger.margin_ratio,
        trigger.distance,
        rules.alerts.cooldown_ms,
    )
    for order in orders:
        if isinstance(order, PlaceReduceOnly):
            order = replace(order, reason=EARLY + order.reason)
        actions.append(order)
    return memory, actions
