"""`assistant calc` as a user runs it: a subprocess, JSON in, JSON out, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import DATA, load_json

FAQ_POSITIONS = [
    {
        "symbol": "BTCUSDT",
        "positionSide": "BOTH",
        "positionAmt": "109.488",
        "entryPrice": "32481.98",
        "markPrice": "31967.27",
        "leverage": 20,
    },
    {
        "symbol": "ETHUSDT",
        "positionSide": "BOTH",
        "positionAmt": 3683.979,
        "entryPrice": 1456.84,
        "markPrice": 1335.18,
        "leverage": 20,
        "marginType": "CROSSED",
    },
]


def run(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def faq_input(brackets: Any) -> dict[str, Any]:
    return {"wallet_balance": "1535443.01", "positions": FAQ_POSITIONS, "brackets": brackets}


def as_leverage_bracket_array(by_symbol: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"symbol": s, "notionalCoef": 1.0, "brackets": rows} for s, rows in by_symbol.items()]


def _faq_brackets_raw() -> dict[str, Any]:
    raw = json.loads((DATA / "brackets_faq_2021.json").read_text())
    return raw["brackets"]


@pytest.mark.parametrize("form", ["by-symbol", "endpoint-array"])
def test_reproduces_binance_faq_figures_from_a_file(tmp_path: Path, form: str) -> None:
    raw = _faq_brackets_raw()
    brackets = raw if form == "by-symbol" else as_leverage_bracket_array(raw)
    path = tmp_path / "account.json"
    path.write_text(json.dumps(faq_input(brackets)))
    result = run(["calc", str(path)])
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    btc, eth = out["positions"]
    # Binance FAQ "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts".
    assert round(Decimal(btc["liquidation_price"]), 2) == Decimal("26316.89")
    assert round(Decimal(eth["liquidation_price"]), 2) == Decimal("1153.26")
    assert round(Decimal(eth["maintenance_margin"]), 3) == Decimal("356512.508")
    assert btc["margin_ratio"] is None and btc["positionSide"] == "BOTH"
    ratio = Decimal(out["maintenance_margin"]) / Decimal(out["margin_balance"])
    assert abs(Decimal(out["margin_ratio"]) - ratio) < Decimal("1e-8")


def test_reads_stdin_and_prints_fixed_point_strings() -> None:
    payload = {
        "wallet_balance": 0.00000001,
        "positions": [
            {
                "symbol": "ethusdt",
                "positionSide": "long",
                "positionAmt": "0.001",
                "entryPrice": "1000",
                "markPrice": "1000",
            }
        ],
        "brackets": {
            "ETHUSDT": [
                {"notionalFloor": 0, "notionalCap": 1e9, "maintMarginRatio": "0.005", "cum": 0}
            ]
        },
    }
    result = run(["calc", "-"], stdin=json.dumps(payload))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    position = out["positions"][0]
    assert out["margin_balance"] == "0.00000001"
    assert position["notional"] == "1.00000000"
    assert position["unrealized_pnl"] == "0.00000000"
    assert position["positionSide"] == "LONG"
    # No leverage given: initial margin and available balance are undefined.
    assert position["initial_margin"] is None and out["available_balance"] is None
    for value in (out["margin_balance"], out["maintenance_margin"], position["maintenance_margin"]):
        assert "E" not in value and "e" not in value


def test_isolated_position_gets_its_own_ratio_and_stays_out_of_cross_totals() -> None:
    payload = {
        "wallet_balance": "1000",
        "positions": [
            {
                "symbol": "BTCUSDT",
                "positionSide": "BOTH",
                "positionAmt": "-0.5",
                "entryPrice": "60000",
                "markPrice": "61000",
                "leverage": 20,
                "marginType": "ISOLATED",
                "isolatedWallet": "1500",
            }
        ],
        "brackets": _faq_brackets_raw(),
    }
    out = json.loads(run(["calc"], stdin=json.dumps(payload)).stdout)
    position = out["positions"][0]
    assert out["maintenance_margin"] == "0.00000000" and out["margin_balance"] == "1000.00000000"
    # MM 30500 × 0.004 (first tier) = 122; isolated margin 1500 − 500 = 1000.
    assert position["margin_ratio"] == "0.12200000"
    assert position["notional"] == "-30500.00000000"


BAD_INPUTS = [
    ("not json", "not valid JSON"),
    ("[]", "expected a JSON object"),
    ('{"positions": []}', "wallet_balance: missing"),
    ('{"wallet_balance": NaN}', "not a number"),
    ('{"wallet_balance": "1e999999999999"}', "wallet_balance"),
    ('{"wallet_balance": true}', "wallet_balance"),
    (
        '{"wallet_balance": "10", "positions": [{"symbol": "BTCUSDT", "positionAmt": "1x",'
        ' "entryPrice": 1, "markPrice": 1}], "brackets": {}}',
        "positions[0].positionAmt",
    ),
    (
        '{"wallet_balance": "10", "positions": [{"symbol": "BTCUSDT", "positionAmt": "1",'
        ' "entryPrice": 1, "markPrice": 1}], "brackets": {}}',
        "no brackets for BTCUSDT",
    ),
    (
        '{"wallet_balance": "10", "positions": [{"symbol": "BTCUSDT", "positionSide": "UP",'
        ' "positionAmt": "1", "entryPrice": 1, "markPrice": 1}], "brackets": {}}',
        "positionSide",
    ),
    (
        '{"wallet_balance": "10", "positions": [{"symbol": "BTCUSDT", "positionSide": "SHORT",'
        ' "positionAmt": "1", "entryPrice": 1, "markPrice": 1}], "brackets": {"BTCUSDT":'
        ' [{"notionalFloor": 0, "notionalCap": 10, "maintMarginRatio": 0.01}]}}',
        "SHORT",
    ),
    (
        '{"wallet_balance": "10", "positions": [], "brackets": {"BTCUSDT":'
        ' [{"notionalFloor": 5, "notionalCap": 10, "maintMarginRatio": 0.01}]}}',
        "start at notional 0",
    ),
    (
        '{"wallet_balance": "10", "positions": [{"symbol": "BTCUSDT", "positionAmt": "1",'
        ' "entryPrice": 1, "markPrice": 0}], "brackets": {}}',
        "markPrice: must be positive",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD_INPUTS)
def test_bad_input_is_one_clear_line_and_exit_2(text: str, message: str) -> None:
    result = run(["calc", "-"], stdin=text)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0] and "Traceback" not in result.stderr


def test_missing_file_and_bad_usage_exit_2(tmp_path: Path) -> None:
    missing = run(["calc", str(tmp_path / "nope.json")])
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    usage = run(["frobnicate"])
    assert usage.returncode == 2 and len(usage.stderr.strip().splitlines()) == 1


def test_real_bracket_file_pasted_as_is(tmp_path: Path) -> None:
    """The endpoint's own array (2024 capture) works without edits."""
    brackets = load_json(DATA / "leverage_brackets_2024-10-24.json")
    payload = {
        "wallet_balance": "3000",
        "positions": [
            {
                "symbol": "BTCUSDT",
                "positionSide": "BOTH",
                "positionAmt": "0.5",
                "entryPrice": "60000",
                "markPrice": "60000",
                "leverage": 20,
            }
        ],
        "brackets": brackets,
    }
    path = tmp_path / "a.json"
    path.write_text(json.dumps(payload, default=str))
    out = json.loads(run(["calc", str(path)]).stdout)
    # 30000 notional in tier 1 (0.4%): MM 120; IM 1500; available 1500.
    assert out["maintenance_margin"] == "120.00000000"
    assert out["available_balance"] == "1500.00000000"
    assert out["distance_to_liquidation"]["up"] is None


MORE_BAD_INPUTS = [
    ('{"wallet_balance": 1e999999999999999999999}', "out of range"),
    ('{"wallet_balance": ' + "9" * 5000 + "}", "out of range"),
    ('{"wallet_balance": "1_000"}', "not a decimal number"),
    ('{"wallet_balance": "١٠"}', "not a decimal number"),
    (
        '{"wallet_balance": "10", "positions": [], "brackets": {"BTCUSDT": [{"notionalFloor": 0,'
        ' "notionalCap": 10, "maintMarginRatio": 0.01}], "btcusdt": [{"notionalFloor": 0,'
        ' "notionalCap": 10, "maintMarginRatio": 0.5}]}}',
        "appears twice",
    ),
    (
        '{"wallet_balance": "10", "positions": [], "brackets": {"BTCUSDT": ['
        '{"notionalFloor": 0, "notionalCap": 50000, "maintMarginRatio": 0.004, "cum": 0},'
        '{"notionalFloor": 50000, "notionalCap": 600000, "maintMarginRatio": 0.005, "cum": 0}]}}',
        "contradicts Binance's recursion",
    ),
]


@pytest.mark.parametrize(("text", "message"), MORE_BAD_INPUTS)
def test_more_bad_input_is_one_clear_line(text: str, message: str) -> None:
    result = run(["calc", "-"], stdin=text)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr


def test_a_missing_cum_is_derived_by_binances_recursion() -> None:
    rows = _faq_brackets_raw()
    without = {
        s: [{k: v for k, v in r.items() if k != "cum"} for r in table] for s, table in rows.items()
    }
    with_cum = json.loads(run(["calc"], stdin=json.dumps(faq_input(rows))).stdout)
    derived = json.loads(run(["calc"], stdin=json.dumps(faq_input(without))).stdout)
    assert derived == with_cum


def test_huge_but_valid_figures_print_in_full() -> None:
    payload = {
        "wallet_balance": "999999999999999",
        "positions": [
            {"symbol": "BTCUSDT", "positionAmt": "-0.00000001", "entryPrice": "1", "markPrice": "1"}
        ],
        "brackets": {
            "BTCUSDT": [{"notionalFloor": 0, "notionalCap": 10, "maintMarginRatio": 0.004}]
        },
    }
    result = run(["calc"], stdin=json.dumps(payload))
    assert result.returncode == 0, result.stderr
    price = json.loads(result.stdout)["positions"][0]["liquidation_price"]
    assert "E" not in price and Decimal(price) > Decimal("1e20")
