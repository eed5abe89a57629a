"""What an operator relies on: nothing journaled is lost on shutdown, and secrets never leak."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

FAKE_KEY = "FAKEKEY-recognisable-0123456789abcdef"
FAKE_SECRET = "FAKESECRET-recognisable-fedcba9876543210"


def start_emulator(
    tmp_path: Path, scenario: dict[str, Any]
) -> tuple[subprocess.Popen[str], dict[str, str]]:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario))
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant", "emulator", "--scenario", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, json.loads(process.stdout.readline())


def write_config(tmp_path: Path, urls: dict[str, str], extra: str = "") -> Path:
    config = tmp_path / "a.toml"
    config.write_text(
        f'[exchange]\nenvironment = "emulator"\nrest_url = "{urls["rest"]}"\n'
        f'ws_url = "{urls["ws"]}"\napi_key = "env:TEST_KEY"\napi_secret = "env:TEST_SECRET"\n'
        f'[store]\npath = "a.db"\n{extra}'
    )
    return config


def journal_rows(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            sql = "SELECT COUNT(*) FROM journal WHERE kind != 'DriftDetected'"
            rows = int(conn.execute(sql).fetchone()[0])
            # The book's quotes (the shadow mark's inputs) are journaled in their own table.
            return rows + int(conn.execute("SELECT COUNT(*) FROM book").fetchone()[0])
    except sqlite3.OperationalError:  # the file exists, its tables not yet (start-up)
        return 0


def run_for(config: Path, seconds: float, env: dict[str, str]) -> tuple[int, str, str]:
    service = subprocess.Popen(
        [sys.executable, "-m", "assistant", "run", "-c", str(config)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    db = config.parent / "a.db"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and service.poll() is None:  # bounded: until data flows
        if db.exists() and journal_rows(db) > 20:
            break
        time.sleep(0.1)
    time.sleep(seconds)  # let the burst run; this is the workload, not a synchronisation
    service.send_signal(signal.SIGTERM)
    out, err = service.communicate(timeout=20)
    return service.returncode, out, err


BURST: dict[str, Any] = {
    "api_key": FAKE_KEY,
    "api_secret": FAKE_SECRET,
    "spot": {"USDT": "5000"},
    "futures": {"USDT": "3000"},
    "symbols": {"BTCUSDT": {"mark": "60000"}, "ETHUSDT": {"mark": "3000"}},
    "positions": [
        {"symbol": "BTCUSDT", "positionAmt": "0.5", "entryPrice": "60000", "leverage": 20},
        {"symbol": "ETHUSDT", "positionAmt": "5", "entryPrice": "3000", "leverage": 20},
    ],
    "path": [
        {"t": 0, "BTCUSDT": "60000", "ETHUSDT": "3000"},
        {"t": 1000, "BTCUSDT": "61000", "ETHUSDT": "3100"},
    ],
    "settings": {"mark_interval": 0.005, "speed": 1},  # 400 mark events a second
}


def test_shutdown_in_a_burst_loses_no_journaled_event(tmp_path: Path) -> None:
    emulator, urls = start_emulator(tmp_path, BURST)
    try:
        config = write_config(tmp_path, urls)
        code, _, err = run_for(config, 1.0, {"TEST_KEY": FAKE_KEY, "TEST_SECRET": FAKE_SECRET})
    finally:
        emulator.terminate()
        emulator.communicate(timeout=10)
    assert code == 0, err
    applied = int(re.search(r"stopped after (\d+) events", err).group(1))  # type: ignore[union-attr]
    assert applied > 200
    assert journal_rows(tmp_path / "a.db") == applied  # every event handled is in the journal


DEPOSITING: dict[str, Any] = {
    **BURST,
    "futures": {"USDT": "2300"},
    "path": [],
    "settings": {"mark_interval": 0.2},
}  # 5% from liquidation: it deposits


def test_secrets_never_appear_in_output_or_the_store(tmp_path: Path) -> None:
    emulator, urls = start_emulator(tmp_path, DEPOSITING)
    env = {"TEST_KEY": FAKE_KEY, "TEST_SECRET": FAKE_SECRET, "PYTHONWARNINGS": "default"}
    try:
        config = write_config(tmp_path, urls, '[actions]\nmode = "auto"\n')
        code, out, err = run_for(config, 1.5, env)
        status = subprocess.run(
            [sys.executable, "-m", "assistant", "status", "-c", str(config), "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, **env},
        )
        check = subprocess.run(
            [sys.executable, "-m", "assistant", "check-config", "-c", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, **env},
        )
    finally:
        emulator.terminate()
        emulator.communicate(timeout=10)
    assert code == 0, err
    assert "done: transfer" in err  # it did move money, so signed requests were made
    written = [out, err, status.stdout, status.stderr, check.stdout, check.stderr]
    written += [p.read_bytes().decode("latin-1") for p in tmp_path.glob("a.db*")]
    for text in written:
        assert FAKE_SECRET not in text and FAKE_KEY not in text
