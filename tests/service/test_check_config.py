"""`assistant check-config` as an operator runs it by hand: credentials from a folder (or "not
checked"), every unreadable secret, the summary and its warnings, refused targets, and the
config's own words for a wrong value or a typo."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.service.settings import load_settings

CREDENTIALS = (
    '[exchange]\napi_key = "credential:binance_api_key"\n'
    'api_secret = "credential:binance_api_secret"\n'
)


def check(path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("CREDENTIALS_DIRECTORY",)}
    environment.pop("STATE_DIRECTORY", None)
    return subprocess.run(
        [sys.executable, "-m", "assistant", "check-config", "-c", str(path), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**environment, **env},
    )


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "assistant.toml"
    path.write_text(text)
    return path


def secrets(folder: Path, **files: str) -> Path:
    folder.mkdir(exist_ok=True)
    for name, value in files.items():
        (folder / name).write_text(value + "\n")
    return folder


def test_credentials_from_a_folder_or_not_checked(tmp_path: Path) -> None:
    path = config(tmp_path, CREDENTIALS + '[store]\npath = "assistant.db"\n')
    creds = secrets(
        tmp_path / "creds", binance_api_key="fake-key-1", binance_api_secret="fake-secret-1"
    )
    given = check(path, "--credentials-dir", str(creds))
    assert given.returncode == 0, given.stderr
    assert given.stderr == "" and "not checked" not in given.stdout
    assert "fake-key-1" not in given.stdout + given.stderr
    systemd = check(path, CREDENTIALS_DIRECTORY=str(creds))
    assert systemd.returncode == 0 and "not checked" not in systemd.stdout
    # Neither: reported on stdout, not an error.
    neither = check(path)
    assert neither.returncode == 0, neither.stderr
    assert neither.stderr == ""
    noted = [line for line in neither.stdout.splitlines() if "not checked" in line]
    assert len(noted) == 2
    assert noted[0].startswith(f"{path}: exchange.api_key: credential binance_api_key not")
    # The folder given, a file missing: an error naming it.
    (creds / "binance_api_secret").unlink()
    missing = check(path, "--credentials-dir", str(creds))
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        f"{path}: exchange.api_secret: cannot read {creds / 'binance_api_secret'}:"
        " No such file or directory"
    )


def test_every_unreadable_secret_is_reported(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        '[exchange]\napi_key = "env:OPS17_UNSET_KEY"\n'
        f'api_secret = "file:{tmp_path / "nope"}"\n'
        '[telegram]\ntoken = "credential:telegram_token"\nallowed_chat_ids = [42]\n',
    )
    (tmp_path / "empty").mkdir()
    result = check(path, "--credentials-dir", str(tmp_path / "empty"))
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert [line.split(": ")[1] for line in lines] == [
        "exchange.api_key",
        "exchange.api_secret",
        "telegram.token",
    ]
    assert "environment variable OPS17_UNSET_KEY is not set" in lines[0]
    empty = secrets(tmp_path / "empty", telegram_token="")
    result = check(path, "--credentials-dir", str(empty), OPS17_UNSET_KEY="fake-key")
    assert "telegram.token: credential telegram_token is empty" in result.stderr


def test_the_summary_says_what_will_happen_and_warns_when_nobody_is_told(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        CREDENTIALS
        + '[store]\npath = "data/a.db"\n[actions]\nmode = "auto"\npaused = true\n'
        + "[reduce]\nenabled = false\n",
    )
    (tmp_path / "data").mkdir()
    creds = secrets(tmp_path / "c", binance_api_key="fake-k", binance_api_secret="fake-s")
    result = check(path, "--credentials-dir", str(creds))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    warnings = [line for line in out.splitlines() if line.startswith("WARNING")]
    assert warnings == [
        f'WARNING {path}: no alert reaches a person: Telegram is off ([telegram] token = ""),'
        " so alerts go to the log only; nobody is told when the account is in danger"
    ]
    summary = " ".join(out.split("\n", len(warnings))[-1].split())
    assert summary.startswith("Valid. The service watches Binance (live) in mode auto")
    assert "PAUSED: no money moves" in summary
    assert "Alerts go to the log only." in summary
    assert "deposits from spot when margin ratio ≥ 70% or distance to liquidation ≤ 6%" in summary
    assert "reduce-only" not in summary  # that rule is off
    assert f"Store: {tmp_path / 'data' / 'a.db'}" in summary
    # With Telegram on: who gets the alerts, and no warning.
    path.write_text(
        CREDENTIALS
        + '[telegram]\ntoken = "credential:telegram_token"\nallowed_chat_ids = [42, 43]\n'
        + '[store]\npath = "data/a.db"\n'
    )
    secrets(creds, telegram_token="123:fake-token")
    told = check(path, "--credentials-dir", str(creds))
    assert told.returncode == 0, told.stderr
    assert "WARNING" not in told.stdout
    assert "Alerts go to Telegram chat(s) 42, 43 and the log." in " ".join(told.stdout.split())
    assert "mode dry-run: the rules decide and say what they would do; no money moves" in (
        " ".join(told.stdout.split())
    )


@contextlib.contextmanager
def unwritable(folder: Path) -> Iterator[None]:
    """A folder this process cannot create files in: read-only by mode, or (for root, whom
    modes do not stop) immutable."""
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o500)
        try:
            yield
        finally:
            folder.chmod(0o700)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(folder)], check=False).returncode:
        pytest.skip("running as root where chattr +i is not possible: cannot make a folder")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(folder)], check=True)


def test_a_store_folder_missing_or_not_writable_is_a_warning(tmp_path: Path) -> None:
    path = config(tmp_path, '[store]\npath = "state/a.db"\n')
    missing = check(path, BINANCE_API_KEY="fake-k", BINANCE_API_SECRET="fake-s")
    assert missing.returncode == 0, missing.stderr
    assert (
        f"WARNING {path}: store.path: the folder {tmp_path / 'state'} does not exist;"
        " the service does not create it (under systemd, StateDirectory= does)"
    ) in missing.stdout
    with unwritable(tmp_path / "state"):
        result = check(path, BINANCE_API_KEY="fake-k", BINANCE_API_SECRET="fake-s")
    assert result.returncode == 0, result.stderr
    assert f"WARNING {path}: store.path: {tmp_path / 'state'} is not writable" in result.stdout


def test_a_relative_store_is_in_the_state_directory_under_systemd(tmp_path: Path) -> None:
    path = config(tmp_path, '[store]\npath = "assistant.db"\n')
    state = tmp_path / "var-lib-assistant"
    state.mkdir()
    os.environ["STATE_DIRECTORY"] = f"{state}:{tmp_path / 'second'}"
    try:
        assert load_settings(path).store_path == state / "assistant.db"
    finally:
        del os.environ["STATE_DIRECTORY"]
    assert load_settings(path).store_path == tmp_path / "assistant.db"
    env = {"BINANCE_API_KEY": "fake-k", "BINANCE_API_SECRET": "fake-s"}
    result = check(path, STATE_DIRECTORY=str(state), **env)
    assert f"Store: {state / 'assistant.db'}." in " ".join(result.stdout.split())
    by_hand = " ".join(check(path, **env).stdout.split())
    assert f"Store: {tmp_path / 'assistant.db'} (a relative path: under systemd" in by_hand


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (
            "[deposit]\ntrigger_ratio = 0.60\ntarget_ratio = 0.65\n",
            "deposit: target_ratio (0.65) must be below trigger_ratio (0.6): a deposit aimed"
            " there would leave the account at or past its own trigger",
        ),
        (
            "[reduce]\ntrigger_distance = 0.04\ntarget_distance = 0.04\n",
            "reduce: target_distance (0.04) must be above trigger_distance (0.04): a reduction"
            " aimed there would leave the account at or past its own trigger",
        ),
    ],
)
def test_a_target_past_its_own_trigger_is_refused(
    tmp_path: Path, section: str, expected: str
) -> None:
    path = config(tmp_path, section)
    result = check(path, BINANCE_API_KEY="fake-k", BINANCE_API_SECRET="fake-s")
    assert result.returncode == 2
    assert result.stderr.strip() == f"{path}: {expected}"
    run = subprocess.run(
        [sys.executable, "-m", "assistant", "run", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2 and run.stderr.strip() == f"{path}: {expected}"
    # A rule that is off does nothing: its targets are not held against the config.
    path.write_text(section + "enabled = false\n")
    assert check(path, BINANCE_API_KEY="fake-k", BINANCE_API_SECRET="fake-s").returncode == 0


def test_wrong_values_and_typos_are_said_in_the_configs_words(tmp_path: Path) -> None:
    path = config(
        tmp_path,
        '[telegram]\nallowed_chat_ids = "123"\nalowed_user_ids = [1]\n'
        '[exchange]\nenvironment = "production"\n'
        "[alerts]\nmargin_ratio = [0.8, 11]\n"
        "[metrics]\nport = 1.5\n"
        "[alert]\ncooldown = 5\n"
        "[deposit.assets.USDC]\nmax_per_action = 5\nmax_per_dy = 10\n",
    )
    result = check(path)
    assert result.returncode == 2
    assert sorted(result.stderr.strip().splitlines()) == sorted(
        f"{path}: {line}"
        for line in [
            "telegram.allowed_chat_ids: expected a list of chat ids, like [123456789]"
            " (groups are negative)",
            'telegram.alowed_user_ids: unknown key; did you mean "allowed_user_ids"?',
            'exchange.environment: expected one of "live", "demo", "emulator"; got \'production\'',
            "alerts.margin_ratio: item 2: must be at most 10",
            "metrics.port: expected a whole number",
            "alert: unknown section; did you mean [alerts]?",
            "deposit.assets.USDC.max_per_day: missing: this table needs it",
            'deposit.assets.USDC.max_per_dy: unknown key; did you mean "max_per_day"?',
        ]
    )
    assert "Input should be" not in result.stderr
