"""The rules on sequences of states: hysteresis, cooldowns, caps, ordering."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from assistant.core.actions import PlaceReduceOnly, SendAlert, TransferToFutures
from assistant.core.events import ActionSettled, MarkPriceUpdated
from assistant.core.mirror import MirrorState, apply
from assistant.core.rules.alerts import level
from assistant.core.rules.config import AlertRules, DepositRule, ReduceRule, Rules
from assistant.core.rules.engine import evaluate
from assistant.core.rules.memory import Memory
from tests.core.test_mirror import ready

D = Decimal
ALERTS_ONLY = Rules(
    alerts=AlertRules(distance_tiers=(), cooldown_ms=0),
    deposit=DepositRule(enabled=False),
    reduce=ReduceRule(enabled=False),
)
LIVE_RULES = Rules(
    deposit=DepositRule(
        trigger_ratio=D("0.5"),
        trigger_distance=None,
        target_ratio=D("0.05"),
        target_distance=D("0"),
        max_per_action=D("400"),
        max_per_day=D("1000"),
        cooldown_ms=0,
    ),
    reduce=ReduceRule(enabled=False),
    alerts=AlertRules(distance_tiers=(), stale_after_ms=5_000),
)  # deposits only: trigger 0.5, caps 400 / 1000


def at_price(state: MirrorState, price: str, t: int) -> MirrorState:
    """The mirrored state at a new mark, with both streams up (money rules need live data)."""
    state = apply(state, MarkPriceUpdated("BTCUSDT", D(price), t))
    return replace(state, connected={"user": True, "market": True})


def price_for_ratio(ratio: Decimal) -> Decimal:
    """0.5 BTC long @ 60000, wallet 3000, MM 0.4% of notional: the mark giving `ratio`."""
    # MM / MB = 0.002 p / (3000 + 0.5 (p - 60000)) = ratio
    #   =>  p = -27000 ratio / (0.002 - 0.5 ratio)
    return (ratio * D(-27000) / (D("0.002") - D("0.5") * ratio)).quantize(D("0.01"))


def test_level_has_hysteresis() -> None:
    tiers = (D("0.8"), D("0.85"), D("0.9"))
    assert level(D("0.81"), tiers, D("0.02"), -1, True) == 0
    assert level(D("0.79"), tiers, D("0.02"), 0, True) == 0  # inside the band: still armed
    assert level(D("0.779"), tiers, D("0.02"), 0, True) == -1
    assert level(D("0.95"), tiers, D("0.02"), -1, True) == 2
    assert level(None, tiers, D("0.02"), -1, True) == 2  # no margin balance: the worst tier
    assert level(D("0.04"), (D("0.10"), D("0.05")), D("0.01"), -1, False) == 1


def test_a_hovering_ratio_alerts_once_per_band_crossing() -> None:
    state, memory = ready(), Memory()
    alerts: list[SendAlert] = []
    hover = [D("0.79"), D("0.801"), D("0.799"), D("0.805"), D("0.79"), D("0.81"), D("0.785")]
    t = 2_000
    for ratio in hover * 5:  # thirty-five marks around 80%
        t += 1_000
        state = at_price(state, str(price_for_ratio(ratio)), t)
        decision = evaluate(state, memory, t, ALERTS_ONLY)
        memory = decision.memory
        alerts += [
            a for a in decision.actions if isinstance(a, SendAlert) and a.key == "margin_ratio"
        ]
    assert [a.severity for a in alerts] == ["warning"]  # never below 78%: never re-armed
    for ratio in (D("0.75"), D("0.81")):  # out of the band, and back in: a second alert
        t += 1_000
        state = at_price(state, str(price_for_ratio(ratio)), t)
        decision = evaluate(state, memory, t, ALERTS_ONLY)
        memory = decision.memory
        alerts += [
            a for a in decision.actions if isinstance(a, SendAlert) and a.key == "margin_ratio"
        ]
    assert [a.severity for a in alerts] == ["warning", "info", "warning"]


def test_cooldown_holds_a_repeat_of_the_same_tier() -> None:
    rules = replace(ALERTS_ONLY, alerts=AlertRules(distance_tiers=(), cooldown_ms=60_000))
    state, memory, sent = ready(), Memory(), []
    for t, ratio in (
        (3_000, "0.81"),
        (4_000, "0.70"),
        (5_000, "0.81"),
        (70_000, "0.70"),
        (71_000, "0.81"),
    ):
        state = at_price(state, str(price_for_ratio(D(ratio))), t)
        decision = evaluate(state, memory, t, rules)
        memory = decision.memory
        sent += [(t, a.severity) for a in decision.actions if a.key == "margin_ratio"]  # type: ignore[union-attr]
    assert sent == [(3_000, "warning"), (4_000, "info"), (71_000, "warning")]


def test_deposits_respect_per_action_and_daily_caps_and_wait_for_their_outcome() -> None:
    rules = replace(
        LIVE_RULES,
        deposit=replace(LIVE_RULES.deposit, cooldown_ms=1_000),
        alerts=AlertRules(distance_tiers=()),
    )
    state = at_price(ready(), str(price_for_ratio(D("0.6"))), 2_000)
    memory, amounts, t = Memory(), [], 2_000
    for _ in range(10):
        t += 1_500
        decision = evaluate(state, memory, t, rules)
        memory = decision.memory
        for action in decision.actions:
            if isinstance(action, TransferToFutures):
                amounts.append(action.amount)
                assert len(memory.pending) == 1
                blocked = evaluate(state, memory, t + 5_000, rules)  # outcome not in yet
                assert not any(isinstance(a, TransferToFutures) for a in blocked.actions)
                memory = evaluate(
                    state,
                    memory,
                    t,
                    rules,
                    ActionSettled(action.decision_id, "deposit", "done", "", t),
                ).memory
    assert amounts == [D("400"), D("400"), D("200")]  # 1000 a day at most


def test_reduce_is_sized_and_capped_and_sides_are_right() -> None:
    rules = Rules(
        deposit=DepositRule(enabled=False),
        alerts=AlertRules(distance_tiers=()),
        reduce=ReduceRule(
            trigger_ratio=D("0.8"),
            trigger_distance=None,
            target_ratio=D("0.5"),
            target_distance=None,
            max_fraction=D("0.5"),
            fee_rate=D(0),
        ),
    )
    state = at_price(ready(), str(price_for_ratio(D("0.85"))), 2_000)
    decision = evaluate(state, Memory(), 3_000, rules)
    [order] = [a for a in decision.actions if isinstance(a, PlaceReduceOnly)]
    assert (order.symbol, order.side) == ("BTCUSDT", "SELL")
    assert D(0) < order.quantity <= D("0.25") and order.client_id.startswith("mg-reduce-")


def test_dry_state_not_ready_decides_nothing() -> None:
    decision = evaluate(MirrorState(), Memory(), 1, Rules())
    assert decision.actions == () and decision.health is None


def test_no_money_moves_on_stale_or_disconnected_data() -> None:
    state = at_price(ready(), str(price_for_ratio(D("0.6"))), 2_000)
    assert any(
        isinstance(a, TransferToFutures)
        for a in evaluate(state, Memory(), 3_000, LIVE_RULES).actions
    )
    stale = evaluate(state, Memory(), 9_000, LIVE_RULES)  # the mark is 7 s old
    assert not any(isinstance(a, TransferToFutures) for a in stale.actions)
    down = replace(state, connected={"user": False, "market": True})
    assert not any(
        isinstance(a, TransferToFutures)
        for a in evaluate(down, Memory(), 3_000, LIVE_RULES).actions
    )


def test_moves_that_did_not_happen_give_the_daily_cap_back() -> None:
    rules = replace(
        LIVE_RULES,
        deposit=replace(LIVE_RULES.deposit, cooldown_ms=1_000),
        alerts=replace(LIVE_RULES.alerts, stale_after_ms=10**9),
    )
    state = at_price(ready(), str(price_for_ratio(D("0.6"))), 2_000)
    memory, t = Memory(), 2_000
    for outcome in ("failed", "dry-run", "abandoned"):
        t += 2_000
        decision = evaluate(state, memory, t, rules)
        [transfer] = [a for a in decision.actions if isinstance(a, TransferToFutures)]
        # The outcome arrives within the cooldown: nothing new is decided with it.
        memory = evaluate(
            state,
            decision.memory,
            t,
            rules,
            ActionSettled(transfer.decision_id, "deposit", outcome, "", t),
        ).memory
        assert memory.deposited_today(t) == 0, outcome
    t += 2_000
    decision = evaluate(state, memory, t, rules)
    [transfer] = [a for a in decision.actions if isinstance(a, TransferToFutures)]
    settled = ActionSettled(
        transfer.decision_id, "deposit", "done", "", t, D("123.45")
    )  # spot ran dry
    memory = evaluate(state, decision.memory, t, rules, settled).memory
    assert memory.deposited_today(t) == D("123.45")
