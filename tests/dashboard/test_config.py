"""`[dashboard]` in the config: the token is a secret reference, required off loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.dashboard.config import is_loopback
from assistant.errors import InputError
from assistant.service.settings import dashboard_token, load_settings
from tests.service.test_settings import check, write

EMULATOR = '[exchange]\nenvironment = "emulator"\nrest_url = "http://127.0.0.1:1"\n'


def test_loopback_means_this_machine_only() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "192.168.1.5", "10.0.0.1", "dashboard.example", ""):
        assert not is_loopback(host), host


def test_check_config_refuses_a_dashboard_off_loopback_without_a_token(tmp_path: Path) -> None:
    path = write(tmp_path, '[dashboard]\nhost = "0.0.0.0"\nport = 8080\n')
    result = check(path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{path}: dashboard.token: required when")
    assert "0.0.0.0" in lines[0]


def test_the_token_is_a_reference_resolved_like_every_secret(tmp_path: Path) -> None:
    literal = write(tmp_path, '[dashboard]\nhost = "0.0.0.0"\nport = 8080\ntoken = "hunter22"\n')
    with pytest.raises(InputError, match=r"dashboard\.token: give secrets as") as refused:
        dashboard_token(load_settings(literal))
    assert "hunter22" not in str(refused.value)
    missing = write(
        tmp_path, EMULATOR + '[dashboard]\nport = 8080\ntoken = "env:NO_SUCH_DASH_TOKEN"\n'
    )
    result = check(missing)
    assert result.returncode == 2
    assert "dashboard.token: environment variable NO_SUCH_DASH_TOKEN is not set" in result.stderr
    assert check(missing, NO_SUCH_DASH_TOKEN="t0ken-for-tests").returncode == 0
    (tmp_path / "token").write_text("from-a-file-long-enough\n")
    from_file = write(
        tmp_path, f'[dashboard]\nhost = "::"\nport = 1\ntoken = "file:{tmp_path}/token"\n'
    )
    assert dashboard_token(load_settings(from_file)) == "from-a-file-long-enough"


def test_on_loopback_no_token_is_needed_and_it_is_off_by_default(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "[dashboard]\nport = 8080\n"))
    assert settings.dashboard.host == "127.0.0.1" and dashboard_token(settings) == ""
    default = load_settings(write(tmp_path, ""))
    assert default.dashboard.port == 0  # off
    bad = write(tmp_path, "[dashboard]\nport = 70000\n")
    with pytest.raises(InputError, match=r"dashboard\.port"):
        load_settings(bad)


@pytest.mark.parametrize(
    ("header", "allowed"),
    [
        ("Bearer a-token-for-tests-only", True),
        ("bearer a-token-for-tests-only", True),
        ("BEARER a-token-for-tests-only", True),
        ("Bearer wrong-token-for-tests", False),
        ("Basic a-token-for-tests-only", False),
    ],
)
def test_the_bearer_scheme_is_read_in_any_case(header: str, allowed: bool) -> None:
    from aiohttp.test_utils import make_mocked_request

    from assistant.dashboard.auth import Gate

    request = make_mocked_request("GET", "/api/status", headers={"Authorization": header})
    assert Gate("a-token-for-tests-only").allows(request) is allowed
