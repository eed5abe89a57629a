"""`assistant demo` as a newcomer runs it: no keys, no network, ends by itself."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request


def test_the_demo_saves_the_crash_account_and_says_so() -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "assistant", "demo", "--seconds", "10"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert demo.stdout is not None
        head = [demo.stdout.readline() for _ in range(3)]  # the intro, the dashboard, the API
        url = head[1].split()[1]
        assert head[1].startswith("dashboard: http://127.0.0.1:"), head
        # While it runs, the printed address serves the page and the account.
        with urllib.request.urlopen(url, timeout=10) as page:
            assert "script-src 'self'" in page.headers["Content-Security-Policy"]
            assert b"Margin guardian" in page.read()
        deadline = time.monotonic() + 20
        for _ in range(200):  # bounded: until the account is mirrored
            try:
                with urllib.request.urlopen(url + "api/status", timeout=10) as answer:
                    assert json.load(answer)["wallet_balance"]
                    break
            except urllib.error.HTTPError as exc:
                assert exc.code == 503  # not mirrored yet
            assert time.monotonic() < deadline, "the dashboard never showed the account"
            time.sleep(0.1)
        rest, err = demo.communicate(timeout=120)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.communicate()
    assert demo.returncode == 0, err
    out = "".join(head) + rest
    assert "distance to liquidation" in out and "WARNING" in out  # the first alert
    assert "done: transfer" in out and "done: reduce-only" in out
    assert out.index("done: transfer") < out.index("done: reduce-only")
    assert "margin ratio" in out and " liq " in out  # live health with liquidation prices
    assert "liquidated:        no" in out
    assert "Traceback" not in err
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
