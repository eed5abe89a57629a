"""A held symbol Binance's leverage brackets leave out, against the emulator with the real
runtime: computed at the fallback rate and said at once, asked for again at once, the crash
still saved in auto mode, and the real table used (and said) once the symbol is shown again."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

from assistant.core.actions import CLEAR, SendAlert
from assistant.core.model import PositionSide
from assistant.core.values import Severity
from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator
from tests.emulator.conftest import fast
from tests.helpers import real_2024_brackets
from tests.service.test_actions_live import SPEED, example_rules
from tests.service.test_mirror_live import WAIT, Running, control

FALLBACK = Decimal("0.05")  # `[mirror] fallback_mmr`'s default, which `Running` runs with


def hidden_crash() -> dict[str, Any]:
    """The crash scenario with ETHUSDT, held, left out of GET /fapi/v1/leverageBracket."""
    raw = fast("crash", speed=SPEED)
    raw["symbols"]["ETHUSDT"]["hide_brackets"] = True
    return raw


def bracket_requests(emulator: Emulator) -> list[int]:
    return [
        r["time"]
        for r in emulator.requests
        if r["path"] == "/fapi/v1/leverageBracket" and r["status"] == 200
    ]


async def test_a_held_symbol_hidden_from_the_brackets_is_assumed_said_and_the_crash_saved(
    tmp_path: Path,
) -> None:
    rules = example_rules()
    emulator = await Emulator(load_scenario(hidden_crash())).start()
    alerts: list[SendAlert] = []
    started = emulator.now_ms()
    running = Running(
        emulator, tmp_path / "a.db", rules=rules, listeners=[alerts.append], brackets_retry=1.0
    )
    try:
        async with running as service:
            state = await service.wait_for(lambda s: s.ready, WAIT)
            # Health is computed, ETHUSDT at the fallback rate: 5% of its notional at its mark.
            assert state.assumed == {"ETHUSDT": FALLBACK}
            book = state.book
            assert book is not None
            eth = state.positions[("ETHUSDT", PositionSide.BOTH)].amount
            eth_mm = abs(eth) * book.account.marks["ETHUSDT"] * FALLBACK
            assert book.per_symbol["ETHUSDT"].mm == eth_mm
            assert book.account.brackets["BTCUSDT"] == real_2024_brackets()["BTCUSDT"]
            # Said in the alert channels, naming the symbol and the rate.
            said = [a for a in alerts if a.key == "brackets:ETHUSDT"]
            assert len(said) == 1 and said[0].severity == Severity.WARNING
            assert said[0].tier == FALLBACK
            assert "ETHUSDT" in said[0].text and "5.00%" in said[0].text
            assert said[0].at - started <= rules.alerts.stale_after_ms
            # Asked for again at once, not in an hour: the start-up load, then out of turn.
            for _ in range(50):  # bounded: 5 s
                if len(bracket_requests(emulator)) >= 2:
                    break
                await asyncio.sleep(0.1)
            first, second = bracket_requests(emulator)[:2]
            assert second - first < 3_000
            # The crash plays out in auto mode: the rules act on the assumed figures.
            for _ in range(200):  # bounded: the scenario ends at 110 s, i.e. 11 s of wall time
                if emulator.scenario_time() > 112 or emulator.engine.liquidations:
                    break
                await asyncio.sleep(0.1)
            engine = emulator.engine
            assert engine.liquidations == []
            assert engine.transfers or any(
                o["clientOrderId"].startswith("mg-reduce-") for o in engine.orders
            )
            assert service.state.assumed == {"ETHUSDT": FALLBACK}  # still hidden, still assumed
            asked = bracket_requests(emulator)  # while it lasts, once a `brackets_retry` at most
            assert len(asked) <= 2 + (asked[-1] - asked[0]) / 1_000
            assert ("ETHUSDT", PositionSide.BOTH) in service.state.positions
            assert len([a for a in alerts if a.key == "brackets:ETHUSDT"]) == 1  # said once
            assert not [a for a in alerts if a.key == "no_health"]
            # Shown again: the next ask brings the real table, and an info says so.
            await control(emulator, "brackets", {"symbol": "ETHUSDT", "hide": False})
            state = await service.wait_for(lambda s: not s.assumed, WAIT)
            real = real_2024_brackets()["ETHUSDT"]
            assert state.brackets["ETHUSDT"] == real
            assert state.book is not None and state.book.account.brackets["ETHUSDT"] == real
            ended = [a for a in alerts if a.key == "brackets:ETHUSDT"][1:]
            assert [(a.severity, a.tier) for a in ended] == [(Severity.INFO, CLEAR)]
            assert "arrived" in ended[0].text
            audit = service.store.audit_rows()
    finally:
        await emulator.stop()
    # The alerts went through the notifier: the audit table has both, with their fields.
    rows = [r for r in audit if r["what"] == "alert:brackets:ETHUSDT"]
    assert [(r["severity"], r["metric"], r["tier"]) for r in rows] == [
        ("warning", "assumed_mmr", str(FALLBACK)),
        ("info", "assumed_mmr", CLEAR),
    ]
