"""Scenarios: built-ins, files, fifty generic symbols, the path clock, and clear errors."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from assistant.emulator.exchange.scenario import BUILTINS, load_scenario, parse_scenario
from assistant.emulator.server.app import Emulator
from assistant.errors import InputError

FIFTY: dict[str, Any] = {
    "symbols": {f"ALT{i:02d}USDT": {"mark": str(Decimal("0.0123") * (i + 1))} for i in range(50)},
    "settings": {"mark_interval": 3600},
}


def test_every_builtin_loads() -> None:
    for name in BUILTINS:
        scenario = load_scenario(name)
        assert scenario.symbols and scenario.duration > 0


def test_crash_path_matches_the_spec() -> None:
    crash = load_scenario("crash")
    assert crash.marks_at(10) == {"BTCUSDT": Decimal("60000"), "ETHUSDT": Decimal("3000")}
    assert crash.marks_at(100) == {
        "BTCUSDT": Decimal("51600"),
        "ETHUSDT": Decimal("2460"),
    }  # -14%, -18%
    halfway = crash.marks_at(55)
    assert halfway["BTCUSDT"] == Decimal("55800") and halfway["ETHUSDT"] == Decimal("2730")
    assert crash.futures == {"USDT": Decimal("3000")} and crash.spot == {"USDT": Decimal("5000")}


@pytest.mark.scenario(FIFTY)
async def test_fifty_symbols_get_generic_filters_and_brackets(client: Any) -> None:
    markets = await client.load_markets()
    assert len(markets) == 50
    tiers = await client.fetch_leverage_tiers(["ALT07/USDT:USDT"])
    assert tiers["ALT07/USDT:USDT"][0]["maintenanceMarginRate"] == 0.005
    market = markets["ALT07/USDT:USDT"]
    # mark 0.0984: a tick of 1e-7 keeps five significant digits, like real alts
    assert market["precision"]["price"] == 1e-7 and market["limits"]["cost"]["min"] == 5


async def test_a_scenario_file(tmp_path: Any) -> None:
    import json

    path = tmp_path / "s.json"
    path.write_text(
        json.dumps({"symbols": {"BTCUSDT": {"mark": "50000"}}, "futures": {"USDT": "7"}})
    )
    emu = await Emulator(load_scenario(str(path))).start()
    try:
        assert emu.engine.wallet == Decimal("7") and emu.engine.marks["BTCUSDT"] == Decimal("50000")
    finally:
        await emu.stop()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "symbols"),
        ({"symbols": {"BTCUSDT": {}}}, "needs a mark"),
        ({"symbols": {"BTCUSDT": {"mark": "x"}}}, "not a number"),
        (
            {"symbols": {"BTCUSDT": {"mark": "1"}}, "path": [{"t": 1, "ETHUSDT": "2"}]},
            "unknown symbol",
        ),
        ({"symbols": {"BTCUSDT": {"mark": "1"}}, "settings": {"sped": 2}}, "unknown key sped"),
        ({"symbols": {"BTCUSDT": {"mark": "1"}}, "position_mode": "both"}, "oneway or hedge"),
        (
            {"symbols": {"BTCUSDT": {"mark": "1"}}, "positions": [{"symbol": "XRPUSDT"}]},
            "unknown or missing symbol",
        ),
        ({"symbols": {"BTCUSDT": {"mark": "1"}}, "futures": {"USDT": "-1"}}, "Multi-Assets"),
        ({"symbols": {"BTCUSDT": {"mark": "1"}}, "futures": {"XRP": "5"}}, "no index for it"),
        ({"symbols": {"BTCUSDT": {"mark": "1"}}, "multi_assets": "yes"}, "true or false"),
        (
            {"symbols": {"BTCUSDT": {"mark": "1"}}, "asset_index": {"BTCUSD": {"bidBuffer": 1}}},
            "up to",
        ),
        (
            {
                "symbols": {"BTCUSDT": {"mark": "1"}},
                "multi_assets": True,
                "positions": [
                    {
                        "symbol": "BTCUSDT",
                        "positionAmt": "1",
                        "entryPrice": "1",
                        "marginType": "isolated",
                    }
                ],
            },
            "cross margin only",
        ),
        ({"symbols": {"BTCUSDT": {"mark": "1"}}, "algo_orders": [{"symbol": "X"}]}, "algo_orders"),
    ],
)
def test_bad_scenarios_are_clear(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_scenario(raw)


BTC = {"BTCUSDT": {"mark": "60000"}}


@pytest.mark.parametrize(
    ("raw", "line"),
    [
        ([], 'scenario: expected a JSON object with at least "symbols", got a list'),
        (
            {"symbol": BTC},
            'scenario symbols: missing; expected an object like {"BTCUSDT": {"mark": "60000"}}'
            ' (there is "symbol": did you mean "symbols"?)',
        ),
        ({"symbols": {}}, "scenario symbols: empty; list at least one symbol with its mark"),
        (
            {"symbols": BTC, "path": [{"t": "soon", "BTCUSDT": "1"}]},
            "scenario path[0].t: not a number: 'soon'",
        ),
        (
            {"symbols": BTC, "positions": [{"symbol": "BTCUSDT", "positionAmt": "1"}]},
            "scenario positions[0]: needs entryPrice",
        ),
        (
            {
                "symbols": BTC,
                "positions": [
                    {"symbol": "BTCUSDT", "positionAmt": "1", "entryPrice": "1", "leverage": 2.5}
                ],
            },
            "scenario positions[0].leverage: expected a whole number of at least 1, got 2.5",
        ),
        ({"symbols": BTC, "futures": "1000"}, 'scenario futures: expected an object like {"USDT":'),
        (
            {"symbols": {"BTCUSDT": {"mark": "1", "brackets": [{"notionalCap": 5}]}}},
            "scenario symbols.BTCUSDT.brackets[0]: needs notionalFloor",
        ),
        (
            {"symbols": BTC, "settings": {"sped": 2}},
            "scenario settings: unknown key sped; did you mean speed?",
        ),
        (
            {"symbols": BTC, "settings": {"legacy_ws_delivers": "false"}},
            "scenario settings.legacy_ws_delivers: expected true or false, got 'false'",
        ),
        ({"symbols": BTC, "settings": {"speed": 0}}, "scenario settings.speed: must be above 0"),
    ],
)
def test_a_mistake_is_named_with_what_was_expected(raw: Any, line: str) -> None:
    """They once ended the emulator with a traceback, or said only "expected an object with a
    symbols object"."""
    with pytest.raises(InputError) as refused:
        parse_scenario(raw)
    assert str(refused.value).startswith(line), str(refused.value)


def test_simulate_names_the_file_the_key_and_the_doc(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"symbols": BTC, "path": [{"t": 1, "BTCUSDT": "-5"}]}))
    example = Path(__file__).resolve().parents[2] / "config" / "assistant.example.toml"
    result = subprocess.run(
        [sys.executable, "-m", "assistant", "simulate", "-c", str(example), "--scenario", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (
        f"{bad}: scenario path[0].BTCUSDT: must be above 0, got '-5'"
        ' (the format: docs/emulator.md, "Scenarios")\n'
    )
    doc = (Path(__file__).resolve().parents[2] / "docs" / "emulator.md").read_text()
    assert "\n## Scenarios\n" in doc and "### Validation" in doc


@pytest.mark.parametrize("value", ["1e30", "1e999999", "-1e20"])
def test_absurd_magnitudes_are_refused_with_the_key_not_a_traceback(value: str) -> None:
    raw = {"futures": {"USDT": value}, "symbols": {"BTCUSDT": {"mark": "60000"}}}
    with pytest.raises(InputError, match=r"futures\.USDT: out of range"):
        load_scenario(raw)
