"""Built-in scenarios: `calm`, `crash` (docs/emulator.md describes each), `squeeze`, `wick`."""

from __future__ import annotations

from typing import Any


def _crash() -> dict[str, Any]:
    hold = {"BTCUSDT": "60000", "ETHUSDT": "3000"}
    low = {"BTCUSDT": "51600", "ETHUSDT": "2460"}  # -14% and -18%
    return {
        "spot": {"USDT": "5000"},
        "futures": {"USDT": "3000"},
        "position_mode": "oneway",
        "symbols": {"BTCUSDT": {"mark": "60000"}, "ETHUSDT": {"mark": "3000"}},
        "positions": [
            {
                "symbol": "BTCUSDT",
                "positionSide": "BOTH",
                "positionAmt": "0.5",
                "entryPrice": "60000",
                "leverage": 20,
                "marginType": "cross",
            },
            {
                "symbol": "ETHUSDT",
                "positionSide": "BOTH",
                "positionAmt": "5",
                "entryPrice": "3000",
                "leverage": 20,
                "marginType": "cross",
            },
        ],
        "path": [{"t": 0, **hold}, {"t": 10, **hold}, {"t": 100, **low}, {"t": 110, **low}],
    }


def _calm() -> dict[str, Any]:
    base = _crash()
    base["path"] = [
        {"t": 0, "BTCUSDT": "60000", "ETHUSDT": "3000"},
        {"t": 60, "BTCUSDT": "60300", "ETHUSDT": "2990"},
        {"t": 120, "BTCUSDT": "59900", "ETHUSDT": "3010"},
    ]
    return base


def _squeeze() -> dict[str, Any]:
    """A short squeeze: a short BTC account while BTC rises 12% over a minute."""
    base = _crash()
    base["positions"] = [
        {
            "symbol": "BTCUSDT",
            "positionSide": "BOTH",
            "positionAmt": "-0.5",
            "entryPrice": "60000",
            "leverage": 20,
            "marginType": "cross",
        }
    ]
    base["symbols"] = {"BTCUSDT": {"mark": "60000"}}
    base["path"] = [
        {"t": 0, "BTCUSDT": "60000"},
        {"t": 10, "BTCUSDT": "60000"},
        {"t": 70, "BTCUSDT": "67200"},
        {"t": 80, "BTCUSDT": "67200"},
    ]
    return base


def _wick() -> dict[str, Any]:
    """A wick: BTC drops 9% in three seconds and recovers within ten."""
    base = _crash()
    base["path"] = [
        {"t": 0, "BTCUSDT": "60000", "ETHUSDT": "3000"},
        {"t": 10, "BTCUSDT": "60000", "ETHUSDT": "3000"},
        {"t": 13, "BTCUSDT": "54600", "ETHUSDT": "2850"},
        {"t": 23, "BTCUSDT": "59500", "ETHUSDT": "2990"},
        {"t": 30, "BTCUSDT": "59500", "ETHUSDT": "2990"},
    ]
    return base


BUILTINS = {"crash": _crash, "calm": _calm, "squeeze": _squeeze, "wick": _wick}
