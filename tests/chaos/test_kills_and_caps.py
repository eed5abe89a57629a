"""SIGKILL at random moments and within 0-1.2 s after each transfer lands, restarting at once
each time, while the rules fight the crash in auto with small caps. Afterwards the emulator's
own transfers must hold the money invariants exactly:

1. no decision moves money twice (every transfer claimed by exactly one decision, no
   decision with two; no client order id twice);
2. no transfer exceeds `max_per_action`;
3. no UTC day's transfers exceed `max_per_day`.

`make test` runs at least 10 kills over two crash runs; `make chaos` runs 300
(`CHAOS_CAP_KILLS`)."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

from assistant.core.rules.memory import DAY_MS
from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator
from tests.chaos.test_random_kills import scenario_over
from tests.emulator.conftest import fast
from tests.service.test_crash_safety import claims, run_service

KILLS = int(os.environ.get("CHAOS_CAP_KILLS", "10"))
SPEED = 10.0  # the crash's 110 scenario seconds in 11 of wall time
PER_ACTION, PER_DAY = Decimal(300), Decimal(600)


def config(folder: Path, emulator: Emulator) -> Path:
    path = folder / "assistant.toml"
    path.write_text(
        f'[exchange]\nenvironment = "emulator"\nrest_url = "{emulator.urls["rest"]}"\n'
        f'ws_url = "{emulator.urls["ws"]}"\n[store]\npath = "a.db"\n[actions]\nmode = "auto"\n'
        '[alerts]\ncooldown = "30s"\nstale_after = "60s"\n[mirror]\nreconcile_every = "2s"\n'
        f'[deposit]\ncooldown = "1s"\nmax_per_action = {PER_ACTION}\nmax_per_day = {PER_DAY}\n'
        '[reduce]\ncooldown = "1s"\n'
    )
    return path


class Killer:
    """Polled by `run_service`: kill at a random moment, or soon after a transfer lands."""

    def __init__(self, emulator: Emulator, rng: random.Random, after_transfer: bool) -> None:
        loop = asyncio.get_running_loop()
        self.emulator, self.rng, self.loop = emulator, rng, loop
        self.seen = len(emulator.engine.transfers)
        self.at = loop.time() + rng.uniform(0.5, 4.0)
        self.after_transfer = after_transfer

    def __call__(self) -> bool:
        now = self.loop.time()
        landed = len(self.emulator.engine.transfers)
        if self.after_transfer and landed > self.seen:
            self.seen = landed
            self.at = min(self.at, now + self.rng.uniform(0.0, 1.2))
        return now >= self.at or scenario_over(self.emulator)()


class Settled:
    """True once no intent is pending and a snapshot newer than the start was journaled."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.start = self._last_snapshot()

    def _last_snapshot(self) -> int:
        try:
            with sqlite3.connect(self.db) as conn:
                row = conn.execute(
                    "SELECT MAX(id) FROM journal WHERE kind = 'AccountSnapshotted'"
                ).fetchone()
        except sqlite3.Error:
            return 0
        return int(row[0] or 0)

    def __call__(self) -> bool:
        try:
            with sqlite3.connect(self.db) as conn:
                pending = conn.execute(
                    "SELECT COUNT(*) FROM intents WHERE status = 'pending'"
                ).fetchone()[0]
        except sqlite3.Error:
            return False
        return pending == 0 and self._last_snapshot() > self.start


def check_invariants(emulator: Emulator, db: Path, where: str) -> None:
    transfers = emulator.engine.transfers
    amounts = [Decimal(str(t["amount"])) for t in transfers]
    assert all(a <= PER_ACTION for a in amounts), f"{where}: over max_per_action: {amounts}"
    per_day: dict[int, Decimal] = defaultdict(Decimal)
    for t, amount in zip(transfers, amounts, strict=True):
        per_day[int(t["time"]) // DAY_MS] += amount
    assert all(v <= PER_DAY for v in per_day.values()), f"{where}: over max_per_day: {per_day}"
    claimed = claims(db)
    assert sorted(t for t, _ in claimed) == sorted(int(t["tranId"]) for t in transfers), where
    assert len({d for _, d in claimed}) == len(claimed), f"{where}: a decision moved twice"
    orders = Counter(
        o["clientOrderId"] for o in emulator.engine.orders if o["clientOrderId"].startswith("mg-")
    )
    assert all(n == 1 for n in orders.values()), f"{where}: an order twice: {orders}"


async def test_kills_around_transfers_never_break_the_caps(tmp_path: Path) -> None:
    rng = random.Random(29)
    emulator = await Emulator(load_scenario(fast("crash", speed=SPEED))).start()
    kills = runs = 0
    moved: list[Decimal] = []
    try:
        while kills < KILLS:
            runs += 1
            await emulator.reset(load_scenario(fast("crash", speed=SPEED)))
            folder = tmp_path / f"crash{runs}"
            folder.mkdir()
            cfg, db = config(folder, emulator), folder / "a.db"
            for life in range(200):  # bounded: kills within one crash, no reset between them
                if scenario_over(emulator)():
                    break
                killer = Killer(emulator, rng, after_transfer=life % 2 == 1)
                code = await run_service(cfg, None, killer, 30, kill=True)
                if code == -signal.SIGKILL and not scenario_over(emulator)():
                    kills += 1
            # A last clean start, stopped once its recovery settled every intent and a fresh
            # snapshot was journaled after it.
            assert await run_service(cfg, None, Settled(db), 30) == 0
            check_invariants(emulator, db, f"crash run {runs}")
            moved += [Decimal(str(t["amount"])) for t in emulator.engine.transfers]
    finally:
        await emulator.stop()
    assert kills >= KILLS
    assert moved, "the rules never deposited: the test proves nothing"
    print(f"{kills} kills over {runs} crash runs; transfers {[str(m) for m in moved]}")
