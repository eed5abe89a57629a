"""The shadow mark: an estimate of the mark price from the real-time book, between Binance's
one-second marks. Pure: quotes and marks in, estimates out.

Binance's mark price of a perpetual contract (its FAQ on the mark price and price index of
USDⓈ-M futures, and its announcement of the change made on 2025-09-18, which moved Price 2
from a one-minute to a 30-second basis):

    mark           = median(Price 1, Price 2, contract price)
    Price 1        = index × (1 + last funding rate × time until funding / funding interval)
    Price 2        = index + the moving average of (mid − index): 30 samples, one a second
    contract price = the last traded price

The estimator keeps, per symbol, what it can see of those inputs: the index, funding rate and
next funding time of the newest mark frame (`i`, `r`, `T` of `markPrice@1s`), the basis
samples it can rebuild (the book's mid when that frame came, minus its index), the best bid
and ask (`bookTicker`) and the last trade (`aggTrade`). Between marks the index is carried
forward by the mid's move since that frame: the spot index is assumed to move with the
futures book over that second. That is where the estimate leads the mark, and where it is
wrong: when the book moves and the spot index does not (a futures-only wick), the estimate
moves and the mark does not.

Its error is measured at every real mark: the newest estimate made since the previous mark,
against the mark, (estimate − mark) / mark (`Quote.error`). The uncertainty band asks what an
early warning claims, that the marks are about to get there: it is the moving mean (the
newest weighing `ERROR_WEIGHT`) of how far each estimate was from the nearer of the next two
marks, never narrower than `BAND_FLOOR`. An estimate that runs ahead of the marks on a trend
they then follow is not counted wrong; one the marks never come near widens the band. No
estimate is given before `WARM_UP` such distances were measured.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from assistant.core.events import QuoteUpdated

ZERO = Decimal(0)
ONE = Decimal(1)
TWO = Decimal(2)
CONFLATE_MS = 500  # the book reaches the core at most this often per symbol
BASIS_SAMPLES = 30  # Price 2's moving average: 30 samples, one a second
# The stream does not say a symbol's funding interval: 8 hours is assumed. On a 4-hour or
# 1-hour symbol Price 1's funding term is then at most half its size, a few parts in 100,000.
FUNDING_INTERVAL_MS = Decimal(8 * 3_600_000)
INDEX_MAX_AGE_MS = 3_000  # an index older than this is not carried forward: no estimate
WARM_UP = 2  # distances measured before the band is trusted
BAND_FLOOR = Decimal("0.0003")  # the band is never narrower than this fraction of price
ERROR_WEIGHT = Decimal("0.2")  # the newest error's weight in the band's moving mean


@dataclass(frozen=True, slots=True)
class Quote:
    """One symbol's estimator: its inputs, its newest estimate and its measured error."""

    bid: Decimal
    ask: Decimal
    book_at: int  # the book's time (the newest quote's)
    last: Decimal | None = None
    index: Decimal | None = None
    index_at: int = 0
    anchor: Decimal | None = None  # the mid when that index came
    funding_rate: Decimal = ZERO
    next_funding: int = 0
    basis: tuple[Decimal, ...] = ()  # mid − index, one sample per new index, newest last
    estimate: Decimal | None = None  # the shadow mark at `estimate_at`
    estimate_at: int = 0
    measured_at: int = 0  # the time of the newest estimate measured against a mark
    marked_at: int = 0  # the time of the newest mark
    error: Decimal | None = None  # the newest error against the next mark, (est − mark) / mark
    waiting: Decimal | None = None  # that estimate, until the mark after next is known
    miss: Decimal = ZERO  # its distance from the next mark, as a fraction of it
    band: Decimal = ZERO  # the moving mean of the distances to the nearer of two marks
    errors: int = 0  # how many such distances were measured

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / TWO


def quoted(quote: Quote | None, event: QuoteUpdated) -> Quote:
    """The estimator after a quote: new inputs, and the shadow mark from them."""
    base = quote if quote is not None else Quote(event.bid, event.ask, event.event_at)
    mid = (event.bid + event.ask) / TWO
    index, index_at, anchor, basis = base.index, base.index_at, base.anchor, base.basis
    if event.index is not None and event.index_at > index_at:
        index, index_at = event.index, event.index_at
        anchor = mid if event.anchor is None else event.anchor
        basis = (*basis, anchor - event.index)[-BASIS_SAMPLES:]
    fresh = replace(
        base,
        bid=event.bid,
        ask=event.ask,
        book_at=event.event_at,
        last=event.last if event.last is not None else base.last,
        index=index,
        index_at=index_at,
        anchor=anchor,
        funding_rate=base.funding_rate if event.funding_rate is None else event.funding_rate,
        next_funding=event.next_funding or base.next_funding,
        basis=basis,
    )
    return replace(fresh, estimate=shadow_price(fresh, event.event_at), estimate_at=event.event_at)


def shadow_price(quote: Quote, at: int) -> Decimal | None:
    """Binance's formula on the inputs as they stand at `at`, the index carried forward by
    the mid's move since it arrived (None before the first index, or with a book so far off
    that the carried index is not positive)."""
    if quote.index is None or quote.anchor is None:
        return None
    mid = quote.mid
    index = quote.index + (mid - quote.anchor)
    if index <= ZERO or mid <= ZERO:
        return None
    left = Decimal(max(0, quote.next_funding - at)) if quote.next_funding else ZERO
    price1 = index * (ONE + quote.funding_rate * left / FUNDING_INTERVAL_MS)
    basis = sum(quote.basis, ZERO) / len(quote.basis) if quote.basis else quote.anchor - quote.index
    price2 = index + basis
    contract = quote.last if quote.last is not None else mid
    return sorted((price1, price2, contract))[1]


def marked(quote: Quote, price: Decimal, at: int) -> Quote:
    """The estimator after a real mark at `at`: the estimate waiting since the previous mark
    learns its distance from the nearer of the two (and the band follows), and the newest
    estimate made since the previous mark is measured against this one."""
    if price <= ZERO or at <= quote.marked_at:
        return quote
    q = replace(quote, marked_at=at)
    if q.waiting is not None:
        miss = min(q.miss, abs(q.waiting - price) / price)
        band = miss if q.errors == 0 else q.band + ERROR_WEIGHT * (miss - q.band)
        q = replace(q, waiting=None, miss=ZERO, band=band, errors=q.errors + 1)
    estimate = q.estimate
    if estimate is not None and q.measured_at < q.estimate_at <= at:
        error = (estimate - price) / price
        q = replace(q, measured_at=q.estimate_at, error=error, waiting=estimate, miss=abs(error))
    return q


def usable(
    quote: Quote | None, now: int, stale_after_ms: int, max_spread: Decimal
) -> tuple[Decimal, Decimal] | None:
    """(shadow mark, band as a fraction of it), or None where there is no estimate to trust:
    no book or index yet, still warming up, a book with no update within `stale_after_ms`
    (on top of the `CONFLATE_MS` the conflation may hold one back), an index older than
    `INDEX_MAX_AGE_MS`, or a spread wider than `max_spread` of the mid (or crossed)."""
    if quote is None or quote.estimate is None or quote.errors < WARM_UP:
        return None
    if now - quote.book_at > stale_after_ms + CONFLATE_MS:
        return None
    if now - quote.index_at > INDEX_MAX_AGE_MS:
        return None
    mid = quote.mid
    spread = quote.ask - quote.bid
    if mid <= ZERO or spread < ZERO or spread > max_spread * mid:
        return None
    return quote.estimate, max(quote.band, BAND_FLOOR)
