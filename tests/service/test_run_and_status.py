"""`assistant run` and `assistant status` as an operator runs them: separate processes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from assistant.commands.status import status
from assistant.errors import InputError
from assistant.service.settings import load_settings


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "assistant", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return process.returncode, err


def status_json(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant", "status", "-c", str(config), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_run_mirrors_the_emulator_and_status_reads_the_store(tmp_path: Path) -> None:
    emulator = start("emulator", "--scenario", "calm")
    try:
        assert emulator.stdout is not None
        urls = json.loads(emulator.stdout.readline())
        config = tmp_path / "assistant.toml"
        config.write_text(
            f'[exchange]\nenvironment = "emulator"\nrest_url = "{urls["rest"]}"\n'
            f'ws_url = "{urls["ws"]}"\n'
            '[store]\npath = "state/assistant.db"\n'
        )
        (tmp_path / "state").mkdir()
        service = start("run", "-c", str(config))
        body: dict[str, Any] | None = None
        deadline = time.monotonic() + 30
        for _ in range(300):  # bounded: until the first saved state, at most 30 s
            result = status_json(config)
            if result.returncode == 0:
                body = json.loads(result.stdout)
                break
            assert "no store yet" in result.stderr or "holds no account" in result.stderr, (
                result.stderr
            )
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        code, err = stop(service)
        assert code == 0, err
        assert "Traceback" not in err and "emulator-secret" not in err
        assert body is not None, "status never showed the account"
        assert body["wallet_balance"] == "3000.00000000" and body["mode"] == "dry-run"
        assert {p["symbol"] for p in body["positions"]} == {"BTCUSDT", "ETHUSDT"}
        assert body["exchange"]["totalMaintMargin"] is not None
        btc = next(p for p in body["positions"] if p["symbol"] == "BTCUSDT")
        assert (
            btc["positionAmt"] == "0.5" and btc["leverage"] == 20 and btc["marginType"] == "cross"
        )
        # The store outlives the service.
        assert status_json(config).returncode == 0
    finally:
        emulator.terminate()
        emulator.communicate(timeout=10)


def test_status_flags_old_data_and_explains_a_missing_store(tmp_path: Path) -> None:
    config = tmp_path / "a.toml"
    config.write_text('[store]\npath = "x.db"\n[mirror]\nstaleness_limit = "5s"\n')
    settings = load_settings(config)
    with pytest.raises(InputError, match="no store yet"):
        status(settings)
    result = status_json(config)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_status_says_when_data_is_stale(tmp_path: Path) -> None:
    from assistant.store.sqlite import SqliteStore
    from tests.core.test_mirror import ready

    config = tmp_path / "a.toml"
    config.write_text('[store]\npath = "x.db"\n[mirror]\nstaleness_limit = "5s"\n')
    store = SqliteStore(tmp_path / "x.db")
    state = ready()  # marks as of the snapshot at t = 1000 ms
    store.save_state(state, 1_000)
    store.close()
    settings = load_settings(config)
    assert status(settings, now_ms=4_000)["stale"] is False
    assert status(settings, now_ms=7_000)["stale"] is True
    body = status(settings, now_ms=4_000)
    assert body["margin_ratio"] == "0.04000000" and body["updated_at"] == 1_000
