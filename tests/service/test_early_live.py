"""The shadow mark live: the real service, the emulator's book leading its marks by a second
(`book_lead`), a fast fall in auto mode. With `[reduce] early = true` the reduce-only order
goes before the first real mark past the trigger, within `max_fraction`; the early warning
comes first and the mark confirms it; the journal keeps the book conflated."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from assistant.core.actions import SendAlert
from assistant.core.events import QuoteUpdated
from assistant.core.replay import Replayer
from assistant.core.rules.config import AlertRules, DepositRule, ReduceRule, Rules
from assistant.core.values import Mode
from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator
from assistant.store.sqlite import SqliteStore
from tests.service.test_mirror_live import Running

D = Decimal
TRIGGER = D("0.5")  # 0.75 BTC long at 60000 on 2000: the ratio passes 50% near 57950
FALL: dict[str, Any] = {
    "futures": {"USDT": "2000"},
    "symbols": {"BTCUSDT": {"mark": "60000"}},
    "positions": [
        {"symbol": "BTCUSDT", "positionAmt": "0.75", "entryPrice": "60000", "leverage": 50}
    ],
    # Still for 8 s (the estimator measures its error at each mark), then 4% in 2 s; at twice
    # real time, with the book two scenario seconds (one wall second) ahead.
    "path": [{"t": 8, "BTCUSDT": "60000"}, {"t": 10, "BTCUSDT": "57600"}],
    "settings": {"speed": 2, "book_lead": 2},
}
RULES = Rules(
    alerts=AlertRules(
        ratio_tiers=(TRIGGER,), distance_tiers=(), isolated_ratio_tiers=(), drift=False
    ),
    deposit=DepositRule(enabled=False),
    reduce=ReduceRule(
        trigger_ratio=TRIGGER,
        trigger_distance=None,
        target_ratio=D("0.3"),
        target_distance=None,
        max_fraction=D("0.25"),
        cooldown_ms=60_000,
        early=True,
    ),
    mode=Mode.AUTO,
)


def untouched(mark: Decimal) -> Decimal:
    """The margin ratio at `mark` had nothing been done: 0.4% maintenance on 0.75 BTC (its
    notional stays in BTCUSDT's first bracket), over 2000 + the position's PnL."""
    return D("0.004") * D("0.75") * mark / (D("2000") + D("0.75") * (mark - 60000))


async def test_a_fast_fall_reduces_before_the_first_dangerous_mark(tmp_path: Path) -> None:
    emulator = await Emulator(load_scenario(FALL)).start()
    alerts: list[SendAlert] = []
    try:
        async with Running(
            emulator, tmp_path / "a.db", rules=RULES, listeners=[alerts.append]
        ) as service:
            await service.wait_for(lambda s: s.ready, 15)
            for _ in range(120):  # bounded: 12 s; the fall ends at 10 s of scenario time
                if emulator.scenario_time() > 12:
                    break
                await asyncio.sleep(0.1)
            audit = service.store.audit_rows()
    finally:
        await emulator.stop()
    engine = emulator.engine
    orders = [o for o in engine.orders if o["clientOrderId"].startswith("mg-reduce-")]
    danger = [r["time"] for r in engine.history if untouched(D(r["marks"]["BTCUSDT"])) >= TRIGGER]
    assert orders and danger and engine.liquidations == []
    assert orders[0]["time"] < danger[0]  # decided on the book, before any mark showed it
    assert all(o["reduceOnly"] and D(o["origQty"]) <= D("0.75") * D("0.25") for o in orders)
    assert len(orders) == 1  # the cooldown: one step, never past the cap
    early = [a for a in alerts if a.key == "early:margin_ratio"]
    real = [a for a in alerts if a.key == "margin_ratio"]
    assert early and early[0].text.startswith("early: the book says the margin ratio")
    assert real == [] or early[0].at < real[0].at
    intent = [r for r in audit if r["decision_id"] == orders[0]["clientOrderId"][3:]]
    assert intent, "the early order has its audit rows like any other"
    # Replayed from the journal (quotes included), the same rules decide the same: the early
    # alert at the same moment, the same early order. Mark-only rules, on the same recorded
    # account (reduced early, so its marks never passed the trigger), neither warn nor act.
    store = SqliteStore(tmp_path / "a.db")
    history, settled = list(store.events()), store.settled_decisions()
    store.close()
    again = Replayer(RULES, settled).feed_all(history).happened
    assert [(h.at, h.text) for h in again if h.key == "early:margin_ratio"][:1] == [
        (early[0].at, early[0].text)
    ]
    decided = [h.decision_id for h in again if h.kind == "action"]
    assert decided[:1] == [orders[0]["clientOrderId"][3:]]
    mark_only = replace(
        RULES, alerts=replace(RULES.alerts, early=False), reduce=replace(RULES.reduce, early=False)
    )
    late = Replayer(mark_only, settled).feed_all(history).happened
    assert not [h for h in late if h.key.startswith("early:")]
    assert not [h for h in late if h.kind == "action"]


async def test_the_book_is_journaled_at_most_twice_a_second(tmp_path: Path) -> None:
    steady = {**FALL, "path": []}
    emulator = await Emulator(load_scenario(steady)).start()
    path = tmp_path / "b.db"
    try:
        async with Running(emulator, path, rules=RULES) as service:
            await service.wait_for(lambda s: s.ready, 15)
            await service.wait_for(lambda s: "BTCUSDT" in s.quotes, 15)
            await asyncio.sleep(2.5)  # the emulator sends ten book updates a second
            service.store.flush()
    finally:
        await emulator.stop()
    store = SqliteStore(path)
    quotes = [(at, e) for at, e in store.events() if isinstance(e, QuoteUpdated)]
    store.close()
    per_second = Counter(e.event_at // 1_000 for _, e in quotes)
    assert len(quotes) >= 4 and max(per_second.values()) <= 2
    gaps = [b.event_at - a.event_at for (_, a), (_, b) in itertools.pairwise(quotes)]
    assert min(gaps) >= 500
    assert all(e.index is not None and e.last is not None for _, e in quotes[1:])
