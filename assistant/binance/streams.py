"""Binance websockets: the user data stream and mark prices, as events.

- User data on `/private/ws?listenKey=…` with the whole listenKey lifecycle: create, keep
  alive well inside its 60 minutes, recreate on -1125 or `listenKeyExpired`, rotate the
  connection before Binance's 24-hour cut.
- Mark prices on `/market/ws` for every held symbol, subscribed and unsubscribed with
  SUBSCRIBE frames as positions open and close; on the same socket, while the account is in
  Multi-Assets mode, the asset index (`!assetIndex@arr`, every second). Of its rows only
  those of the assets the account holds or margins with, and only when they changed, go on
  (one row a second per moving asset, not forty: each is journaled).
- With `shadow` (something reads the shadow mark): the same symbols' `aggTrade` on
  `/market/ws` and `bookTicker` on `/public/ws` (Binance serves the book only there),
  subscribed and unsubscribed the same way, conflated into `QuoteUpdated` events
  (`binance/ticks.py`).
- Reconnect with jittered exponential backoff. A watchdog turns silence into events: no mark
  for a held symbol within `stale_after` seconds is `DataWentStale`, and the market socket
  is reopened.

Every frame goes to `sink(event, raw, received_at)`; a `StreamConnected` tells the service
to take a REST snapshot (the stream is open first, so nothing falls between them).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from assistant.binance.parse import Skipped, parse_market_event, parse_user_frame
from assistant.binance.rest import BinanceRest
from assistant.binance.ticks import Conflater, follow_book, tick
from assistant.core import format as fmt
from assistant.core.events import (
    AssetIndexUpdated,
    DataWentStale,
    Event,
    ListenKeyExpired,
    StreamConnected,
    StreamDisconnected,
)
from assistant.core.model import AssetRate
from assistant.core.ports import Clock
from assistant.errors import ExchangeError, Rejected

log = logging.getLogger(__name__)
Sink = Callable[[Event, str | None, int], Awaitable[None]]
ASSET_INDEX_STREAM = "!assetIndex@arr"  # served on /market, as mark prices are


@dataclass
class StreamSettings:
    keepalive_seconds: float = 30 * 60
    rotate_seconds: float = 23 * 3600
    stale_after: float = 5.0
    backoff_first: float = 0.2
    backoff_max: float = 30.0
    open_timeout: float = 10.0


@dataclass
class Counters:
    frames: int = 0
    malformed: int = 0
    skipped: int = 0
    future: int = 0  # events dated too far past the exchange's clock: refused
    reconnects: dict[str, int] = field(
        default_factory=lambda: {"user": 0, "market": 0, "public": 0}
    )


async def _stopped(task: asyncio.Task[None]) -> None:
    """Cancel a helper task and wait for it, without swallowing a cancel aimed at us
    (`suppress(CancelledError)` around the await would)."""
    task.cancel()
    await asyncio.wait([task])


class BinanceStreams:
    def __init__(
        self,
        *,
        ws_url: str,
        rest: BinanceRest,
        sink: Sink,
        clock: Clock,
        future_tolerance_ms: int = 2_000,
        settings: StreamSettings | None = None,
        shadow: bool = False,
    ) -> None:
        self.ws_url = ws_url.rstrip("/")
        self.rest = rest
        self.sink = sink
        self.clock = clock  # the exchange's time, as estimated
        self.future_tolerance_ms = future_tolerance_ms
        self.settings = settings or StreamSettings()
        self._held: frozenset[str] = frozenset()  # the symbols whose mark prices we follow
        self._index = False  # the asset index is followed (Multi-Assets mode)
        self._assets: frozenset[str] = frozenset()  # whose rates go on to the sink
        self._rates: dict[str, AssetRate] = {}  # the last rates that went on, by asset
        self.counters = Counters()
        self._ids = 0
        self._symbols_changed = asyncio.Event()
        self.shadow = shadow  # follow the book and trades too (for the shadow mark)
        self.quotes = Conflater()
        self.followed: frozenset[str] = frozenset()  # the held symbols, as Binance spells them
        self.book_changed = asyncio.Event()  # the /public socket's (un)subscriptions are due

    async def run(self) -> None:
        """Every stream until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.run_user())
            group.create_task(self.run_market())
            if self.shadow:
                group.create_task(follow_book(self))

    # ---- shared -----------------------------------------------------------------------------

    async def _connect(self, url: str) -> ClientConnection:
        return await connect(
            url, proxy=None, open_timeout=self.settings.open_timeout, max_queue=None, max_size=2**22
        )

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.settings.backoff_max, self.settings.backoff_first * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)

    async def _disconnected(self, stream: str, reason: str, attempt: int) -> int:
        self.counters.reconnects[stream] += 1
        await self.sink(
            StreamDisconnected(stream, reason[:200], self.clock.now_ms()), None, self.clock.now_ms()
        )
        await asyncio.sleep(self._backoff(attempt))
        return attempt + 1

    async def _next_text(self, ws: ClientConnection, timeout: float) -> str | None:
        """The next frame as text, or None when `timeout` passes first."""
        try:
            async with asyncio.timeout(timeout):  # not wait_for: in 3.11 it can swallow a cancel
                raw = await ws.recv()
        except TimeoutError:
            return None
        self.counters.frames += 1
        return raw if isinstance(raw, str) else raw.decode("utf-8", "replace")

    def _from_the_future(self, event: Event, stream: str, received: int) -> bool:
        """An event dated more than `future_tolerance` past the exchange's clock (as we
        estimate it) is refused, logged and counted: one such frame must not pin the mirror."""
        at = getattr(event, "event_at", None)
        if not isinstance(at, int) or at <= received + self.future_tolerance_ms:
            return False
        self.counters.future += 1
        log.warning(
            "%s stream: refused a %s dated %d ms in the future (%d so far)",
            stream,
            fmt.event(event),
            at - received,
            self.counters.future,
        )
        return True

    def _skip(self, skipped: Skipped, stream: str) -> None:
        if skipped.malformed:
            self.counters.malformed += 1
            log.warning("%s stream: skipped a frame: %s", stream, skipped.reason)
        else:
            self.counters.skipped += 1

    # ---- user data ----------------------------------------------------------------------------

    async def run_user(self) -> None:
        attempt = 0
        while True:
            try:
                key = await self.rest.listen_key()
                async with await self._connect(f"{self.ws_url}/private/ws?listenKey={key}") as ws:
                    attempt = 0
                    await self.sink(
                        StreamConnected("user", self.clock.now_ms()), None, self.clock.now_ms()
                    )
                    reason = await self._serve_user(ws)
            except asyncio.CancelledError:
                raise
            except (OSError, WebSocketException, ExchangeError, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            attempt = await self._disconnected("user", reason, attempt)

    async def _serve_user(self, ws: ClientConnection) -> str:
        opened = time.monotonic()
        keepalive = asyncio.create_task(self._keep_alive(ws))
        try:
            while True:
                left = self.settings.rotate_seconds - (time.monotonic() - opened)
                if left <= 0:
                    return "rotated before the 24-hour cut"
                text = await self._next_text(ws, left)
                if text is None:
                    continue
                received = self.clock.now_ms()
                event = parse_user_frame(text)
                if isinstance(event, Skipped):
                    self._skip(event, "user")
                    continue
                if self._from_the_future(event, "user", received):
                    continue
                await self.sink(event, text, received)
                if isinstance(event, ListenKeyExpired):
                    return "listenKey expired"
        finally:
            await _stopped(keepalive)

    async def _keep_alive(self, ws: ClientConnection) -> None:
        """PUT the listenKey well inside its hour; if Binance forgot it (-1125), reconnect."""
        while True:
            await asyncio.sleep(self.settings.keepalive_seconds)
            try:
                await self.rest.keep_alive()
            except Rejected as exc:
                log.warning("listenKey keepalive refused (%s): reconnecting", exc.code)
                await ws.close()
                return
            except ExchangeError as exc:
                log.warning("listenKey keepalive failed: %s", exc)

    # ---- mark prices ----------------------------------------------------------------------------

    async def run_market(self) -> None:
        attempt = 0
        while True:
            try:
                async with await self._connect(f"{self.ws_url}/market/ws") as ws:
                    attempt = 0
                    await self.sink(
                        StreamConnected("market", self.clock.now_ms()), None, self.clock.now_ms()
                    )
                    reason = await self._serve_market(ws)
            except asyncio.CancelledError:
                raise
            except (OSError, WebSocketException, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            attempt = await self._disconnected("market", reason, attempt)

    def follow(self, symbols: frozenset[str]) -> None:
        """The held symbols changed: the market (and book) streams (un)subscribe at once."""
        self._held = symbols
        self.followed = frozenset(s.upper() for s in symbols)
        self.quotes.keep(self.followed)
        self._symbols_changed.set()
        self.book_changed.set()

    def follow_asset_index(self, on: bool, assets: frozenset[str] = frozenset()) -> None:
        """Multi-Assets mode on or off, and the assets whose rates matter (wallets that are
        not zero, the margin assets of held positions): subscribed or unsubscribed at once."""
        self._assets = assets if on else frozenset()
        # An asset that stops mattering is forgotten: when it matters again, its rates go on.
        self._rates = {a: r for a, r in self._rates.items() if a in self._assets}
        if on != self._index:
            self._index = on
            self._rates = {}
            self._symbols_changed.set()

    def _index_rows(self, update: AssetIndexUpdated) -> AssetIndexUpdated | None:
        """The rows of assets that matter whose rates changed since they last went on."""
        fresh = tuple(
            r for r in update.rates if r.asset in self._assets and self._rates.get(r.asset) != r
        )
        if not fresh or not self._index:
            return None
        self._rates.update((r.asset, r) for r in fresh)
        return AssetIndexUpdated(fresh, update.event_at)

    async def _serve_market(self, ws: ClientConnection) -> str:
        subscribed: set[str] = set()
        last_seen: dict[str, float] = {}
        subscriber = asyncio.create_task(self._keep_subscribed(ws, subscribed, last_seen))
        try:
            while True:
                stale = [
                    s
                    for s in subscribed
                    if time.monotonic() - last_seen[s] > self.settings.stale_after
                ]
                if stale:
                    at = self.clock.now_ms()
                    for symbol in sorted(stale):
                        since = at - int((time.monotonic() - last_seen[symbol]) * 1000)
                        await self.sink(DataWentStale(symbol, since, at), None, at)
                    return f"no mark price for {', '.join(sorted(stale))}"
                if subscriber.done():
                    return f"subscribing failed: {subscriber.exception()}"
                text = await self._next_text(ws, 0.5)
                if text is None:
                    continue
                received = self.clock.now_ms()
                if self.shadow and '"aggTrade"' in text:
                    await tick(self, text, "market", received)
                    continue
                updates = parse_market_event(text)
                if isinstance(updates, Skipped):
                    self._skip(updates, "market")
                    continue
                if isinstance(updates, AssetIndexUpdated):
                    rows = self._index_rows(updates)
                    if rows is not None and not self._from_the_future(rows, "market", received):
                        await self.sink(rows, None, received)  # the event holds all it used
                    continue
                for update in updates:
                    if self._from_the_future(update, "market", received):
                        continue
                    last_seen[update.symbol] = time.monotonic()
                    await self.sink(update, text, received)
                if self.shadow and updates:
                    await tick(self, text, "market", received)  # the index the marks carry
        finally:
            await _stopped(subscriber)

    async def _keep_subscribed(
        self, ws: ClientConnection, subscribed: set[str], last_seen: dict[str, float]
    ) -> None:
        index = False  # this socket's asset index subscription
        self._rates = {}  # a new socket: every row that matters goes on once more
        while True:
            self._symbols_changed.clear()
            wanted = {s.upper() for s in self._held}
            await self.resubscribe(ws, subscribed, wanted, last_seen, self.channels("market"))
            if self._index != index:
                index = self._index
                await self._send(ws, "SUBSCRIBE" if index else "UNSUBSCRIBE", [ASSET_INDEX_STREAM])
            await self._symbols_changed.wait()

    async def _send(self, ws: ClientConnection, method: str, params: list[str]) -> None:
        self._ids += 1
        await ws.send(json.dumps({"method": method, "params": params, "id": self._ids}))

    def channels(self, route: str) -> tuple[str, ...]:
        """What each held symbol is subscribed to on a route (`public`: the book)."""
        if route == "public":
            return ("bookTicker",)
        return ("markPrice@1s", "aggTrade") if self.shadow else ("markPrice@1s",)

    async def resubscribe(
        self,
        ws: ClientConnection,
        subscribed: set[str],
        wanted: set[str],
        last_seen: dict[str, float],
        channels: tuple[str, ...],
    ) -> None:
        added, removed = wanted - subscribed, subscribed - wanted
        for method, symbols in (("SUBSCRIBE", added), ("UNSUBSCRIBE", removed)):
            if symbols:
                params = [f"{s.lower()}@{c}" for s in sorted(symbols) for c in channels]
                await self._send(ws, method, params)
        for symbol in added:
            last_seen[symbol] = time.monotonic()  # the clock for staleness starts now
        subscribed |= added
        subscribed -= removed
        for symbol in removed:
            last_seen.pop(symbol, None)
