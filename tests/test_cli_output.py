"""What every command prints, as a user sees it: `--version`, and a reader that goes away
(`assistant status | head -1`) ending the command quietly, without a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = {
    "wallet_balance": "1000",
    "positions": [
        {
            "symbol": "BTCUSDT",
            "positionAmt": "0.1",
            "entryPrice": "60000",
            "markPrice": "59000",
            "leverage": 10,
        }
    ],
    "brackets": {
        "BTCUSDT": [{"notionalFloor": 0, "notionalCap": 50000, "maintMarginRatio": 0.004, "cum": 0}]
    },
}


def assistant(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "assistant", *args],
        capture_output=kwargs.pop("stdout", None) is None,
        text=True,
        timeout=60,
        check=False,
        **kwargs,
    )


def test_version_is_the_packages() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    result = assistant("--version")
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout == f"assistant {version('binance-margin-assistant')}\n"
    assert result.stdout == f"assistant {pyproject['project']['version']}\n"


def into_a_closed_pipe(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The command with stdout a pipe whose reader has already gone: its first write fails."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [sys.executable, "-m", "assistant", *args],
            stdout=write,
            stderr=subprocess.PIPE,
            input=stdin,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write)


@pytest.mark.parametrize(
    "args",
    [
        ["--version"],
        ["--help"],
        ["calc", "-"],
        ["check-config", "-c", "{config}"],
        ["status", "-c", "{config}"],
        ["status", "-c", "{config}", "--json"],
    ],
    ids=lambda args: " ".join(args).replace("{config}", "C"),
)
def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path, args: list[str]) -> None:
    from assistant.store.sqlite import SqliteStore
    from tests.core.test_mirror import ready

    config = tmp_path / "a.toml"
    config.write_text(
        '[exchange]\nenvironment = "emulator"\nrest_url = "http://127.0.0.1:9"\n'
        '[store]\npath = "a.db"\n'
    )
    store = SqliteStore(tmp_path / "a.db")
    store.save_state(ready(), 1_000)
    store.close()
    args = [arg.replace("{config}", str(config)) for arg in args]
    healthy = assistant(*args, input=json.dumps(ACCOUNT))
    assert healthy.returncode == 0 and healthy.stdout, healthy.stderr  # it does print
    result = into_a_closed_pipe(*args, stdin=json.dumps(ACCOUNT))
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr
    assert result.stderr == ""
    # Ours end with 1 (the output did not arrive); argparse's own --help and --version
    # ignore a failed write and end with 0.
    assert result.returncode == (0 if args[0].startswith("--") else 1)


def test_status_piped_into_head_prints_its_first_line_only(tmp_path: Path) -> None:
    """The shell's own pipe, as the issue saw it: one line out, nothing on stderr."""
    from assistant.store.sqlite import SqliteStore
    from tests.core.test_mirror import ready

    config = tmp_path / "a.toml"
    config.write_text('[store]\npath = "a.db"\n')
    store = SqliteStore(tmp_path / "a.db")
    store.save_state(ready(), 1_000)
    store.close()
    command = f"{sys.executable} -m assistant status -c {config} | head -1"
    result = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith("mode dry-run (from the config)")
    assert len(result.stdout.splitlines()) == 1


def test_a_full_disk_on_stdout_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    source = tmp_path / "account.json"
    source.write_text('{"wallet_balance": "100", "positions": [], "brackets": {}}')
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "assistant", "calc", str(source)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert result.stderr.strip() == "assistant: cannot write the output: No space left on device"
