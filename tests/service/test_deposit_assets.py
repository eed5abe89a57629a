"""`[deposit] asset` and `[deposit.assets.ASSET]`: the caps of deposits in each asset reach the
rules, mistakes are one clear line, and `check-config` says which pools can be topped up."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from assistant.commands.check import deposit_summary
from assistant.core.rules.config import AssetCaps, DepositRule
from assistant.errors import InputError
from assistant.service.settings import load_settings, rules_from

D = Decimal
USDC = "[deposit.assets.usdc]\nmax_per_action = 500\nmax_per_day = 1500\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "assistant.toml"
    path.write_text(text)
    return path


def test_per_asset_caps_reach_the_rules(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, f'[deposit]\nasset = "usdc"\n{USDC}'))
    rule = rules_from(settings).deposit
    assert rule.asset == "USDC"  # Multi-Assets deposits, under [deposit]'s caps
    assert (rule.max_per_action, rule.max_per_day) == (D(1000), D(3000))
    assert rule.assets == {"USDC": AssetCaps(D(500), D(1500))}  # a USDC pool's own caps
    assert DepositRule().asset == "USDT" and DepositRule().assets == {}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[deposit]\nasset = "us dt"\n', "deposit.asset: expected an asset name"),
        (
            "[deposit.assets.USDT]\nmax_per_action = 1\nmax_per_day = 2\n",
            "USDT's caps are max_per_action and max_per_day",
        ),
        ("[deposit.assets.USDC]\nmax_per_action = 1\n", "deposit.assets.USDC.max_per_day"),
        (
            "[deposit.assets.USDC]\nmax_per_action = 0.001\nmax_per_day = 1\n",
            "at least 0.01",
        ),
    ],
)
def test_mistakes_are_one_clear_line(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        load_settings(write(tmp_path, text))
    assert problem in str(caught.value), caught.value


def test_check_config_says_which_pools_can_be_topped_up(tmp_path: Path) -> None:
    path = write(tmp_path, f'[exchange]\nenvironment = "emulator"\nrest_url = "http://x"\n{USDC}')
    result = subprocess.run(
        [sys.executable, "-m", "assistant", "check-config", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert deposit_summary(load_settings(path)) in result.stdout
    assert "USDT (at most 1000 a deposit, 3000 a day), USDC (at most 500" in result.stdout
    assert "any other margin asset's pool is alerted only" in result.stdout
    assert "Multi-Assets and credits accounts are topped up with USDT (at most 1000" in (
        result.stdout
    )
    off = load_settings(write(tmp_path, "[deposit]\nenabled = false\n"))
    assert deposit_summary(off) == "Deposits: off; every pool is alerted only."
