"""The real ccxt binanceusdm client against the emulator: it cannot tell it from Binance."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt.async_support as ccxt
import pytest

from assistant.emulator.server.app import Emulator

BTC = "BTC/USDT:USDT"


def code_of(exc: BaseException) -> int:
    """Binance's own error code from a ccxt exception message ('binanceusdm {"code":...}')."""
    import json
    import re

    match = re.search(r"\{.*\}", str(exc))
    assert match, str(exc)
    return int(json.loads(match.group(0))["code"])


async def test_markets_balance_positions_and_tiers(client: Any) -> None:
    markets = await client.load_markets()
    assert markets[BTC]["precision"]["amount"] == 0.001
    assert markets[BTC]["limits"]["cost"]["min"] == 100
    balance = await client.fetch_balance()
    assert balance["USDT"]["total"] == 3000  # margin balance at entry marks
    positions = await client.fetch_positions()
    by_symbol = {p["symbol"]: p for p in positions}
    assert by_symbol[BTC]["contracts"] == 0.5 and by_symbol[BTC]["side"] == "long"
    tiers = await client.fetch_leverage_tiers([BTC])
    assert tiers[BTC][0]["maintenanceMarginRate"] == 0.004


async def test_order_lifecycle_by_client_id(client: Any, emulator: Emulator) -> None:
    await client.load_markets()
    order = await client.create_order(
        BTC, "market", "sell", 0.1, None, {"reduceOnly": True, "newClientOrderId": "guard-1"}
    )
    assert order["status"] == "closed" and order["filled"] == 0.1
    fetched = await client.fetch_order(None, BTC, {"origClientOrderId": "guard-1"})
    assert fetched["id"] == order["id"]
    resting = await client.create_order(
        BTC, "limit", "sell", 0.1, 70000, {"newClientOrderId": "guard-2"}
    )
    assert resting["status"] == "open"
    assert [o["clientOrderId"] for o in await client.fetch_open_orders(BTC)] == ["guard-2"]
    with pytest.raises(ccxt.ExchangeError) as duplicate:
        await client.create_order(BTC, "limit", "sell", 0.1, 70000, {"newClientOrderId": "guard-2"})
    assert code_of(duplicate.value) == -4116
    await client.cancel_order(resting["id"], BTC)
    assert await client.fetch_open_orders(BTC) == []
    # A client id can be used again once its order is done, as on Binance.
    again = await client.create_order(
        BTC, "limit", "sell", 0.1, 70000, {"newClientOrderId": "guard-2"}
    )
    assert again["id"] != resting["id"]
    assert emulator.engine.positions[("BTCUSDT", "BOTH")].amount == Decimal("0.4")


async def test_transfer_spot_to_futures(client: Any, emulator: Emulator) -> None:
    result = await client.transfer("USDT", 250, "spot", "swap")
    assert result["id"]
    assert emulator.engine.spot["USDT"] == Decimal("4750")
    assert emulator.engine.wallet == Decimal("3250")
    spot = await client.privateGetAccount()
    assert {b["asset"]: b["free"] for b in spot["balances"]}["USDT"] == "4750.00000000"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ((BTC, "market", "buy", 1.0, None, {}), -2019),  # 60000 notional, 3000 at 20x: margin
        ((BTC, "market", "buy", 0.5, None, {"reduceOnly": True}), -2022),  # adds to a long
        ((BTC, "market", "buy", 0.001, None, {}), -4164),  # 60 USDT < min notional 100
        ((BTC, "market", "buy", 0.5, None, {"positionSide": "LONG"}), -4061),  # one-way account
    ],
)
async def test_binance_rules_come_back_as_binance_codes(
    client: Any, args: tuple[Any, ...], code: int
) -> None:
    await client.load_markets()
    with pytest.raises(ccxt.BaseError) as failure:
        await client.create_order(*args)
    assert code_of(failure.value) == code


async def test_min_notional_does_not_apply_to_reduce_only(client: Any) -> None:
    await client.load_markets()
    order = await client.create_order(BTC, "market", "sell", 0.001, None, {"reduceOnly": True})
    assert order["filled"] == 0.001


async def test_bad_key_bad_signature_and_stale_timestamp(client: Any, emulator: Emulator) -> None:
    await client.load_markets()
    client.secret = "not-the-secret"
    with pytest.raises(ccxt.AuthenticationError) as bad_signature:
        await client.fetch_balance()
    assert code_of(bad_signature.value) == -1022
    client.secret, client.apiKey = "emulator-secret", "unknown-key"
    with pytest.raises(ccxt.AuthenticationError) as bad_key:
        await client.fetch_balance()
    assert code_of(bad_key.value) == -2015
    client.apiKey = "emulator-key"
    with pytest.raises(ccxt.InvalidNonce) as stale:
        await client.fetch_balance({"timestamp": emulator.now_ms() - 120_000})
    assert code_of(stale.value) == -1021


async def _arm(emulator: Emulator, **fault: Any) -> None:
    import aiohttp

    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{emulator.urls['control']}/fault", json=fault) as response,
    ):
        assert response.status == 200


@pytest.mark.parametrize(
    ("fault", "error", "code"),
    [
        (
            {"status": 429, "code": -1003, "msg": "Too many requests.", "retry_after": 7},
            ccxt.DDoSProtection,
            -1003,
        ),
        (
            {
                "status": 418,
                "code": -1003,
                "msg": "Way too many requests; IP banned.",
                "retry_after": 60,
            },
            ccxt.DDoSProtection,
            -1003,
        ),
        (
            {
                "status": 400,
                "code": -1021,
                "msg": "Timestamp for this request is outside of the recvWindow.",
            },
            ccxt.InvalidNonce,
            -1021,
        ),
        (
            {
                "status": 503,
                "code": -1001,
                "msg": "Internal error; unable to process your request.",
            },
            ccxt.BaseError,
            -1001,
        ),
    ],
)
async def test_injected_faults_come_back_as_binance_errors(
    client: Any, emulator: Emulator, fault: dict[str, Any], error: type[Exception], code: int
) -> None:
    await client.load_markets()
    await _arm(emulator, path="/fapi/v3/positionRisk", method="GET", **fault)
    with pytest.raises(error) as failure:
        await client.fetch_positions()
    assert code_of(failure.value) == code
    if "retry_after" in fault:
        assert client.last_response_headers["Retry-After"] == str(fault["retry_after"])
    assert len(await client.fetch_positions()) == 2  # count 1: the next call is served


async def test_a_plain_503_and_a_slow_answer(client: Any, emulator: Emulator) -> None:
    await client.load_markets()
    await _arm(emulator, path="/fapi/v3/positionRisk", status=503, msg="Service Unavailable.")
    with pytest.raises(ccxt.ExchangeNotAvailable):
        await client.fetch_positions()
    client.timeout = 200
    await _arm(emulator, path="/fapi/v3/positionRisk", status=503, code=-1001, msg="x", delay=1.0)
    with pytest.raises(ccxt.RequestTimeout):
        await client.fetch_positions()


async def test_a_5xx_with_unknown_outcome_executes(client: Any, emulator: Emulator) -> None:
    await client.load_markets()
    await _arm(
        emulator,
        path="/fapi/v1/order",
        method="POST",
        status=503,
        code=-1001,
        msg="Internal error; unable to process your request.",
        execute=True,
    )
    with pytest.raises(ccxt.BaseError) as failure:
        await client.create_order(
            BTC, "market", "sell", 0.1, None, {"reduceOnly": True, "newClientOrderId": "unknown-1"}
        )
    assert code_of(failure.value) == -1001
    done = await client.fetch_order(None, BTC, {"origClientOrderId": "unknown-1"})
    assert done["status"] == "closed"
    assert emulator.engine.positions[("BTCUSDT", "BOTH")].amount == Decimal("0.4")
