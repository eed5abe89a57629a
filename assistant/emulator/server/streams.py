"""Websockets: user data on /private, mark prices on /market, silent legacy routes.

Frames are Binance's: raw event objects on `/ws`-style routes, `{"stream", "data"}` on
`/stream` routes. Nothing is buffered for a socket that is not attached: events that happen
while no socket listens are lost, as on Binance.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from assistant.emulator.exchange.modes.index import stream_events as index_events

EIGHT = Decimal("0.00000001")

if TYPE_CHECKING:
    from assistant.emulator.server.app import Emulator


@dataclass(eq=False)
class Socket:
    ws: web.WebSocketResponse
    request: web.Request
    kind: str  # "user" | "market"
    wrapped: bool
    silent: bool  # a legacy route: accepted, acknowledged, never delivers
    opened_at: float = field(default_factory=time.monotonic)
    listen_key: str | None = None
    allow: frozenset[str] | None = None  # `events=` allow list on /private/ws
    streams: set[str] = field(default_factory=set)

    async def send(self, payload: Any, stream: str) -> bool:
        if self.silent or self.ws.closed:
            return False
        body = {"stream": stream, "data": payload} if self.wrapped else payload
        try:
            await self.ws.send_str(json.dumps(body, separators=(",", ":")))
        except (ConnectionError, RuntimeError):
            return False
        return True

    def abort(self) -> None:
        """Drop the connection without a close frame, as a network failure would."""
        transport = self.request.transport
        if transport is not None:
            transport.abort()


def route_shape(path: str, legacy_delivers: bool) -> tuple[str, bool, bool, str]:
    """(kind, wrapped, silent, rest of the path) for a websocket path."""
    for prefix, kind in (("/private/", "user"), ("/market/", "market"), ("/public/", "market")):
        if path.startswith(prefix):
            rest = path[len(prefix) :]
            silent = prefix == "/public/"  # mark prices are not served on /public
            return kind, rest.startswith("stream"), silent, rest
    rest = path.lstrip("/")
    return "legacy", rest.startswith("stream"), not legacy_delivers, rest


def mark_event(symbol: str, mark: Decimal, funding_rate: str, now: int) -> dict[str, Any]:
    price = format(mark.quantize(EIGHT), "f")
    return {
        "e": "markPriceUpdate",
        "E": now,
        "s": symbol,
        "p": price,
        "ap": price,
        "P": price,
        "i": price,
        "r": funding_rate,
        "T": now - now % 28_800_000 + 28_800_000,
    }


async def handle(emu: Emulator, request: web.Request) -> web.StreamResponse:
    ws = web.WebSocketResponse(heartbeat=emu.scenario.settings.ping_interval, autoping=True)
    await ws.prepare(request)
    kind, wrapped, silent, rest = route_shape(
        request.path, emu.scenario.settings.legacy_ws_delivers
    )
    sock = Socket(ws, request, "market", wrapped, silent)
    key = request.query.get("listenKey")
    if kind == "user" or (
        kind == "legacy" and rest.startswith("ws/") and rest[3:] in emu.listen_keys
    ):
        sock.kind = "user"
        key = key or (rest.split("/", 1)[1] if "/" in rest else None)
        if not wrapped:
            if key is None or key not in emu.listen_keys:
                await ws.close(code=1008, message=b"invalid listenKey")
                return ws
            sock.listen_key = key
        events = request.query.get("events")
        sock.allow = frozenset(events.split("/")) if events else None
    else:
        names = request.query.get("streams", "") if wrapped else rest.removeprefix("ws").strip("/")
        sock.streams = {n.lower() for n in names.split("/") if n}
    emu.sockets.add(sock)
    try:
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                await _on_frame(emu, sock, message.data)
            elif message.type == WSMsgType.ERROR:
                break
    finally:
        emu.sockets.discard(sock)
    return ws


async def _on_frame(emu: Emulator, sock: Socket, text: str) -> None:
    try:
        frame = json.loads(text)
        method, ident = frame["method"], frame.get("id")
        params = frame.get("params", [])
        if not isinstance(params, list):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        await sock.ws.send_str(
            json.dumps({"error": {"code": 3, "msg": "Invalid JSON"}, "id": None})
        )
        return
    if method == "SUBSCRIBE":
        for name in params:
            if sock.kind == "user" or name in emu.listen_keys:
                sock.kind, sock.listen_key = "user", name
            else:
                sock.streams.add(str(name).lower())
        reply: dict[str, Any] = {"result": None, "id": ident}
    elif method == "UNSUBSCRIBE":
        sock.streams.difference_update(str(n).lower() for n in params)
        reply = {"result": None, "id": ident}
    elif method == "LIST_SUBSCRIPTIONS":
        reply = {"result": sorted(sock.streams), "id": ident}
    else:
        reply = {"error": {"code": 1, "msg": f"Unknown method {method}"}, "id": ident}
    await sock.ws.send_str(json.dumps(reply))


async def publish_user(emu: Emulator, event: dict[str, Any]) -> None:
    for sock in list(emu.sockets):
        if sock.kind != "user" or sock.listen_key is None or emu.is_stalled("user"):
            continue
        if sock.allow is not None and event["e"] not in sock.allow:
            continue
        await sock.send(event, sock.listen_key)


async def push_raw(emu: Emulator, kind: str, frame: Any) -> int:
    """One frame exactly as given (future-dated, malformed, hostile) on every open socket of
    that stream, wrapped as each socket expects; the number of sockets it reached."""
    sent = 0
    for sock in list(emu.sockets):
        if sock.kind != kind or sock.silent:
            continue
        if kind == "user" and sock.listen_key is None:
            continue
        name = sock.listen_key if kind == "user" else next(iter(sock.streams), "")
        if kind == "market" and not sock.streams:
            continue
        sent += await sock.send(frame, name or "")
    return sent


async def publish_marks(emu: Emulator, marks: dict[str, Decimal], now: int) -> int:
    """Send the marks to every market subscriber; return the number of frames sent."""
    if emu.is_stalled("market"):
        return 0
    rate = str(emu.scenario.settings.funding_rate)
    sent = 0
    events: dict[str, dict[str, Any]] | None = None
    for sock in list(emu.sockets):
        if sock.kind != "market" or sock.silent or not sock.streams:
            continue
        if events is None:
            events = {s: mark_event(s, p, rate, now) for s, p in marks.items()}
        for name in sock.streams:
            if name.startswith("!markprice@arr"):
                sent += await sock.send(list(events.values()), name)
                continue
            symbol, _, channel = name.partition("@")
            event = events.get(symbol.upper())
            if event is not None and channel.startswith("markprice"):
                sent += await sock.send(event, name)
    return sent


async def publish_asset_index(emu: Emulator, now: int) -> int:
    """`!assetIndex@arr` (every index symbol, a list) and `<symbol>@assetIndex` (one, e.g.
    `btcusd@assetIndex`) on the market routes, with every published mark set."""
    if emu.is_stalled("market"):
        return 0
    sent = 0
    events: dict[str, dict[str, Any]] | None = None
    for sock in list(emu.sockets):
        if sock.kind != "market" or sock.silent or not sock.streams:
            continue
        for name in sock.streams:
            symbol, _, channel = name.partition("@")
            every = name.startswith("!assetindex@arr")
            if not every and not channel.startswith("assetindex"):
                continue
            if events is None:
                events = index_events(emu.engine, now)
            if every:
                sent += await sock.send(list(events.values()), name)
            elif symbol.upper() in events:
                sent += await sock.send(events[symbol.upper()], name)
    return sent
