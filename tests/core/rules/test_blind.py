"""What the guardian cannot see, through `core.step.step` with explicit times: a held symbol
without brackets computed at an assumed rate (and said, once), and a period without health
longer than `stale_after` (a critical alert, cooldown-respecting, an info when it ends)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from assistant.core.actions import CLEAR, STALE, SendAlert
from assistant.core.events import (
    AccountSnapshotted,
    BalanceAndPositionUpdated,
    BracketsLoaded,
    CapsRestored,
    Event,
    ExchangeFigures,
    MarkPriceUpdated,
    PositionChange,
)
from assistant.core.mirror import MirrorState, apply
from assistant.core.model import MarginType, PositionSide
from assistant.core.rules.config import AlertRules, DepositRule, ReduceRule, Rules
from assistant.core.rules.memory import Memory
from assistant.core.step import step
from assistant.core.values import Severity
from tests.helpers import real_2024_brackets

D = Decimal
BOTH = PositionSide.BOTH
RULES = Rules(
    alerts=AlertRules(distance_tiers=(), cooldown_ms=60_000, stale_after_ms=15_000),
    deposit=DepositRule(enabled=False),
    reduce=ReduceRule(enabled=False),
)
T0 = 1_700_000_000_000


def without(symbol: str) -> BracketsLoaded:
    tables = {s: t for s, t in real_2024_brackets().items() if s != symbol}
    return BracketsLoaded(tables, T0, fallback_mmr=D("0.05"))


def crash_account(at: int, eth: str = "5") -> AccountSnapshotted:
    """The emulator's crash account: BTC 0.5 and ETH 5 long at 20x cross, wallet 3000."""
    legs = [PositionChange("BTCUSDT", BOTH, D("0.5"), D("60000"), MarginType.CROSS, D(0))]
    if D(eth):
        legs.append(PositionChange("ETHUSDT", BOTH, D(eth), D("3000"), MarginType.CROSS, D(0)))
    return AccountSnapshotted(
        taken_at=at,
        wallet_balance=D("3000"),
        hedge_mode=False,
        positions=tuple(legs),
        leverage={"BTCUSDT": 20, "ETHUSDT": 20},
        margin_types={"BTCUSDT": MarginType.CROSS, "ETHUSDT": MarginType.CROSS},
        open_orders=(),
        marks={"BTCUSDT": D("60000"), "ETHUSDT": D("3000")},
        exchange=ExchangeFigures(D("160"), D("3000")),
    )


class Run:
    """Events through `step`, as the loop feeds them; every alert kept."""

    def __init__(self, rules: Rules = RULES) -> None:
        self.state, self.memory, self.rules = MirrorState(), Memory(), rules
        self.alerts: list[SendAlert] = []

    def __call__(self, event: Event, at: int) -> list[SendAlert]:
        done = step(self.state, self.memory, self.rules, event, at)
        self.state, self.memory = done.state, done.memory
        found = [a for a in done.decision.actions if isinstance(a, SendAlert)]
        self.alerts += found
        return found


def keyed(alerts: list[SendAlert], key: str) -> list[SendAlert]:
    return [a for a in alerts if a.key == key]


def test_a_held_symbol_without_brackets_is_computed_at_the_fallback_and_said_once() -> None:
    run = Run()
    run(CapsRestored(0, D(0), {}, T0), T0)
    run(without("ETHUSDT"), T0 + 100)
    found = run(crash_account(T0 + 200), T0 + 200)
    state = run.state
    assert state.ready and state.assumed == {"ETHUSDT": D("0.05")}
    book = state.book
    assert book is not None
    # ETH at 5% of its 15000 notional; BTC on its real table (30000 in tier 1: 0.4%).
    assert book.per_symbol["ETHUSDT"].mm == D("750")
    assert book.per_symbol["BTCUSDT"].mm == D("120")
    assert book.margin_ratio == D("870") / D("3000")
    (said,) = keyed(found, "brackets:ETHUSDT")
    assert (said.severity, said.metric, said.tier) == (Severity.WARNING, "assumed_mmr", D("0.05"))
    assert "ETHUSDT" in said.text and "5.00%" in said.text and "fallback_mmr" in said.text
    # Once while it lasts: marks and another snapshot say nothing more about it.
    for i in range(1, 30):
        run(MarkPriceUpdated("ETHUSDT", D(3000 - i), T0 + 200 + i * 1_000), T0 + 200 + i * 1_000)
    run(crash_account(T0 + 40_000), T0 + 40_000)
    assert len(keyed(run.alerts, "brackets:ETHUSDT")) == 1
    assert run.state.book is not None and "ETHUSDT" in run.state.book.account.brackets
    # The real table arrives: it is used, and an info says so.
    found = run(BracketsLoaded(real_2024_brackets(), T0 + 41_000, D("0.05")), T0 + 41_000)
    assert run.state.assumed == {}
    book = run.state.book
    assert book is not None and book.account.brackets["ETHUSDT"] == real_2024_brackets()["ETHUSDT"]
    (clear,) = keyed(found, "brackets:ETHUSDT")
    assert (clear.severity, clear.tier) == (Severity.INFO, CLEAR)
    assert "arrived" in clear.text and run.memory.assuming == frozenset()


def test_the_assumed_rate_is_the_held_positions_highest_when_that_is_higher() -> None:
    """With a fallback below the rate BTC's own table gives the BTC position (0.4% in its first
    tier), ETH is assumed at that rate; the tables' top tiers (50%) are not what counts."""
    run = Run()
    run(replace(without("ETHUSDT"), fallback_mmr=D("0.001")), T0)
    found = run(crash_account(T0 + 100), T0 + 100)
    assert run.state.assumed == {"ETHUSDT": D("0.004")}  # BTC's 30000 sits in tier 1: 0.4%
    (said,) = keyed(found, "brackets:ETHUSDT")
    assert said.tier == D("0.004") and "highest rate" in said.text


def test_the_assumption_ends_when_the_symbol_is_no_longer_held() -> None:
    run = Run()
    run(without("ETHUSDT"), T0)
    run(crash_account(T0 + 100), T0 + 100)
    closed = BalanceAndPositionUpdated(
        "ORDER", T0 + 5_000, None, (PositionChange("ETHUSDT", BOTH, D(0), D(0)),)
    )
    found = run(closed, T0 + 5_000)
    (clear,) = keyed(found, "brackets:ETHUSDT")
    assert clear.tier == CLEAR and "no longer held" in clear.text
    assert run.state.assumed == {} and run.state.ready


def test_without_a_fallback_rate_a_symbol_without_brackets_has_no_health() -> None:
    """Brackets loaded without a fallback (a journal written before there was one) leave the
    book as it was: none, and the no-health alert is what says so."""
    state = apply(MirrorState(), replace(without("ETHUSDT"), fallback_mmr=None))
    state = apply(state, crash_account(T0))
    assert state.book is None and not state.ready and state.missing_brackets == {"ETHUSDT"}


def test_no_health_for_longer_than_stale_after_is_critical_then_an_info() -> None:
    run = Run()
    run(CapsRestored(0, D(0), {}, T0), T0)  # a start: brackets and a snapshot are on their way
    assert run(MarkPriceUpdated("BTCUSDT", D("60000"), T0 + 15_000), T0 + 15_000) == []
    found = run(MarkPriceUpdated("BTCUSDT", D("60000"), T0 + 15_001), T0 + 15_001)
    (alert,) = keyed(found, "no_health")
    assert (alert.severity, alert.metric, alert.tier) == (Severity.CRITICAL, "health", STALE)
    assert "NOT protected" in alert.text and "no account snapshot yet" in alert.text
    assert "15s" in alert.text
    assert run(MarkPriceUpdated("BTCUSDT", D("60000"), T0 + 20_000), T0 + 20_000) == []
    run(BracketsLoaded(real_2024_brackets(), T0 + 21_000, D("0.05")), T0 + 21_000)
    found = run(crash_account(T0 + 22_000), T0 + 22_000)
    (clear,) = keyed(found, "no_health")
    assert (clear.severity, clear.tier) == (Severity.INFO, CLEAR)
    assert "22s" in clear.text and run.memory.blind_since is None


def test_the_no_health_alert_respects_the_cooldown() -> None:
    """Health lost again soon after the first alert: past stale_after it is not said again
    until the cooldown (60 s) since the last one has run out, then it is."""
    run = Run()
    run(CapsRestored(0, D(0), {}, T0), T0)
    run(MarkPriceUpdated("BTCUSDT", D("60000"), T0 + 16_000), T0 + 16_000)  # critical at +16 s
    run(BracketsLoaded(real_2024_brackets(), T0 + 17_000, D("0.05")), T0 + 17_000)
    run(crash_account(T0 + 18_000), T0 + 18_000)  # back: an info
    # A position in a symbol with no mark yet: no health again from +20 s.
    added = BalanceAndPositionUpdated(
        "ORDER", T0 + 20_000, None, (PositionChange("DOGEUSDT", BOTH, D(100), D("0.1")),)
    )
    run(added, T0 + 20_000)
    assert run.state.book is None
    for t in range(21_000, 76_000, 5_000):  # past stale_after, inside the cooldown: quiet
        found = run(MarkPriceUpdated("BTCUSDT", D("60000"), T0 + t), T0 + t)
        assert keyed(found, "no_health") == []
    found = run(MarkPriceUpdated("BTCUSDT", D("60000"), T0 + 76_001), T0 + 76_001)
    (again,) = keyed(found, "no_health")
    assert again.severity == Severity.CRITICAL and "no mark price for DOGEUSDT" in again.text
    assert "56s" in again.text  # counted from when health was lost, not from the last alert
    assert [a.severity for a in keyed(run.alerts, "no_health")] == [
        Severity.CRITICAL,
        Severity.INFO,
        Severity.CRITICAL,
    ]


def test_a_start_after_a_long_stop_is_not_mistaken_for_a_long_blind_period() -> None:
    """The memory saved while health was missing is loaded an hour later: the period starts
    again at the start (`CapsRestored`), so a start-up shorter than stale_after is quiet."""
    saved = replace(Memory(), blind_since=T0)
    run = Run()
    run.memory = saved
    later = T0 + 3_600_000
    assert run(CapsRestored(0, D(0), {}, later), later) == []
    assert run(MarkPriceUpdated("BTCUSDT", D("60000"), later + 14_000), later + 14_000) == []
    run(BracketsLoaded(real_2024_brackets(), later + 14_500, D("0.05")), later + 14_500)
    run(crash_account(later + 14_900), later + 14_900)
    assert run.state.ready and keyed(run.alerts, "no_health") == []
    assert run.memory.blind_since is None
