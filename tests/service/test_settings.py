"""The config file: keys, secret references, clear errors; `assistant check-config`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.errors import InputError
from assistant.service.settings import credentials, load_settings
from assistant.service.units import parse_duration

ROOT = Path(__file__).resolve().parent.parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "assistant.toml"
    path.write_text(text)
    return path


def check(path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "assistant", "check-config", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **env},
    )


def test_the_example_config_is_valid() -> None:
    settings = load_settings(ROOT / "config" / "assistant.example.toml")
    assert settings.exchange.environment == "live" and settings.actions.mode == "dry-run"
    assert settings.mirror.staleness_limit == 5.0 and settings.mirror.flush_every == 0.05


def test_durations() -> None:
    assert [parse_duration(v) for v in ("250ms", "30s", "15m", "2h", "1d", 7)] == [
        0.25,
        30.0,
        900.0,
        7200.0,
        86400.0,
        7.0,
    ]
    for bad in ("soon", "-5s", "0s", "5 parsecs"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_every_problem_is_one_line_naming_file_and_key(tmp_path: Path) -> None:
    path = write(
        tmp_path, '[exchange]\nenvironment = "moon"\nfoo = 1\n[mirror]\nreconcile_every = "soon"\n'
    )
    result = check(path)
    assert result.returncode == 2
    lines = sorted(result.stderr.strip().splitlines())
    assert lines == sorted(
        [
            f'{path}: exchange.environment: expected one of "live", "demo", "emulator";'
            " got 'moon'",
            f"{path}: exchange.foo: unknown key",
            f"{path}: mirror.reconcile_every: expected a duration like"
            ' "30s" or "15m", got \'soon\'',
        ]
    )


def test_broken_toml_and_missing_file(tmp_path: Path) -> None:
    broken = check(write(tmp_path, "[exchange\n"))
    assert broken.returncode == 2 and "not valid TOML" in broken.stderr
    missing = check(tmp_path / "nope.toml")
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_secret_references(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t-not-real\n")
    path = write(
        tmp_path, f'[exchange]\napi_key = "env:TEST_FAKE_KEY"\napi_secret = "file:{secret}"\n'
    )
    unset = check(path)
    assert unset.returncode == 2
    assert (
        unset.stderr.strip()
        == f"{path}: exchange.api_key: environment variable TEST_FAKE_KEY is not set"
    )
    assert check(path, TEST_FAKE_KEY="fake-key-for-tests").returncode == 0
    import os

    os.environ["TEST_FAKE_KEY"] = "fake-key-for-tests"
    try:
        assert credentials(load_settings(path)) == ("fake-key-for-tests", "s3cr3t-not-real")
    finally:
        del os.environ["TEST_FAKE_KEY"]


def test_literal_secrets_only_for_the_emulator(tmp_path: Path) -> None:
    live = write(tmp_path, '[exchange]\napi_key = "abc"\napi_secret = "def"\n')
    with pytest.raises(InputError, match="env:NAME"):
        credentials(load_settings(live))
    emulator = tmp_path / "emu.toml"
    emulator.write_text('[exchange]\nenvironment = "emulator"\nrest_url = "http://127.0.0.1:1"\n')
    assert credentials(load_settings(emulator)) == ("emulator-key", "emulator-secret")
    no_url = tmp_path / "nourl.toml"
    no_url.write_text('[exchange]\nenvironment = "emulator"\n')
    with pytest.raises(InputError, match="rest_url: required"):
        load_settings(no_url)


def test_credential_files_from_systemd(tmp_path: Path) -> None:
    (tmp_path / "binance_api_key").write_text("fake-cred-key")
    (tmp_path / "binance_api_secret").write_text("fake-cred-secret")
    path = write(
        tmp_path,
        '[exchange]\napi_key = "credential:binance_api_key"\n'
        'api_secret = "credential:binance_api_secret"\n',
    )
    unchecked = check(path)  # no CREDENTIALS_DIRECTORY: said, not an error
    assert unchecked.returncode == 0 and unchecked.stdout.count("not checked") == 2
    assert check(path, CREDENTIALS_DIRECTORY=str(tmp_path)).returncode == 0


def test_relative_store_path_is_relative_to_the_config(tmp_path: Path) -> None:
    path = write(tmp_path, '[store]\npath = "data/a.db"\n')
    assert load_settings(path).store_path == tmp_path / "data" / "a.db"


def test_demo_trading_refuses_deposit_rules(tmp_path: Path) -> None:
    path = write(tmp_path, '[exchange]\nenvironment = "demo"\n')
    result = check(
        path, BINANCE_API_KEY="fake-key-for-tests", BINANCE_API_SECRET="fake-secret-for-tests"
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"{path}: deposit.enabled: Binance demo trading has no spot wallet"
        " to transfer from; set [deposit] enabled = false"
    )
    path.write_text('[exchange]\nenvironment = "demo"\n[deposit]\nenabled = false\n')
    assert (
        check(
            path, BINANCE_API_KEY="fake-key-for-tests", BINANCE_API_SECRET="fake-secret"
        ).returncode
        == 0
    )


def test_telegram_needs_owners_and_a_secret_reference(tmp_path: Path) -> None:
    base = '[exchange]\nenvironment = "emulator"\nrest_url = "http://127.0.0.1:1"\n'
    path = write(tmp_path, base + '[telegram]\ntoken = "env:TG"\n')
    with pytest.raises(InputError, match="telegram: allowed_chat_ids: required with a token"):
        load_settings(path)
    path = write(
        tmp_path,
        base + '[telegram]\ntoken = "env:TG"\nallowed_chat_ids = [1]\n'
        'base_url = "ftp://x"\nconfirm_timeout = "90s"\n',
    )
    with pytest.raises(InputError, match=r"telegram\.base_url: must start with http"):
        load_settings(path)
    path = write(tmp_path, base + '[telegram]\ntoken = "123:literal"\nallowed_chat_ids = [1]\n')
    result = check(path)
    assert result.returncode != 0 and "telegram.token: give secrets as" in result.stderr
    assert "123:literal" not in result.stderr
    path = write(tmp_path, base + '[telegram]\ntoken = "env:TG"\nallowed_chat_ids = [1]\n')
    assert "telegram.token: environment variable TG is not set" in check(path).stderr
    assert check(path, TG="123:fake").returncode == 0


@pytest.mark.parametrize(
    "body",
    [
        "[alerts]\ncooldown = inf",
        "[alerts]\ncooldown = nan",
        "[deposit]\nmax_per_day = inf",
        "[deposit]\nmax_per_action = nan",
        "[alerts]\nmargin_ratio = [0.8, nan]",
    ],
)
def test_infinite_and_nan_values_are_refused_before_run(tmp_path: Path, body: str) -> None:
    """They passed check-config and crashed `run` with a traceback."""
    path = tmp_path / "a.toml"
    path.write_text(body + "\n")
    done = check(path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"{path}: ") and "finite" in line
    run = subprocess.run(
        [sys.executable, "-m", "assistant", "run", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr


def test_a_group_chat_needs_its_people_listed(tmp_path: Path) -> None:
    """A group (a negative chat id) without `allowed_user_ids` would let anyone in it move
    money: check-config and run refuse it with the same one line; private chats need none."""
    base = '[exchange]\nenvironment = "emulator"\nrest_url = "http://127.0.0.1:1"\n'
    path = write(
        tmp_path, base + '[telegram]\ntoken = "env:TG"\nallowed_chat_ids = [42, -100200300]\n'
    )
    expected = (
        f"{path}: telegram.allowed_user_ids: required when allowed_chat_ids lists a group"
        " (-100200300): list the people in it who may command the bot, or anyone in the group"
        " could move money"
    )
    result = check(path, TG="123:fake")
    assert result.returncode == 2 and result.stderr.strip() == expected
    run = subprocess.run(
        [sys.executable, "-m", "assistant", "run", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "TG": "123:fake"},
    )
    assert run.returncode == 2 and run.stderr.strip() == expected
    assert not (tmp_path / "assistant.db").exists()  # refused before anything was opened
    path.write_text(
        base + '[telegram]\ntoken = "env:TG"\nallowed_chat_ids = [42, -100200300]\n'
        "allowed_user_ids = [42]\n"
    )
    assert check(path, TG="123:fake").returncode == 0
    path.write_text(base + '[telegram]\ntoken = "env:TG"\nallowed_chat_ids = [42]\n')
    assert check(path, TG="123:fake").returncode == 0


def test_a_deposit_cap_below_one_cent_is_refused(tmp_path: Path) -> None:
    """Transfers are in whole cents and a cap is never rounded up, so a cap below a cent
    would allow nothing (it once let 0.01 through a 0.001 cap)."""
    path = write(tmp_path, "[deposit]\nmax_per_action = 0.001\n")
    with pytest.raises(InputError) as refused:
        load_settings(path)
    assert f"{path}: deposit.max_per_action: at least 0.01" in str(refused.value)
    fine = write(tmp_path, "[deposit]\nmax_per_action = 0.01\n")
    assert str(load_settings(fine).deposit.max_per_action) == "0.01"
