"""The emulator process: one aiohttp app on one loopback port serving REST, websockets and
the control API, and a scenario clock that publishes marks."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aiohttp import web

from assistant.emulator.exchange import algo, market
from assistant.emulator.exchange.engine import Engine, Rejected
from assistant.emulator.exchange.scenario import Scenario
from assistant.emulator.server import control, rest, streams
from assistant.emulator.server.protocol import Fault, RateLimiter

EIGHT = Decimal("0.00000001")


@dataclass
class ListenKey:
    api_key: str
    expires_at: float  # time.monotonic()


class Emulator:
    """Start with `await Emulator(scenario).start()`; `urls` then says where it listens."""

    def __init__(self, scenario: Scenario, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self._runner: web.AppRunner | None = None
        self._clock_task: asyncio.Task[None] | None = None
        self._keeper_task: asyncio.Task[None] | None = None
        self.sockets: set[streams.Socket] = set()
        self.requests: deque[dict[str, Any]] = deque(maxlen=200_000)
        self.frames_sent = 0
        self.held: set[asyncio.Task[web.Response]] = set()  # requests of `"execute": "late"`
        self._load(scenario)

    # ---- state ---------------------------------------------------------------------------

    def _load(self, scenario: Scenario) -> None:
        self.scenario = scenario
        # Seconds the emulator's clock runs ahead of this host's (negative: behind). Every
        # timestamp it checks or stamps is on this clock; a test may move it while it runs.
        self.clock_offset = scenario.settings.clock_offset
        self.engine: Engine = self.build_engine(scenario, self.now_ms())
        s = scenario.settings
        self.limiter = RateLimiter(s.weight_limit, s.spot_weight_limit, s.ban_seconds)
        self.faults: list[Fault] = []
        self.listen_keys: dict[str, ListenKey] = {}
        self.pinned: dict[str, Decimal] = {}  # marks set through the control API
        self.stalled_until: dict[str, float] = {}
        self._t0 = time.monotonic()
        self._tick = 0

    @staticmethod
    def build_engine(scenario: Scenario, now: int) -> Engine:
        """The account a scenario starts; InputError when its algo orders are refused."""
        engine = Engine(scenario, now)
        algo.seed(engine, now)
        return engine

    async def reset(self, scenario: Scenario) -> None:
        await self._drop_held()
        self.disconnect("all")
        self._load(scenario)
        self.requests.clear()
        if self._clock_task is not None:
            self._clock_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._clock_task
            self._clock_task = asyncio.create_task(self._run_clock())

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def clock(self) -> float:
        return time.time() + self.clock_offset

    def scenario_time(self) -> float:
        return (time.monotonic() - self._t0) * self.scenario.settings.speed

    def is_stalled(self, kind: str) -> bool:
        now = time.monotonic()
        return self.stalled_until.get(kind, 0) > now or self.stalled_until.get("all", 0) > now

    # ---- lifecycle -----------------------------------------------------------------------

    @property
    def urls(self) -> dict[str, str]:
        base = f"{self.host}:{self.port}"
        return {
            "rest": f"http://{base}",
            "ws": f"ws://{base}",
            "control": f"http://{base}/_emulator",
        }

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 20)
        control.add_routes(app, self)
        for prefix in ("/private", "/market", "/public", ""):
            for tail in ("/ws", "/ws/{rest:.*}", "/stream"):
                app.router.add_get(prefix + tail, self._ws)
        app.router.add_route("*", "/{tail:(fapi|sapi|api|papi)/.*}", self._rest)
        return app

    async def start(self) -> Emulator:
        self._runner = web.AppRunner(self.app(), handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server)  # a TCPSite's, from loop.create_server
        self.port = server.sockets[0].getsockname()[1]
        self._clock_task = asyncio.create_task(self._run_clock())
        self._keeper_task = asyncio.create_task(self._run_housekeeping())
        return self

    async def stop(self) -> None:
        await self._drop_held()
        for task in (self._clock_task, self._keeper_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for sock in list(self.sockets):
            await sock.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def hold(self, work: Coroutine[Any, Any, web.Response]) -> web.Response:
        """`work`'s answer; `work` runs to its end even if the client goes away meanwhile
        (aiohttp then cancels this handler, not the task)."""
        task = asyncio.create_task(work)
        self.held.add(task)
        task.add_done_callback(self.held.discard)
        return await asyncio.shield(task)

    async def _drop_held(self) -> None:
        """Requests still held are never carried out (a reset, or the end)."""
        for task in list(self.held):
            task.cancel()
        await asyncio.gather(*self.held, return_exceptions=True)

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        return await rest.dispatch(self, request)

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        return await streams.handle(self, request)

    # ---- the scenario clock --------------------------------------------------------------

    async def _run_clock(self) -> None:
        settings = self.scenario.settings
        loop = asyncio.get_running_loop()
        wall_interval = settings.mark_interval / settings.speed
        start = loop.time()
        while True:
            t = self._tick * settings.mark_interval
            await self.publish(self.marks_at(t))
            if (
                settings.funding_interval
                and self._tick
                and t % settings.funding_interval < settings.mark_interval
            ):
                market.pay_funding(self.engine, self.now_ms())
                await self.flush_events()
            self._tick += 1
            delay = start + self._tick * wall_interval - loop.time()
            await asyncio.sleep(max(0.0, delay))

    def marks_at(self, t: float) -> dict[str, Decimal]:
        marks = {s: p.quantize(EIGHT) for s, p in self.scenario.marks_at(t).items()}
        marks.update(self.pinned)
        return marks

    async def publish(self, marks: dict[str, Decimal]) -> None:
        now = self.now_ms()
        market.publish_marks(self.engine, marks, now)
        self.frames_sent += await streams.publish_marks(self, marks, now)
        self.frames_sent += await streams.publish_asset_index(self, now)
        await self.flush_events()

    async def flush_events(self) -> None:
        events, self.engine.events = self.engine.events, []
        now = self.now_ms()
        for event in events:
            event = {"e": event["e"], "E": now, **{k: v for k, v in event.items() if k != "e"}}
            await streams.publish_user(self, event)

    async def _run_housekeeping(self) -> None:
        """Listen-key expiry and the connection age cap, checked four times a second."""
        while True:
            await self._housekeeping()
            await asyncio.sleep(0.25)

    async def _housekeeping(self) -> None:
        now = time.monotonic()
        for key, entry in list(self.listen_keys.items()):
            if entry.expires_at <= now:
                await self.expire_listen_key(key)
        age = self.scenario.settings.max_connection_age
        for sock in list(self.sockets):
            if now - sock.opened_at >= age:
                await sock.ws.close(code=1000, message=b"connection age limit")

    # ---- listen keys ---------------------------------------------------------------------

    def listen_key_request(self, method: str, params: dict[str, str]) -> dict[str, Any]:
        ttl = self.scenario.settings.listen_key_ttl
        now = time.monotonic()
        mine = [
            k
            for k, v in self.listen_keys.items()
            if v.api_key == self.scenario.api_key and v.expires_at > now
        ]
        if method == "POST":
            key = mine[0] if mine else rest.new_listen_key()
            self.listen_keys[key] = ListenKey(self.scenario.api_key, now + ttl)
            return {"listenKey": key}
        if not mine:
            raise Rejected(-1125, "This listenKey does not exist.")
        if method == "PUT":
            self.listen_keys[mine[0]].expires_at = now + ttl
            return {"listenKey": mine[0]}
        asyncio.get_running_loop().create_task(self.expire_listen_key(mine[0]))
        return {}

    async def expire_listen_key(self, key: str) -> None:
        self.listen_keys.pop(key, None)
        event = {"e": "listenKeyExpired", "E": str(self.now_ms()), "listenKey": key}
        for sock in list(self.sockets):
            if sock.kind == "user" and sock.listen_key == key:
                await sock.send(event, key)
                await sock.ws.close(code=1000, message=b"listenKey expired")

    # ---- control helpers -----------------------------------------------------------------

    def disconnect(self, which: str) -> int:
        dropped = 0
        for sock in list(self.sockets):
            if which == "all" or sock.kind == which:
                sock.abort()
                self.sockets.discard(sock)
                dropped += 1
        return dropped

    def take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, path):
                fault.count -= 1
                return fault
        return None

    @staticmethod
    def fault_response(fault: Fault, headers: dict[str, str]) -> web.Response:
        headers = dict(headers)
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        if fault.code is None:
            return web.Response(text=fault.msg, status=fault.status, headers=headers)
        return web.json_response(
            {"code": fault.code, "msg": fault.msg}, status=fault.status, headers=headers
        )
