"""A real `websockets` client receives Binance-shaped user and market events.

Key sets are compared with captured Binance frames (tests/fixtures/binance): every key Binance
sent must be there; extra keys are only fields Binance documents for newer frames.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from assistant.emulator.server.app import Emulator
from tests.emulator.conftest import fast
from tests.emulator.wsclient import collect, next_frame, open_ws, until
from tests.helpers import FIXTURES, fixture

BTC = "BTC/USDT:USDT"
NEWER_ORDER_FIELDS = {"V", "pm", "gtd"}  # selfTradePrevention, priceMatch, goodTillDate


def captured_frames() -> list[dict[str, Any]]:
    lines = (FIXTURES / "real.user_stream_frames.2022-01-26.jsonl").read_text().splitlines()
    frames = [json.loads(line) for line in lines]
    return [f.get("data", f) for f in frames]


def assert_same_keys(
    ours: dict[str, Any], theirs: dict[str, Any], extra: set[str] = frozenset()
) -> None:  # type: ignore[assignment]
    assert set(theirs) <= set(ours), f"missing {set(theirs) - set(ours)}"
    assert set(ours) - set(theirs) <= extra, f"unexpected {set(ours) - set(theirs) - extra}"


async def user_socket(emulator: Emulator, client: Any) -> Any:
    key = (await client.fapiPrivatePostListenKey())["listenKey"]
    return await open_ws(f"{emulator.urls['ws']}/private/ws?listenKey={key}")


async def test_an_order_produces_binance_events(emulator: Emulator, client: Any) -> None:
    await client.load_markets()
    async with await user_socket(emulator, client) as ws:
        await client.create_order(
            BTC, "market", "sell", 0.1, None, {"reduceOnly": True, "newClientOrderId": "r-1"}
        )
        new, lite, update, trade = await collect(ws, 4)
    real = captured_frames()
    assert (new["e"], new["o"]["x"], trade["o"]["x"], trade["o"]["X"]) == (
        "ORDER_TRADE_UPDATE",
        "NEW",
        "TRADE",
        "FILLED",
    )
    assert_same_keys(new, real[4])
    assert_same_keys(new["o"], real[4]["o"], NEWER_ORDER_FIELDS)
    assert_same_keys(trade["o"], real[6]["o"], NEWER_ORDER_FIELDS)
    assert trade["o"]["R"] is True and trade["o"]["c"] == "r-1"
    assert_same_keys(lite, fixture("real.nautilus.ws_TRADE_LITE.json"))
    assert update["e"] == "ACCOUNT_UPDATE" and update["a"]["m"] == "ORDER"
    assert_same_keys(update["a"]["P"][0], real[5]["a"]["P"][0], {"bep"})
    assert_same_keys(update["a"]["B"][0], real[5]["a"]["B"][0])
    assert update["a"]["P"][0]["pa"] == "0.4"
    assert new["E"] <= trade["E"] and update["T"] == trade["T"]


async def test_a_transfer_arrives_as_deposit(emulator: Emulator, client: Any) -> None:
    async with await user_socket(emulator, client) as ws:
        await client.transfer("USDT", 100, "spot", "swap")
        frame = await next_frame(ws)
    real = captured_frames()[3]
    assert_same_keys(frame, real)
    assert (
        frame["a"]["m"] == "DEPOSIT"
        and frame["a"]["P"] == []
        and frame["a"]["B"][0]["bc"] == "100.00000000"
    )


async def test_a_leverage_change_arrives_as_config_update(emulator: Emulator, client: Any) -> None:
    async with await user_socket(emulator, client) as ws:
        await client.set_leverage(10, BTC)
        frame = await next_frame(ws)
    docs = fixture("docexample.binance-docs.misc.json")["ACCOUNT_CONFIG_UPDATE_leverage"]
    assert_same_keys(frame, docs)
    assert frame["ac"] == {"s": "BTCUSDT", "l": 10}


async def test_events_filter_is_an_allow_list(emulator: Emulator, client: Any) -> None:
    key = (await client.fapiPrivatePostListenKey())["listenKey"]
    url = f"{emulator.urls['ws']}/private/ws?listenKey={key}&events=ACCOUNT_CONFIG_UPDATE"
    async with await open_ws(url) as ws:
        await client.transfer("USDT", 5, "spot", "swap")  # ACCOUNT_UPDATE: filtered out
        await client.set_leverage(11, BTC)
        frame = await next_frame(ws)
    assert frame["e"] == "ACCOUNT_CONFIG_UPDATE"


async def test_mark_moves_on_market_streams_and_legacy_routes_stay_silent(
    emulator: Emulator,
) -> None:
    base = emulator.urls["ws"]
    async with (
        await open_ws(f"{base}/market/ws/btcusdt@markPrice@1s") as single,
        await open_ws(f"{base}/market/stream?streams=!markPrice@arr@1s") as wrapped,
        await open_ws(f"{base}/ws/btcusdt@markPrice@1s") as legacy,
    ):
        await legacy.send(
            json.dumps({"method": "SUBSCRIBE", "params": ["ethusdt@markPrice@1s"], "id": 7})
        )
        assert await next_frame(legacy) == {"result": None, "id": 7}
        await _control(emulator, "mark", {"symbol": "BTCUSDT", "price": "59000"})
        event = await until(single, lambda f: f["p"] == "59000.00000000")
        arr = await until(wrapped, lambda f: any(e["p"] == "59000.00000000" for e in f["data"]))
        with pytest.raises(TimeoutError):
            await next_frame(legacy, timeout=0.3)
    documented = fixture("docexample.nautilus.ws_markPriceUpdate.json")
    documented.pop("st")  # added by nautilus's copy (SOURCES.md: "doc example + st")
    assert_same_keys(event, documented, {"ap"})  # ap: mark price average, newer docs
    assert arr["stream"] == "!markprice@arr@1s"


async def test_subscribe_and_unsubscribe(emulator: Emulator) -> None:
    async with await open_ws(f"{emulator.urls['ws']}/market/ws") as ws:
        await ws.send(
            json.dumps({"method": "SUBSCRIBE", "params": ["ethusdt@markPrice@1s"], "id": 1})
        )
        assert await next_frame(ws) == {"result": None, "id": 1}
        await _control(emulator, "mark", {"symbol": "ETHUSDT", "price": "2990"})
        assert (await until(ws, lambda f: f.get("s") == "ETHUSDT"))["p"] == "2990.00000000"
        await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 2}))
        assert (await until(ws, lambda f: f.get("id") == 2))["result"] == ["ethusdt@markprice@1s"]


@pytest.mark.scenario(fast("crash", mark_interval=3600, listen_key_ttl=0.5))
async def test_listen_key_expires_with_an_event(emulator: Emulator, client: Any) -> None:
    async with await user_socket(emulator, client) as ws:
        frame = await next_frame(ws)
    docs = fixture("docexample.binance-docs.misc.json")["listenKeyExpired_docs_string_E"]
    assert_same_keys(frame, docs)
    assert frame["e"] == "listenKeyExpired" and emulator.listen_keys == {}
    with pytest.raises(Exception) as missing:
        await client.fapiPrivatePutListenKey()
    assert "-1125" in str(missing.value)


async def test_liquidation_and_margin_call_events(emulator: Emulator, client: Any) -> None:
    async with await user_socket(emulator, client) as ws:
        await _control(emulator, "mark", {"symbol": "BTCUSDT", "price": "54400"})
        call = await until(ws, lambda f: f["e"] == "MARGIN_CALL")
        await _control(emulator, "mark", {"symbol": "BTCUSDT", "price": "50000"})
        liquidation = await until(
            ws, lambda f: f["e"] == "ORDER_TRADE_UPDATE" and f["o"]["x"] == "TRADE"
        )
    assert_same_keys(call, fixture("docexample.binance-docs.misc.json")["MARGIN_CALL"])
    assert liquidation["o"]["c"].startswith("autoclose-")
    assert {p["symbol"] for p in emulator.engine.liquidations} == {"BTCUSDT", "ETHUSDT"}


async def _control(emulator: Emulator, verb: str, body: dict[str, Any]) -> Any:
    import aiohttp

    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{emulator.urls['control']}/{verb}", json=body) as response,
    ):
        assert response.status == 200, await response.text()
        return await response.json()
