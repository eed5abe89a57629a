"""Quotes in a real store file: their compact row read back exactly, kept in the `book` table
but read back in the order they arrived among the journal's rows (one id sequence), pruned on
their own retention, and replayed like any journaled event."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.core.events import MarkPriceUpdated, ModeSet, QuoteUpdated
from assistant.store.codec import QUOTE, decode_row, encode_row
from assistant.store.sqlite import SqliteStore

D = Decimal
TIMES = st.integers(0, 2**50)
MAYBE = st.none() | st.decimals(allow_nan=False, allow_infinity=False)
QUOTES = st.builds(
    QuoteUpdated,
    symbol=st.from_regex(r"[A-Z0-9]{2,30}", fullmatch=True),
    bid=st.decimals(allow_nan=False, allow_infinity=False),
    ask=st.decimals(allow_nan=False, allow_infinity=False),
    last=MAYBE,
    index=MAYBE,
    index_at=st.just(0) | TIMES,
    anchor=MAYBE,
    funding_rate=MAYBE,
    next_funding=st.just(0) | TIMES,
    event_at=TIMES,
)


def same_form(a: object, b: object) -> bool:
    """Equal, every Decimal in the same form (1.50 stays 1.50)."""
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return a.as_tuple() == b.as_tuple()
    return a == b


@settings(max_examples=100)
@given(QUOTES, TIMES)
def test_a_quote_row_reads_back_exactly(quote: QuoteUpdated, received_at: int) -> None:
    kind, text = encode_row(quote, received_at)
    assert kind == QUOTE and len(text) < 400
    back = decode_row(kind, text, received_at)
    assert back == quote
    assert isinstance(back, QuoteUpdated)
    for name in ("bid", "ask", "last", "index", "anchor", "funding_rate"):
        assert same_form(getattr(back, name), getattr(quote, name)), name


def quote(at: int) -> QuoteUpdated:
    return QuoteUpdated(
        "BTCUSDT", D("59999.9"), D("60000.0"), D("60000.0"), D("60001.5"), at - 300,
        D("60000.0"), D("0.00010000"), at + 3_600_000, at,
    )  # fmt: skip


def test_quotes_read_back_in_arrival_order_and_are_pruned_on_their_own() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a.db"
        store = SqliteStore(path)
        arrived = []
        for second in range(10):
            at = 1_000_000 + second * 1_000
            for event, when in (
                (MarkPriceUpdated("BTCUSDT", D("60000"), at), at + 1),
                (quote(at + 100), at + 101),
                (quote(at + 600), at + 601),
            ):
                store.append(event, when)
                arrived.append((when, event))
            if second == 4:
                store.flush()  # two group commits: the id sequence runs across them
        store.append(ModeSet("auto", "ann", 1_020_000), 1_020_000)
        arrived.append((1_020_000, ModeSet("auto", "ann", 1_020_000)))
        store.flush()
        assert list(store.events()) == arrived
        assert [r.received_at for r in store.journal(after_id=3, limit=4)] == [
            at for at, _ in arrived[3:7]
        ]
        size = store.db.execute("SELECT SUM(LENGTH(event)) FROM book").fetchone()[0]
        assert size / 20 < 100  # bytes of text per quote row
        assert store.prune_book(1_005_000) == 10  # the first five seconds of quotes
        kept = [e for _, e in store.events()]
        assert sum(isinstance(e, QuoteUpdated) for e in kept) == 10
        assert sum(isinstance(e, MarkPriceUpdated) for e in kept) == 10  # marks stay
        store.close()
