"""`assistant simulate`: these rules and the real executor against an emulator scenario in
fast-forward: does the account survive, and at what cost?

The emulator runs in-process on a free loopback port and plays the scenario (a built-in name
or a price-path file) `speed` times faster than real time; the real service mirrors it over
websockets and REST and acts in `auto`, with every cooldown scaled by the same factor, so the
rules see scenario time. Telegram is not involved. The emulator, not our own arithmetic, says
whether the account was liquidated and what moved.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys
import tempfile
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from assistant.binance.rest import BinanceRest
from assistant.chat.chart import Lines, Mark, Point, history
from assistant.commands.emulator import scenario_from
from assistant.commands.tally import Tally
from assistant.core import format as fmt
from assistant.core.actions import SendAlert
from assistant.core.margin.liquidation import distance
from assistant.core.rules.config import scaled
from assistant.core.values import Outcome as Settled
from assistant.emulator.exchange.scenario import Scenario
from assistant.emulator.server.app import Emulator
from assistant.errors import InputError
from assistant.service.bootstrap import build
from assistant.service.loop import Loop
from assistant.service.scheduler import Timings
from assistant.service.settings import Settings, rules_from
from assistant.store.sqlite import SqliteStore

TAIL = 5.0  # scenario seconds after the last point, for the last actions to settle
ORDER_SIZE = re.compile(r"reduce-only (?:SELL|BUY) (\S+ \S+)")
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Done:
    """A money action the emulator carried out, as its notice said it."""

    t: float  # scenario seconds
    kind: str  # deposit, reduce, isolated-margin
    text: str
    amount: str  # what moved, for the plot: "200.00 USDT", "0.5 BTCUSDT"


@dataclass
class Outcome:
    scenario: str
    speed: float
    duration: float
    config_mode: str
    liquidated: bool = False
    liquidated_at: float | None = None
    deposited: Decimal = ZERO  # USDT's
    by_asset: dict[str, Decimal] = field(default_factory=dict)  # every asset moved
    transfers: int = 0
    reduced_notional: Decimal = ZERO
    orders: int = 0
    fees: Decimal = ZERO
    alerts: list[tuple[float, str, str]] = field(default_factory=list)  # (t, severity, text)
    actions: list[Done] = field(default_factory=list)
    samples: list[Point] = field(default_factory=list)  # at: scenario milliseconds
    tally: Tally = field(default_factory=Tally)

    def as_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "speed": self.speed,
            "scenario_seconds": self.duration,
            "mode": "auto",
            "config_mode": self.config_mode,
            "liquidated": self.liquidated,
            "liquidated_at": self.liquidated_at,
            "deposited_usdt": str(self.deposited),
            "deposited": {asset: str(amount) for asset, amount in sorted(self.by_asset.items())},
            "transfers": self.transfers,
            "reduced_notional_usdt": str(self.reduced_notional),
            "reduce_orders": self.orders,
            "fees_usdt": str(self.fees),
            "alerts": [{"t": t, "severity": s, "text": x} for t, s, x in self.alerts],
            "actions": [
                {"t": a.t, "kind": a.kind, "amount": a.amount, "text": a.text} for a in self.actions
            ],
            "alert_count": self.tally.alert_count,
            "notice_count": self.tally.notice_count,
        }

    def as_text(self) -> str:
        lines = [
            f"simulated {self.scenario} ({self.duration:.0f} s of scenario at {self.speed:g}x);"
            f" rules in auto (the config says {self.config_mode})",
        ]
        happened = [(t, f"{severity.upper():8} {text}") for t, severity, text in self.alerts]
        happened += [(a.t, f"ACTION   {a.text}") for a in self.actions]
        for t, text in sorted(happened, key=lambda item: item[0]):
            lines.append(f"  t={t:7.1f}s  {text}")
        when = f" at t={self.liquidated_at:.1f}s" if self.liquidated_at is not None else ""
        lines += [
            f"liquidated:        {'YES' + when if self.liquidated else 'no'}",
            f"deposited:         {deposited_words(self.by_asset)} in {self.transfers} transfer(s)",
            f"notional reduced:  {fmt.usdt(self.reduced_notional)} in {self.orders} order(s)",
            f"fees paid:         {fmt.usdt(self.fees)}",
            *self.tally.lines(),
        ]
        return "\n".join(lines)


def deposited_by_asset(transfers: list[dict[str, Any]]) -> dict[str, Decimal]:
    """Spot → futures transfers, summed per asset (a USDC pool is topped up in USDC)."""
    moved: dict[str, Decimal] = {}
    for row in transfers:
        asset = str(row.get("asset", "USDT"))
        moved[asset] = moved.get(asset, ZERO) + Decimal(row["amount"])
    return moved


def deposited_words(moved: dict[str, Decimal]) -> str:
    if not moved:
        return f"{fmt.money(ZERO)} USDT"
    return ", ".join(f"{fmt.money(amount)} {asset}" for asset, amount in sorted(moved.items()))


def _tally(outcome: Outcome, emulator: Emulator, started_ms: int, speed: float) -> None:
    engine = emulator.engine
    outcome.transfers = len(engine.transfers)
    outcome.by_asset = deposited_by_asset(engine.transfers)
    outcome.deposited = outcome.by_asset.get("USDT", ZERO)
    ours = [o for o in engine.orders if o["clientOrderId"].startswith("mg-")]
    filled = [o for o in ours if o["status"] == "FILLED"]
    outcome.orders = len(filled)
    outcome.reduced_notional = sum((Decimal(o["cumQuote"]) for o in filled), ZERO)
    outcome.fees = -sum(
        (Decimal(i["income"]) for i in engine.income if i["incomeType"] == "COMMISSION"), ZERO
    )
    outcome.liquidated = bool(engine.liquidations)
    if engine.liquidations:
        first = min(int(x.get("time", started_ms)) for x in engine.liquidations)
        outcome.liquidated_at = max(0.0, (first - started_ms) / 1000 * speed)


async def simulate(scenario: Scenario, name: str, settings: Settings, speed: float) -> Outcome:
    scenario = replace(scenario, settings=replace(scenario.settings, speed=speed))
    length = max(scenario.duration, 1.0)
    config = rules_from(settings)
    outcome = Outcome(name, speed, length, config.mode)
    emulator = await Emulator(scenario).start()
    started_ms = emulator.now_ms()  # the engine's times are wall-clock milliseconds
    with tempfile.TemporaryDirectory() as folder:
        rest = BinanceRest(
            api_key=scenario.api_key, api_secret=scenario.api_secret, rest_url=emulator.urls["rest"]
        )
        store = SqliteStore(Path(folder) / "simulate.db")

        def heard(alert: SendAlert) -> None:
            t = emulator.scenario_time()
            outcome.tally.heard(alert)
            if alert.outcome is None:  # the rules' alerts; the executor's say how it went
                outcome.alerts.append((t, alert.severity, alert.text))
            elif alert.outcome == Settled.DONE:
                text = alert.text.removeprefix("done: ")
                outcome.actions.append(Done(t, alert.key, text, _amount(alert)))

        runtime = build(
            settings,
            rest=rest,
            ws_url=emulator.urls["ws"],
            store=store,
            rules=scaled(config, speed),
            timings=Timings(reconcile_every=30, staleness_limit=10),
            listeners=[heard],
            log_alerts=False,
        )
        task = asyncio.create_task(runtime.run())
        sampler = asyncio.create_task(_sample(runtime.loop, emulator, outcome))
        try:
            limit = (length + TAIL) / speed + 30  # wall seconds, bounded
            async with asyncio.timeout(limit):
                while emulator.scenario_time() < length + TAIL and not emulator.engine.liquidations:
                    async with runtime.loop.changed:
                        await runtime.loop.changed.wait()
        except TimeoutError:
            pass
        finally:
            for job in (sampler, task):
                job.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await job
            store.close()
            await rest.close()
            _tally(outcome, emulator, started_ms, speed)
            await emulator.stop()
    return outcome


async def _sample(service: Loop, emulator: Emulator, outcome: Outcome) -> None:
    """Margin ratio and distance after every change of the mirrored state."""
    while True:
        async with service.changed:
            await service.changed.wait()
        book = service.state.book
        if book is None or not service.state.ready:
            continue
        at = int(emulator.scenario_time() * 1000)
        outcome.samples.append(Point(at, book.margin_ratio, distance(book).nearest))


def _amount(alert: SendAlert) -> str:
    """What a done action moved, for the plot's label: USDT, or the order's size."""
    if alert.amount is not None:
        return fmt.usdt(alert.amount)
    found = ORDER_SIZE.search(alert.text)
    return found.group(1) if found else ""


def plot(outcome: Outcome, settings: Settings) -> bytes:
    """The simulated account's margin health, the rules' alerts, and the actions done."""
    rules = rules_from(settings)
    ms = 1000
    marks = [Mark(int(t * ms), text, "alert") for t, _, text in outcome.alerts]
    marks += [Mark(int(a.t * ms), a.amount, a.kind, "done") for a in outcome.actions]
    if outcome.liquidated_at is not None:
        marks.append(Mark(int(outcome.liquidated_at * ms), "liquidated", "liquidation"))
    title = (
        f"simulate {outcome.scenario} at {outcome.speed:g}x: margin health with these rules"
        f" in auto ({len(outcome.actions)} actions done"
        f"{', LIQUIDATED' if outcome.liquidated else ''})"
    )
    return history(outcome.samples, marks, Lines.of(rules), title, clock=False)


def run(
    settings: Settings, scenario_name: str, speed: float, as_json: bool, plot_to: str | None
) -> int:
    if not 0 < speed <= 1000:
        raise InputError("--speed: between 0 and 1000 scenario seconds per second")
    scenario = scenario_from(scenario_name)
    outcome = asyncio.run(simulate(scenario, Path(scenario_name).name, settings, speed))
    if plot_to:
        Path(plot_to).write_bytes(plot(outcome, settings))
    print(json.dumps(outcome.as_json(), indent=2) if as_json else outcome.as_text())
    sys.stdout.flush()
    return 0
