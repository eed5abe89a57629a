"""A money request Binance carries out after the client gave up on it is found, never sent
again; one Binance dropped (it reached it past `timestamp + recvWindow`) is sent once more.

The emulator holds the request (`"execute": "late"`) longer than the client waits, then carries
it out if its recvWindow has not passed on the emulator's clock. The client's timeout, the
recvWindow and the lookup margin are small, so each case takes seconds."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from assistant.core.rules.config import Rules
from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator
from assistant.emulator.server.protocol import Fault
from assistant.service.settings import Exchange, Settings
from assistant.store.sqlite import SqliteStore
from tests.service.test_actions_live import DANGER, DEEP, example_rules
from tests.service.test_mirror_live import Running

TIMEOUT_MS = 500  # the client gives up after this
WINDOW_MS = 2_000  # recvWindow
MARGIN = 0.5  # [exchange] lookup_margin, seconds
SURE_AFTER_MS = WINDOW_MS + int(MARGIN * 1000)  # after the timestamp: "not found" is conclusive
TRANSFER, ORDER = "/sapi/v1/asset/transfer", "/fapi/v1/order"


def rest_options(window_ms: int = WINDOW_MS) -> dict[str, Any]:
    return {"timeout_ms": TIMEOUT_MS, "recv_window_ms": window_ms}


SETTINGS = Settings(exchange=Exchange(lookup_margin=MARGIN))


def deposit_only() -> Rules:
    rules = example_rules(speed=1)
    return replace(rules, reduce=replace(rules.reduce, enabled=False))


def reduce_only() -> Rules:
    rules = example_rules(speed=1)
    return replace(rules, deposit=replace(rules.deposit, enabled=False))


def intents(store: SqliteStore) -> list[dict[str, Any]]:
    return list(store.db.query("SELECT decision_id, status, outcome FROM intents"))


def hold(emulator: Emulator, path: str, delay: float) -> None:
    emulator.faults.append(
        Fault.parse({"path": path, "method": "POST", "execute": "late", "delay": delay})
    )


def calls(emulator: Emulator, path: str, method: str) -> list[dict[str, Any]]:
    return [r for r in emulator.requests if r["path"] == path and r["method"] == method]


async def act(
    emulator: Emulator, db: Path, rules: Rules, window_ms: int = WINDOW_MS
) -> list[dict[str, Any]]:
    """The service, until its first decision is settled and no request is held any more."""
    running = Running(
        emulator, db, rules=rules, settings=SETTINGS, rest_options=rest_options(window_ms)
    )
    async with running as service:
        await service.wait_for(lambda s: s.ready, 15)
        for _ in range(200):  # bounded: 20 s
            rows = intents(running.store)
            if rows and all(r["status"] != "pending" for r in rows) and not emulator.held:
                break
            await asyncio.sleep(0.1)
        return intents(running.store)


@pytest.fixture
async def danger() -> Any:
    emulator = await Emulator(load_scenario(DANGER)).start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def deep() -> Any:
    emulator = await Emulator(load_scenario(DEEP)).start()
    yield emulator
    await emulator.stop()


async def test_a_transfer_carried_out_after_the_client_gave_up_is_found_not_sent_again(
    danger: Emulator, tmp_path: Path
) -> None:
    hold(danger, TRANSFER, 1.2)  # lands 1.2 s after it left: inside the 2 s window
    rows = await act(danger, tmp_path / "a.db", deposit_only())
    transfers = danger.engine.transfers
    posts = calls(danger, TRANSFER, "POST")
    assert len(transfers) == 1 and len(posts) == 1 and posts[0]["status"] == 200
    # The client had given up (0.5 s) and looked before the transfer landed.
    looked = [r["time"] for r in calls(danger, TRANSFER, "GET")]
    assert looked and min(looked) < transfers[0]["time"]
    assert [r["status"] for r in rows] == ["done"] and "found after" in rows[0]["outcome"]


async def test_a_transfer_dropped_past_its_window_is_sent_once_more_after_it(
    danger: Emulator, tmp_path: Path
) -> None:
    hold(danger, TRANSFER, 3.0)  # reaches the exchange 3 s after it left: past the window
    rows = await act(danger, tmp_path / "a.db", deposit_only())
    posts = calls(danger, TRANSFER, "POST")
    assert len(danger.engine.transfers) == 1
    assert [p["status"] for p in posts] == [400, 200]  # the held one refused (-1021), then ours
    # Sent again only once "not found" was conclusive (the first one's log time is no earlier
    # than its timestamp).
    assert posts[1]["time"] - posts[0]["time"] >= SURE_AFTER_MS
    assert [r["status"] for r in rows] == ["done"]


async def test_an_order_carried_out_after_the_client_gave_up_is_found_not_sent_again(
    deep: Emulator, tmp_path: Path
) -> None:
    hold(deep, ORDER, 1.2)
    rows = await act(deep, tmp_path / "a.db", reduce_only())
    orders = [o for o in deep.engine.orders if o["clientOrderId"].startswith("mg-reduce-")]
    posts = calls(deep, ORDER, "POST")
    assert len(orders) == 1 and orders[0]["status"] == "FILLED"
    assert len(posts) == 1 and posts[0]["status"] == 200
    looked = [r["time"] for r in calls(deep, ORDER, "GET")]
    assert looked and min(looked) < orders[0]["time"]
    assert [r["status"] for r in rows] == ["done"] and "found after" in rows[0]["outcome"]


async def test_an_order_dropped_past_its_window_is_sent_once_more_after_it(
    deep: Emulator, tmp_path: Path
) -> None:
    hold(deep, ORDER, 3.0)
    rows = await act(deep, tmp_path / "a.db", reduce_only())
    orders = [o for o in deep.engine.orders if o["clientOrderId"].startswith("mg-reduce-")]
    posts = calls(deep, ORDER, "POST")
    assert len(orders) == 1 and orders[0]["status"] == "FILLED"
    assert [p["status"] for p in posts] == [400, 200]
    assert posts[1]["time"] - posts[0]["time"] >= SURE_AFTER_MS
    assert [r["status"] for r in rows] == ["done"]


async def test_after_a_crash_the_restart_waits_out_the_window_before_giving_up(
    danger: Emulator, tmp_path: Path
) -> None:
    """The service dies while the transfer is held; the restart's recovery keeps looking until
    the transfer's window (4 s) has passed, so it finds the transfer landing at 2.5 s instead
    of abandoning the decision (after which the rules could decide a second one)."""
    window = 4_000
    hold(danger, TRANSFER, 2.5)
    first = Running(
        danger,
        tmp_path / "a.db",
        rules=deposit_only(),
        settings=SETTINGS,
        rest_options=rest_options(window),
    )
    async with first as service:
        await service.wait_for(lambda s: s.ready, 15)
        for _ in range(100):  # bounded: 10 s; until the client gave up and looks
            if calls(danger, TRANSFER, "GET"):
                break
            await asyncio.sleep(0.05)
        assert [r["status"] for r in intents(first.store)] == ["pending"]
    restarted = danger.now_ms()
    assert danger.engine.transfers == [] and danger.held
    rows = await act(danger, tmp_path / "a.db", deposit_only(), window)
    transfers = danger.engine.transfers
    assert len(transfers) == 1 and len(calls(danger, TRANSFER, "POST")) == 1
    looked = [r["time"] for r in calls(danger, TRANSFER, "GET") if r["time"] >= restarted]
    assert looked and min(looked) < transfers[0]["time"]  # recovery looked before it landed
    assert [r["status"] for r in rows] == ["done"]
