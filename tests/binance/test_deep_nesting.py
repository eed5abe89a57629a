"""Input nested deeper than Python's recursion limit (`[` × 100,000) is refused in one clear
way wherever it can arrive: a websocket frame, a config file, a scenario, `calc`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from assistant.binance.parse import Skipped, parse_market_frame, parse_user_frame
from assistant.emulator.exchange.scenario import load_scenario
from assistant.errors import InputError
from assistant.service.settings import load_settings

DEEP = "[" * 100_000


@pytest.mark.parametrize("parse", [parse_user_frame, parse_market_frame])
def test_a_deeply_nested_frame_is_skipped_as_malformed(parse: object) -> None:
    result = parse(DEEP)  # type: ignore[operator]
    assert isinstance(result, Skipped) and result.malformed


def test_a_deeply_nested_config_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text(f"a = {DEEP}")
    with pytest.raises(InputError, match="nested too deeply"):
        load_settings(path)
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "check-config", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_deeply_nested_scenario_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(DEEP)
    with pytest.raises(InputError, match="nested too deeply"):
        load_scenario(str(path))


def test_calc_refuses_deep_nesting_in_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "calc", "-"],
        input=DEEP,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
