"""The book and the trades between marks: `bookTicker` on `/public`, `aggTrade` on `/market`,
from the lead model (`exchange/lead.py`), ten times a wall second while anyone subscribes
(Binance's `bookTicker` is real time; a busy book changes far more often than that). Only
sockets that subscribed a symbol's stream get it; a stall of `public` (or `market`) silences
the book (or the trades), as it silences marks.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import TYPE_CHECKING, Any

from assistant.emulator.exchange import lead

if TYPE_CHECKING:
    from assistant.emulator.server.app import Emulator

EVERY = 0.1  # wall seconds between book updates
_ids = itertools.count(1)


def _subscribers(emu: Emulator, kind: str, channel: str) -> list[tuple[Any, str, str]]:
    """(socket, stream name, SYMBOL) for each subscription to `channel` on that kind."""
    found = []
    for sock in list(emu.sockets):
        if sock.kind != kind or sock.silent or sock.ws.closed:
            continue
        for name in sock.streams:
            symbol, _, rest = name.partition("@")
            if rest == channel:
                found.append((sock, name, symbol.upper()))
    return found


async def publish(emu: Emulator) -> int:
    """One book update and one trade for every subscribed symbol; the frames sent."""
    books = [] if emu.is_stalled("public") else _subscribers(emu, "public", "bookticker")
    trades = [] if emu.is_stalled("market") else _subscribers(emu, "market", "aggtrade")
    if not books and not trades:
        return 0
    prices = lead.ahead(emu.scenario, emu.scenario_time(), emu.pinned)
    now = emu.now_ms()
    sent = 0
    for sock, name, symbol in books:
        if symbol in prices:
            bid, ask, _ = lead.top(prices[symbol], emu.scenario.symbols[symbol].tick_size)
            frame = {
                "e": "bookTicker",
                "u": next(_ids),
                "s": symbol,
                "b": str(bid),
                "B": "1.000",
                "a": str(ask),
                "A": "1.000",
                "T": now,
                "E": now,
            }
            sent += await sock.send(frame, name)
    for sock, name, symbol in trades:
        if symbol in prices:
            _, _, last = lead.top(prices[symbol], emu.scenario.symbols[symbol].tick_size)
            number = next(_ids)
            frame = {
                "e": "aggTrade",
                "E": now,
                "s": symbol,
                "a": number,
                "p": str(last),
                "q": "0.001",
                "f": number,
                "l": number,
                "T": now,
                "m": number % 2 == 0,
            }
            sent += await sock.send(frame, name)
    return sent


async def run(emu: Emulator) -> None:
    """Publish on a fixed wall-clock schedule until cancelled."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for tick in itertools.count(1):
        emu.frames_sent += await publish(emu)
        await asyncio.sleep(max(0.0, start + tick * EVERY - loop.time()))
