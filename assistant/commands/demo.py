"""`assistant demo`: the emulator's scenario and the real service in `auto`, in one terminal.

No keys, no network: the emulator runs in-process on a free loopback port, the service mirrors
it over real websockets and REST, and the example rules act. The scenario runs faster than real
time so it ends in about a minute; the rules' cooldowns are scaled by the same factor. The
terminal shows live health every second, each alert and action as it happens, and a summary.
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
from assistant.chat import setup as chat_setup
from assistant.core.actions import SendAlert
from assistant.core.margin.liquidation import distance, liquidation_prices
from assistant.core.rules.config import Rules
from assistant.core.values import Mode
from assistant.emulator.exchange.scenario import Scenario
from assistant.emulator.server.app import Emulator
from assistant.errors import InputError
from assistant.service import redact
from assistant.service.loop import MirrorService, MirrorTimings
from assistant.service.notifier import Notifier
from assistant.service.settings import Settings, rules_from, telegram_token
from assistant.store.sqlite import SqliteStore

TAIL = 3.0  # wall seconds after the scenario's last point


def scaled(rules: Rules, speed: float) -> Rules:
    """Rules in `auto` with every cooldown run `speed` times faster, like the scenario."""
    a, d, r = rules.alerts, rules.deposit, rules.reduce
    return replace(
        rules,
        mode=Mode.AUTO,
        alerts=replace(
            a, cooldown_ms=int(a.cooldown_ms / speed), stale_after_ms=max(a.stale_after_ms, 60_000)
        ),
        deposit=replace(d, cooldown_ms=int(d.cooldown_ms / speed)),
        reduce=replace(r, cooldown_ms=int(r.cooldown_ms / speed)),
    )


def _pct(value: Decimal | None) -> str:
    return "   n/a" if value is None else f"{value * 100:6.2f}%"


class Terminal:
    def __init__(self, out: TextIO, emulator: Emulator) -> None:
        self.out, self.emulator = out, emulator
        self.alerts: list[SendAlert] = []

    def say(self, text: str) -> None:
        self.out.write(f"[t={self.emulator.scenario_time():6.1f}s] {text}\n")
        self.out.flush()

    def alert(self, alert: SendAlert) -> None:
        self.alerts.append(alert)
        self.say(f"{alert.severity.upper():8} {alert.text}")

    def health(self, service: MirrorService) -> None:
        book = service.state.book
        if book is None or not service.state.ready:
            self.say("waiting for the account...")
            return
        nearest = distance(book).nearest
        prices = liquidation_prices(book)
        liq = ", ".join(
            f"{s} {book.account.marks[s]:.2f} liq {'-' if p is None else f'{p:.2f}'}"
            for (s, _), p in prices.items()
        )
        self.say(
            f"health   margin ratio {_pct(book.margin_ratio)}  distance {_pct(nearest)}"
            f"  balance {book.margin_balance:.2f}  | {liq}"
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
        token = telegram_token(settings)
        chats = settings.telegram.allowed_chat_ids if token else ()
        notifier = Notifier(store, chats=chats, log_alerts=False)
        notifier.listeners.append(terminal.alert)
        service = MirrorService(
            rest=rest,
            store=store,
            ws_url=emulator.urls["ws"],
            timings=MirrorTimings(reconcile_every=30, staleness_limit=10),
            rules=scaled(rules_from(settings), speed),
            notify=notifier,
        )
        console = sys.stdin.isatty()  # type /status, /pause, /stress -10 while it runs
        chat_setup.attach(
            service, notifier, settings.telegram, token, console=console, console_alerts=False
        )
        task = asyncio.create_task(service.run())
        try:
            for _ in range(int(seconds + TAIL) + 30):  # bounded: once a second until the end
                await asyncio.sleep(1.0)
                terminal.health(service)
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


def summary(terminal: Terminal, emulator: Emulator, out: TextIO) -> None:
    engine = emulator.engine
    deposited = sum((Decimal(t["amount"]) for t in engine.transfers), Decimal(0))
    reduced = sum(
        (
            o["cumQuote"]
            for o in engine.orders
            if o["clientOrderId"].startswith("mg-") and o["status"] == "FILLED"
        ),
        Decimal(0),
    )
    out.write("\nsummary\n")
    out.write(f"  alerts:            {len(terminal.alerts)}\n")
    out.write(f"  USDT deposited:    {deposited:.2f} in {len(engine.transfers)} transfer(s)\n")
    out.write(f"  notional reduced:  {reduced:.2f} USDT\n")
    out.write(f"  liquidated:        {'YES' if engine.liquidations else 'no'}\n")
    out.flush()


def run(scenario: Scenario, settings: Settings, seconds: float) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    secrets = [settings.telegram.token]
    with contextlib.suppress(InputError):
        secrets.append(telegram_token(settings))
    redact.install(secrets)  # no log line may carry the bot token
    return asyncio.run(play(scenario, settings, seconds, sys.stdout))
