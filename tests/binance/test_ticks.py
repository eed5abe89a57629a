"""Book, trade and index frames into quotes: Binance's shapes read, bad ones skipped, at most
one quote every half second per symbol, carrying the newest trade and index and the mid the
book showed when the index came."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from assistant.binance.parse import Skipped
from assistant.binance.ticks import Book, Conflater, Index, Trade, parse_ticks

D = Decimal
# Shapes as Binance documents them (USDⓈ-M "Individual Symbol Book Ticker Streams",
# "Aggregate Trade Streams", "Mark Price Stream").
BOOK = {
    "e": "bookTicker",
    "u": 400900217,
    "E": 1568014460893,
    "T": 1568014460891,
    "s": "BNBUSDT",
    "b": "25.35190000",
    "B": "31.21000000",
    "a": "25.36520000",
    "A": "40.66000000",
}
TRADE = {
    "e": "aggTrade",
    "E": 123456789,
    "s": "BTCUSDT",
    "a": 5933014,
    "p": "0.001",
    "q": "100",
    "f": 100,
    "l": 105,
    "T": 123456785,
    "m": True,
}
MARK = {
    "e": "markPriceUpdate",
    "E": 1562305380000,
    "s": "BTCUSDT",
    "p": "11794.15000000",
    "i": "11784.62659091",
    "P": "11784.25641265",
    "r": "0.00038167",
    "T": 1562306400000,
}


def test_binance_frames_become_ticks() -> None:
    assert parse_ticks(json.dumps(BOOK)) == [
        Book("BNBUSDT", D("25.35190000"), D("25.36520000"), 1568014460893)
    ]
    wrapped = {"stream": "btcusdt@aggTrade", "data": TRADE}
    assert parse_ticks(json.dumps(wrapped)) == [Trade("BTCUSDT", D("0.001"), 123456789)]
    assert parse_ticks(json.dumps([MARK])) == [
        Index("BTCUSDT", D("11784.62659091"), D("0.00038167"), 1562306400000, 1562305380000)
    ]


def test_bad_frames_are_skipped_not_raised() -> None:
    reply = parse_ticks('{"result": null, "id": 3}')
    assert isinstance(reply, Skipped) and not reply.malformed
    bad: list[Any] = [
        "not json",
        json.dumps({**BOOK, "b": "-1"}),
        json.dumps({**BOOK, "s": "bnb usdt"}),
        json.dumps({**TRADE, "p": "NaN"}),
        json.dumps({"e": "depthUpdate", "s": "BTCUSDT"}),
        json.dumps({k: v for k, v in MARK.items() if k != "i"}),
        json.dumps([1, 2]),
    ]
    for frame in bad:
        result = parse_ticks(frame)
        assert isinstance(result, Skipped) and result.malformed, frame


def book(at: int, bid: str = "100.0") -> Book:
    return Book("BTCUSDT", D(bid), D(bid) + D("0.1"), at)


def test_at_most_one_quote_every_half_second_with_the_newest_trade_and_index() -> None:
    conflater = Conflater()
    first = conflater.add(book(1_000))
    assert first is not None and first.last is None and first.index is None
    assert conflater.add(Trade("BTCUSDT", D("100.1"), 1_100)) is None
    assert conflater.add(book(1_200, "100.2")) is None  # within 500 ms of the last one sent
    assert conflater.add(Index("BTCUSDT", D("99.9"), D("0.0001"), 9_000, 1_300)) is None
    assert conflater.add(book(1_499, "100.4")) is None
    second = conflater.add(book(1_500, "100.5"))
    assert second is not None and second.bid == D("100.5") and second.last == D("100.1")
    assert (second.index, second.index_at, second.funding_rate) == (D("99.9"), 1_300, D("0.0001"))
    assert second.anchor == D("100.25")  # the book of 1 200 ms, when the index came
    assert second.next_funding == 9_000 and conflater.dropped == 2
    other = conflater.add(Book("ETHUSDT", D("3000"), D("3000.01"), 1_501))
    assert other is not None and other.index is None  # each symbol on its own
    conflater.keep(frozenset({"ETHUSDT"}))
    again = conflater.add(book(1_600))
    assert again is not None and again.last is None  # BTCUSDT was forgotten
