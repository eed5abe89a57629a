"""`assistant demo`: the emulator's scenario and the real service in `auto`, in one terminal.

No keys, no network: the emulator runs in-process on a free loopback port, the service mirrors
it over real websockets and REST, and the example rules act. The scenario runs faster than real
time so it ends in about a minute; the rules' cooldowns are scaled by the same factor. The
terminal shows live health every second, each alert and action as it happens, and a summary;
the dashboard shows the same in a browser, at the address printed first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import tempfile
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from assistant.binance.rest import BinanceRest
from assistant.commands.run import log_handler
from assistant.commands.simulate import deposited_by_asset, deposited_words
from assistant.commands.status import reporter
from assistant.commands.tally import Tally
from assistant.core import format as fmt
from assistant.core.actions import SendAlert
from assistant.core.margin.liquidation import distance, liquidation_prices
from assistant.core.mirror import MirrorState
from assistant.core.rules.config import scaled
from assistant.dashboard.server import DashboardOptions
from assistant.emulator.exchange.scenario import Scenario
from assistant.emulator.server.app import Emulator
from assistant.errors import InputError
from assistant.service import redact
from assistant.service.bootstrap import ChatOptions, Runtime, build
from assistant.service.scheduler import Timings
from assistant.service.settings import Settings, dashboard_token, rules_from, telegram_token
from assistant.store.sqlite import SqliteStore

TAIL = 3.0  # wall seconds after the scenario's last point
LISTEN_WAIT = 5.0  # seconds the dashboard may take to listen before the demo goes on


class Terminal:
    def __init__(self, out: TextIO, emulator: Emulator) -> None:
        self.out, self.emulator = out, emulator
        self.tally = Tally()

    def say(self, text: str) -> None:
        self.out.write(f"[t={self.emulator.scenario_time():6.1f}s] {text}\n")
        self.out.flush()

    def alert(self, alert: SendAlert) -> None:
        self.tally.heard(alert)
        self.say(f"{alert.severity.upper():8} {alert.text}")

    def health(self, state: MirrorState) -> None:
        book = state.book
        if book is None or not state.ready:
            self.say("waiting for the account...")
            return
        nearest = distance(book).nearest
        prices = liquidation_prices(book)

        def price(symbol: str, value: Decimal | None) -> str:
            filters = state.filters.get(symbol)
            return fmt.price(value, filters.tick_size if filters else None)

        liq = ", ".join(
            f"{s} mark {price(s, book.account.marks[s])} liq {'none' if p is None else price(s, p)}"
            for (s, _), p in prices.items()
        )
        self.say(
            f"health   margin ratio {fmt.ratio(book.margin_ratio):>7}"
            f"  distance to liquidation {fmt.distance(nearest):>7}"
            f"  margin balance {fmt.usdt(book.margin_balance)}  | {liq}"
        )


async def play(scenario: Scenario, settings: Settings, seconds: float, out: TextIO) -> int:
    length = max(scenario.duration, 1.0)
    speed = length / seconds
    scenario = replace(scenario, settings=replace(scenario.settings, speed=speed))
    emulator = await Emulator(scenario).start()
    terminal = Terminal(out, emulator)
    out.write(
        f"demo: scenario of {length:.0f} s played at {speed:.1f}x; the service mirrors it and"
        " acts in auto mode with the config's rules\n"
    )
    with tempfile.TemporaryDirectory() as folder:
        rest = BinanceRest(
            api_key=scenario.api_key, api_secret=scenario.api_secret, rest_url=emulator.urls["rest"]
        )
        store = SqliteStore(Path(folder) / "demo.db")
        console = sys.stdin.isatty()  # type /status, /pause, /stress -10 while it runs
        runtime = build(
            settings,
            rest=rest,
            ws_url=emulator.urls["ws"],
            store=store,
            chats=ChatOptions(
                token=telegram_token(settings),
                console=out if console else None,
                console_alerts=False,
            ),
            rules=scaled(rules_from(settings), speed),
            timings=Timings(reconcile_every=30, staleness_limit=10),
            listeners=[terminal.alert],
            log_alerts=False,
            dashboard=DashboardOptions(
                reporter(settings),
                host=settings.dashboard.host,
                port=settings.dashboard.port,  # 0 (the default): a free port
                token=dashboard_token(settings),
            ),
        )
        task = asyncio.create_task(runtime.run())
        try:
            await _announce(runtime, emulator, out)
            for _ in range(int(seconds + TAIL) + 30):  # bounded: once a second until the end
                await asyncio.sleep(1.0)
                terminal.health(runtime.state)
                if (
                    emulator.scenario_time() >= length + TAIL * speed
                    or emulator.engine.liquidations
                ):
                    break
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            store.close()
            await rest.close()
            await emulator.stop()
    summary(terminal, emulator, out)
    return 0


async def _announce(runtime: Runtime, emulator: Emulator, out: TextIO) -> None:
    """The dashboard's address (once it listens) and the emulator's control API."""
    board = runtime.dashboard
    assert board is not None
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(board.listening.wait(), LISTEN_WAIT)
    if board.url:
        token = "?token=YOUR_TOKEN" if board.options.token else ""
        out.write(f"dashboard: {board.url}{token}  (open it in a browser while the demo runs)\n")
    else:
        out.write("dashboard: not listening (the alerts say why); the demo goes on\n")
    out.write(
        f"emulator control API: {emulator.urls['control']} (POST /stall"
        ' {"seconds": 20} shows the page going stale)\n'
    )
    out.flush()


def summary(terminal: Terminal, emulator: Emulator, out: TextIO) -> None:
    engine = emulator.engine
    deposited = deposited_words(deposited_by_asset(engine.transfers))
    filled = [
        o for o in engine.orders if o["clientOrderId"].startswith("mg-") and o["status"] == "FILLED"
    ]
    reduced = sum((Decimal(o["cumQuote"]) for o in filled), Decimal(0))
    out.write("\nsummary\n")
    out.write(f"  liquidated:        {'YES' if engine.liquidations else 'no'}\n")
    out.write(f"  deposited:         {deposited} in {len(engine.transfers)} transfer(s)\n")
    out.write(f"  notional reduced:  {fmt.usdt(reduced)} in {len(filled)} order(s)\n")
    for line in terminal.tally.lines():
        out.write(f"  {line}\n")
    out.flush()


def run(scenario: Scenario, settings: Settings, seconds: float) -> int:
    logging.basicConfig(level=logging.WARNING, handlers=[log_handler()])
    secrets = [settings.telegram.token, settings.dashboard.token]
    with contextlib.suppress(InputError):
        secrets.append(telegram_token(settings))
    with contextlib.suppress(InputError):
        secrets.append(dashboard_token(settings))
    redact.install(secrets)  # no log line may carry the bot token
    return asyncio.run(play(scenario, settings, seconds, sys.stdout))
