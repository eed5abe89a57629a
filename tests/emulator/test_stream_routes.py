"""Every user-stream route shape, legacy silence, the age cap, pings, and no replay."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from assistant.emulator.server.app import Emulator
from tests.emulator.conftest import fast
from tests.emulator.wsclient import next_frame, open_ws


async def listen_key(client: Any) -> str:
    return str((await client.fapiPrivatePostListenKey())["listenKey"])


async def test_path_form_and_subscribe_form(emulator: Emulator, client: Any) -> None:
    key = await listen_key(client)
    base = emulator.urls["ws"]
    async with (
        await open_ws(f"{base}/private/ws/{key}") as by_path,
        await open_ws(f"{base}/private/stream") as by_subscribe,
    ):
        await by_subscribe.send(json.dumps({"method": "SUBSCRIBE", "params": [key], "id": 1}))
        assert await next_frame(by_subscribe) == {"result": None, "id": 1}
        await client.transfer("USDT", 1, "spot", "swap")
        raw = await next_frame(by_path)
        wrapped = await next_frame(by_subscribe)
    assert raw["e"] == "ACCOUNT_UPDATE"
    assert wrapped == {"stream": key, "data": raw}


async def test_the_same_key_comes_back_while_it_lives(client: Any) -> None:
    first = await listen_key(client)
    assert await listen_key(client) == first
    assert (await client.fapiPrivatePutListenKey())["listenKey"] == first


async def test_delete_expires_the_key_on_its_sockets(emulator: Emulator, client: Any) -> None:
    key = await listen_key(client)
    async with await open_ws(f"{emulator.urls['ws']}/private/ws?listenKey={key}") as ws:
        await client.fapiPrivateDeleteListenKey()
        frame = await next_frame(ws)
    assert frame["e"] == "listenKeyExpired" and frame["listenKey"] == key


async def test_legacy_user_route_is_silent(emulator: Emulator, client: Any) -> None:
    key = await listen_key(client)
    async with await open_ws(f"{emulator.urls['ws']}/ws/{key}") as ws:
        await client.transfer("USDT", 1, "spot", "swap")
        with pytest.raises(TimeoutError):
            await next_frame(ws, timeout=0.3)


@pytest.mark.scenario(fast("crash", mark_interval=3600, legacy_ws_delivers=True))
async def test_legacy_route_delivers_when_the_scenario_says_so(
    emulator: Emulator, client: Any
) -> None:
    key = await listen_key(client)
    async with await open_ws(f"{emulator.urls['ws']}/ws/{key}") as ws:
        await client.transfer("USDT", 1, "spot", "swap")
        assert (await next_frame(ws))["a"]["m"] == "DEPOSIT"


async def test_unknown_listen_key_is_refused(emulator: Emulator) -> None:
    async with await open_ws(f"{emulator.urls['ws']}/private/ws?listenKey=nope") as ws:
        await ws.wait_closed()
    assert ws.close_code == 1008


async def test_no_replay_after_a_reconnect(emulator: Emulator, client: Any) -> None:
    key = await listen_key(client)
    url = f"{emulator.urls['ws']}/private/ws?listenKey={key}"
    await client.transfer("USDT", 3, "spot", "swap")  # nobody listening: lost, as on Binance
    async with await open_ws(url) as ws:
        await client.transfer("USDT", 4, "spot", "swap")
        frame = await next_frame(ws)
    assert frame["a"]["B"][0]["bc"] == "4.00000000"


@pytest.mark.scenario(fast("crash", mark_interval=3600, max_connection_age=0.5))
async def test_connections_are_closed_at_the_age_cap(emulator: Emulator) -> None:
    async with await open_ws(f"{emulator.urls['ws']}/market/ws/btcusdt@markPrice@1s") as ws:
        await asyncio.wait_for(ws.wait_closed(), 5)
    assert ws.close_code == 1000


@pytest.mark.scenario(fast("crash", mark_interval=3600, ping_interval=0.2))
async def test_the_server_pings(emulator: Emulator) -> None:
    url = f"{emulator.urls['ws']}/market/ws/btcusdt@markPrice@1s"
    async with aiohttp.ClientSession() as session, session.ws_connect(url, autoping=False) as ws:
        message = await ws.receive(timeout=5)
        assert message.type == aiohttp.WSMsgType.PING
        await ws.pong(message.data)
