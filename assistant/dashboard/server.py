"""The dashboard's HTTP side: the page, its files, and three read-only answers.

    GET /               the page (static HTML; our script, uPlot, no inline script)
    GET /static/NAME    the page's files, shipped inside the package
    GET /api/status     `assistant status --json` of the running service's own state
    GET /api/history    the health series of the last `hours` (default 6), the rules' alert
                        tiers and the latest alerts and actions (from the store)
    GET /api/events     text/event-stream: `health` (at most once a second), `alert` and
                        `action` as they happen

Nothing here can change the service: it reads the loop's state and the store's rows. `serve`
is a supervised optional job: a port it cannot take, or a crash, is a critical alert and a
retry, never a stop of protection.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

from aiohttp import web

from assistant.core.mirror import MirrorState, why_not_ready
from assistant.core.ports import Clock
from assistant.core.rules.config import Rules
from assistant.core.rules.memory import Memory
from assistant.dashboard.auth import Gate
from assistant.dashboard.config import is_loopback
from assistant.dashboard.hub import Frame, Hub, plain
from assistant.errors import InputError

log = logging.getLogger(__name__)
Report = Callable[[MirrorState, Memory, int], dict[str, Any]]  # `status --json` of a state
HEALTH_EVERY = 1.0  # seconds between health events, at least
KEEPALIVE = 15.0  # seconds of silence after which a comment keeps proxies from closing
MAX_HOURS = 168.0
TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".txt": "text/plain"}


class Watched(Protocol):
    """What the page reads of the loop (the live state, the rules in force)."""

    state: MirrorState
    memory: Memory

    def effective_rules(self) -> Rules: ...


class Records(Protocol):
    """What the page reads of the store."""

    def health_since(self, since: int, until: int, points: int = 1500) -> list[dict[str, Any]]: ...

    def recent_audit(self, prefix: str, limit: int) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class DashboardOptions:
    report: Report
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port (the demo's)
    token: str = ""  # resolved; required unless the host is loopback


def _files() -> dict[str, tuple[bytes, str]]:
    """The page's files by name, read once from the package (nothing else is served)."""
    found: dict[str, tuple[bytes, str]] = {}
    root = resources.files("assistant.dashboard") / "static"
    for folder, prefix in ((root, ""), (root / "vendor", "vendor/")):
        for item in folder.iterdir():
            suffix = "." + item.name.rsplit(".", 1)[-1]
            if item.is_file() and suffix in TYPES:
                found[prefix + item.name] = (item.read_bytes(), TYPES[suffix])
    return found


class Dashboard:
    def __init__(
        self,
        options: DashboardOptions,
        *,
        hub: Hub,
        watched: Watched,
        records: Records,
        clock: Clock,
    ) -> None:
        if not options.token and not is_loopback(options.host):
            raise ValueError(f"a dashboard on {options.host} needs a token")
        self.options = options
        self.hub = hub
        self.watched = watched
        self.records = records
        self.clock = clock
        self.gate = Gate(options.token)
        self.files = _files()
        self.url = ""  # once it listens: http://HOST:PORT/
        self.listening = asyncio.Event()
        self._failing = False  # the report raised last time (logged once)

    # ---- what the page reads -----------------------------------------------------------------

    def guardian(self) -> dict[str, Any]:
        rules = self.watched.effective_rules()
        state = self.watched.state
        a = rules.alerts
        return {
            "mode": str(rules.mode),
            "paused": rules.paused,
            "ready": state.ready,
            "not_ready": "" if state.ready else why_not_ready(state),
            "tiers": {
                "margin_ratio": [str(t) for t in a.ratio_tiers],
                "distance": [str(t) for t in a.distance_tiers],
                "isolated_ratio": [str(t) for t in a.isolated_ratio_tiers],
            },
        }

    def health(self) -> dict[str, Any]:
        """One health event: the status (None, and why, while it cannot be computed)."""
        now = self.clock.now_ms()
        body: dict[str, Any] | None = None
        problem = ""
        failing = False
        try:
            body = self.options.report(self.watched.state, self.watched.memory, now)
        except InputError as exc:
            problem = str(exc)
        except Exception:
            failing = True
            if not self._failing:  # once, not every second
                log.exception("the dashboard could not compute the status")
            problem = "the status could not be computed (see the service's log)"
        self._failing = failing
        return {"at": now, "status": body, "problem": problem, "guardian": self.guardian()}

    def history(self, hours: float) -> dict[str, Any]:
        now = self.clock.now_ms()
        rows = self.records.health_since(now - int(hours * 3_600_000), now)
        series = [
            {
                "at": row["at"],
                "margin_ratio": row["margin_ratio"],
                "distance": row["distance"],
                "margin_balance": row["margin_balance"],
            }
            for row in rows
        ]
        alerts = []
        for row in self.records.recent_audit("alert:", 100):
            severity = row.get("severity") or ""
            text = str(row["detail"])
            if severity and text.startswith(f"{severity}: "):
                text = text[len(severity) + 2 :]
            alerts.append(
                {
                    "at": row["at"],
                    "key": str(row["what"]).removeprefix("alert:"),
                    "severity": severity,
                    "text": text,
                    "amount": row.get("amount"),
                    "outcome": row.get("outcome"),
                }
            )
        return {"at": now, "series": series, "alerts": alerts, "guardian": self.guardian()}

    # ---- HTTP --------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.gate.middleware()])
        app.on_response_prepare.append(self.gate.on_prepare)
        app.router.add_get("/", self._page)
        app.router.add_get("/static/{name:.+}", self._static)
        app.router.add_get("/api/status", self._status)
        app.router.add_get("/api/history", self._history)
        app.router.add_get("/api/events", self._events)
        return app

    async def _page(self, request: web.Request) -> web.Response:
        body, kind = self.files["index.html"]
        return web.Response(body=body, content_type=kind, charset="utf-8")

    async def _static(self, request: web.Request) -> web.Response:
        found = self.files.get(request.match_info["name"])
        if found is None or request.match_info["name"] == "index.html":
            raise web.HTTPNotFound()
        return web.Response(body=found[0], content_type=found[1], charset="utf-8")

    async def _status(self, request: web.Request) -> web.Response:
        health = self.health()
        if health["status"] is None:
            return _json({"error": health["problem"]}, status=503)
        return _json(health["status"])

    async def _history(self, request: web.Request) -> web.Response:
        try:
            hours = float(request.query.get("hours", "6"))
        except ValueError:
            hours = -1.0
        if not 0 < hours <= MAX_HOURS:
            return _json({"error": f"hours: a number above 0, at most {MAX_HOURS:g}"}, 400)
        return _json(self.history(hours))

    async def _events(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "X-Accel-Buffering": "no"}
        )
        queue = self.hub.subscribe()
        try:
            await response.prepare(request)
            await response.write(b"retry: 2000\n\n")
            while True:
                item: Frame = ": keepalive\n\n"
                with contextlib.suppress(TimeoutError):
                    item = await asyncio.wait_for(queue.get(), KEEPALIVE)
                if item is None:
                    break
                await response.write(item.encode())
        except ConnectionError:
            pass  # the page went away
        finally:
            self.hub.unsubscribe(queue)
        return response

    # ---- the job -----------------------------------------------------------------------------

    async def serve(self) -> None:
        """Listen until cancelled; while a page listens, a health event every second."""
        runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.options.host, self.options.port)
            await site.start()
            server = site._server
            assert isinstance(server, asyncio.Server)
            port = int(server.sockets[0].getsockname()[1])
            host = self.options.host
            self.url = f"http://{f'[{host}]' if ':' in host else host}:{port}/"
            self.listening.set()
            log.info("dashboard on %s%s", self.url, " (token required)" if self.gate.token else "")
            while True:
                await self.clock.sleep(HEALTH_EVERY)
                if self.hub.listening:
                    self.hub.publish("health", self.health())
        finally:
            self.listening.clear()
            self.hub.close()
            await runner.cleanup()


def _json(body: Any, status: int = 200) -> web.Response:
    text = json.dumps(body, default=plain)
    return web.Response(text=text, status=status, content_type="application/json")
