"""An optional Prometheus endpoint on 127.0.0.1: margin ratio, distance to liquidation, stream
lag, reconnects, actions and alerts. Off unless `[metrics] port` is set."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from assistant.core.actions import SendAlert
from assistant.core.events import ActionSettled, Event, MarkPriceUpdated, StreamDisconnected
from assistant.core.margin.liquidation import distance_lower_bound
from assistant.core.mirror import MirrorState


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.margin_ratio = Gauge(
            "assistant_margin_ratio", "Cross margin ratio (1 = liquidation)", registry=r
        )
        self.margin_balance = Gauge(
            "assistant_margin_balance_usdt", "Cross margin balance", registry=r
        )
        self.distance = Gauge(
            "assistant_distance_lower_bound",
            "Lower bound on the price move (fraction) that liquidates anything",
            registry=r,
        )
        self.lag = Gauge(
            "assistant_stream_lag_seconds", "Now minus the newest mark event's time", registry=r
        )
        self.ready = Gauge(
            "assistant_ready", "1 when the account is mirrored and fresh", registry=r
        )
        self.events = Counter("assistant_events", "Events applied", ["kind"], registry=r)
        self.reconnects = Counter(
            "assistant_reconnects", "Stream reconnects", ["stream"], registry=r
        )
        self.actions = Counter(
            "assistant_actions", "Settled actions", ["kind", "outcome"], registry=r
        )
        self.alerts = Counter("assistant_alerts", "Alerts sent", ["severity"], registry=r)
        self._runner: web.AppRunner | None = None

    def observe(self, state: MirrorState, event: Event) -> None:
        self.events.labels(type(event).__name__).inc()
        if isinstance(event, MarkPriceUpdated):
            self.lag.set(max(0.0, time.time() - event.event_at / 1000))
        elif isinstance(event, StreamDisconnected):
            self.reconnects.labels(event.stream).inc()
        elif isinstance(event, ActionSettled):
            self.actions.labels(event.kind, event.outcome).inc()
        book = state.book
        self.ready.set(1 if state.ready else 0)
        if book is not None:
            ratio = book.margin_ratio
            self.margin_ratio.set(float(ratio) if ratio is not None else float("inf"))
            self.margin_balance.set(float(book.margin_balance))
            bound = distance_lower_bound(book)
            self.distance.set(float(bound) if bound is not None else float("inf"))

    def alert(self, alert: SendAlert) -> None:
        self.alerts.labels(alert.severity).inc()

    async def serve(self, host: str, port: int) -> int:
        async def scrape(request: web.Request) -> web.Response:
            body = generate_latest(self.registry)
            return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

        app = web.Application()
        app.router.add_get("/metrics", scrape)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert isinstance(server, asyncio.Server)
        return int(server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
