"""Scenarios: built-ins, files, fifty generic symbols, the path clock, and clear errors."""

from __future__ import annotations

from decimal import Decimal
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
                "positions": [{"symbol": "BTCUSDT", "marginType": "isolated"}],
            },
            "cross margin only",
        ),
        ({"symbols": {"BTCUSDT": {"mark": "1"}}, "algo_orders": [{"symbol": "X"}]}, "algo_orders"),
    ],
)
def test_bad_scenarios_are_clear(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_scenario(raw)
