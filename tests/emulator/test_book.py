"""The emulator's model of the book between marks: the path still sets every mark, and the
index (`i`), a one-tick book (`bookTicker`, on /public only) and the last trade (`aggTrade`, on
/market) run `book_lead` scenario seconds ahead of it."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from assistant.emulator.server.app import Emulator
from tests.emulator.wsclient import next_frame, open_ws, until

D = Decimal
FALL: dict[str, Any] = {  # BTC falls 100 a scenario second, ten scenario seconds a wall second
    "symbols": {"BTCUSDT": {"mark": "60000"}},
    "path": [{"t": 0, "BTCUSDT": "60000"}, {"t": 100, "BTCUSDT": "50000"}],
    "settings": {"speed": 10},
}


@pytest.mark.scenario(FALL)
async def test_the_index_book_and_trades_lead_the_marks(emulator: Emulator) -> None:
    base = emulator.urls["ws"]
    async with (
        await open_ws(f"{base}/market/ws/btcusdt@markPrice@1s/btcusdt@aggTrade") as market,
        await open_ws(f"{base}/public/ws") as public,
    ):
        await public.send(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@bookTicker"]}))
        mark = await until(market, lambda f: f.get("e") == "markPriceUpdate" and f["E"] > 0)
        assert D(mark["p"]) - D(mark["i"]) == 100  # the index, one scenario second ahead
        trade = await until(market, lambda f: f.get("e") == "aggTrade")
        book = await until(public, lambda f: f.get("e") == "bookTicker")
    assert D(book["a"]) - D(book["b"]) == D("0.1")  # one tick wide
    assert D(trade["p"]) in (D(book["a"]), D(book["b"])) or abs(D(trade["p"]) - D(book["b"])) < 20
    assert D(book["b"]) < D(mark["p"])  # the book is below the falling mark: ahead of it
    assert set(book) >= {"e", "u", "s", "b", "B", "a", "A", "T", "E"}
    assert set(trade) >= {"e", "E", "s", "a", "p", "q", "f", "l", "T", "m"}


@pytest.mark.scenario(FALL)
async def test_the_book_is_served_on_public_only_and_marks_never_there(
    emulator: Emulator,
) -> None:
    base = emulator.urls["ws"]
    async with (
        await open_ws(f"{base}/market/ws/btcusdt@bookTicker") as wrong,
        await open_ws(f"{base}/public/ws/btcusdt@markPrice@1s/btcusdt@aggTrade") as neither,
        await open_ws(f"{base}/public/ws/btcusdt@bookTicker") as right,
    ):
        assert (await next_frame(right))["e"] == "bookTicker"
        for ws in (wrong, neither):
            with pytest.raises(TimeoutError):
                await next_frame(ws, timeout=0.4)


@pytest.mark.scenario({**FALL, "settings": {"speed": 10, "book_lead": 0}})
async def test_without_a_lead_the_index_is_the_mark(emulator: Emulator) -> None:
    async with await open_ws(f"{emulator.urls['ws']}/market/ws/btcusdt@markPrice@1s") as ws:
        mark = await until(ws, lambda f: f.get("e") == "markPriceUpdate")
    assert mark["i"] == mark["p"]
