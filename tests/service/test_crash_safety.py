"""SIGKILL at the three failpoints, then a restart: never a second transfer or order for one
decision, as the emulator's own state shows. The service runs as a real process
(`assistant run`); `ASSISTANT_FAILPOINT` makes it kill itself at the exact point."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator
from assistant.emulator.server.protocol import Fault
from tests.service.test_actions_live import DANGER, DEEP

RUNS = 10  # kills at each failpoint
POINTS = ["after-intent", "request-in-flight", "after-accept"]


def config(tmp_path: Path, emulator: Emulator, name: str, deposit: bool) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f'[exchange]\nenvironment = "emulator"\nrest_url = "{emulator.urls["rest"]}"\n'
        f'ws_url = "{emulator.urls["ws"]}"\n'
        # A lost request is known not to have executed 1 s after its recvWindow (not 5 s):
        # the same proof, sooner, so the ten kills in flight take less of the suite's time.
        'lookup_margin = "1s"\n'
        f'[store]\npath = "{name}.db"\n[actions]\nmode = "auto"\n'
        f"[deposit]\nenabled = {'true' if deposit else 'false'}\n"
        f"[reduce]\nenabled = {'false' if deposit else 'true'}\n"
    )
    return path


async def run_service(
    cfg: Path, failpoint: str | None, until: Any, seconds: float, *, kill: bool = False
) -> int | None:
    """`assistant run`, until it dies (a failpoint) or `until()` holds; bounded in time. Then
    SIGTERM, or with `kill` SIGKILL (a crash at that moment)."""
    env = {k: v for k, v in os.environ.items() if k != "ASSISTANT_FAILPOINT"}
    if failpoint:
        env["ASSISTANT_FAILPOINT"] = failpoint
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "assistant",
        "run",
        "-c",
        str(cfg),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    deadline = asyncio.get_running_loop().time() + seconds
    while process.returncode is None and asyncio.get_running_loop().time() < deadline:
        if until():
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 0.1)
    if process.returncode is None:
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 15)
    return process.returncode


def settled(db: Path) -> bool:
    """At least one decision, and none pending."""
    if not db.exists():
        return False
    try:
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT status FROM intents").fetchall()
    except sqlite3.Error:
        return False
    return bool(rows) and all(r[0] != "pending" for r in rows)


def first_intent(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return str(
            conn.execute("SELECT status FROM intents ORDER BY created_at LIMIT 1").fetchone()[0]
        )


def claims(db: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT tran_id, decision_id FROM claims").fetchall()


@pytest.fixture
async def emulator() -> Any:
    emu = await Emulator(load_scenario(DANGER)).start()
    yield emu
    await emu.stop()


@pytest.mark.parametrize("point", POINTS)
async def test_killed_at_a_failpoint_never_moves_money_twice(
    point: str, emulator: Emulator, tmp_path: Path
) -> None:
    for run in range(RUNS):
        deposit = run % 2 == 0  # alternate: a transfer, then a reduce-only order
        await emulator.reset(load_scenario(DANGER if deposit else DEEP))
        path = "/sapi/v1/asset/transfer" if deposit else "/fapi/v1/order"
        if point == "request-in-flight":  # the answer is delayed: the process dies waiting
            emulator.faults.append(
                Fault.parse({"path": path, "method": "POST", "status": 200, "delay": 2})
            )
        name = f"{point}-{run}"
        cfg = config(tmp_path, emulator, name, deposit)
        db = tmp_path / f"{name}.db"
        code = await run_service(cfg, point, lambda: False, 30)
        assert code == -signal.SIGKILL, f"run {run}: the failpoint {point} was not reached ({code})"
        assert await run_service(cfg, None, lambda db=db: settled(db), 30) == 0
        transfers = emulator.engine.transfers
        orders = Counter(
            o["clientOrderId"]
            for o in emulator.engine.orders
            if o["clientOrderId"].startswith("mg-")
        )
        assert all(count == 1 for count in orders.values()), f"run {run}: an order twice: {orders}"
        claimed = claims(db)
        assert len(claimed) == len(transfers), f"run {run}: a transfer no decision owns"
        assert len({d for _, d in claimed}) == len(claimed), f"run {run}: a decision twice"
        first = first_intent(db)
        if point == "after-intent":  # nothing was sent: after the restart it is abandoned
            assert first == "abandoned", f"run {run}: {first}"
        elif point == "after-accept":  # it went through: the restart finds it
            assert first == "done", f"run {run}: {first}"
