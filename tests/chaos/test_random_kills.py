"""SIGKILL at random moments while the rules save the crash account, then a restart: no
transfer or order twice, no committed journal row lost, and the mirror equal to the
emulator once the restart has reconciled. The service is a real process (`assistant run`)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
from collections import Counter
from collections.abc import Callable
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator
from assistant.store.sqlite import SqliteStore
from tests.emulator.conftest import fast
from tests.service.test_crash_safety import claims, run_service
from tests.service.test_mirror_live import emulator_truth, mirror_view

KILLS = int(os.environ.get("CHAOS_KILLS", "5"))  # `make chaos` runs 100
SPEED = 10.0  # the crash's 110 s in 11 s


def config(folder: Path, emulator: Emulator) -> Path:
    path = folder / "assistant.toml"
    path.write_text(
        f'[exchange]\nenvironment = "emulator"\nrest_url = "{emulator.urls["rest"]}"\n'
        f'ws_url = "{emulator.urls["ws"]}"\n[store]\npath = "a.db"\n[actions]\nmode = "auto"\n'
        '[alerts]\ncooldown = "30s"\nstale_after = "60s"\n'  # cooldowns at the scenario's pace:
        '[deposit]\ncooldown = "3s"\n[reduce]\ncooldown = "1s"\n[mirror]\nreconcile_every = "2s"\n'
    )
    return path


def committed(db: Path) -> dict[int, str]:
    """Every journal row a reader can see now: committed."""
    if not db.exists():
        return {}
    try:
        with sqlite3.connect(db) as conn:
            return dict(conn.execute("SELECT id, event FROM journal").fetchall())
    except sqlite3.OperationalError:  # the file exists, its tables not yet (start-up)
        return {}


def killer(db: Path, seen: dict[int, str], deadline: float) -> Callable[[], bool]:
    """Polled by `run_service`: records the committed rows, and says when to kill."""

    def now() -> bool:
        seen.update(committed(db))
        return asyncio.get_running_loop().time() >= deadline

    return now


def scenario_over(emulator: Emulator) -> Callable[[], bool]:
    return lambda: emulator.scenario_time() > 112 or bool(emulator.engine.liquidations)


def last_snapshot(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            row = conn.execute(
                "SELECT MAX(id) FROM journal WHERE kind = 'AccountSnapshotted'"
            ).fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0] or 0)


def over_and_mirrored(emulator: Emulator, db: Path) -> Callable[[], bool]:
    """The scenario is over (or liquidated) and a snapshot taken after that was journaled:
    the mirror has seen the end, whatever the load on the machine."""
    over = scenario_over(emulator)
    seen: list[int] = []

    def now() -> bool:
        if not over():
            return False
        if not seen:
            seen.append(last_snapshot(db))
        return last_snapshot(db) > seen[0]

    return now


async def test_random_kills_lose_nothing_and_never_act_twice(tmp_path: Path) -> None:
    rng = random.Random(13)
    emulator = await Emulator(load_scenario(fast("crash", speed=SPEED))).start()
    try:
        for run in range(KILLS):
            await emulator.reset(load_scenario(fast("crash", speed=SPEED)))
            folder = tmp_path / f"run{run}"
            folder.mkdir()
            cfg, db = config(folder, emulator), folder / "a.db"
            seen: dict[int, str] = {}
            deadline = asyncio.get_running_loop().time() + rng.uniform(1.0, 8.0)
            code = await run_service(cfg, None, killer(db, seen, deadline), 30, kill=True)
            assert code == -signal.SIGKILL
            after_kill = committed(db)
            assert all(after_kill.get(i) == text for i, text in seen.items()), f"run {run}"
            code = await run_service(cfg, None, over_and_mirrored(emulator, db), 40)
            assert code == 0
            after_restart = committed(db)
            assert all(after_restart.get(i) == text for i, text in seen.items()), f"run {run}"
            orders = Counter(
                o["clientOrderId"]
                for o in emulator.engine.orders
                if o["clientOrderId"].startswith("mg-")
            )
            assert all(n == 1 for n in orders.values()), f"run {run}: an order twice: {orders}"
            claimed = claims(db)
            assert len(claimed) == len(emulator.engine.transfers), f"run {run}: stray transfer"
            assert len({d for _, d in claimed}) == len(claimed), f"run {run}: a decision twice"
            store = SqliteStore(db)
            loaded = store.load_state()
            store.close()
            assert loaded is not None
            truth = emulator_truth(emulator)  # Binance reports balances to 8 decimals
            truth["wallet"] = truth["wallet"].quantize(Decimal("1e-8"), rounding=ROUND_DOWN)
            assert mirror_view(loaded[0]) == truth, f"run {run}"
    finally:
        await emulator.stop()
