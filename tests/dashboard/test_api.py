"""The dashboard's API as a user meets it: `assistant run` and `assistant emulator` as separate
processes, the dashboard on a port of its own with a token, read over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.service.test_run_and_status import start, stop

TOKEN = "dashboard-test-token-not-a-secret"
WAIT = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Events:
    """An open /api/events stream; every event kept with the moment it arrived."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.seen: list[tuple[float, str, dict[str, Any]]] = []
        self.arrived = asyncio.Event()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        kind, data = "", ""
        async for raw in self.response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = line.removeprefix("data: ")
            elif not line and kind:
                self.seen.append((time.monotonic(), kind, json.loads(data)))
                kind, data = "", ""
                self.arrived.set()

    async def first(
        self, kind: str, match: Any = lambda data: True, timeout: float = WAIT
    ) -> tuple[float, dict[str, Any]]:
        async with asyncio.timeout(timeout):
            while True:
                for at, seen_kind, data in self.seen:
                    if seen_kind == kind and match(data):
                        return at, data
                self.arrived.clear()
                await self.arrived.wait()


async def wait_for_status(session: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT
    for _ in range(int(WAIT * 10)):  # bounded: until the service listens and is mirrored
        with contextlib.suppress(aiohttp.ClientConnectionError):
            async with session.get(f"{base}/api/status", headers=BEARER) as response:
                body: dict[str, Any] = await response.json() if response.status == 200 else {}
                if body.get("positions"):  # not before the first snapshot
                    return body
        assert time.monotonic() < deadline, "the dashboard never answered with a status"
        await asyncio.sleep(0.1)
    raise AssertionError("no status")


async def status_json(config: Path) -> dict[str, Any]:
    """`assistant status --json`, as a separate process (the event loop keeps running)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "assistant",
        "status",
        "-c",
        str(config),
        "--json",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    body: dict[str, Any] = json.loads(out)
    return body


def comparable(body: dict[str, Any]) -> dict[str, Any]:
    """The status without what depends on the moment it is asked (the data's age)."""
    return {key: value for key, value in body.items() if key != "age_seconds"}


BEARER = {"Authorization": f"Bearer {TOKEN}"}


async def test_the_dashboard_api_of_the_running_service(tmp_path: Path) -> None:
    emulator = start("emulator", "--scenario", "calm")
    service = None
    try:
        assert emulator.stdout is not None
        urls = json.loads(emulator.stdout.readline())
        port = free_port()
        config = tmp_path / "assistant.toml"
        config.write_text(
            f'[exchange]\nenvironment = "emulator"\nrest_url = "{urls["rest"]}"\n'
            f'ws_url = "{urls["ws"]}"\n[store]\npath = "assistant.db"\n'
            '[mirror]\nstaleness_limit = "60s"\n'
            f'[dashboard]\nport = {port}\ntoken = "env:DASHBOARD_TOKEN"\n'
        )
        service = subprocess.Popen(
            [sys.executable, "-m", "assistant", "run", "-c", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "DASHBOARD_TOKEN": TOKEN},
        )
        base = f"http://127.0.0.1:{port}"
        bodies: list[str] = []
        async with aiohttp.ClientSession() as session:
            first = await wait_for_status(session, base)
            assert {p["symbol"] for p in first["positions"]} == {"BTCUSDT", "ETHUSDT"}

            # Strangers: a bare 401 on every path, whatever they try.
            for path, headers in [
                ("/", {}),
                ("/api/status", {}),
                ("/api/events", {}),
                ("/static/app.js", {}),
                ("/no/such/page", {}),
                (f"/api/status?token={TOKEN}x", {}),
                ("/api/status", {"Authorization": "Bearer wrong"}),
                ("/api/status", {"Cookie": f"assistant_dashboard={TOKEN}"}),
            ]:
                async with session.get(base + path, headers=headers) as response:
                    assert response.status == 401, path
                    assert await response.read() == b"", path
                    assert "aiohttp" not in str(response.headers), path

            # The page, opened with ?token=: a cookie (not the token) lets its files load.
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(cookie_jar=jar) as browser:
                async with browser.get(f"{base}/?token={TOKEN}") as response:
                    assert response.status == 200
                    assert response.content_type == "text/html"
                    csp = response.headers["Content-Security-Policy"]
                    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
                    assert "default-src 'none'" in csp
                    assert TOKEN not in str(response.headers)
                    bodies.append(await response.text())
                for path in ("/static/app.js", "/static/vendor/uPlot.iife.min.js", "/api/history"):
                    async with browser.get(base + path) as response:
                        assert response.status == 200, path
                        bodies.append(await response.text())

            async with session.get(f"{base}/api/events", headers=BEARER) as response:
                assert response.status == 200
                assert response.content_type == "text/event-stream"
                events = Events(response)
                await events.first("health")
                # The crossing: BTC down to 59000 takes the distance past the 6% tier.
                sent = time.monotonic()
                async with session.post(
                    f"{urls['control']}/mark", json={"symbol": "BTCUSDT", "price": "59000"}
                ) as crossed:
                    assert crossed.status == 200
                arrived, alert = await events.first(
                    "alert", lambda a: a["metric"] == "distance" and a["tier"] == "0.06"
                )
                assert arrived - sent < 1.0, f"the alert took {arrived - sent:.3f}s"
                assert alert["severity"] == "warning" and "past 6%" in alert["text"]
                # dry-run: the deposit rule's decision is announced as an action.
                _, action = await events.first("action", lambda a: a["key"] == "deposit")
                assert action["outcome"] == "dry-run"
                window_start = time.monotonic()
                await asyncio.sleep(3.0)  # let health events pile up, to count them
                healths = [at for at, kind, _ in events.seen if kind == "health"]
                recent = [at for at in healths if at >= window_start]
                assert 2 <= len(recent) <= 4, recent  # one a second at most
                bodies += [json.dumps(data) for _, _, data in events.seen]
                events.task.cancel()

            # Streams stalled, nothing moves: the page's status is `status --json`, field for
            # field, once the service has saved what it shows.
            async with session.post(
                f"{urls['control']}/stall", json={"streams": "all", "seconds": 60}
            ) as stalled:
                assert stalled.status == 200
            cli: dict[str, Any] = {}
            api: list[dict[str, Any]] = []
            for _ in range(10):  # bounded: the saved state catches up within a save or two
                async with session.get(f"{base}/api/status", headers=BEARER) as response:
                    before = await response.json()
                cli = await status_json(config)
                async with session.get(f"{base}/api/status", headers=BEARER) as response:
                    after = await response.json()
                api = [before, after]
                if comparable(before) == comparable(cli) == comparable(after):
                    break
            assert comparable(api[0]) == comparable(cli), (api, cli)
            bodies.append(json.dumps(api))

            # A page still open when the service stops does not hold it up: its stream ends.
            async with session.get(f"{base}/api/events", headers=BEARER) as response:
                held = Events(response)
                await held.first("health")
                service.send_signal(signal.SIGTERM)
                await asyncio.wait_for(held.task, 10)
        for body in bodies:  # no secret in any answer
            assert TOKEN not in body and "emulator-secret" not in body
    finally:
        if service is not None:
            code, err = stop(service)
            assert code == 0, err
            assert "Traceback" not in err and TOKEN not in err
            assert "dashboard on http://127.0.0.1:" in err
        emulator.terminate()
        emulator.communicate(timeout=10)
