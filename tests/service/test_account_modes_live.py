"""Every account mode, live: the real service (ccxt, websockets, SQLite) against the emulator,
whose own engine (not `assistant/core`) is the judge. Our figures must equal the emulator's
to a relative 1e-8, and drift stays silent.

- USDT and USDC pools in single-asset mode, each with its own figures (issue 16's case: the
  BTCUSDC position liquidates at 55,276.38 in its own USDC pool);
- the same kind of account switched to Multi-Assets mode while running: the switch is an
  event, a journal row and a critical alert; the asset index is read at once, then followed
  on the stream (only the rows of assets the account holds, only when they change);
- a credits-mode (BNFCR) account;
- a Multi-Assets crash with BTC collateral, fought off by the example rules in auto mode and
  liquidated without them;
- conditional (algo) orders mirrored from REST and ALGO_UPDATE, and shown by /positions.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from assistant.core.actions import SendAlert, TransferToFutures
from assistant.core.events import (
    AccountModeChanged,
    ActionSettled,
    AlgoOrderUpdated,
    AssetIndexUpdated,
    DriftDetected,
)
from assistant.core.margin.book import MarginBook
from assistant.core.margin.health import book_health
from assistant.core.mirror import MirrorState
from assistant.core.model import AccountMode
from assistant.core.rules.config import Rules
from assistant.core.values import Mode, Outcome, Severity
from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator
from assistant.emulator.server.protocol import Fault
from tests.emulator.conftest import ccxt_client
from tests.service.test_actions_live import example_rules
from tests.service.test_mirror_live import Running
from tests.telegram.harness import Harness

D = Decimal
WAIT = 15.0
FLAT = [  # one tier at 0.5%, as in issue 16's example
    {
        "bracket": 1,
        "initialLeverage": 125,
        "notionalCap": "50000000",
        "notionalFloor": "0",
        "maintMarginRatio": "0.005",
        "cum": "0",
    }
]


def scenario(**changes: Any) -> dict[str, Any]:
    """1,000 USDT and 500 USDC; 0.1 BTCUSDT and 0.1 BTCUSDC long from 60,000 at 10x; marks
    that hold still, published every 0.2 s."""
    raw: dict[str, Any] = {
        "futures": {"USDT": "1000", "USDC": "500"},
        "symbols": {
            "BTCUSDT": {"mark": "60000", "brackets": FLAT},
            "BTCUSDC": {"mark": "60000", "brackets": FLAT},
        },
        "positions": [
            {"symbol": "BTCUSDT", "positionAmt": "0.1", "entryPrice": "60000", "leverage": 10},
            {"symbol": "BTCUSDC", "positionAmt": "0.1", "entryPrice": "60000", "leverage": 10},
        ],
        "path": [],
        "settings": {"mark_interval": 0.2},
    }
    raw.update(changes)
    return raw


def close(ours: Decimal | None, theirs: Decimal | None) -> bool:
    """Equal to a relative 1e-8."""
    if ours is None or theirs is None:
        return ours is theirs
    return abs(ours - theirs) <= D("1e-8") * max(abs(theirs), D(1))


def marks_agree(state: MirrorState, emulator: Emulator) -> bool:
    marks = emulator.engine.marks
    return all(state.marks.get(s) == marks[s] for s in state.held_symbols)


def same_pool(book: MarginBook, balance: Decimal, mm: Decimal) -> bool:
    ratio = mm / balance if balance > 0 else None
    return (
        close(book.margin_balance, balance)
        and close(book.mm, mm)
        and close(book.margin_ratio, ratio)
    )


def single_asset_agrees(emulator: Emulator) -> Any:
    def check(state: MirrorState) -> bool:
        if (
            not state.ready
            or not marks_agree(state, emulator)
            or set(state.pools)
            != {
                "USDT",
                "USDC",
            }
        ):
            return False
        engine = emulator.engine
        return all(same_pool(state.pools[a], *engine.cross(a)[:2]) for a in ("USDT", "USDC"))

    return check


def usd_agrees(emulator: Emulator) -> Any:
    """Our one pool (USD; credits mode's too) against the emulator's account in USD."""

    def check(state: MirrorState) -> bool:
        if not state.ready or not marks_agree(state, emulator) or len(state.pools) != 1:
            return False
        usd = emulator.engine.usd()
        return same_pool(state.book, usd.equity, usd.mm)  # type: ignore[arg-type]

    return check


async def reconciled(service: Any) -> None:
    """One more snapshot taken and compared (its drift, if any, is in `service.drift`)."""
    before = service.state.snapshot_at
    service.scheduler.reconcile_now()
    await service.wait_for(lambda s: s.snapshot_at > before, WAIT)


def journaled(service: Any, kind: type) -> list[Any]:
    service.store.flush()
    return [e for _, e in service.store.events() if isinstance(e, kind)]


async def test_usdt_and_usdc_pools_each_match_the_emulator(tmp_path: Path) -> None:
    emulator = await Emulator(load_scenario(scenario())).start()
    try:
        async with Running(emulator, tmp_path / "a.db") as service:
            state = await service.wait_for(single_asset_agrees(emulator), WAIT)
            assert state.account_mode is AccountMode.SINGLE
            assert state.wallets["USDC"] == D("500") and state.margin_asset("BTCUSDC") == "USDC"
            usdc = book_health(state.pools["USDC"]).positions[0]
            # 500 + 0.1 × (P − 60,000) = 0.005 × 0.1 × P, in the USDC pool alone
            assert close(usdc.liquidation_price, D(5500) / D("0.0995"))
            assert f"{usdc.liquidation_price:.2f}" == "55276.38"
            usdt = book_health(state.pools["USDT"]).positions[0]
            assert close(usdt.liquidation_price, D(5000) / D("0.0995"))
            await reconciled(service)
            assert service.drift == []
    finally:
        await emulator.stop()


async def test_a_switch_to_multi_assets_while_running(tmp_path: Path) -> None:
    """No positions (Binance refuses the switch with any open), USDT at Binance's FAQ rates
    (index 0.99, buffers 0.01 and 0.005): switched by the REST call a person would make, the
    service says so, reads the asset index at once, follows the stream's changes, and its USD
    figures equal the emulator's once a position is opened."""
    raw = scenario(
        positions=[],
        asset_index={"USDTUSD": {"index": "0.99", "bidBuffer": "0.01", "askBuffer": "0.005"}},
    )
    emulator = await Emulator(load_scenario(raw)).start()
    alerts: list[SendAlert] = []
    client = ccxt_client(emulator.urls["rest"])
    try:
        async with Running(emulator, tmp_path / "a.db", Rules(), listeners=[alerts.append]) as (
            service
        ):
            await service.wait_for(lambda s: s.ready and s.connected.get("market", False), WAIT)
            assert service.state.account_mode is AccountMode.SINGLE
            await client.fapiPrivatePostMultiAssetsMargin({"multiAssetsMargin": "true"})
            state = await service.wait_for(
                lambda s: s.multi_assets and {"USDT", "USDC"} <= set(s.rates) and s.ready, WAIT
            )
            assert state.account_mode is AccountMode.MULTI
            assert state.rates["USDT"].bid == D("0.9801") and state.rates["USDT"].ask == D(
                "0.99495"
            )
            [switched] = [a for a in alerts if a.key == "account_mode"]
            assert switched.severity == Severity.CRITICAL and "Multi-Assets" in switched.text
            assert [e.multi_assets for e in journaled(service, AccountModeChanged)] == [True]
            # The FAQ's account equity without positions: 1000 × 0.9801 + 500 × 1
            assert state.pools["USD"].margin_balance == D("1480.1")
            await client.fapiPrivatePostOrder(
                {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.1"}
            )
            await service.wait_for(usd_agrees(emulator), WAIT)
            rows = journaled(service, AssetIndexUpdated)
            for _ in range(100):  # the stream's first frame since the subscription
                if len(rows) >= 2:
                    break
                await asyncio.sleep(0.05)
                rows = journaled(service, AssetIndexUpdated)
            start = emulator.scenario_time()
            for _ in range(100):  # ten more !assetIndex@arr frames (one with every mark)
                if emulator.scenario_time() > start + 10 * 0.2:
                    break
                await asyncio.sleep(0.05)
            rows = journaled(service, AssetIndexUpdated)
            later = rows[1:]  # after the full read at the switch: the stream's changed rows
            assert later and all({r.asset for r in e.rates} <= {"USDT", "USDC"} for e in later)
            assert len(rows) <= 4, "a row per asset that changed, not one per frame"
    finally:
        await client.close()
        await emulator.stop()


async def test_a_switch_missed_on_the_stream_is_found_by_the_next_snapshot(
    tmp_path: Path,
) -> None:
    """The user stream is silent while the account switches (Binance sends nothing again): the
    next snapshot finds the other mode: a drift row in the journal and the same alert."""
    emulator = await Emulator(load_scenario(scenario(positions=[]))).start()
    alerts: list[SendAlert] = []
    client = ccxt_client(emulator.urls["rest"])
    try:
        async with Running(emulator, tmp_path / "a.db", Rules(), listeners=[alerts.append]) as (
            service
        ):
            await service.wait_for(lambda s: s.ready, WAIT)
            emulator.stalled_until["user"] = time.monotonic() + 5  # frames dropped, not queued
            await client.fapiPrivatePostMultiAssetsMargin({"multiAssetsMargin": "true"})
            assert not service.state.multi_assets
            await reconciled(service)
            state = await service.wait_for(lambda s: s.multi_assets and s.ready, WAIT)
            assert state.account_mode is AccountMode.MULTI
            assert [a.key for a in alerts] == ["account_mode"]
            [switch] = [d for d in journaled(service, DriftDetected) if d.what == "account mode"]
            assert (switch.ours, switch.theirs) == ("single-asset", "multi-assets")
    finally:
        await client.close()
        await emulator.stop()


async def test_drift_stays_silent_in_multi_assets_mode(tmp_path: Path) -> None:
    raw = scenario(
        multi_assets=True,
        positions=[{"symbol": "BTCUSDT", "positionAmt": "0.1", "entryPrice": "60000"}],
        asset_index={"USDTUSD": {"index": "0.99", "bidBuffer": "0.01", "askBuffer": "0.005"}},
    )
    emulator = await Emulator(load_scenario(raw)).start()
    try:
        async with Running(emulator, tmp_path / "a.db") as service:
            await service.wait_for(usd_agrees(emulator), WAIT)
            await reconciled(service)
            assert service.drift == []
    finally:
        await emulator.stop()


async def test_a_credits_account(tmp_path: Path) -> None:
    """EEA credits mode: BTC and USDC collateral, PnL and margin in BNFCR, no USDT row."""
    raw = scenario(
        credits=True,
        futures={"USDC": "500", "BTC": "0.01"},
        positions=[
            {"symbol": "BTCUSDT", "positionAmt": "0.1", "entryPrice": "60000", "leverage": 10}
        ],
    )
    emulator = await Emulator(load_scenario(raw)).start()
    try:
        async with Running(emulator, tmp_path / "a.db") as service:
            state = await service.wait_for(usd_agrees(emulator), WAIT)
            assert state.account_mode is AccountMode.CREDITS
            assert state.book is not None and state.book.asset == "BNFCR"  # named so, even at 0
            assert state.margin_asset("BTCUSDT") == "BNFCR"
            await reconciled(service)
            assert service.drift == []
    finally:
        await emulator.stop()


async def test_conditional_orders_are_mirrored_from_rest_and_the_stream(tmp_path: Path) -> None:
    raw = scenario(
        algo_orders=[
            {
                "symbol": "BTCUSDT",
                "side": "SELL",
                "type": "STOP_MARKET",
                "triggerPrice": "55000",
                "closePosition": True,
            }
        ]
    )
    emulator = await Emulator(load_scenario(raw)).start()
    client = ccxt_client(emulator.urls["rest"])
    try:
        async with Running(emulator, tmp_path / "a.db") as service:
            state = await service.wait_for(lambda s: s.ready and len(s.algo_orders) == 1, WAIT)
            [stop] = state.algo_orders.values()
            assert (stop.symbol, stop.kind, stop.close_position) == (
                "BTCUSDT",
                "STOP_MARKET",
                True,
            )
            assert stop.trigger_price == D("55000")
            await client.fapiPrivatePostAlgoOrder(
                {
                    "algoType": "CONDITIONAL",
                    "symbol": "BTCUSDC",
                    "side": "SELL",
                    "type": "TAKE_PROFIT_MARKET",
                    "triggerPrice": "70000",
                    "quantity": "0.05",
                    "reduceOnly": "true",
                }
            )
            state = await service.wait_for(lambda s: len(s.algo_orders) == 2, WAIT)
            await client.fapiPrivateDeleteAlgoOrder({"algoId": stop.algo_id})
            state = await service.wait_for(lambda s: len(s.algo_orders) == 1, WAIT)
            [profit] = state.algo_orders.values()
            assert (profit.symbol, profit.quantity, profit.reduce_only) == (
                "BTCUSDC",
                D("0.05"),
                True,
            )
            statuses = [e.status for e in journaled(service, AlgoOrderUpdated)]
            assert statuses == ["NEW", "CANCELED"]
            await reconciled(service)
            assert service.drift == []
            assert len(service.state.algo_orders) == 1
    finally:
        await client.close()
        await emulator.stop()


async def test_positions_shows_each_conditional_order_beside_its_position(tmp_path: Path) -> None:
    """/positions on Telegram (the fake Bot API): the user's stop closes the BTCUSDT position,
    the take-profit is on BTCUSDC's; one on a symbol without a position is listed apart."""
    stops = [
        {"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET", "triggerPrice": "55000",
         "closePosition": True},
        {"symbol": "BTCUSDC", "side": "SELL", "type": "TAKE_PROFIT_MARKET",
         "triggerPrice": "70000", "quantity": "0.05", "reduceOnly": True},
        {"symbol": "ETHUSDT", "side": "BUY", "type": "STOP_MARKET", "triggerPrice": "4000",
         "quantity": "1"},
    ]  # fmt: skip
    raw = scenario(algo_orders=stops)
    raw["symbols"]["ETHUSDT"] = {"mark": "3000"}
    emulator = await Emulator(load_scenario(raw)).start()
    try:
        async with Harness(emulator, tmp_path) as h:
            assert h.service is not None
            await h.service.wait_for(lambda s: len(s.algo_orders) == 3, WAIT)
            text = (await h.ask("/positions")).params["text"]
            health = (await h.ask("/health")).params["text"]
            stress = (await h.ask("/stress -9")).params["text"]
    finally:
        await emulator.stop()
    # /stress: each pool on its own; 9% liquidates the USDC pool (at 55,276.38), not USDT's
    usdt_part = stress.split("<b>USDT pool</b>")[1]
    usdc_part = stress.split("<b>USDC pool</b>")[1].split("<b>USDT pool</b>")[0]
    assert "LIQUIDATED" in usdc_part and "LIQUIDATED" not in usdt_part
    usdt, usdc = text.split("<b>BTCUSDT</b>")[1], text.split("<b>BTCUSDC</b>")[1]
    assert "↳ stop market SELL closes the position at 55,000.0" in usdt.split("<b>")[0]
    assert "↳ take profit market SELL 0.05" in usdc.split("<b>")[0]
    assert "reduce-only" in usdc.split("<b>")[0]
    other = text.split("Conditional orders without a position</b>")[1]
    assert "↳ stop market BUY 1" in other and "at 4,000.00" in other and "(ETHUSDT BOTH)" in other
    assert "<i>USDC pool</i>" in text and "<i>USDT pool</i>" in text
    # /health: each pool's figures beside Binance's own row of that asset
    assert "account mode single-asset" in health
    assert "maintenance margin USDC 30.00 | 30.00" in health
    assert "margin balance USDC 500.00 | 500.00" in health
    assert "margin balance USDT 1,000.00 | 1,000.00" in health


CRASH_SPEED = 20.0


def btc_collateral_crash() -> dict[str, Any]:
    """The emulator's Multi-Assets example: 0.5 BTCUSDT long from 60,000 backed by 0.1 BTC
    (and no USDT): the collateral falls with the position, so BTCUSDT liquidates at 50,590.22
    (48,795.18 if the BTC held its value). BTCUSDT falls to 50,000 from t = 10 s to 70 s."""
    return {
        "multi_assets": True,
        "futures": {"USDT": "0", "BTC": "0.1"},
        "symbols": {"BTCUSDT": {"mark": "60000"}},
        "positions": [{"symbol": "BTCUSDT", "positionAmt": "0.5", "entryPrice": "60000"}],
        "path": [{"t": 10, "BTCUSDT": "60000"}, {"t": 70, "BTCUSDT": "50000"}],
        "settings": {"speed": CRASH_SPEED, "mark_interval": 0.5},
    }


async def crash(tmp_path: Path, rules: Rules | None) -> Emulator:
    """The crash played to its end (or its liquidation) with the service running `rules`."""
    tmp_path.mkdir()
    emulator = await Emulator(load_scenario(btc_collateral_crash())).start()
    try:
        async with Running(emulator, tmp_path / "a.db", rules) as service:
            state = await service.wait_for(usd_agrees(emulator), WAIT)
            [position] = book_health(state.book).positions  # type: ignore[arg-type]
            assert position.liquidation_price is not None
            assert abs(position.liquidation_price - D("50590.22")) < D("0.01")  # both fall
            for _ in range(200):  # bounded: 75 scenario seconds are under 4 s of wall time
                if emulator.scenario_time() > 75 or emulator.engine.liquidations:
                    break
                await asyncio.sleep(0.05)
    finally:
        await emulator.stop()
    return emulator


async def test_a_btc_collateral_crash_is_fought_off_by_the_example_rules(tmp_path: Path) -> None:
    saved = await crash(tmp_path / "auto", example_rules(CRASH_SPEED))
    assert saved.engine.liquidations == []
    assert saved.engine.transfers, "a deposit from spot"
    lost = await crash(tmp_path / "off", None)
    assert [(x["symbol"], x["qty"]) for x in lost.engine.liquidations] == [("BTCUSDT", "0.5")]


async def test_a_deposit_moves_its_own_asset_and_is_found_by_it_after_a_loss(
    tmp_path: Path,
) -> None:
    """A deposit in USDC (a USDC pool's, or `[deposit] asset`): the executor checks the spot
    wallet's USDC and moves USDC (MAIN_UMFUTURE takes any asset). When the answer is lost (a
    503 after Binance carried it out), the lookup finds that transfer by its asset and amount:
    done, never sent twice. Then a second one is cut to the 15 USDC left in spot."""
    raw = scenario(spot={"USDT": "5000", "USDC": "40"})
    emulator = await Emulator(load_scenario(raw)).start()
    auto = Rules(mode=Mode.AUTO)
    try:
        async with Running(emulator, tmp_path / "a.db", auto) as service:
            await service.wait_for(lambda s: s.ready, WAIT)
            emulator.faults.append(
                Fault.parse({"path": "/sapi/v1/asset/transfer", "method": "POST", "execute": True})
            )
            now = service.clock.now_ms()
            lost = TransferToFutures(f"deposit-{now}-0", D("25"), "test", now, "", "USDC")
            service.executor.submit(lost, auto, None)
            await service.wait_for(lambda s: s.wallets.get("USDC") == D("525"), WAIT)
            await service.wait_for(lambda s: not service.memory.pending, WAIT)
            more = TransferToFutures(f"deposit-{now}-1", D("25"), "test", now, "", "USDC")
            service.executor.submit(more, auto, None)
            await service.wait_for(lambda s: s.wallets.get("USDC") == D("540"), WAIT)
            settled = [e for e in journaled(service, ActionSettled) if e.kind == "deposit"]
    finally:
        await emulator.stop()
    engine = emulator.engine
    assert [(t["asset"], t["amount"]) for t in engine.transfers] == [
        ("USDC", "25"),
        ("USDC", "15.00"),
    ]
    assert engine.spot["USDC"] == 0 and engine.wallets["USDC"] == D("540")
    assert [e.outcome for e in settled] == [Outcome.DONE, Outcome.DONE]
    assert "found after" in settled[0].detail and "transfer" in settled[0].detail
    assert settled[1].amount == D("15.00")
