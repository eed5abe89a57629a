"""The shadow mark's estimator (`core.shadow`): Binance's formula on what the streams show, its
error measured at each real mark, and the cases where it gives no estimate at all."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.core.events import QuoteUpdated
from assistant.core.shadow import (
    BAND_FLOOR,
    FUNDING_INTERVAL_MS,
    INDEX_MAX_AGE_MS,
    WARM_UP,
    Quote,
    marked,
    quoted,
    usable,
)

D = Decimal
TICK = D("0.1")
NONE = D(0)
HOUR = 3_600_000


def formula(index: Decimal, basis: Decimal, last: Decimal, rate: Decimal, left: int) -> Decimal:
    """Binance's mark: median(Price 1, Price 2, contract price), Price 2 on a steady basis."""
    price1 = index * (1 + rate * D(left) / FUNDING_INTERVAL_MS)
    return sorted((price1, index + basis, last))[1]


def quote(
    bid: Decimal,
    at: int,
    *,
    last: Decimal | None = None,
    index: Decimal | None = None,
    index_at: int = 0,
    rate: Decimal = NONE,
    next_funding: int = 0,
    spread: Decimal = TICK,
    anchor: Decimal | None = None,
) -> QuoteUpdated:
    return QuoteUpdated(
        "BTCUSDT", bid, bid + spread, last, index, index_at, anchor, rate, next_funding, at
    )


prices = st.decimals(D("100"), D("100000"), places=1)


@settings(max_examples=150)
@given(
    index=prices,
    basis_ticks=st.integers(-50, 50),
    last_ticks=st.integers(-50, 50),
    rate=st.decimals(D("-0.003"), D("0.003"), places=6),
    offsets=st.lists(st.integers(1, 999), min_size=1, max_size=6),
)
def test_on_a_constant_market_the_estimate_is_the_mark(
    index: Decimal, basis_ticks: int, last_ticks: int, rate: Decimal, offsets: list[int]
) -> None:
    """Index, book, last price and funding rate hold still: every estimate is the mark
    Binance's formula gives at that moment, and equals the next real mark up to the funding
    term's drift in between (none without funding)."""
    basis = TICK * basis_ticks
    mid = index + basis
    bid = mid - TICK / 2
    last = mid + TICK * last_ticks
    funding = 10 * HOUR
    state: Quote | None = None
    for second in range(1, 7):
        mark_at = second * 1_000
        mark = formula(index, basis, last, rate, funding - mark_at)
        if state is not None:
            state = marked(state, mark, mark_at)
            assert state.error is not None
            drift = abs(index * rate) * 1_000 / FUNDING_INTERVAL_MS / mark
            assert abs(state.error) <= drift
            if rate == 0:
                assert state.error == 0
        for offset in sorted(set(offsets)):
            at = mark_at + offset
            state = quoted(
                state,
                quote(
                    bid,
                    at,
                    last=last,
                    index=index,
                    index_at=mark_at,
                    rate=rate,
                    next_funding=funding,
                ),
            )
            assert state.estimate == formula(index, basis, last, rate, funding - at)


@settings(max_examples=150)
@given(
    start=st.decimals(D("1000"), D("100000"), places=1),
    speed=st.decimals(D("0"), D("0.00005"), places=7),  # of price per ms: 5% a second
    steps=st.lists(st.decimals(D("-1"), D("1"), places=3), min_size=12, max_size=12),
    basis_ticks=st.integers(-20, 20),
    quote_times=st.lists(
        st.lists(st.integers(0, 999), min_size=1, max_size=4), min_size=12, max_size=12
    ),
)
def test_when_the_inputs_follow_the_formula_the_error_is_bounded(
    start: Decimal,
    speed: Decimal,
    steps: list[Decimal],
    basis_ticks: int,
    quote_times: list[list[int]],
) -> None:
    """The index moves at most `speed × start` a millisecond (any path within that), the book
    sits at a steady basis around it and trades at its mid, no funding: Binance's mark is then
    index + basis. The estimate made at t before the next mark at m is off from it by at most
    the index's move from t to m, plus twice its move between a mark and the quote that first
    carried that mark's index (the basis samples and the carried index are anchored there)."""
    basis = TICK * basis_ticks
    rate_per_ms = speed * start
    knots = [start]
    for step in steps:  # the index at each second; linear in between
        knots.append(knots[-1] + step * rate_per_ms * 1_000)

    def index_at(t: int) -> Decimal:
        second, within = divmod(t - 1_000, 1_000)
        a, b = knots[second], knots[second + 1]
        return a + (b - a) * D(within) / 1_000

    state: Quote | None = None
    lag = 0  # the longest wait from a mark to the first quote carrying its index
    for second, offsets in enumerate(quote_times):
        mark_at = (second + 1) * 1_000
        mark = index_at(mark_at) + basis
        if state is not None and state.estimate_at > state.measured_at:
            made = state.estimate_at
            state = marked(state, mark, mark_at)
            bound = rate_per_ms * (mark_at - made + 2 * lag) + D("1e-12") * mark
            assert state.error is not None and abs(state.error * mark) <= bound
        times = sorted(set(offsets))
        lag = max(lag, times[0])
        for offset in times:
            at = mark_at + offset
            mid = index_at(at) + basis
            state = quoted(
                state,
                quote(mid - TICK / 2, at, last=mid, index=index_at(mark_at), index_at=mark_at),
            )


def warmed(at: int = 10_000) -> Quote:
    """An estimator that has measured enough distances to be trusted (each of them nought)."""
    state: Quote | None = None
    for second in range(WARM_UP + 2):
        mark_at = at - (WARM_UP + 2 - second) * 1_000
        if state is not None:
            state = marked(state, D("60000"), mark_at)
        state = quoted(
            state, quote(D("59999.95"), mark_at + 10, index=D("60000"), index_at=mark_at)
        )
    assert state is not None and state.errors == WARM_UP
    return state


def test_no_estimate_from_a_stale_or_thin_book_an_old_index_or_before_warming_up() -> None:
    state = warmed()
    at = state.book_at
    assert usable(state, at, 500, D("0.002")) == (D("60000"), BAND_FLOOR)
    assert usable(state, at + 1_000, 500, D("0.002")) is not None  # within 500 ms + conflation
    assert usable(state, at + 1_001, 500, D("0.002")) is None  # no update within: stale
    wide = quoted(state, quote(D("59900"), at + 100, spread=D("200")))
    assert usable(wide, at + 100, 500, D("0.002")) is None  # 200 wide at 60000: thin
    assert usable(wide, at + 100, 500, D("0.004")) is not None
    crossed = quoted(state, quote(D("60000"), at + 100, spread=D("-1")))
    assert usable(crossed, at + 100, 500, D("0.002")) is None
    old = quoted(state, quote(D("59999.95"), state.index_at + INDEX_MAX_AGE_MS + 1))
    assert usable(old, old.book_at, 500, D("0.002")) is None  # the index stopped coming
    young = quoted(None, quote(D("59999.95"), 100, index=D("60000"), index_at=50))
    assert young.estimate == D("60000") and usable(young, 100, 500, D("0.002")) is None


def test_the_book_leads_the_index_and_the_band_counts_only_what_the_marks_never_reach() -> None:
    """The index is carried forward by the mid's move since its mark frame: a book 1% lower
    puts the estimate 1% lower before any mark says so. The next mark measures the error;
    the band learns from the nearer of the next two marks: none if the marks get there."""
    state = warmed()
    at = state.book_at + 200
    state = quoted(state, quote(D("59399.95"), at, last=D("59400")))
    assert state.estimate == D("59400")
    state = marked(state, D("59700"), at + 300)
    assert state.error == (D("59400") - D("59700")) / D("59700")  # measured: 0.5% above it
    followed = marked(state, D("59400"), at + 1_300)  # the mark after next gets there
    assert followed.band == 0 and followed.errors == state.errors + 1
    never = marked(state, D("60000"), at + 1_300)  # the marks went the other way
    assert never.band == (D("300") / D("59700")) * D("0.2")  # a fifth of the way to the miss
    again = marked(followed, D("59000"), at + 2_300)
    assert again.errors == followed.errors  # no estimate since: nothing more to measure


def test_the_anchor_is_the_mid_when_the_mark_frame_came() -> None:
    """A quote arriving after the book moved carries the mid of the moment the index came:
    the move since then is carried forward, not forgotten."""
    state = warmed()
    at = state.book_at + 600
    moved = quote(D("59399.95"), at, index=D("60000"), index_at=at - 100, anchor=D("60000"))
    assert quoted(state, moved).estimate == D("59400")
    late = quote(D("59399.95"), at, index=D("60000"), index_at=at - 100)
    estimate = quoted(state, late).estimate  # no anchor given: this mid is taken as it,
    assert estimate is not None and estimate > D("59700")  # and most of the move is lost
