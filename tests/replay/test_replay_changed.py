"""`assistant replay` with a changed config, on a recording with a deposit asked in the chat:
the chat's deposit counts against the day's cap, actions pair by kind, amount and time, each
replayed action says what it would have been, and the plot says what it shows. The same
recording shows the health series keeping the fast last moments, not one row per 10 s."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from assistant.commands import replay
from assistant.core.events import (
    ActionSettled,
    BracketsLoaded,
    ManualDeposit,
    StreamConnected,
)
from assistant.core.replay import Happened, Replayer
from assistant.core.rules.config import DepositRule, ReduceRule, Rules
from assistant.core.values import Mode, Outcome
from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator
from assistant.service.settings import load_settings, rules_from
from assistant.store.sqlite import SqliteStore
from tests.core.test_mirror import snapshot
from tests.emulator.conftest import fast
from tests.helpers import real_2024_brackets
from tests.replay.conftest import config
from tests.telegram.harness import Harness

D = Decimal
SPEED = 20.0
CAP = D("1500")  # max_per_day: the chat's 1,000 leaves 500 for the rules


def capped(folder: Path, *changes: tuple[str, str]) -> Path:
    """The example config in auto with a 1,500 USDT day, and `changes` made to its text."""
    path = config(folder)
    text = path.read_text().replace("max_per_day = 3000", f"max_per_day = {CAP}")
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text)
    return path


async def record(folder: Path) -> Path:
    """The crash, with a 1,000 USDT deposit asked and confirmed in Telegram at its start."""
    emulator = await Emulator(load_scenario(fast("crash", speed=SPEED))).start()
    try:
        rules = rules_from(load_settings(capped(folder)))
        async with Harness(emulator, folder, rules=rules) as h:
            question = await h.ask("/deposit 1000")
            confirm, _ = h.buttons(question)
            await h.press(confirm)
            for _ in range(300):  # bounded: the scenario's 110 s at 20x, about 6 s
                if emulator.scenario_time() > 112 or emulator.engine.liquidations:
                    break
                await asyncio.sleep(0.05)
        moved = [D(t["amount"]) for t in emulator.engine.transfers]
        assert moved[0] == D("1000") and sum(moved) == CAP, moved  # the chat's, then the rules'
    finally:
        await emulator.stop()
    return folder / "a.db"


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return asyncio.run(record(tmp_path_factory.mktemp("chat-deposit")))


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant", "replay", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def deposits(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [h for h in body["happened"] if h["kind"] == "action" and h["key"] == "deposit"]


def test_the_chat_s_deposit_counts_against_the_cap_when_the_rules_change(
    recording: Path, tmp_path: Path
) -> None:
    """Reducing from the start (a margin ratio of 6% is past a 1% trigger) shifts every later
    decision's number: the chat's deposit no longer has its recorded id,
    and was once replayed as if it had moved nothing."""
    other = capped(
        tmp_path,
        ("trigger_ratio = 0.80", "trigger_ratio = 0.01"),
        ("target_ratio = 0.60", "target_ratio = 0.005"),
    )
    picture = tmp_path / "replay.png"
    result = cli("-c", str(other), "--store", str(recording), "--json", "--plot", str(picture))
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    found = deposits(body)
    asked = [d for d in found if "asked by" in d["text"]]
    assert [(D(d["size"]), d["would"]) for d in asked] == [(D("1000"), "done")]
    assert sum(D(d["size"]) for d in found if d["would"] == "done") == CAP  # not 2,000
    assert "CAPPED at 500.00 USDT by today's cap" in found[-1]["text"]
    reduced = [h for h in body["happened"] if h["kind"] == "action" and h["key"] == "reduce"]
    assert reduced and reduced[0]["at"] < asked[0]["at"]  # it did shift the numbers
    compared = body["compared"]
    assert not [g for g in compared["gone"] if g["key"] == "deposit"], compared["gone"]
    assert not [n for n in compared["new"] if n["key"] == "deposit"], compared["new"]
    image = Image.open(io.BytesIO(picture.read_bytes()))
    assert image.format == "PNG" and image.width >= 800
    report = replay.replay(load_settings(other), recording)
    title = replay.plot_title(report, load_settings(other))
    assert "recorded account" in title and "recorded vs replayed with assistant.toml" in title


def test_each_replayed_action_says_what_it_would_have_been(recording: Path, tmp_path: Path) -> None:
    asking = capped(tmp_path, ('mode = "auto"', 'mode = "confirm"'))
    report = replay.replay(load_settings(asking), recording)
    actions = [h for h in report.replayer.happened if h.kind == "action"]
    asked = [h for h in actions if "asked by" in h.text]
    assert [h.would for h in asked] == ["done"]  # a person's own request was confirmed
    assert {h.would for h in actions if h not in asked} == {"confirm proposal"}
    text = replay.as_text(report)
    assert "ACTION deposit, would be CONFIRM PROPOSAL:" in text
    assert "ACTION deposit, would be DONE: transfer 1,000.00 USDT" in text


def test_the_recording_s_own_config_reproduces_the_chat_s_deposit(
    recording: Path, tmp_path: Path
) -> None:
    own = capped(tmp_path)
    result = cli("-c", str(own), "--store", str(recording), "--check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 new, 0 gone, 0 earlier, 0 later, 0 resized" in result.stdout


def test_the_health_series_keeps_the_last_moments(recording: Path) -> None:
    """One row per 10 s would leave this 6 s recording with one or two, and the crash's end
    (the last alerts, the margin call, the liquidation when it comes) without any: while
    the ratio moves, and at every alert, it gets more, through the last alert."""
    store = SqliteStore(recording)
    rows = store.health_since(0, 2**62)
    rules_alerts = [
        int(r["at"])
        for r in store.audit_rows()
        if r["what"] in ("alert:margin_ratio", "alert:distance", "alert:liquidation")
    ]
    store.close()
    assert len(rows) >= 4, rows
    assert int(rows[-1]["at"]) >= max(rules_alerts) - 100  # a row at (or by) the last alert


def happened(at: int, amount: str) -> Happened:
    return Happened(at, "action", "deposit", "", "t", "d", None, size=D(amount), would="done")


def recorded(at: int, amount: str) -> replay.Recorded:
    return replay.Recorded(at, "action", "deposit", "", "d", size=D(amount), outcome="done")


def test_actions_pair_by_amount_and_time_not_by_order() -> None:
    """In order, the first replayed deposit would take the nearest recorded one whatever its
    amount; paired by amount and time each finds its own."""
    c = replay.compare(
        [happened(12_000, "200"), happened(11_000, "500")],
        [recorded(10_000, "500"), recorded(20_000, "200")],
    )
    assert c.same == 1 and [(h.size, ms) for h, ms in c.earlier] == [(D("200"), 8_000)]
    assert not (c.new or c.gone or c.later or c.resized)
    resized = replay.compare([happened(10_000, "300")], [recorded(10_500, "500")])
    assert [(h.size, r.size) for h, r in resized.resized] == [(D("300"), D("500"))]
    assert resized.differs and resized.same == 0


def test_a_chat_deposit_takes_its_recorded_outcome_under_another_number() -> None:
    """Under rules that decide something first, the chat's deposit gets another number; the
    journal's outcome for it (here: failed) still settles it, so nothing counts that did not
    move."""
    rules = Rules(
        deposit=DepositRule(trigger_ratio=None, trigger_distance=None, max_per_day=CAP),
        reduce=ReduceRule(trigger_ratio=D("0.01"), target_ratio=D("0.01")),
        mode=Mode.AUTO,
    )
    failed = ActionSettled("deposit-1100-0", "deposit", Outcome.FAILED, "spot: 0 free", 1_200)
    replayer = Replayer(rules, frozenset({failed.decision_id})).feed_all(
        [
            (900, BracketsLoaded(real_2024_brackets(), 900)),
            (950, StreamConnected("user", 950)),
            (950, StreamConnected("market", 950)),
            (1_000, snapshot()),
            (1_100, ManualDeposit(D("1000"), "ann in chat 1", 1_100)),
        ]
    )
    ids = [h.decision_id for h in replayer.happened if h.kind == "action"]
    assert ids[0].startswith("reduce-") and ids[1] == "deposit-1100-1"  # not the recorded -0
    assert replayer.memory.deposited_today(1_100) == D("1000")  # booked, awaiting its outcome
    replayer.feed(1_200, failed)
    assert replayer.memory.deposited_today(1_200) == 0 and not replayer.memory.pending
