"""`assistant run`: the store's lock → config → adapters → `bootstrap.build` → the runtime,
until SIGINT or SIGTERM (then the journal is flushed, the state saved, sockets and ccxt
closed). A second `run` on the same store exits at once (`store/lock.py`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence

from assistant.binance.rest import BinanceRest
from assistant.commands.status import reporter
from assistant.dashboard.server import DashboardOptions
from assistant.errors import InputError, UnsupportedAccount
from assistant.service import redact, systemd
from assistant.service.bootstrap import ChatOptions, Runtime, build
from assistant.service.metrics import Metrics
from assistant.service.money.exchange import on_request_sent
from assistant.service.settings import Settings, credentials, dashboard_token, telegram_token
from assistant.store.lock import StoreLock
from assistant.store.sqlite import SqliteStore

log = logging.getLogger("assistant")
EXIT_REFUSED = 3  # an account of a kind the service refuses (Portfolio Margin)
WS_BASES = {"live": "wss://fstream.binance.com", "demo": "wss://fstream.binancefuture.com"}


def log_handler() -> logging.Handler:
    """Log lines on stderr, one event per line. In the foreground each starts with the time
    (UTC, to the millisecond); under systemd (`JOURNAL_STREAM` set) journald stamps them."""
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        return handler
    formatter = logging.Formatter(
        "%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S"
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    return handler


def setup_logging(secrets: Sequence[str] = ()) -> None:
    """One event per line, as journald likes it. Secrets are cut from every line (the HTTP
    client under Telegram logs URLs with the bot token); `ASSISTANT_DEBUG=1` logs everything."""
    debug = os.environ.get("ASSISTANT_DEBUG") == "1"
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO, handlers=[log_handler()])
    if not debug:
        for noisy in ("apscheduler", "websockets", "httpx", "httpcore", "ccxt", "telegram"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    redact.install(secrets)


async def serve(settings: Settings, *, console: bool = False) -> int:
    key, secret = credentials(settings)
    token = telegram_token(settings)
    exchange = settings.exchange
    ws_url = exchange.ws_url or WS_BASES.get(exchange.environment, "")
    if not ws_url:
        raise InputError("exchange.ws_url: required for the emulator")
    rest = BinanceRest(
        api_key=key,
        api_secret=secret,
        rest_url=exchange.rest_url,
        on_sent=on_request_sent,
        demo=exchange.environment == "demo",
    )
    store = SqliteStore(settings.store_path)
    metrics = Metrics() if settings.metrics.port else None
    if metrics is not None:
        port = await metrics.serve(settings.metrics.host, settings.metrics.port)
        log.info("metrics on http://%s:%d/metrics", settings.metrics.host, port)
    runtime = build(
        settings,
        rest=rest,
        ws_url=ws_url,
        store=store,
        chats=ChatOptions(
            token=token, console=sys.stdout if console else None, console_alerts=False
        ),
        metrics=metrics,
        dashboard=dashboard_options(settings),
    )
    task = asyncio.create_task(runtime.run())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    log.info(
        "mirroring %s account; store %s; mode %s",
        exchange.environment,
        settings.store_path,
        settings.actions.mode,
    )
    helpers = [
        asyncio.create_task(_ready(runtime)),
        asyncio.create_task(systemd.watchdog(lambda: runtime.alive)),
    ]
    code = 0
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    except UnsupportedAccount:  # said by its alert (log, Telegram) already
        code = EXIT_REFUSED  # systemd's units do not restart it (RestartPreventExitStatus=3)
    finally:
        systemd.notify("STOPPING=1")
        for helper in helpers:
            helper.cancel()
        await asyncio.gather(*helpers, return_exceptions=True)
        store.close()
        await rest.close()
        if metrics is not None:
            await metrics.stop()
    log.info("stopped after %d events; the journal is flushed", runtime.loop.applied)
    return code


def dashboard_options(settings: Settings) -> DashboardOptions | None:
    board = settings.dashboard
    if not board.port:
        return None
    return DashboardOptions(
        reporter(settings), host=board.host, port=board.port, token=dashboard_token(settings)
    )


async def _ready(runtime: Runtime) -> None:
    """READY=1 once the account is mirrored (first snapshot in), not merely started; or once
    it cannot be (a refused API key), with that as the status: systemd must not restart-loop
    a service that is up, retrying, and telling the owner."""
    blocked = await runtime.started()
    if blocked:
        systemd.notify(f"READY=1\nSTATUS={blocked}")
        await runtime.wait_for(lambda state: state.ready, timeout=10**9)
    systemd.notify("READY=1\nSTATUS=mirroring the account")
    log.info("ready: the account is mirrored")


def run(settings: Settings, *, console: bool = False) -> int:
    """The service, holding its store's lock for as long as the process lives: taken before
    anything touches the store or the exchange, so a second instance on the same store
    raises `StoreLocked` (one line naming the holder's PID; the CLI exits 2) having done
    nothing."""
    with StoreLock(settings.store_path):
        exchange = settings.exchange
        secrets = [settings.telegram.token, exchange.api_key, exchange.api_secret]
        with contextlib.suppress(InputError):  # if not, serve() says so in one line
            secrets += [telegram_token(settings), *credentials(settings)]  # the resolved values
        with contextlib.suppress(InputError):
            secrets.append(dashboard_token(settings))
        setup_logging(secrets)
        return asyncio.run(serve(settings, console=console))
