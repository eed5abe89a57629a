"""The book, the last trade and the index between marks, for the shadow mark (`core.shadow`).

`bookTicker` frames (real time, on `/public`), `aggTrade` frames and the index part of
`markPriceUpdate` frames (on `/market`) are read here and conflated into `QuoteUpdated`
events: at most one every `CONFLATE_MS` per symbol, sent on a book update and carrying the
newest trade and index seen, and the mid the book showed when that index came. The rest are
dropped before they reach the service: that is what keeps a busy book's hundreds of updates a
second to two events, and the journal to two rows.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from websockets.exceptions import WebSocketException

from assistant.binance.parse import MALFORMED, SYMBOL, Skipped
from assistant.binance.wire import parse_decimal, parse_int
from assistant.core.events import QuoteUpdated
from assistant.core.shadow import CONFLATE_MS

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

    from assistant.binance.streams import BinanceStreams

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Book:
    symbol: str
    bid: Decimal
    ask: Decimal
    at: int


@dataclass(frozen=True, slots=True)
class Trade:
    symbol: str
    price: Decimal
    at: int


@dataclass(frozen=True, slots=True)
class Index:
    symbol: str
    index: Decimal
    funding_rate: Decimal | None
    next_funding: int
    at: int
    anchor: Decimal | None = None  # the book's mid when it came (the conflater fills it in)


Tick = Book | Trade | Index


def parse_ticks(frame: str | bytes) -> list[Tick] | Skipped:
    """A `bookTicker`, `aggTrade` or `markPriceUpdate` frame (raw or `{"stream","data"}`;
    an array of marks too) as ticks; anything else is `Skipped`."""
    try:
        data = json.loads(frame, parse_float=Decimal)
        if isinstance(data, Mapping) and "data" in data and "stream" in data:
            data = data["data"]
        if isinstance(data, Mapping) and "result" in data and "id" in data:
            return Skipped("subscription reply", False)
        items = data if isinstance(data, list) else [data]
        return [_tick(item) for item in items]
    except MALFORMED as exc:
        return Skipped(f"malformed frame: {exc}"[:200], True)


def _symbol(item: Mapping[str, Any]) -> str:
    symbol = item["s"]
    if not isinstance(symbol, str) or not SYMBOL.fullmatch(symbol):
        raise ValueError("not a symbol name")
    return symbol


def _positive(item: Mapping[str, Any], key: str) -> Decimal:
    value = parse_decimal(item[key], key)
    if value <= 0:
        raise ValueError(f"{key} is not positive")
    return value


def _tick(item: Any) -> Tick:
    if not isinstance(item, Mapping):
        raise TypeError("not a JSON object")
    kind = item.get("e")
    if kind == "bookTicker":
        at = parse_int(item.get("E", item.get("T")), "E")
        return Book(_symbol(item), _positive(item, "b"), _positive(item, "a"), at)
    if kind == "aggTrade":
        return Trade(_symbol(item), _positive(item, "p"), parse_int(item["E"], "E"))
    if kind == "markPriceUpdate":
        rate = item.get("r")
        return Index(
            _symbol(item),
            _positive(item, "i"),
            parse_decimal(rate, "r") if rate not in (None, "") else None,
            parse_int(item.get("T", 0), "T"),
            parse_int(item["E"], "E"),
        )
    raise ValueError(f"not a book, trade or mark frame: {str(kind)[:40]!r}")


class Conflater:
    """Per symbol: the newest trade and index, and a quote on a book update once
    `every_ms` (of the book's own time) has passed since the last one sent."""

    def __init__(self, every_ms: int = CONFLATE_MS) -> None:
        self.every_ms = every_ms
        self._trades: dict[str, Decimal] = {}
        self._indexes: dict[str, Index] = {}
        self._books: dict[str, Book] = {}  # the newest book, sent or not
        self._sent: dict[str, int] = {}
        self.dropped = 0  # book updates that came within `every_ms` of the last one sent

    def add(self, tick: Tick) -> QuoteUpdated | None:
        if isinstance(tick, Trade):
            self._trades[tick.symbol] = tick.price
            return None
        if isinstance(tick, Index):
            book = self._books.get(tick.symbol)
            anchor = None if book is None else (book.bid + book.ask) / 2
            self._indexes[tick.symbol] = replace(tick, anchor=anchor)
            return None
        self._books[tick.symbol] = tick
        sent = self._sent.get(tick.symbol)
        if sent is not None and tick.at - sent < self.every_ms:
            self.dropped += 1
            return None
        self._sent[tick.symbol] = tick.at
        index = self._indexes.get(tick.symbol)
        return QuoteUpdated(
            tick.symbol,
            tick.bid,
            tick.ask,
            self._trades.get(tick.symbol),
            None if index is None else index.index,
            0 if index is None else index.at,
            None if index is None else index.anchor,
            None if index is None else index.funding_rate,
            0 if index is None else index.next_funding,
            tick.at,
        )

    def keep(self, symbols: frozenset[str]) -> None:
        """Forget the symbols no longer followed."""
        tables: tuple[dict[str, Any], ...] = (self._trades, self._indexes, self._books, self._sent)
        for table in tables:
            for symbol in [s for s in table if s not in symbols]:
                del table[symbol]


async def tick(streams: BinanceStreams, text: str, stream: str, received: int) -> None:
    """A book, trade or mark frame into the conflater; a quote it lets through, on to the
    sink (its raw frame is not kept: a quote is journaled in its compact form)."""
    ticks = parse_ticks(text)
    if isinstance(ticks, Skipped):
        streams._skip(ticks, stream)
        return
    for one in ticks:
        if one.symbol not in streams.followed:
            continue  # a frame for a symbol just unsubscribed
        quote = streams.quotes.add(one)
        if quote is not None and not streams._from_the_future(quote, stream, received):
            await streams.sink(quote, None, received)


async def follow_book(streams: BinanceStreams) -> None:
    """`bookTicker` of the held symbols on `/public`, until cancelled. A socket that fails is
    reopened with the streams' backoff; no snapshot is needed (nothing of the account rides
    on it), and while it is down the book goes stale and gives no estimate."""
    attempt = 0
    while True:
        try:
            async with await streams._connect(f"{streams.ws_url}/public/ws") as ws:
                attempt = 0
                reason = await _serve_book(streams, ws)
        except asyncio.CancelledError:
            raise
        except (OSError, WebSocketException, TimeoutError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
        streams.counters.reconnects["public"] += 1
        log.warning("public stream (the book) closed: %s; reopening", reason[:200])
        await asyncio.sleep(streams._backoff(attempt))
        attempt += 1


async def _serve_book(streams: BinanceStreams, ws: ClientConnection) -> str:
    subscriber = asyncio.create_task(_keep_subscribed(streams, ws))
    try:
        while True:
            if subscriber.done():
                return f"subscribing failed: {subscriber.exception()}"
            text = await streams._next_text(ws, 0.5)
            if text is not None:
                await tick(streams, text, "public", streams.clock.now_ms())
    finally:
        subscriber.cancel()
        await asyncio.wait([subscriber])


async def _keep_subscribed(streams: BinanceStreams, ws: ClientConnection) -> None:
    subscribed: set[str] = set()
    while True:
        streams.book_changed.clear()
        wanted = set(streams.followed)
        await streams.resubscribe(ws, subscribed, wanted, {}, streams.channels("public"))
        await streams.book_changed.wait()
