"""Early warnings on the shadow mark, through `step` like every event: a book that leads the
marks warns first and is confirmed; a book-only wick is withdrawn; a stale or thin book warns
of nothing; the real alerts and the health everyone sees stay the real marks'."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from assistant.core.actions import CONFIRMED, WITHDRAWN, Action, PlaceReduceOnly, SendAlert
from assistant.core.events import Event, MarkPriceUpdated, QuoteUpdated
from assistant.core.mirror import MirrorState
from assistant.core.rules.config import AlertRules, DepositRule, ReduceRule, Rules
from assistant.core.rules.early import CONFIRM_MS
from assistant.core.rules.memory import Memory
from assistant.core.step import step
from tests.core import test_mirror_modes as modes
from tests.core.test_mirror import ready

D = Decimal
TIER = D("0.3")  # 0.5 BTC long from 60000 on 3000: the ratio passes 30% near 54730
RULES = Rules(
    alerts=AlertRules(ratio_tiers=(TIER,), distance_tiers=(), cooldown_ms=60_000),
    deposit=DepositRule(enabled=False),
    reduce=ReduceRule(enabled=False),
)
Path = Callable[[int], Decimal]


def linear(t0: int, p0: str, t1: int, p1: str) -> Path:
    a, b = D(p0), D(p1)

    def at(t: int) -> Decimal:
        if t <= t0:
            return a
        if t >= t1:
            return b
        return (a + (b - a) * D(t - t0) / D(t1 - t0)).quantize(D("0.1"))

    return at


@dataclass
class Market:
    """Marks every second from `mark`; quotes every 250 ms from `book` (one tick wide, the
    last trade at its mid), each carrying the newest mark's index (`book` at that mark)."""

    rules: Rules
    state: MirrorState = field(
        default_factory=lambda: replace(ready(), connected={"user": True, "market": True})
    )
    memory: Memory = field(default_factory=Memory)
    done: list[tuple[int, Action]] = field(default_factory=list)
    index: tuple[Decimal, int] | None = None
    symbol: str = "BTCUSDT"

    def feed(self, event: Event, at: int) -> None:
        result = step(self.state, self.memory, self.rules, event, at)
        self.state, self.memory = result.state, result.memory
        self.done += [(at, action) for action in result.decision.actions]

    def play(self, mark: Path, book: Path, start: int, end: int, late: int = 0) -> None:
        """`late`: each quote arrives this many ms after the book's own time."""
        for t in range(start, end, 250):
            if t % 1_000 == 0:
                self.feed(MarkPriceUpdated(self.symbol, mark(t), t), t)
                self.index = (book(t), t)
            index, index_at = self.index or (None, 0)
            mid = book(t)
            anchor = None if index is None else book(index_at)
            quote = QuoteUpdated(
                self.symbol,
                mid - D("0.05"),
                mid + D("0.05"),
                mid,
                index,
                index_at,
                anchor,
                D(0),
                0,
                t,
            )
            self.feed(quote, t + late)

    def alerts(self, key: str) -> list[tuple[int, SendAlert]]:
        return [(t, a) for t, a in self.done if isinstance(a, SendAlert) and a.key == key]


FALL = linear(8_000, "55500", 18_000, "54500")  # the marks: a tenth of a percent a second
LEADING = linear(7_000, "55500", 17_000, "54500")  # the book: the same fall, a second earlier


def test_a_book_leading_the_marks_warns_first_and_the_mark_confirms() -> None:
    market = Market(RULES)
    market.play(FALL, LEADING, 2_000, 24_000)
    [(early_at, early)] = market.alerts("early:margin_ratio")[:1]
    [(real_at, real)] = market.alerts("margin_ratio")
    assert early.text.startswith("early: the book says the margin ratio is about to pass 30%")
    assert early.metric == "margin_ratio" and early.tier == TIER and not early.quiet
    assert early_at < real_at and real.tier == TIER
    records = [a for _, a in market.alerts("early:margin_ratio")[1:]]
    assert [(a.tier, a.quiet) for a in records] == [(CONFIRMED, True)]
    assert "confirmed" in records[0].text and market.memory.early_open == {}


def test_the_health_everyone_sees_is_the_real_marks() -> None:
    market = Market(RULES)
    market.play(FALL, LEADING, 2_000, 12_250)  # the book is a second ahead of the marks
    assert market.state.book is not None and market.state.marks["BTCUSDT"] == FALL(12_000)
    book = market.state.book
    assert book.account.marks["BTCUSDT"] == FALL(12_000)
    assert market.state.quotes["BTCUSDT"].estimate == LEADING(12_000)


def test_a_wick_only_the_book_shows_is_withdrawn() -> None:
    wick = linear(8_000, "55500", 9_000, "54500")
    back = linear(10_000, "54500", 11_000, "55500")

    def book(t: int) -> Decimal:
        return wick(t) if t < 10_000 else back(t)

    market = Market(RULES)
    market.play(lambda t: D("55500"), book, 2_000, 16_000)
    found = market.alerts("early:margin_ratio")
    assert [a.tier for _, a in found] == [TIER, WITHDRAWN]
    (fired, _), (withdrawn, record) = found
    assert withdrawn - fired > CONFIRM_MS and not record.quiet
    assert "withdrawn" in record.text
    assert market.alerts("margin_ratio") == []  # the real marks never passed it
    assert market.memory.levels.get("margin_ratio", -1) == -1


def test_a_stale_or_thin_book_warns_of_nothing() -> None:
    fresh = Market(RULES)
    fresh.play(FALL, LEADING, 2_000, 24_000, late=1_000)
    assert fresh.alerts("early:margin_ratio")
    market = Market(RULES)
    market.play(FALL, LEADING, 2_000, 24_000, late=1_001)  # 500 ms + the conflation's 500
    assert market.alerts("early:margin_ratio") == []
    assert market.alerts("margin_ratio")  # the marks still alert
    thin = Market(replace(RULES, alerts=replace(RULES.alerts, early_max_spread=D("0.000001"))))
    thin.play(FALL, LEADING, 2_000, 24_000)
    assert thin.alerts("early:margin_ratio") == [] and thin.alerts("margin_ratio")


def test_early_alerts_can_be_turned_off() -> None:
    market = Market(replace(RULES, alerts=replace(RULES.alerts, early=False)))
    market.play(FALL, LEADING, 2_000, 24_000)
    assert market.alerts("early:margin_ratio") == [] and market.alerts("margin_ratio")


def test_an_estimate_never_unfires_a_real_alert() -> None:
    """The marks pass the tier; the book then jumps back far above it: no all-clear and no
    change to the real level until a real mark says so."""
    market = Market(RULES)
    market.play(FALL, FALL, 2_000, 20_000)
    assert market.memory.levels["margin_ratio"] == 0
    market.play(lambda t: D("54500"), lambda t: D("60000"), 20_000, 22_750)
    assert market.memory.levels["margin_ratio"] == 0
    assert not [a for _, a in market.alerts("margin_ratio") if a.tier == "clear"]


def test_reduce_early_acts_before_the_mark_within_its_caps() -> None:
    reduce = ReduceRule(
        trigger_ratio=TIER,
        trigger_distance=None,
        target_ratio=D("0.1"),
        target_distance=None,
        max_fraction=D("0.2"),
        cooldown_ms=60_000,
        early=True,
    )
    rules = replace(RULES, reduce=reduce, mode="auto")
    market = Market(rules)
    market.play(FALL, LEADING, 2_000, 24_000)
    orders = [(t, a) for t, a in market.done if isinstance(a, PlaceReduceOnly)]
    [(real_at, _)] = market.alerts("margin_ratio")
    assert orders and orders[0][0] < real_at  # decided on the book, before the mark passed
    assert orders[0][1].reason.startswith("early (the book, before the mark): ")
    assert all(order.quantity <= D("0.1") for _, order in orders)  # a fifth of 0.5 BTC
    assert len(orders) == 1  # the decision is pending: nothing more until it settles
    late = Market(replace(rules, reduce=replace(reduce, early=False)))
    late.play(FALL, LEADING, 2_000, 24_000)
    [(late_at, _)] = [(t, a) for t, a in late.done if isinstance(a, PlaceReduceOnly)]
    assert late_at >= real_at


def test_in_an_account_of_several_pools_the_pool_the_book_endangers_warns() -> None:
    """BTCUSDC's book leads its marks down: its USDC pool (500 USDC behind 0.1 BTC) passes 15%
    on the book first; the USDT pool, and every pool's real figures, stay as the marks say."""
    state = replace(modes.ready(), connected={"user": True, "market": True})
    tier = D("0.15")  # the USDC pool passes it near 56507
    rules = replace(RULES, alerts=replace(RULES.alerts, ratio_tiers=(tier,)))
    market = Market(rules, state=state, symbol="BTCUSDC")
    fall = linear(8_000, "58000", 18_000, "56000")
    market.play(fall, linear(7_000, "58000", 17_000, "56000"), 2_000, 24_000)
    [(early_at, early), *_] = market.alerts("early:margin_ratio")
    [(real_at, _)] = market.alerts("margin_ratio")
    assert early_at < real_at and early.tier == tier
    pools = market.state.pools
    assert pools["USDC"].account.marks["BTCUSDC"] == fall(23_000)
    assert pools["USDT"] is state.pools["USDT"]  # nothing of the USDT pool moved


def test_in_multi_assets_mode_the_one_pool_warns_early() -> None:
    state = replace(modes.ready(multi=True), connected={"user": True, "market": True})
    assert set(state.pools) == {"USD"}
    tier = D("0.0145")  # 0.2 BTC on about 3500 USD: the ratio reaches 1.5% at 56000
    rules = replace(RULES, alerts=replace(RULES.alerts, ratio_tiers=(tier,)))
    market = Market(rules, state=state, symbol="BTCUSDC")
    market.play(
        linear(8_000, "58000", 18_000, "56000"),
        linear(7_000, "58000", 17_000, "56000"),
        2_000,
        24_000,
    )
    [(early_at, _), *_] = market.alerts("early:margin_ratio")
    [(real_at, _)] = market.alerts("margin_ratio")
    assert early_at < real_at
