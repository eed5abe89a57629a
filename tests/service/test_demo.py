"""`assistant demo` as a newcomer runs it: no keys, no network, ends by itself."""

from __future__ import annotations

import subprocess
import sys


def test_the_demo_saves_the_crash_account_and_says_so() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "assistant", "demo", "--seconds", "10"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "distance to liquidation" in out and "WARNING" in out  # the first alert
    assert "done: transfer" in out and "done: reduce-only" in out
    assert out.index("done: transfer") < out.index("done: reduce-only")
    assert "margin ratio" in out and " liq " in out  # live health with liquidation prices
    assert "liquidated:        no" in out
    assert "Traceback" not in result.stderr


def test_a_bad_demo_scenario_is_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "assistant", "demo", "--scenario", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
