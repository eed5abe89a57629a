"""Fuzzing every parser with hostile input: websocket frames, REST bodies, config files.
Nothing crashes; garbage never changes the mirrored state; a bad config is a clear error."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from assistant.binance.parse import Skipped, parse_market_frame, parse_user_frame
from assistant.binance.snapshot import parse_snapshot
from assistant.core.mirror import MirrorState, apply
from assistant.errors import InputError
from assistant.service.settings import load_settings
from tests.helpers import fixture

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)
USER_KEYS = ["e", "E", "T", "a", "o", "B", "P", "s", "m", "ac", "ai", "listenKey", "cw", "p"]


def mutate(frame: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """A real frame with one field, at any depth, replaced by anything."""
    out = json.loads(json.dumps(frame))
    node: Any = out
    for _ in range(data.draw(st.integers(0, 3))):
        if isinstance(node, dict) and node:
            key = data.draw(st.sampled_from(sorted(node)))
            if isinstance(node[key], (dict, list)) and node[key]:
                node = node[key]
                continue
        break
    if isinstance(node, dict) and node:
        node[data.draw(st.sampled_from(sorted(node)))] = data.draw(JSON)
    elif isinstance(node, list) and node:
        node[data.draw(st.integers(0, len(node) - 1))] = data.draw(JSON)
    return out


REAL_USER = [
    {
        "e": "ACCOUNT_UPDATE",
        "E": 1,
        "T": 1,
        "a": {
            "m": "ORDER",
            "B": [{"a": "USDT", "wb": "100", "cw": "100", "bc": "0"}],
            "P": [
                {
                    "s": "BTCUSDT",
                    "pa": "0.5",
                    "ep": "60000",
                    "cr": "0",
                    "up": "1",
                    "mt": "cross",
                    "iw": "0",
                    "ps": "BOTH",
                }
            ],
        },
    },
    {
        "e": "ORDER_TRADE_UPDATE",
        "E": 2,
        "T": 2,
        "o": {
            "s": "BTCUSDT",
            "c": "mg-x",
            "S": "SELL",
            "o": "MARKET",
            "f": "GTC",
            "q": "0.1",
            "p": "0",
            "ap": "60000",
            "sp": "0",
            "x": "TRADE",
            "X": "FILLED",
            "i": 7,
            "l": "0.1",
            "z": "0.1",
            "L": "60000",
            "T": 2,
            "R": True,
            "ps": "BOTH",
            "rp": "0",
        },
    },
    {
        "e": "MARGIN_CALL",
        "E": 3,
        "cw": "10",
        "p": [
            {
                "s": "BTCUSDT",
                "ps": "BOTH",
                "pa": "1",
                "mt": "CROSSED",
                "iw": "0",
                "mp": "60000",
                "up": "-1",
                "mm": "5",
            }
        ],
    },
    {"e": "listenKeyExpired", "E": 4, "listenKey": "k"},
    {"e": "ACCOUNT_CONFIG_UPDATE", "E": 5, "T": 5, "ac": {"s": "BTCUSDT", "l": 20}},
]
REAL_MARK = {
    "stream": "btcusdt@markPrice@1s",
    "data": {
        "e": "markPriceUpdate",
        "E": 6,
        "s": "BTCUSDT",
        "p": "60000.1",
        "i": "60001",
        "P": "60002",
        "r": "0.0001",
        "T": 7,
    },
}


def check(result: object) -> None:
    if isinstance(result, list):  # parse_market_frame: the events of an array frame
        assert all(type(e).__module__ == "assistant.core.events" for e in result)
        return
    assert isinstance(result, Skipped) or type(result).__module__ == "assistant.core.events"
    if isinstance(result, Skipped):
        assert result.reason  # said why, for the log
        state = MirrorState()
        assert apply(state, result) == state  # type: ignore[arg-type]


@given(st.one_of(st.text(max_size=200), st.binary(max_size=200), JSON.map(json.dumps)))
def test_garbage_frames_are_skipped_with_a_reason(frame: Any) -> None:
    check(parse_user_frame(frame))
    check(parse_market_frame(frame))


@given(st.data())
def test_real_frames_with_a_field_broken_never_crash(data: st.DataObject) -> None:
    frame = data.draw(st.sampled_from(REAL_USER))
    check(parse_user_frame(json.dumps(mutate(frame, data))))
    check(parse_market_frame(json.dumps(mutate(REAL_MARK, data))))


@given(st.data())
def test_broken_rest_bodies_are_an_input_error_never_a_crash(data: st.DataObject) -> None:
    bodies = {
        "account": fixture("real.ccxt.fapi_v3_account.json"),
        "position_risk": fixture("real.ccxt.fapi_v3_positionRisk.json"),
        "symbol_config": [{"symbol": "BTCUSDT", "leverage": 20, "marginType": "CROSSED"}],
        "open_orders": [],
        "account_config": {"multiAssetsMargin": False, "dualSidePosition": False},
    }
    name = data.draw(st.sampled_from(sorted(bodies)))
    body = bodies[name]
    if isinstance(body, list):
        body = (
            [mutate(row, data) for row in body]
            if body and data.draw(st.booleans())
            else data.draw(JSON)
        )
    else:
        body = mutate(body, data)
    bodies[name] = body
    try:
        parse_snapshot(taken_at=1, **bodies)
    except InputError as exc:
        assert str(exc)


@given(st.text(max_size=300))
def test_any_config_text_is_valid_or_one_clear_error(tmp_path_factory: Any, text: str) -> None:
    path = tmp_path_factory.mktemp("cfg") / "assistant.toml"
    path.write_text(text, encoding="utf-8")
    try:
        load_settings(path)
    except InputError as exc:
        assert str(exc).startswith(str(path))
