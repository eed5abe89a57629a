"""Events and mirror state to text and back, exactly.

JSON for every event and the state: Decimals as strings, enums by value, (symbol, side) keys
as "SYMBOL|SIDE". A journal written by one version is read by the same dataclasses, so a
replay rebuilds the same state.

A journal row is (kind, text) beside its `received_at` (`encode_row` / `decode_row`):

- A mark, the bulk of the journal (50 symbols at 1 Hz: 4.3 million rows a day), is kind `m`
  and the text `<event_at - received_at> <price> <symbol>`, e.g. `-12 97012.30000000 BTCUSDT`:
  the price exactly as `str(Decimal)` gives it (trailing zeros kept), the symbol last so any
  text fits. Its raw frame is not kept (replay reads events; the frame held nothing more the
  mirror uses, and an `!markPrice@arr` frame was stored once per symbol in it).
- Every other event is kind = its class name and the text its JSON (`encode_event`); these
  rows are rare and keep their raw frame.
- Rows written before the compact form (kind `MarkPriceUpdated`, JSON text) still decode.

- A quote (`QuoteUpdated`: the book, the last trade and the newest index, already conflated to
  at most two a second per symbol) is kind `q` and the text `<event_at - received_at> <bid>
  <ask> <last> <index> <event_at - index_at> <anchor> <funding rate> <next funding> <symbol>`,
  `-` for a value not known yet (about 90 bytes). Quote rows live in a table of their own
  (`book`: the journal's columns but the raw frame), kept only `[store] retention_book`; both
  tables take their ids from one sequence (`store/journal.py`), so a replay merges them by id.

Room for one more compact kind, a one-letter code with its own text form here:

- `i`, an asset's index price, written only when it changes (`<asset> <index>`); a replay
  carries the last value forward, so the prune keeps the newest row of each asset, as it
  keeps the newest of each kind in `retention.CONTEXT` (see `store/retention.py`).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any

from assistant.core import events
from assistant.core.model import Bracket, BracketTable, PositionSide

EVENT_TYPES: dict[str, type] = {cls.__name__: cls for cls in typing.get_args(events.Event)}


def to_plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, BracketTable):
        return [to_plain(b) for b in value.brackets]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init
        }
    if isinstance(value, Mapping):
        return {_key(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [to_plain(v) for v in value]
    if isinstance(value, frozenset):
        return sorted(to_plain(v) for v in value)
    return value


def _key(key: Any) -> str:
    if isinstance(key, tuple):
        return "|".join(str(to_plain(part)) for part in key)
    return str(to_plain(key))


MARK = "m"  # the kind of a compact mark row
QUOTE = "q"  # the kind of a compact quote row (in the `book` table)
COMPACT = frozenset({MARK, QUOTE})  # kinds whose raw frame is not kept
BOOK_KINDS = frozenset({QUOTE})  # kinds kept in the `book` table, under `retention_book`


def encode_row(event: events.Event, received_at: int) -> tuple[str, str]:
    """A journal row's (kind, text); `received_at` is stored beside it."""
    if type(event) is events.MarkPriceUpdated:  # the hot path: one per mark frame
        return MARK, f"{event.event_at - received_at} {event.price} {event.symbol}"
    if type(event) is events.QuoteUpdated:
        return QUOTE, _quote_text(event, received_at)
    return type(event).__name__, encode_event(event)


def decode_row(kind: str, text: str, received_at: int) -> events.Event:
    """The event of a journal row, in this version's form or an older one's."""
    if kind == MARK:
        delta, price, symbol = text.split(" ", 2)
        return events.MarkPriceUpdated(symbol, Decimal(price), received_at + int(delta))
    if kind == QUOTE:
        return _quote(text, received_at)
    return decode_event(text)


def _quote_text(e: events.QuoteUpdated, received_at: int) -> str:
    def known(value: object) -> str:
        return "-" if value is None else str(value)

    return " ".join(
        (
            str(e.event_at - received_at),
            str(e.bid),
            str(e.ask),
            known(e.last),
            known(e.index),
            str(e.event_at - e.index_at) if e.index_at else "-",
            known(e.anchor),
            known(e.funding_rate),
            str(e.next_funding) if e.next_funding else "-",
            e.symbol,
        )
    )


def _quote(text: str, received_at: int) -> events.QuoteUpdated:
    delta, bid, ask, last, index, index_age, anchor, rate, funding, symbol = text.split(" ", 9)
    at = received_at + int(delta)
    return events.QuoteUpdated(
        symbol,
        Decimal(bid),
        Decimal(ask),
        None if last == "-" else Decimal(last),
        None if index == "-" else Decimal(index),
        0 if index_age == "-" else at - int(index_age),
        None if anchor == "-" else Decimal(anchor),
        None if rate == "-" else Decimal(rate),
        0 if funding == "-" else int(funding),
        at,
    )


def encode_event(event: events.Event) -> str:
    if type(event) is events.MarkPriceUpdated:  # the hot path: one per mark frame
        return (
            f'{{"type":"MarkPriceUpdated","data":{{"symbol":{json.dumps(event.symbol)},'
            f'"price":"{event.price}","event_at":{event.event_at}}}}}'
        )
    plain = {"type": type(event).__name__, "data": to_plain(event)}
    return json.dumps(plain, separators=(",", ":"))


MARK_HEAD = '{"type":"MarkPriceUpdated","data":{"symbol":'


def decode_event(text: str) -> events.Event:
    if text.startswith(MARK_HEAD):  # a mark journaled before `encode_row`'s compact form
        fields = text[len(MARK_HEAD) :].split(",")
        plain_symbol = len(fields) == 3 and not ('"' in fields[0][1:-1] or "\\" in fields[0])
        if plain_symbol and fields[1].startswith('"price":"'):
            return events.MarkPriceUpdated(
                fields[0][1:-1], Decimal(fields[1][9:-1]), int(fields[2][11:-2])
            )
    raw = json.loads(text)
    cls = EVENT_TYPES[raw["type"]]
    return typing.cast(events.Event, from_plain(cls, raw["data"]))


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_plain(hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return from_plain(options[0], value)
    if hint is Decimal:
        return Decimal(value)
    if hint is BracketTable:
        return BracketTable(tuple(from_plain(Bracket, b) for b in value))
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        hints = _hints(hint)
        return hint(**{name: from_plain(hints[name], v) for name, v in value.items()})
    if origin is frozenset:
        (item,) = typing.get_args(hint)
        return frozenset(from_plain(item, v) for v in value)
    if origin in (tuple,):
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_plain(args[0], v) for v in value)
        return tuple(from_plain(a, v) for a, v in zip(args, value, strict=True))
    if origin in (dict, Mapping):
        key_hint, value_hint = typing.get_args(hint)
        return {_unkey(key_hint, k): from_plain(value_hint, v) for k, v in value.items()}
    if hint in (int, str, bool, float):
        return hint(value)
    return value


def _unkey(hint: Any, key: str) -> Any:
    if typing.get_origin(hint) is tuple:
        symbol, side = key.split("|")
        return (symbol, PositionSide(side))
    if hint is int:
        return int(key)
    return key
