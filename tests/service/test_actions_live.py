"""Rules and actions against the emulator: the crash scenario saved (or not), dry-run,
caps, and injected failures — with the emulator's own state as the judge."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from assistant.core.actions import SendAlert
from assistant.core.rules.config import Rules
from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator
from assistant.emulator.server.protocol import Fault
from assistant.service.settings import load_settings, rules_from
from tests.emulator.conftest import fast
from tests.service.test_mirror_live import Running

ROOT = Path(__file__).resolve().parent.parent.parent
SPEED = 10.0  # the crash's 110 scenario seconds in 11 of wall time


def example_rules(speed: float = SPEED, **changes: Any) -> Rules:
    """The shipped example config's rules in `auto`, cooldowns scaled to the emulator's clock."""
    rules = rules_from(load_settings(ROOT / "config" / "assistant.example.toml"))
    a, d, r = rules.alerts, rules.deposit, rules.reduce
    rules = replace(
        rules,
        mode="auto",
        alerts=replace(a, cooldown_ms=int(a.cooldown_ms / speed), stale_after_ms=60_000),
        deposit=replace(d, cooldown_ms=int(d.cooldown_ms / speed)),
        reduce=replace(r, cooldown_ms=int(r.cooldown_ms / speed)),
    )
    return replace(rules, **changes)


async def play_crash(tmp_path: Path, rules: Rules) -> tuple[Emulator, list[SendAlert], Any]:
    """The whole crash scenario with the service running the rules; returns the emulator
    (stopped clock, state kept), the alerts in order, and the store's audit rows."""
    emulator = await Emulator(load_scenario(fast("crash", speed=SPEED))).start()
    alerts: list[SendAlert] = []
    running = Running(emulator, tmp_path / "a.db", rules=rules, listeners=[alerts.append])
    try:
        async with running as service:
            await service.wait_for(lambda s: s.ready, 15)
            for _ in range(200):  # bounded: the scenario ends at 110 s, i.e. 11 s of wall time
                if emulator.scenario_time() > 112 or emulator.engine.liquidations:
                    break
                await asyncio.sleep(0.1)
            audit = service.store.audit_rows()
    finally:
        await emulator.stop()
    return emulator, alerts, audit


async def test_the_example_rules_save_the_crash_account_in_order(tmp_path: Path) -> None:
    emulator, alerts, audit = await play_crash(tmp_path, example_rules())
    engine = emulator.engine
    assert engine.liquidations == []
    assert engine.transfers, "a deposit from spot"
    reduce_orders = [o for o in engine.orders if o["clientOrderId"].startswith("mg-reduce-")]
    assert reduce_orders and all(o["reduceOnly"] and o["status"] == "FILLED" for o in reduce_orders)
    first_alert = next(a.at for a in alerts if a.key in ("distance", "margin_ratio"))
    first_deposit = min(t["time"] for t in engine.transfers)
    first_reduce = min(o["time"] for o in reduce_orders)
    assert first_alert < first_deposit < first_reduce
    # Exactly once: every transfer and every order belongs to one decision.
    assert len({o["clientOrderId"] for o in reduce_orders}) == len(reduce_orders)
    done = [row for row in audit if row["what"] == "done"]
    assert len([r for r in done if r["decision_id"].startswith("deposit-")]) == len(
        engine.transfers
    )
    total = sum(Decimal(t["amount"]) for t in engine.transfers)
    assert total <= Decimal("3000")  # the example's daily cap


async def test_without_deposit_and_reduce_rules_the_crash_liquidates(tmp_path: Path) -> None:
    base = example_rules()
    rules = replace(
        base,
        deposit=replace(base.deposit, enabled=False),
        reduce=replace(base.reduce, enabled=False),
    )
    emulator, alerts, _ = await play_crash(tmp_path, rules)
    assert emulator.engine.liquidations
    assert any(a.key == "liquidation" for a in alerts)
    assert emulator.engine.transfers == []


async def test_dry_run_decides_and_announces_but_touches_nothing(tmp_path: Path) -> None:
    emulator, alerts, audit = await play_crash(tmp_path, example_rules(mode="dry-run"))
    engine = emulator.engine
    assert engine.transfers == []
    assert [o for o in engine.orders if not o["clientOrderId"].startswith("autoclose-")] == []
    assert any("dry-run: would transfer" in a.text for a in alerts)
    assert any("dry-run: would reduce-only" in a.text for a in alerts)
    assert {row["what"] for row in audit} >= {"dry-run"}
    assert engine.liquidations  # nothing was done, so the crash liquidates


DANGER: dict[str, Any] = {
    "spot": {"USDT": "5000"},
    "futures": {"USDT": "2600"},
    "symbols": {"BTCUSDT": {"mark": "60000"}},
    "positions": [
        {"symbol": "BTCUSDT", "positionAmt": "0.75", "entryPrice": "60000", "leverage": 20}
    ],
    "settings": {"mark_interval": 0.2},
}  # distance to liquidation about 5.4%: the deposit rule (6%) fires at once


async def run_until(emulator: Emulator, tmp_path: Path, rules: Rules, done: Any) -> list[SendAlert]:
    alerts: list[SendAlert] = []
    async with Running(
        emulator, tmp_path / "f.db", rules=rules, listeners=[alerts.append]
    ) as service:
        await service.wait_for(lambda s: s.ready, 15)
        for _ in range(150):  # bounded: 15 s
            if done(emulator, alerts):
                break
            await asyncio.sleep(0.1)
    return alerts


@pytest.fixture
async def danger() -> Any:
    emulator = await Emulator(load_scenario(DANGER)).start()
    yield emulator
    await emulator.stop()


async def test_a_429_on_the_transfer_is_waited_out_and_retried_once(
    danger: Emulator, tmp_path: Path
) -> None:
    danger.faults.append(
        Fault.parse(
            {
                "path": "/sapi/v1/asset/transfer",
                "status": 429,
                "code": -1003,
                "msg": "Too many requests.",
                "retry_after": 1,
            }
        )
    )
    rules = example_rules(speed=1, reduce=replace(example_rules().reduce, enabled=False))
    await run_until(danger, tmp_path, rules, lambda e, a: bool(e.engine.transfers))
    assert len(danger.engine.transfers) == 1
    refused = [
        r for r in danger.requests if r["path"] == "/sapi/v1/asset/transfer" and r["status"] == 429
    ]
    assert len(refused) == 1


async def test_a_5xx_that_executed_is_found_not_repeated(danger: Emulator, tmp_path: Path) -> None:
    danger.faults.append(
        Fault.parse(
            {
                "path": "/sapi/v1/asset/transfer",
                "status": 503,
                "code": -1001,
                "msg": "Internal error",
                "execute": True,
            }
        )
    )
    rules = example_rules(speed=1, reduce=replace(example_rules().reduce, enabled=False))
    alerts = await run_until(
        danger,
        tmp_path,
        rules,
        lambda e, a: (
            any(x.text.startswith("done") or "found" in x.text for x in a)
            or len(e.engine.transfers) > 1
        ),
    )
    assert len(danger.engine.transfers) == 1, "the transfer went through once; no second one"
    assert not any(a.severity == "critical" and "deposit" in a.text for a in alerts)


async def test_margin_insufficient_is_a_clear_alert_not_a_retry(
    danger: Emulator, tmp_path: Path
) -> None:
    danger.faults.append(
        Fault.parse(
            {
                "path": "/sapi/v1/asset/transfer",
                "status": 400,
                "code": -5013,
                "msg": "Asset transfer failed: insufficient balance",
            }
        )
    )
    rules = example_rules(speed=1, reduce=replace(example_rules().reduce, enabled=False))
    alerts = await run_until(
        danger, tmp_path, rules, lambda e, a: any(x.key == "action" for x in a)
    )
    failed = [a for a in alerts if a.key == "action"]
    assert failed and failed[0].severity == "critical" and "-5013" in failed[0].text
    calls = [
        r
        for r in danger.requests
        if r["path"] == "/sapi/v1/asset/transfer" and r["method"] == "POST"
    ]
    assert len(calls) == 1


DEEP: dict[str, Any] = {**DANGER, "futures": {"USDT": "1300"}}  # about 2.5% from liquidation


async def test_a_refused_reduce_order_is_a_clear_alert_not_a_retry(tmp_path: Path) -> None:
    emulator = await Emulator(load_scenario(DEEP)).start()
    try:
        emulator.faults.append(
            Fault.parse(
                {
                    "path": "/fapi/v1/order",
                    "method": "POST",
                    "status": 400,
                    "code": -2019,
                    "msg": "Margin is insufficient.",
                }
            )
        )
        rules = example_rules(speed=1, deposit=replace(example_rules().deposit, enabled=False))
        alerts = await run_until(
            emulator, tmp_path, rules, lambda e, a: any(x.key == "action" for x in a)
        )
    finally:
        await emulator.stop()
    failed = [a for a in alerts if a.key == "action"]
    assert failed and "-2019" in failed[0].text and failed[0].severity == "critical"
    posts = [
        r for r in emulator.requests if r["path"] == "/fapi/v1/order" and r["method"] == "POST"
    ]
    assert len(posts) == 1


async def test_a_deposit_is_limited_by_the_spot_balance(tmp_path: Path) -> None:
    emulator = await Emulator(load_scenario({**DANGER, "spot": {"USDT": "123.456"}})).start()
    try:
        rules = example_rules(speed=1, reduce=replace(example_rules().reduce, enabled=False))
        await run_until(emulator, tmp_path, rules, lambda e, a: bool(e.engine.transfers))
    finally:
        await emulator.stop()
    assert [t["amount"] for t in emulator.engine.transfers] == ["123.45"]


async def test_an_unanswerable_lookup_is_an_unknown_outcome_not_a_stuck_decision(
    danger: Emulator, tmp_path: Path
) -> None:
    """The transfer fails with a 5xx and so does every history lookup: the decision is settled
    as unknown, loudly, and nothing is sent twice."""
    danger.faults.append(
        Fault.parse(
            {
                "path": "/sapi/v1/asset/transfer",
                "method": "POST",
                "status": 503,
                "code": -1001,
                "msg": "Internal error",
                "execute": True,
            }
        )
    )
    danger.faults.append(
        Fault.parse(
            {
                "path": "/sapi/v1/asset/transfer",
                "method": "GET",
                "status": 503,
                "code": -1001,
                "msg": "Internal error",
                "count": 100,
            }
        )
    )
    rules = example_rules(speed=1, reduce=replace(example_rules().reduce, enabled=False))
    alerts = await run_until(
        danger, tmp_path, rules, lambda e, a: any(x.key == "action" for x in a)
    )
    unknown = [a for a in alerts if a.key == "action"]
    assert unknown and "UNKNOWN" in unknown[0].text and unknown[0].severity == "critical"
    posts = [
        r
        for r in danger.requests
        if r["path"] == "/sapi/v1/asset/transfer" and r["method"] == "POST"
    ]
    assert len(posts) == 1 and len(danger.engine.transfers) == 1


ISOLATED_DANGER: dict[str, Any] = {
    "futures": {"USDT": "5000"},
    "spot": {"USDT": "0"},
    "symbols": {"BTCUSDT": {"mark": "60000"}},
    "positions": [
        {
            "symbol": "BTCUSDT",
            "positionAmt": "0.1",
            "entryPrice": "61500",
            "leverage": 20,
            "marginType": "isolated",
            "isolatedWallet": "178",
        }
    ],
    "settings": {"mark_interval": 0.2},
}  # isolated margin 28 for MM 24 (ratio 0.86): past the isolated tier, a top-up is due


async def test_an_isolated_top_up_with_an_unknown_outcome_is_never_sent_twice(
    tmp_path: Path,
) -> None:
    emulator = await Emulator(load_scenario(ISOLATED_DANGER)).start()
    try:
        emulator.faults.append(
            Fault.parse(
                {
                    "path": "/fapi/v1/positionMargin",
                    "method": "POST",
                    "status": 503,
                    "code": -1001,
                    "msg": "x",
                    "execute": True,
                }
            )
        )
        rules = example_rules(speed=1, reduce=replace(example_rules().reduce, enabled=False))
        alerts = await run_until(
            emulator, tmp_path, rules, lambda e, a: any(x.key == "action" for x in a)
        )
    finally:
        await emulator.stop()
    assert any("UNKNOWN" in a.text for a in alerts if a.key == "action")
    posts = [r for r in emulator.requests if r["path"] == "/fapi/v1/positionMargin"]
    assert len(posts) == 1


async def test_no_all_clear_is_said_while_the_account_is_being_liquidated(tmp_path: Path) -> None:
    """The crash liquidates an account with no money rules: from the first critical distance
    alert to the liquidation, no "all clear" on distance or margin ratio goes out."""
    base = example_rules()
    rules = replace(
        base,
        deposit=replace(base.deposit, enabled=False),
        reduce=replace(base.reduce, enabled=False),
    )
    emulator, alerts, _ = await play_crash(tmp_path, rules)
    assert emulator.engine.liquidations
    keys = [(a.key, a.text) for a in alerts]
    liquidated = next(i for i, (key, _) in enumerate(keys) if key == "liquidation")
    critical = next(i for i, a in enumerate(alerts) if a.severity == "critical")
    clear = [text for key, text in keys[critical:] if text.startswith("all clear")]
    assert critical < liquidated and clear == [], clear


async def test_a_paused_guardian_says_what_it_would_do_and_does_nothing(tmp_path: Path) -> None:
    rules = replace(example_rules(), paused=True)
    emulator, alerts, audit = await play_crash(tmp_path, rules)
    engine = emulator.engine
    assert engine.transfers == []
    assert [o for o in engine.orders if not o["clientOrderId"].startswith("autoclose-")] == []
    would = [a for a in alerts if a.text.startswith("paused: would transfer")]
    assert would, "the pause hid what the rules would have done"
    decided = sorted(  # one decision per trigger, not one per mark: the cooldown holds
        int(row["decision_id"].split("-")[1])
        for row in audit
        if row["what"] == "dry-run" and row["decision_id"].startswith("deposit-")
    )
    assert len(decided) == len(would)
    cooldown = rules.deposit.cooldown_ms
    assert all(b - a >= cooldown for a, b in itertools.pairwise(decided))
    assert {row["detail"] for row in audit if row["what"] == "dry-run"} == {"paused"}
