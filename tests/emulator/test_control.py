"""Rate limits and bans by client address, and the control API."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from typing import Any

import aiohttp
import ccxt.async_support as ccxt
import pytest

from assistant.emulator.server.app import Emulator
from assistant.emulator.server.protocol import Fault
from tests.emulator.conftest import fast
from tests.emulator.test_ccxt import code_of
from tests.emulator.wsclient import open_ws

LIMITED = fast("crash", mark_interval=3600, weight_limit=20, ban_seconds=60)


async def _get(session: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, str], Any]:
    async with session.get(url) as response:
        return response.status, dict(response.headers), await response.json(content_type=None)


@pytest.mark.scenario(LIMITED)
async def test_a_client_that_ignores_429_gets_banned(emulator: Emulator) -> None:
    url = f"{emulator.urls['rest']}/fapi/v1/exchangeInfo"
    statuses = []
    async with aiohttp.ClientSession() as session:
        for _ in range(30):
            status, headers, body = await _get(session, url)
            statuses.append(status)
            if status == 200:
                assert headers["X-MBX-USED-WEIGHT-1M"] == str(statuses.count(200))
            else:
                assert body["code"] == -1003 and int(headers["Retry-After"]) > 0
    assert statuses[:20] == [200] * 20
    assert statuses[20:23] == [429] * 3
    assert set(statuses[23:]) == {418}
    # Another loopback address has its own budget, as another IP would on Binance.
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=connector) as other:
        assert (await _get(other, url))[0] == 200
    async with aiohttp.ClientSession() as session:
        _, _, log = await _get(session, f"{emulator.urls['control']}/requests")
    mine = [r for r in log if r["address"] == "127.0.0.1" and r["path"] == "/fapi/v1/exchangeInfo"]
    banned_from = next(i for i, r in enumerate(mine) if r["status"] == 418)
    assert all(r["status"] == 418 and r["weight"] == 0 for r in mine[banned_from:])


async def test_order_count_headers(emulator: Emulator, client: Any) -> None:
    await client.load_markets()
    await client.create_order("BTC/USDT:USDT", "market", "sell", 0.01, None, {"reduceOnly": True})
    headers = client.last_response_headers
    assert headers["X-MBX-ORDER-COUNT-1M"] == "1" and headers["X-MBX-ORDER-COUNT-10S"] == "1"


async def test_state_reset_stall_and_disconnect(emulator: Emulator, client: Any) -> None:
    control = emulator.urls["control"]
    async with aiohttp.ClientSession() as session:
        _, _, state = await _get(session, f"{control}/state")
        assert state["futures"] == {"USDT": "3000.00000000", "position_mode": "oneway"}
        assert len(state["positions"]) == 2
        await client.transfer("USDT", 10, "spot", "swap")
        _, _, state = await _get(session, f"{control}/state")
        assert (
            state["transfers"][0]["type"] == "MAIN_UMFUTURE"
            and state["spot"]["USDT"] == "4990.00000000"
        )

        async with await open_ws(f"{emulator.urls['ws']}/market/ws/btcusdt@markPrice@1s") as ws:
            async with session.post(
                f"{control}/stall", json={"streams": "market", "seconds": 30}
            ) as r:
                assert r.status == 200
            async with session.post(
                f"{control}/mark", json={"symbol": "BTCUSDT", "price": "59000"}
            ):
                pass
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(ws.recv(), 0.3)  # stalled: open but silent
            _, _, state = await _get(session, f"{control}/state")
            assert state["connections"]["market"] == 1
            async with session.post(f"{control}/disconnect", json={"streams": "market"}) as r:
                assert (await r.json())["closed"] == 1
            with pytest.raises(Exception):  # noqa: B017 - any connection-closed error will do
                await asyncio.wait_for(ws.recv(), 2)

        async with session.post(f"{control}/reset", json={"scenario": "squeeze"}) as r:
            assert r.status == 200
        _, _, state = await _get(session, f"{control}/state")
        assert [p["positionAmt"] for p in state["positions"]] == ["-0.5"] and state[
            "transfers"
        ] == []
        async with session.post(f"{control}/reset", json={"scenario": "no-such-thing"}) as r:
            assert r.status == 400 and "not a built-in" in (await r.json())["error"]


@pytest.mark.scenario(fast("crash", speed=200))
async def test_crash_liquidates_about_forty_seconds_into_the_fall(emulator: Emulator) -> None:
    for _ in range(200):  # bounded: 110 scenario seconds at 200x is about 0.6 s of wall time
        if emulator.engine.liquidations:
            break
        await asyncio.sleep(0.02)
    assert emulator.engine.liquidations, "the untouched crash account must be liquidated"
    first = emulator.engine.history[0]["time"]
    at = emulator.engine.liquidations[0]["time"]
    history = list(emulator.engine.history)
    ticks = next(i for i, row in enumerate(history) if row["time"] >= at)
    assert 45 <= ticks <= 55  # 10 s of calm, then ~37 s of the fall; one row per scenario second
    assert at >= first
    # Never liquidated early; the ratio is hyperbolic at the end, so it can leap past 0.8 and 1
    # in one step: what the assistant's distance rules exist for.
    assert all(0 < float(row["margin_ratio"]) < 1 for row in history[:ticks])


def test_the_emulator_command_prints_its_urls_and_stops_on_sigterm() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "assistant", "emulator", "--scenario", "calm"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            urls = json.loads(process.stdout.readline())
            assert set(urls) == {"rest", "ws", "control"}
            assert urls["rest"].startswith("http://127.0.0.1:")
            process.send_signal(signal.SIGTERM)
            _, errors = process.communicate(timeout=10)
            assert process.returncode == 0, errors
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate()


def test_the_emulator_command_refuses_an_unknown_scenario() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "assistant", "emulator", "--scenario", "nope"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2 and "not a built-in" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


async def test_a_fault_executes_true_false_or_late_and_nothing_else(emulator: Emulator) -> None:
    late = Fault.parse({"path": "/fapi/v1/order", "execute": "late", "delay": 7})
    assert late.late and not late.execute and late.delay == 7
    first = Fault.parse({"path": "/fapi/v1/order", "execute": True})
    assert first.execute and not first.late
    url = f"{emulator.urls['control']}/fault"
    async with aiohttp.ClientSession() as session:
        for execute in ("yes", "true", 1, None):
            body = {"path": "/fapi/v1/order", "execute": execute}
            async with session.post(url, json=body) as response:
                assert response.status == 400, execute
                assert "execute" in (await response.json())["error"]
    assert emulator.faults == []


HIDDEN_ETH = fast("crash", mark_interval=3600)
HIDDEN_ETH["symbols"]["ETHUSDT"]["hide_brackets"] = True


@pytest.mark.scenario(HIDDEN_ETH)
async def test_a_hidden_symbol_is_left_out_of_the_brackets_until_shown(
    emulator: Emulator, client: Any
) -> None:
    """Through the real ccxt client: a scenario symbol with `hide_brackets` is not in
    GET /fapi/v1/leverageBracket (by name it is -1121) until POST /_emulator/brackets shows
    it; the account engine still margins it (its position and marks go on)."""
    listed = await client.fapiPrivateGetLeverageBracket()
    assert [item["symbol"] for item in listed] == ["BTCUSDT"]
    with pytest.raises(ccxt.ExchangeError) as refused:
        await client.fapiPrivateGetLeverageBracket({"symbol": "ETHUSDT"})
    assert code_of(refused.value) == -1121
    control = emulator.urls["control"]
    async with aiohttp.ClientSession() as session:
        _, _, state = await _get(session, f"{control}/state")
        assert state["hidden_brackets"] == ["ETHUSDT"]
        assert {p["symbol"] for p in state["positions"]} == {"BTCUSDT", "ETHUSDT"}
        for body, status in (
            ({"symbol": "NOPEUSDT", "hide": False}, 400),
            ({"symbol": "ETHUSDT", "hide": "false"}, 400),
            ({"hide": False}, 400),
            ({"symbol": "ethusdt", "hide": False}, 200),
        ):
            async with session.post(f"{control}/brackets", json=body) as response:
                assert response.status == status, (body, await response.text())
        _, _, state = await _get(session, f"{control}/state")
        assert state["hidden_brackets"] == []
    listed = await client.fapiPrivateGetLeverageBracket()
    assert [item["symbol"] for item in listed] == ["BTCUSDT", "ETHUSDT"]
    one = await client.fapiPrivateGetLeverageBracket({"symbol": "ETHUSDT"})
    assert one == listed[1] and len(one["brackets"]) == 12  # ETHUSDT's real table
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{control}/brackets", json={"symbol": "BTCUSDT"}) as response,
    ):
        assert await response.json() == {"symbol": "BTCUSDT", "hidden": True}  # hide by default
    assert await client.fapiPrivateGetLeverageBracket() == [listed[1]]
