"""The money rules' sizing: whole cents never over a cap, and reduce-only orders sized to the
room the reduce-only orders already open leave (Binance refuses more with -2022)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from assistant.core.actions import (
    AddIsolatedMargin,
    PlaceReduceOnly,
    SendAlert,
    TransferToFutures,
    describe,
)
from assistant.core.events import (
    AccountSnapshotted,
    ActionSettled,
    BracketsLoaded,
    ExchangeFigures,
    ManualDeposit,
    ManualReduce,
    OpenOrder,
    OrderUpdated,
    PositionChange,
)
from assistant.core.mirror import MirrorState, apply
from assistant.core.model import MarginType, PositionSide
from assistant.core.rules.config import AlertRules, DepositRule, ReduceRule, Rules
from assistant.core.rules.engine import evaluate
from assistant.core.rules.memory import Memory
from assistant.core.rules.money import BLOCKED, in_cents
from assistant.core.values import Outcome
from tests.core.rules.test_engine import LIVE_RULES, at_price, price_for_ratio
from tests.core.test_mirror import ready
from tests.helpers import real_2024_brackets

D = Decimal
BOTH, LONG, SHORT = PositionSide.BOTH, PositionSide.LONG, PositionSide.SHORT


def deposits(state: MirrorState, rules: Rules, t: int = 3_000) -> list[TransferToFutures]:
    return [
        a for a in evaluate(state, Memory(), t, rules).actions if isinstance(a, TransferToFutures)
    ]


def danger() -> MirrorState:
    """BTCUSDT long 0.5 at a mark that puts the cross margin ratio at 0.6 (deposit trigger
    0.5): the deposit rule wants far more than any small cap."""
    return at_price(ready(), str(price_for_ratio(D("0.6"))), 2_000)


# ---- ITEM 6: rounding never goes over a cap ---------------------------------------------------


def test_max_per_action_0_001_sends_nothing_not_0_01() -> None:
    """The reported case: with max_per_action = 0.001, transfers of 0.01 went out (the amount was
    rounded up to the cent after the cap). A cap below one cent now allows no transfer at all."""
    rules = replace(
        LIVE_RULES,
        deposit=replace(LIVE_RULES.deposit, max_per_action=D("0.001"), min_amount=D("0.001")),
    )
    assert deposits(danger(), rules) == []


def test_amounts_are_whole_cents_rounded_up_but_caps_are_rounded_down() -> None:
    assert in_cents(D("3.001"), D("1000")) == D("3.01")  # what is wanted: rounded up
    assert in_cents(D("50"), D("10.009")) == D("10.00")  # a cap: rounded down
    assert in_cents(D("50"), D("1000"), D("7.999")) == D("7.99")  # what is left today too
    assert in_cents(D("50"), D("0.009")) == 0
    assert in_cents(D("50"), D("-3")) == D("-3")  # over the cap already: nothing to move
    rules = replace(LIVE_RULES, deposit=replace(LIVE_RULES.deposit, max_per_action=D("10.009")))
    [transfer] = deposits(danger(), rules)
    assert transfer.amount == D("10.00")


def test_what_is_left_today_is_rounded_down_too() -> None:
    rules = replace(
        LIVE_RULES,
        deposit=replace(LIVE_RULES.deposit, max_per_day=D("400.005"), min_amount=D("0.001")),
    )
    memory = replace(Memory(), deposit_day=0, deposit_total=D("400"))  # 0.005 left today
    decision = evaluate(danger(), memory, 3_000, rules)
    assert not any(isinstance(a, TransferToFutures) for a in decision.actions)
    memory = replace(memory, deposit_total=D("390.001"))  # 10.004 left: 10.00 may go
    [transfer] = [
        a
        for a in evaluate(danger(), memory, 3_000, rules).actions
        if isinstance(a, TransferToFutures)
    ]
    assert transfer.amount == D("10.00")


def isolated_danger() -> MirrorState:
    """ETHUSDT long 2 isolated with 28 USDT of margin left after its loss (ratio ~0.86)."""
    state = apply(MirrorState(), BracketsLoaded(real_2024_brackets(), 900))
    leg = PositionChange("ETHUSDT", BOTH, D("2"), D("3100"), MarginType.ISOLATED, D("228"))
    snapshot = AccountSnapshotted(
        taken_at=1_000,
        wallet_balance=D("5000"),
        hedge_mode=False,
        positions=(leg,),
        leverage={"ETHUSDT": 20},
        margin_types={"ETHUSDT": MarginType.ISOLATED},
        open_orders=(),
        marks={"ETHUSDT": D("3000")},
        exchange=ExchangeFigures(D("0"), D("5000")),
    )
    return replace(apply(state, snapshot), connected={"user": True, "market": True})


def test_an_isolated_top_up_never_goes_over_the_cap() -> None:
    def top_ups(cap: str) -> list[AddIsolatedMargin]:
        deposit = DepositRule(max_per_action=D(cap), min_amount=D("0.001"), trigger_ratio=None)
        rules = Rules(deposit=deposit, reduce=ReduceRule(enabled=False))
        actions = evaluate(isolated_danger(), Memory(), 3_000, rules).actions
        return [a for a in actions if isinstance(a, AddIsolatedMargin)]

    [top_up] = top_ups("1000")
    assert top_up.amount > D("1")  # the target needs more than the caps below
    assert top_ups("0.001") == []  # was 0.01
    assert [a.amount for a in top_ups("0.999")] == [D("0.99")]


def test_a_manual_deposit_is_checked_against_the_cap_as_asked() -> None:
    rules = replace(LIVE_RULES, deposit=replace(LIVE_RULES.deposit, max_per_action=D("0.001")))
    decision = evaluate(danger(), Memory(), 3_000, rules, ManualDeposit(D("0.01"), "ann", 3_000))
    [refusal] = decision.actions
    assert isinstance(refusal, SendAlert)
    assert "per-deposit cap (max_per_action) of 0.001 USDT" in refusal.text
    assert decision.memory.deposit_total == 0


# ---- ITEM 7: reduce-only orders sized against the ones already open ----------------------------

REDUCE = Rules(
    deposit=DepositRule(enabled=False),
    alerts=AlertRules(distance_tiers=()),
    reduce=ReduceRule(
        trigger_ratio=D("0.8"),
        trigger_distance=None,
        target_ratio=D("0.5"),
        target_distance=None,
        max_fraction=D("0.5"),
        fee_rate=D(0),
        cooldown_ms=10_000,
    ),
)  # at ratio 0.85 the BTCUSDT long 0.5 needs 0.206 closed to reach 0.5


def with_orders(
    state: MirrorState, *orders: tuple[str, str, str, bool, PositionSide]
) -> MirrorState:
    """`state` with open orders (client id, side, quantity, reduce-only, position side)."""
    for n, (client_id, side, quantity, reduce_only, position_side) in enumerate(orders):
        order = OpenOrder(
            "BTCUSDT",
            100 + len(state.open_orders),
            client_id,
            side,
            position_side,
            "LIMIT",
            D("70000"),
            D(quantity),
            D(0),
            reduce_only,
        )
        state = apply(state, OrderUpdated(1_500 + n, order, "NEW", "NEW"))
    return state


def reducing(state: MirrorState) -> MirrorState:
    return at_price(state, str(price_for_ratio(D("0.85"))), 2_000)


def decide(
    state: MirrorState, memory: Memory | None = None, t: int = 3_000
) -> tuple[list[PlaceReduceOnly], list[SendAlert], Memory]:
    decision = evaluate(state, memory or Memory(), t, REDUCE)
    orders = [a for a in decision.actions if isinstance(a, PlaceReduceOnly)]
    told = [a for a in decision.actions if isinstance(a, SendAlert) and a.key == BLOCKED]
    return orders, told, decision.memory


def test_without_open_orders_the_order_is_the_per_step_cap() -> None:
    [order], told, _ = decide(reducing(ready()))
    assert order.quantity == D("0.206") and order.cancel == () and told == []


def test_the_users_own_reduce_only_order_sizes_ours_down_and_the_owner_is_told() -> None:
    state = with_orders(reducing(ready()), ("tp-1", "SELL", "0.4", True, BOTH))
    [order], [told], _ = decide(state)
    assert order.quantity == D("0.1") and order.cancel == ()  # 0.5 - 0.4: never over
    assert told.severity == "warning" and "tp-1 (SELL 0.4)" in told.text
    assert "sized down from 0.206 to 0.1" in told.text


def test_when_the_users_orders_cover_the_position_nothing_is_sent_and_the_owner_is_told_once() -> (
    None
):
    state = with_orders(
        reducing(ready()), ("tp-1", "SELL", "0.3", True, BOTH), ("tp-2", "SELL", "0.2", True, BOTH)
    )
    orders, [told], memory = decide(state)
    assert orders == [] and told.severity == "critical"
    assert "tp-1 (SELL 0.3), tp-2 (SELL 0.2)" in told.text and "-2022" in told.text
    assert memory.pending == frozenset()
    # Within the cooldowns: neither another try nor another alert.
    orders, again, memory = decide(state, memory, 4_000)
    assert orders == [] and again == []
    # Room left by the lot size only (0.0005 < step 0.001): nothing either.
    thin = with_orders(reducing(ready()), ("tp-1", "SELL", "0.4995", True, BOTH))
    orders, [told], _ = decide(thin)
    assert orders == [] and told.severity == "critical"


def test_our_own_stale_order_in_the_way_is_cancelled_first_the_users_never() -> None:
    state = with_orders(
        reducing(ready()),
        ("mg-reduce-1000-0", "SELL", "0.4", True, BOTH),
        ("tp-1", "SELL", "0.1", True, BOTH),
    )
    [order], told, _ = decide(state)
    assert order.cancel == ("mg-reduce-1000-0",) and order.quantity == D("0.206")
    assert told == []
    assert "after cancelling our stale order(s) mg-reduce-1000-0" in describe(order)
    # Not in the way (0.5 - 0.1 - 0.1 leaves 0.3): left alone.
    state = with_orders(reducing(ready()), ("mg-reduce-1000-0", "SELL", "0.1", True, BOTH))
    [order], _, _ = decide(with_orders(state, ("tp-1", "SELL", "0.1", True, BOTH)))
    assert order.cancel == () and order.quantity == D("0.206")


def test_orders_that_do_not_reduce_this_position_do_not_count() -> None:
    state = with_orders(
        reducing(ready()),
        ("plain", "SELL", "0.5", False, BOTH),  # not reduce-only: Binance does not count it
        ("buy", "BUY", "0.5", True, BOTH),  # the opening side
    )
    [order], told, _ = decide(state)
    assert order.quantity == D("0.206") and told == []


def test_a_manual_reduce_is_refused_with_the_blocking_orders_or_cancels_our_own() -> None:
    state = with_orders(reducing(ready()), ("tp-1", "SELL", "0.4", True, BOTH))
    decision = evaluate(
        state, Memory(), 3_000, REDUCE, ManualReduce("BTCUSDT", BOTH, D("0.2"), "ann", 3_000)
    )
    [refusal] = [a for a in decision.actions if isinstance(a, SendAlert) and a.key == "manual"]
    assert "tp-1 (SELL 0.4)" in refusal.text and "leave 0.1" in refusal.text
    state = with_orders(reducing(ready()), ("mg-reduce-1000-0", "SELL", "0.4", True, BOTH))
    decision = evaluate(
        state, Memory(), 3_000, REDUCE, ManualReduce("BTCUSDT", BOTH, D("0.2"), "ann", 3_000)
    )
    [order] = [a for a in decision.actions if isinstance(a, PlaceReduceOnly) and a.by]
    assert order.cancel == ("mg-reduce-1000-0",) and order.quantity == D("0.2")


def test_in_hedge_mode_the_legs_closing_orders_count_reduce_only_or_not() -> None:
    state = apply(MirrorState(), BracketsLoaded(real_2024_brackets(), 900))
    legs = (
        PositionChange("BTCUSDT", LONG, D("0.5"), D("60000"), MarginType.CROSS, D(0)),
        PositionChange("BTCUSDT", SHORT, D("-0.01"), D("60000"), MarginType.CROSS, D(0)),
    )
    snapshot = AccountSnapshotted(
        1_000,
        D("3000"),
        True,
        legs,
        {"BTCUSDT": 20},
        {"BTCUSDT": MarginType.CROSS},
        (),
        {"BTCUSDT": D("60000")},
        ExchangeFigures(D("120"), D("3000")),
    )
    state = at_price(apply(state, snapshot), "54100", 2_000)  # margin ratio past 1: 0.25 wanted
    state = with_orders(
        state, ("tp-long", "SELL", "0.45", False, LONG), ("tp-short", "BUY", "0.01", False, SHORT)
    )
    [order], [told], _ = decide(state)
    assert (order.position_side, order.quantity) == (LONG, D("0.05"))
    assert "tp-long" in told.text and "tp-short" not in told.text


def test_a_warning_about_blocking_orders_does_not_hold_back_the_critical_one() -> None:
    state = with_orders(reducing(ready()), ("tp-1", "SELL", "0.4", True, BOTH))
    [order], [warning], memory = decide(state)
    settled = ActionSettled(order.decision_id, "reduce", Outcome.DONE, "", 4_000)
    memory = evaluate(state, memory, 4_000, REDUCE, settled).memory
    covered = with_orders(state, ("tp-2", "SELL", "0.1", True, BOTH))
    price = str(price_for_ratio(D("0.85")))
    orders, [critical], memory = decide(at_price(covered, price, 20_000), memory, 20_000)
    assert orders == [] and (warning.severity, critical.severity) == ("warning", "critical")
    # Past the reduce cooldown, within the alert's: tried again, not told again.
    orders, again, _ = decide(at_price(covered, price, 40_000), memory, 40_000)
    assert orders == [] and again == []
