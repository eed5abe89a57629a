"""One store, one service. Two `assistant run` on one config: one runs, the other exits 2 at
once with one line naming the holder, and the money moved stays within the caps (the
emulator's own transfers are the judge). `status`, `replay` and `check-config` work beside
the running service; the lock goes when the service does."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest

from assistant.errors import InputError
from assistant.store.lock import StoreLock, StoreLocked, lock_path
from tests.service.test_actions_live import DANGER

T = TypeVar("T")
PER_ACTION, PER_DAY = Decimal(40), Decimal(100)


def assistant(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "assistant", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str], sig: int = signal.SIGTERM) -> tuple[int, str]:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        _, err = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return process.returncode, err


def wait_for(probe: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll `probe` until it gives a value; bounded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value is not None and value is not False:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[dict[str, str]]:
    """`assistant emulator` on a free port, the account about 5.4% from liquidation: the
    deposit rule fires at once and keeps wanting more than the caps allow."""
    scenario = tmp_path / "danger.json"
    scenario.write_text(json.dumps(DANGER))
    process = assistant("emulator", "--port", "0", "--scenario", str(scenario))
    try:
        assert process.stdout is not None
        yield json.loads(process.stdout.readline())
    finally:
        finish(process)


def state(urls: dict[str, str]) -> dict[str, Any]:
    with urllib.request.urlopen(f"{urls['control']}/state", timeout=5) as answer:
        body: dict[str, Any] = json.load(answer)
    return body


def deposited(urls: dict[str, str]) -> list[Decimal]:
    return [Decimal(t["amount"]) for t in state(urls)["transfers"]]


def journal_rows(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM journal").fetchone()[0])
    except sqlite3.Error:
        return 0


def write_config(tmp_path: Path, urls: dict[str, str]) -> Path:
    path = tmp_path / "assistant.toml"
    path.write_text(
        f'[exchange]\nenvironment = "emulator"\nrest_url = "{urls["rest"]}"\n'
        f'ws_url = "{urls["ws"]}"\n'
        '[store]\npath = "a.db"\n[actions]\nmode = "auto"\n[alerts]\ndaily_summary = ""\n'
        f'[deposit]\nmax_per_action = {PER_ACTION}\nmax_per_day = {PER_DAY}\ncooldown = "1s"\n'
        "[reduce]\nenabled = false\n"
    )
    return path


def test_a_second_service_on_the_same_store_exits_at_once_and_money_stays_in_the_caps(
    tmp_path: Path, emulator: dict[str, str]
) -> None:
    config = write_config(tmp_path, emulator)
    store = (tmp_path / "a.db").resolve()
    pair = [assistant("run", "-c", str(config)), assistant("run", "-c", str(config))]
    try:
        loser = wait_for(
            lambda: next((p for p in pair if p.poll() is not None), None), 30, "one to exit"
        )
        winner = next(p for p in pair if p is not loser)
        code, err = finish(loser)
        assert code == 2, err
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert f"PID {winner.pid}" in lines[0] and str(store) in lines[0], lines[0]
        assert winner.poll() is None, "the first one runs on"
        assert lock_path(store).read_text().strip() == str(winner.pid)

        # The read-only commands, beside the running service.
        assert command("check-config", "-c", str(config)).returncode == 0
        body = wait_for(
            lambda: (
                (r := command("status", "-c", str(config), "--json")).returncode == 0
                and json.loads(r.stdout)
            ),
            30,
            "status to show the account",
        )
        assert {p["symbol"] for p in body["positions"]} == {"BTCUSDT"} and body["mode"] == "auto"

        # The rules deposit up to the daily cap, then the service goes on seeing marks.
        wait_for(lambda: sum(deposited(emulator)) >= PER_DAY, 30, "the daily cap to be reached")
        seen = journal_rows(store)
        wait_for(lambda: journal_rows(store) >= seen + 25, 30, "more marks after the cap")
        replayed = command("replay", "-c", str(config))
        assert replayed.returncode == 0, replayed.stderr
        assert "deposit" in replayed.stdout
        amounts = deposited(emulator)
        assert sum(amounts) == PER_DAY and all(a <= PER_ACTION for a in amounts), amounts
        code, err = finish(winner)
        assert code == 0 and "Traceback" not in err and "UNIQUE" not in err, err
    finally:
        for process in pair:
            finish(process, signal.SIGKILL)

    # The lock went with the process: the next service takes it.
    seen = journal_rows(store)
    after = assistant("run", "-c", str(config))
    try:
        wait_for(
            lambda: lock_path(store).read_text().strip() == str(after.pid) or after.poll(),
            30,
            "the next service to take the lock",
        )
        assert after.poll() is None
        wait_for(lambda: journal_rows(store) > seen + 5, 30, "the next service to mirror")
        code, err = finish(after)
        assert code == 0, err
    finally:
        finish(after, signal.SIGKILL)
    assert sum(deposited(emulator)) == PER_DAY  # a restart keeps today's cap


def test_the_lock_names_its_holder_and_is_released(tmp_path: Path) -> None:
    store = tmp_path / "x.db"
    with StoreLock(store) as first:
        assert first.held and lock_path(store).read_text() == f"{os.getpid()}\n"
        with pytest.raises(StoreLocked) as refused:
            StoreLock(store).acquire()  # flock: a second open file is refused, same process
        assert refused.value.pid == os.getpid()
        message = str(refused.value)
        assert "\n" not in message and str(store) in message and f"PID {os.getpid()}" in message
    again = StoreLock(store)
    again.acquire()
    again.release()
    with pytest.raises(InputError, match="cannot open the store's lock"):
        StoreLock(tmp_path / "missing" / "x.db").acquire()
