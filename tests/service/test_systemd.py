"""systemd: the notify protocol against a socket we create, and the units as systemd reads them."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


def receive(sock: socket.socket, until: str, limit: int = 50) -> list[str]:
    """Datagrams until one contains `until` (bounded in count; each wait bounded in time)."""
    got: list[str] = []
    for _ in range(limit):
        message = sock.recv(4096).decode()
        got.append(message)
        if until in message:
            return got
    raise AssertionError(f"no {until} in {got}")


@contextlib.contextmanager
def under_systemd(
    tmp_path: Path, config_tail: str = "", **env: str
) -> Iterator[tuple[socket.socket, subprocess.Popen[str]]]:
    """`assistant run` against `assistant emulator` (calm), with a notify socket we bind and a
    0.2 s WatchdogSec; yields the socket and the service; both processes end on the way out."""
    emulator = subprocess.Popen(
        [sys.executable, "-m", "assistant", "emulator", "--scenario", "calm"],
        stdout=subprocess.PIPE,
        text=True,
    )
    notify_path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(notify_path))
        sock.settimeout(20)
        try:
            assert emulator.stdout is not None
            urls = json.loads(emulator.stdout.readline())
            config = tmp_path / "a.toml"
            config.write_text(
                f'[exchange]\nenvironment = "emulator"\nrest_url = "{urls["rest"]}"\n'
                f'ws_url = "{urls["ws"]}"\n' + config_tail
            )
            environment = {
                **os.environ,
                "NOTIFY_SOCKET": str(notify_path),
                "WATCHDOG_USEC": "200000",
                **env,
            }
            service = subprocess.Popen(
                [sys.executable, "-m", "assistant", "run", "-c", str(config)],
                env=environment,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                yield sock, service
            finally:
                if service.poll() is None:
                    service.kill()
                    service.communicate()
        finally:
            emulator.terminate()
            emulator.communicate(timeout=10)


def test_ready_watchdog_and_stopping_reach_the_notify_socket(tmp_path: Path) -> None:
    with under_systemd(tmp_path) as (sock, service):
        before_ready = receive(sock, "READY=1")
        assert "READY=1" in before_ready[-1]
        pings = receive(sock, "WATCHDOG=1") + receive(sock, "WATCHDOG=1")
        assert sum("WATCHDOG=1" in p for p in pings) >= 2  # every 0.1 s: half of 0.2 s
        service.send_signal(signal.SIGTERM)
        assert any("STOPPING=1" in m for m in receive(sock, "STOPPING=1"))
        _, err = service.communicate(timeout=15)
        assert service.returncode == 0, err


@pytest.mark.parametrize(
    ("unit", "installed_as"),
    [("assistant.service", "assistant.service"), ("assistant@.service", "assistant@main.service")],
)
def test_units_pass_systemd_analyze_verify(unit: str, installed_as: str, tmp_path: Path) -> None:
    """Each unit with its Telegram drop-in, as the README installs them."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip(
            "systemd-analyze is not installed here (Debian package systemd; .ci/run installs it"
            " where apt can): the units were not verified"
        )
    # Point ExecStart at this checkout's command, so verify can check it exists.
    ours = str(Path(sys.executable).parent / "assistant")
    text = (ROOT / "systemd" / unit).read_text().replace("/opt/assistant/bin/assistant", ours)
    (tmp_path / installed_as).write_text(text)
    drop_in = tmp_path / f"{installed_as}.d"
    drop_in.mkdir()
    shutil.copy(ROOT / "systemd" / f"{unit}.d" / "telegram.conf", drop_in / "telegram.conf")
    result = subprocess.run(
        [analyze, "verify", installed_as],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "SYSTEMD_UNIT_PATH": f"{tmp_path}:"},  # ":" keeps the defaults
    )
    assert result.returncode == 0, result.stderr
    assert "assistant" not in result.stderr, result.stderr  # no complaint about our unit
    # The drop-in was read: a bad key in it is reported.
    (drop_in / "telegram.conf").write_text("[Service]\nNoSuchKey=1\n")
    broken = subprocess.run(
        [analyze, "verify", installed_as],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "SYSTEMD_UNIT_PATH": f"{tmp_path}:"},
    )
    assert "telegram.conf" in broken.stderr and "NoSuchKey" in broken.stderr


def test_a_telegram_outage_is_an_alert_and_the_watchdog_keeps_being_fed(tmp_path: Path) -> None:
    """Telegram unreachable for the whole run: its task crashes and restarts again and again,
    yet the pings go on (the protection path is healthy) and the outage is said once."""
    telegram = (
        '[telegram]\ntoken = "env:TEST_BOT_TOKEN"\n'
        'allowed_chat_ids = [4242]\nbase_url = "http://127.0.0.1:9/bot"\n'
    )
    token = "123456:FAKE-test-token-for-loopback-only"
    with under_systemd(tmp_path, telegram, TEST_BOT_TOKEN=token) as (sock, service):
        receive(sock, "READY=1")
        pings = 0
        for _ in range(400):  # bounded: 30 pings take about 3 s (every 0.1 s)
            if "WATCHDOG=1" in sock.recv(4096).decode():
                pings += 1
            if pings >= 30:
                break
        assert pings >= 30  # through at least three crashes of the Telegram task
        service.send_signal(signal.SIGTERM)
        _, err = service.communicate(timeout=15)
        assert service.returncode == 0, err
    assert err.count("task telegram crashed") >= 3
    assert err.count("ALERT channel:telegram: telegram is down") == 1  # once, not every retry
    assert "FAKE-test-token" not in err
