"""BinanceRest against the emulator: snapshots, orders, transfers, and errors by Binance code."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest

from assistant.binance.rest import BinanceRest
from assistant.binance.wire import Transfer, parse_transfers
from assistant.core.model import PositionSide
from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator
from assistant.emulator.server.protocol import Fault
from assistant.errors import (
    BadResponse,
    Banned,
    ClockSkew,
    InputError,
    OutcomeUnknown,
    RateLimited,
    Rejected,
)
from tests.emulator.conftest import fast


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    emulator = await Emulator(load_scenario(fast("crash", mark_interval=3600))).start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def rest(emu: Emulator) -> AsyncIterator[BinanceRest]:
    client = BinanceRest(
        api_key="emulator-key", api_secret="emulator-secret", rest_url=emu.urls["rest"]
    )
    yield client
    await client.close()


async def test_snapshot_brackets_and_limits(rest: BinanceRest) -> None:
    filters = await rest.load_limits()
    assert rest.weight_limit == 2400 and filters["BTCUSDT"]["step_size"] == Decimal("0.001")
    snapshot = await rest.snapshot()
    assert snapshot.wallet_balance == Decimal("3000") and not snapshot.hedge_mode
    assert {(p.symbol, p.side, p.amount) for p in snapshot.positions} == {
        ("BTCUSDT", PositionSide.BOTH, Decimal("0.5")),
        ("ETHUSDT", PositionSide.BOTH, Decimal("5")),
    }
    assert snapshot.leverage == {"BTCUSDT": 20, "ETHUSDT": 20}
    assert rest.used_weight > 0
    brackets = await rest.brackets()
    assert brackets.brackets["BTCUSDT"].brackets[0].mmr == Decimal("0.004")


async def test_reduce_only_and_lookup_by_client_id(rest: BinanceRest, emu: Emulator) -> None:
    await rest.load_limits()
    order = await rest.reduce_only(
        symbol="BTCUSDT", side="SELL", quantity=Decimal("0.1"), client_id="g-1"
    )
    assert order["status"] == "FILLED"
    found = await rest.order_by_client_id("BTCUSDT", "g-1")
    assert found is not None and found["orderId"] == order["orderId"]
    assert await rest.order_by_client_id("BTCUSDT", "never-sent") is None
    with pytest.raises(Rejected) as refused:
        await rest.reduce_only(
            symbol="BTCUSDT", side="BUY", quantity=Decimal("0.1"), client_id="g-2"
        )
    assert refused.value.code == -2022


async def test_cancel_order_by_client_id(rest: BinanceRest, emu: Emulator) -> None:
    await rest.load_limits()
    resting = {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "LIMIT",
        "price": "70000",
        "timeInForce": "GTC",
        "quantity": "0.2",
        "reduceOnly": "true",
        "newClientOrderId": "mg-reduce-1-0",
    }
    await rest.call("fapiPrivatePostOrder", resting)
    cancelled = await rest.cancel_order("BTCUSDT", "mg-reduce-1-0")
    assert cancelled is not None and cancelled["status"] == "CANCELED"
    assert [o["status"] for o in emu.engine.orders] == ["CANCELED"]
    # Gone already (cancelled, filled) or never there: None, which is what was wanted.
    assert await rest.cancel_order("BTCUSDT", "mg-reduce-1-0") is None
    assert await rest.cancel_order("BTCUSDT", "never-sent") is None
    # Any other refusal is the caller's to judge.
    emu.faults.append(
        Fault.parse(
            {"path": "/fapi/v1/order", "method": "DELETE", "status": 400, "code": -1102, "msg": "x"}
        )
    )
    with pytest.raises(Rejected) as refused:
        await rest.cancel_order("BTCUSDT", "mg-reduce-1-0")
    assert refused.value.code == -1102


async def test_transfer_and_spot_balance(rest: BinanceRest, emu: Emulator) -> None:
    tran_id = await rest.transfer_to_futures(Decimal("12.5"))
    assert await rest.spot_free_usdt() == Decimal("4987.5")
    history = await rest.transfers_since(0)
    assert [r.tran_id for r in history] == [tran_id]


async def test_transfers_since_gives_typed_rows_newest_first_from_a_time(
    rest: BinanceRest, emu: Emulator
) -> None:
    first = await rest.transfer_to_futures(Decimal("12.5"))
    between = emu.now_ms() + 1
    await asyncio.sleep(0.01)
    second = await rest.transfer_to_futures(Decimal("0.01"))
    rows = await rest.transfers_since(0)
    assert rows == [
        Transfer(second, Decimal("0.01"), "USDT", "CONFIRMED"),
        Transfer(first, Decimal("12.5"), "USDT", "CONFIRMED"),
    ]
    assert [r.tran_id for r in await rest.transfers_since(between)] == [second]
    assert await rest.transfers_since(emu.now_ms() + 60_000) == []


def test_transfer_rows_are_read_strictly() -> None:
    """Binance's fields with its defaults; a row we cannot read is an InputError (which the
    REST call turns into a retryable BadResponse)."""
    rows = parse_transfers({"rows": [{"tranId": "7", "amount": 1.5}], "total": 1})
    assert rows == [Transfer(7, Decimal("1.5"), "USDT", "CONFIRMED")]
    assert parse_transfers({"total": 0}) == [] and parse_transfers({"rows": None}) == []
    for bad in ({"rows": 1}, [], {"rows": [{"amount": "1"}]}, {"rows": [{"tranId": True}]}):
        with pytest.raises(InputError):
            parse_transfers(bad)
    with pytest.raises(InputError, match="amount"):
        parse_transfers({"rows": [{"tranId": 1, "amount": "1e99"}]})


HEDGED_ISOLATED: dict[str, Any] = {
    "position_mode": "hedge",
    "futures": {"USDT": "1000"},
    "symbols": {"BTCUSDT": {"mark": "60000"}, "ETHUSDT": {"mark": "3000"}},
    "positions": [
        {
            "symbol": "BTCUSDT",
            "positionSide": "LONG",
            "positionAmt": "0.1",
            "entryPrice": "60000",
            "leverage": 20,
            "marginType": "isolated",
            "isolatedWallet": "300",
        },
        {"symbol": "ETHUSDT", "positionSide": "SHORT", "positionAmt": "-1", "entryPrice": "3000"},
    ],
    "settings": {"mark_interval": 3600},
}


async def test_add_isolated_margin_moves_wallet_into_the_named_leg() -> None:
    emu = await Emulator(load_scenario(HEDGED_ISOLATED)).start()
    rest = BinanceRest(
        api_key="emulator-key", api_secret="emulator-secret", rest_url=emu.urls["rest"]
    )
    try:
        before = await rest.snapshot()
        answer = await rest.add_isolated_margin("BTCUSDT", PositionSide.LONG, Decimal("25.5"))
        assert answer["code"] == 200 and answer["type"] == 1
        after = await rest.snapshot()
        legs = {(p.symbol, p.side): p for p in after.positions}
        assert legs["BTCUSDT", PositionSide.LONG].isolated_wallet == Decimal("325.5")
        assert after.wallet_balance == before.wallet_balance - Decimal("25.5")
        posted = [r for r in emu.requests if r["path"] == "/fapi/v1/positionMargin"]
        assert len(posted) == 1
        with pytest.raises(Rejected) as cross:  # a cross position has no margin of its own
            await rest.add_isolated_margin("ETHUSDT", PositionSide.SHORT, Decimal("1"))
        assert cross.value.code == -4048
        with pytest.raises(Rejected) as none:  # no BTCUSDT SHORT leg is open
            await rest.add_isolated_margin("BTCUSDT", PositionSide.SHORT, Decimal("1"))
        assert none.value.code == -4047
    finally:
        await rest.close()
        await emu.stop()


async def test_errors_are_classified_by_code_and_status(rest: BinanceRest, emu: Emulator) -> None:
    cases: list[tuple[dict[str, Any], type[Exception]]] = [
        ({"status": 503, "code": -1001, "msg": "Internal error"}, OutcomeUnknown),
        ({"status": 503, "code": None, "msg": "Service Unavailable."}, OutcomeUnknown),
        ({"status": 429, "code": -1003, "msg": "Too many requests", "retry_after": 0}, RateLimited),
        ({"status": 418, "code": -1003, "msg": "banned", "retry_after": 0}, Banned),
        ({"status": 400, "code": -2019, "msg": "Margin is insufficient."}, Rejected),
    ]
    for fault, error in cases:
        emu.faults.append(Fault.parse({"path": "/fapi/v3/account", **fault}))
        with pytest.raises(error) as raised:
            await rest.call("fapiPrivateV3GetAccount")
        assert raised.value.code == fault["code"]
    await rest.call("fapiPrivateV3GetAccount")  # faults used up: served again


def client_with_clock(emu: Emulator, clock: Callable[[], float]) -> BinanceRest:
    return BinanceRest(
        api_key="emulator-key", api_secret="emulator-secret", rest_url=emu.urls["rest"], clock=clock
    )


async def test_a_ban_stops_every_request_until_it_ends(emu: Emulator) -> None:
    now = [1000.0]
    rest = client_with_clock(emu, lambda: now[0])
    try:
        emu.faults.append(
            Fault.parse(
                {
                    "path": "/fapi/v3/account",
                    "status": 418,
                    "code": -1003,
                    "msg": "banned",
                    "retry_after": 30,
                }
            )
        )
        with pytest.raises(Banned):
            await rest.call("fapiPrivateV3GetAccount")
        assert rest.weights.blocked_until == 1030.0
        now[0] = 1031.0  # the ban is over: the gate lets the next request through at once
        await rest.call("fapiPrivateV3GetAccount")
    finally:
        await rest.close()


async def test_spot_weight_does_not_hold_back_futures_calls(rest: BinanceRest) -> None:
    """Transfers weigh 900 each on the spot budget; the futures budget is another (a demo once
    waited a minute for a reduce-only order because the two were mixed)."""
    for _ in range(3):
        await rest.transfer_to_futures(Decimal("1"))
    assert rest.weights.used["spot"] >= 2700 > rest.weight_limit * 0.9
    async with asyncio.timeout(2):
        await rest.call("fapiPrivateV3GetAccount")


async def test_snapshots_are_stamped_in_binances_time(emu: Emulator) -> None:
    """A host clock 3 s ahead: the snapshot's moment is still Binance's, so stream events
    that follow it are not mistaken for older ones."""
    import time as real_time

    rest = client_with_clock(emu, lambda: real_time.time() + 3.0)
    try:
        offset = await rest.sync_clock()
        assert -3100 < offset < -2900
        snapshot = await rest.snapshot()
        assert abs(snapshot.taken_at - int(real_time.time() * 1000)) < 800
        await rest.call("fapiPrivateV3GetAccount")  # signed with the corrected clock: no -1021
    finally:
        await rest.close()


@pytest.mark.parametrize("answer", [[], "OK", None, 7])
async def test_an_order_answer_that_is_not_an_object_is_a_bad_response(
    answer: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Retryable, so the executor looks the order up by client id, instead of recording the
    garbage as the order (reduce_only) or crashing on it (order_by_client_id)."""
    client = BinanceRest(api_key="k", api_secret="s")

    async def call(
        method: str, params: dict[str, Any] | None = None, *, stamp: object = None
    ) -> object:
        return answer

    monkeypatch.setattr(client, "call", call)
    try:
        with pytest.raises(BadResponse):
            await client.reduce_only(
                symbol="BTCUSDT", side="SELL", quantity=Decimal("0.1"), client_id="g-1"
            )
        with pytest.raises(BadResponse):
            await client.order_by_client_id("BTCUSDT", "g-1")
        with pytest.raises(BadResponse):
            await client.transfers_since(0)
    finally:
        await client.close()


async def test_a_late_request_is_carried_out_after_the_client_left_only_inside_its_window(
    emu: Emulator,
) -> None:
    """`"execute": "late"`: held longer than the client waits (0.3 s), then carried out if its
    timestamp + recvWindow (1 s) has not passed on the emulator's clock, else refused."""
    rest = BinanceRest(
        api_key="emulator-key",
        api_secret="emulator-secret",
        rest_url=emu.urls["rest"],
        timeout_ms=300,
        recv_window_ms=1000,
    )
    try:
        for delay, amount in ((0.6, "1"), (1.5, "2")):
            emu.faults.append(
                Fault.parse(
                    {
                        "path": "/sapi/v1/asset/transfer",
                        "method": "POST",
                        "execute": "late",
                        "delay": delay,
                    }
                )
            )
            with pytest.raises(OutcomeUnknown):  # the client gave up
                await rest.transfer_to_futures(Decimal(amount))
            assert emu.held and emu.engine.transfers[1:] == []
            await asyncio.wait(emu.held, timeout=5)
        assert [Decimal(t["amount"]) for t in emu.engine.transfers] == [Decimal("1")]
        posts = [r for r in emu.requests if r["path"] == "/sapi/v1/asset/transfer"]
        assert [p["status"] for p in posts] == [200, 400]  # 0.6 s: carried out; 1.5 s: -1021
    finally:
        await rest.close()
    # A client still waiting gets the normal answer.
    emu.faults.append(
        Fault.parse({"path": "/sapi/v1/asset/transfer", "execute": "late", "delay": 0.3})
    )
    patient = BinanceRest(
        api_key="emulator-key", api_secret="emulator-secret", rest_url=emu.urls["rest"]
    )
    try:
        tran_id = await patient.transfer_to_futures(Decimal("3"))
    finally:
        await patient.close()
    assert tran_id == emu.engine.transfers[-1]["tranId"] and len(emu.engine.transfers) == 2


async def test_a_skewed_clock_is_resynced_and_the_request_sent_once_more() -> None:
    """The emulator's clock runs 30 s ahead: the first transfer is refused with -1021 (it did
    nothing), the client resyncs its clock and sends it once more, newly stamped."""
    emu = await Emulator(load_scenario(fast("crash", mark_interval=3600, clock_offset=30))).start()
    rest = BinanceRest(
        api_key="emulator-key", api_secret="emulator-secret", rest_url=emu.urls["rest"]
    )
    stamps: list[int] = []
    try:
        tran_id = await rest.transfer_to_futures(Decimal("5"), stamp=stamps.append)
        assert [t["tranId"] for t in emu.engine.transfers] == [tran_id]
        paths = [(r["method"], r["path"], r["status"]) for r in emu.requests]
        assert paths == [
            ("POST", "/sapi/v1/asset/transfer", 400),
            ("GET", "/fapi/v1/time", 200),
            ("POST", "/sapi/v1/asset/transfer", 200),
        ]
        assert 29_000 < rest.offset_ms < 31_000
        assert len(stamps) == 2 and 29_000 < stamps[1] - stamps[0] < 31_000
    finally:
        await rest.close()
        await emu.stop()


async def test_a_clock_skew_is_retried_once_only(rest: BinanceRest, emu: Emulator) -> None:
    emu.faults.append(
        Fault.parse(
            {
                "path": "/sapi/v1/asset/transfer",
                "status": 400,
                "code": -1021,
                "msg": "Timestamp for this request is outside of the recvWindow.",
                "count": 2,
            }
        )
    )
    with pytest.raises(ClockSkew):
        await rest.transfer_to_futures(Decimal("5"))
    posts = [r for r in emu.requests if r["path"] == "/sapi/v1/asset/transfer"]
    assert len(posts) == 2 and emu.engine.transfers == []
