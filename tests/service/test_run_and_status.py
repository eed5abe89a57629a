"""`assistant run` and `assistant status` as an operator runs them: separate processes."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from importlib.metadata import version
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
    service: subprocess.Popen[str] | None = None
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
        if service is not None and service.poll() is None:
            stop(service)  # a failed assertion above must not leave the service running
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


class Lines:
    """A process's stdout, line by line, read on a thread so a wait is bounded in time."""

    def __init__(self, stream: Any) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.stream = stream
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        """After the process ended: the reader has seen the end of the stream."""
        self.thread.join(timeout=10)
        self.stream.close()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.queue.put(line)

    def wait(self, pattern: str, timeout: float = 20) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {pattern!r} within {timeout} s in {self.seen}") from None
            self.seen.append(line)
            found = re.search(pattern, line)
            if found:
                return found


def status_until(config: Path, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """`status --json` until `done` holds (bounded: 150 tries, 20 s)."""
    body: dict[str, Any] = {}
    deadline = time.monotonic() + 20
    for _ in range(150):
        result = status_json(config)
        if result.returncode == 0:
            body = json.loads(result.stdout)
            if done(body):
                return body
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    raise AssertionError(f"status never showed it: {body}")


def test_status_shows_the_mode_in_force_where_it_came_from_the_pause_and_the_age(
    tmp_path: Path,
) -> None:
    """The issue: after a confirmed `/mode auto`, status said `mode dry-run (config)`."""
    emulator = start("emulator", "--scenario", "calm")
    log = (tmp_path / "service.log").open("w")
    try:
        assert emulator.stdout is not None
        urls = json.loads(emulator.stdout.readline())
        config = tmp_path / "assistant.toml"
        config.write_text(
            f'[exchange]\nenvironment = "emulator"\nrest_url = "{urls["rest"]}"\n'
            f'ws_url = "{urls["ws"]}"\n[store]\npath = "a.db"\n'
        )
        service = subprocess.Popen(
            [sys.executable, "-m", "assistant", "run", "-c", str(config), "--console"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        assert service.stdin is not None
        out = Lines(service.stdout)

        def say(text: str) -> None:
            assert service.stdin is not None
            service.stdin.write(text + "\n")
            service.stdin.flush()

        try:
            out.wait("console chat: type /help")
            body = status_until(config, lambda b: True)
            in_force = (body["mode"], body["mode_source"], body["paused"])
            assert in_force == ("dry-run", "config", False)
            assert 0 <= body["age_seconds"] < 10
            say("/mode auto")
            token = out.wait(r"type: /confirm (\S+)").group(1)
            assert status_json(config).stdout.count('"mode_source": "config"') == 1  # not yet
            say(f"/confirm {token}")
            body = status_until(config, lambda b: b["mode"] == "auto")
            assert body["mode_source"] == "chat" and body["paused"] is False
            say("/pause")
            body = status_until(config, lambda b: b["paused"])
            assert (body["mode"], body["mode_source"]) == ("auto", "chat")
            text = subprocess.run(
                [sys.executable, "-m", "assistant", "status", "-c", str(config)],
                capture_output=True,
                text=True,
                timeout=60,
                check=True,
            ).stdout
            assert re.match(r"mode auto \(set from chat\)   PAUSED: no money moves   data \d", text)
            say("/version")
            out.wait(rf"^assistant {re.escape(version('binance-margin-assistant'))}$")
        finally:
            service.send_signal(signal.SIGTERM)
            try:
                code = service.wait(timeout=15)
            except subprocess.TimeoutExpired:
                service.kill()
                code = service.wait()
            service.stdin.close()
            out.close()
        assert code == 0, (tmp_path / "service.log").read_text()[-2000:]
    finally:
        log.close()
        emulator.terminate()
        emulator.communicate(timeout=10)
