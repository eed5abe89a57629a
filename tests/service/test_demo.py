"""`assistant demo` as a newcomer runs it: no keys, no network, ends by itself."""

from __future__ import annotations

import re
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
    # It counts what `simulate` counts, and says what: the rules' alerts, then the notices of
    # money actions, each line of the run one or the other.
    said = re.findall(r"\] (?:INFO|WARNING|CRITICAL) +(.*)", out)
    notices = [t for t in said if t.startswith(("done: ", "dry-run: ", "failed", "outcome "))]
    rules = re.search(r"alerts: +(\d+) from the rules", out)
    counted = re.search(r"action notices: +(\d+)", out)
    assert rules and counted, out[-600:]
    assert int(rules.group(1)) == len(said) - len(notices) > 0
    assert int(counted.group(1)) == len(notices) > 0


def test_a_bad_demo_scenario_is_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "assistant", "demo", "--scenario", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
