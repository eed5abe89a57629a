"""Every USDⓈ-M account mode in the emulator's own engine: a pool per margin asset in
single-asset mode, Multi-Assets valuation (Binance's FAQ example), the asset index (Binance's
documentation example), the mode switch, auto-exchange, credits mode, Portfolio Margin."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp
import ccxt.async_support as ccxt
import pytest

from assistant.emulator.server.app import Emulator
from tests.emulator.test_ccxt import code_of
from tests.emulator.test_streams import user_socket
from tests.emulator.wsclient import collect, open_ws, until

D = Decimal
HOUR = {"mark_interval": 3600}


def brackets(leverage: int, rate: str) -> list[dict[str, Any]]:
    return [
        {
            "bracket": 1,
            "initialLeverage": leverage,
            "notionalFloor": 0,
            "notionalCap": 1000000,
            "maintMarginRatio": float(rate),
            "cum": 0,
        }
    ]


# Binance FAQ "How to Calculate Margin Ratio in the Multi-Assets Mode", step 2.
FAQ: dict[str, Any] = {
    "multi_assets": True,
    "futures": {"USDT": "200", "USDC": "220"},
    "asset_index": {"USDTUSD": {"index": "0.99", "bidBuffer": "0.01", "askBuffer": "0.005"}},
    "symbols": {
        "BTCUSDT": {"mark": "20000", "brackets": brackets(100, "0.008")},
        "ETHUSDC": {"mark": "600", "brackets": brackets(50, "0.01")},
    },
    "positions": [
        {"symbol": "BTCUSDT", "positionAmt": "0.5", "entryPrice": "20000", "leverage": 100},
        {"symbol": "ETHUSDC", "positionAmt": "20", "entryPrice": "600", "leverage": 50},
    ],
    "settings": HOUR,
}

# Issue 16's single-asset check: BTCUSDC sits in its own USDC pool.
POOLS: dict[str, Any] = {
    "futures": {"USDT": "1000", "USDC": "500"},
    "spot": {"USDT": "0", "USDC": "300"},
    "symbols": {
        "BTCUSDT": {"mark": "60000", "brackets": brackets(125, "0.005")},
        "BTCUSDC": {"mark": "60000", "brackets": brackets(125, "0.005")},
    },
    "positions": [
        {"symbol": "BTCUSDT", "positionAmt": "0.1", "entryPrice": "60000", "leverage": 10},
        {"symbol": "BTCUSDC", "positionAmt": "0.1", "entryPrice": "60000", "leverage": 10},
    ],
    "settings": HOUR,
}

# Binance's GET /fapi/v1/assetIndex documentation example.
ADA: dict[str, Any] = {
    "symbols": {"BTCUSDT": {"mark": "60000"}},
    "asset_index": {
        "ADAUSD": {
            "index": "1.92957370",
            "bidBuffer": "0.1",
            "askBuffer": "0.1",
            "autoExchangeBidBuffer": "0.05",
            "autoExchangeAskBuffer": "0.05",
        }
    },
    "settings": HOUR,
}


async def control(emulator: Emulator, path: str, body: Any = None) -> Any:
    async with aiohttp.ClientSession() as session:
        url = f"{emulator.urls['control']}/{path}"
        request = session.get(url) if body is None else session.post(url, json=body)
        async with request as response:
            return await response.json()


@pytest.mark.scenario(FAQ)
async def test_multi_assets_figures_are_binance_faq_figures(
    client: Any, emulator: Emulator
) -> None:
    account = await client.fapiPrivateV3GetAccount()
    assert D(account["totalMarginBalance"]) == D("416.02")
    assert D(account["totalMaintMargin"]) == D("199.596")
    assert D(account["totalInitialMargin"]) == D("339.495")
    assert D(account["availableBalance"]) == D("76.525")
    rows = {row["asset"]: row for row in account["assets"]}
    assert D(rows["USDT"]["availableBalance"]).quantize(D("0.01")) == D("76.91")
    assert D(rows["USDC"]["availableBalance"]) == D("76.525")
    assert rows["USDT"]["walletBalance"] == "200.00000000"
    state = await control(emulator, "state")
    assert state["multi_assets"] is True and state["futures"]["USDC"] == "220.00000000"
    assert state["asset_index"]["USDT"]["bidRate"] == "0.98010000"
    assert state["asset_index"]["USDT"]["askRate"] == "0.99495000"
    ratio = D(state["pools"]["USD"]["margin_ratio"])  # Binance prints 0.47977 = 47.98%
    assert ratio.quantize(D("0.00001"), "ROUND_DOWN") == D("0.47977")
    assert ratio == (D("199.596") / D("416.02")).quantize(D("1e-8"), "ROUND_DOWN")
    config = await client.fapiPrivateGetAccountConfig()
    assert config["multiAssetsMargin"] is True and config["dualSidePosition"] is False
    assert (await client.fapiPrivateGetMultiAssetsMargin())["multiAssetsMargin"] is True


@pytest.mark.scenario(POOLS)
async def test_each_margin_asset_is_its_own_pool(client: Any, emulator: Emulator) -> None:
    markets = await client.load_markets()
    assert markets["BTC/USDC:USDC"]["settle"] == "USDC"
    rows = {r["symbol"]: r for r in await client.fapiPrivateV3GetPositionRisk()}
    assert rows["BTCUSDC"]["marginAsset"] == "USDC" and rows["BTCUSDT"]["marginAsset"] == "USDT"
    assert abs(D(rows["BTCUSDC"]["liquidationPrice"]) - D("55276.38")) <= D("0.01")
    account = await client.fapiPrivateV3GetAccount()
    assert account["totalWalletBalance"] == "1000.00000000"  # "only for USDT asset"
    usdc = next(r for r in account["assets"] if r["asset"] == "USDC")
    assert usdc["walletBalance"] == "500.00000000" and usdc["maintMargin"] == "30.00000000"
    await control(emulator, "mark", {"symbol": "BTCUSDC", "price": "55276.40"})
    assert emulator.engine.liquidations == []
    await control(emulator, "mark", {"symbol": "BTCUSDC", "price": "55276.30"})
    assert [r["symbol"] for r in emulator.engine.liquidations] == ["BTCUSDC"]
    state = await control(emulator, "state")
    assert [p["symbol"] for p in state["positions"]] == ["BTCUSDT"]
    assert state["futures"]["USDT"] == "1000.00000000"  # the USDT pool paid nothing
    assert D(state["futures"]["USDC"]) < D("30")  # 500 − 472.37 of loss − the liquidation fee


@pytest.mark.scenario(POOLS)
async def test_transfers_move_any_asset(client: Any, emulator: Emulator) -> None:
    await client.transfer("USDC", 100, "spot", "swap")
    assert emulator.engine.wallets["USDC"] == D("600") and emulator.engine.spot["USDC"] == D("200")
    with pytest.raises(ccxt.BaseError) as refused:
        await client.transfer("USDC", 600, "swap", "spot")  # its pool's margin is tied up
    assert code_of(refused.value) == -5013


@pytest.mark.scenario(ADA)
async def test_asset_index_is_binance_doc_arithmetic(client: Any, emulator: Emulator) -> None:
    ada = await client.fapiPublicGetAssetIndex({"symbol": "ADAUSD"})
    assert (ada["index"], ada["bidRate"], ada["askRate"]) == (
        "1.92957370",
        "1.73661633",
        "2.12253107",
    )
    assert (ada["autoExchangeBidRate"], ada["autoExchangeAskRate"]) == ("1.83309501", "2.02605238")
    rows = {r["symbol"]: r for r in await client.fapiPublicGetAssetIndex()}
    assert rows["USDTUSD"]["bidRate"] == rows["USDTUSD"]["askRate"] == "1.00000000"
    assert rows["BTCUSD"]["index"] == "60000.00000000"
    await control(emulator, "mark", {"symbol": "BTCUSDT", "price": "50000"})
    btc = await client.fapiPublicGetAssetIndex({"symbol": "BTCUSD"})  # follows BTCUSDT's mark
    assert (btc["index"], btc["bidRate"], btc["askRate"]) == (
        "50000.00000000",
        "47500.00000000",
        "52500.00000000",
    )


@pytest.mark.scenario(ADA)
async def test_asset_index_stream_on_the_market_route(emulator: Emulator) -> None:
    url = f"{emulator.urls['ws']}/market/stream?streams=!assetIndex@arr/btcusd@assetIndex"
    async with await open_ws(url) as ws:
        await control(emulator, "mark", {"symbol": "BTCUSDT", "price": "59000"})
        frames = {f["stream"]: f for f in await collect(ws, 2)}  # one mark set: one of each
    every, one = frames["!assetindex@arr"], frames["btcusd@assetindex"]
    ada = next(e for e in every["data"] if e["s"] == "ADAUSD")
    assert set(ada) == set("eEsibaBAqgQG") and ada["e"] == "assetIndexUpdate"
    assert (ada["B"], ada["A"], ada["Q"], ada["G"]) == (
        "1.73661633",
        "2.12253107",
        "1.83309501",
        "2.02605238",
    )
    assert one["data"]["i"] == "59000.00000000" and one["data"]["B"] == "56050.00000000"


@pytest.mark.scenario({**POOLS, "positions": []})
async def test_switching_multi_assets_mode(client: Any, emulator: Emulator) -> None:
    async with await user_socket(emulator, client) as ws:
        assert await client.fapiPrivatePostMultiAssetsMargin({"multiAssetsMargin": "true"})
        event = await until(ws, lambda f: f["e"] == "ACCOUNT_CONFIG_UPDATE")
    assert event["ai"] == {"j": True}
    assert (await client.fapiPrivateGetAccountConfig())["multiAssetsMargin"] is True
    account = await client.fapiPrivateV3GetAccount()
    assert account["totalWalletBalance"] == "1500.00000000"  # now the whole account, in USD
    with pytest.raises(ccxt.BaseError) as same:
        await client.fapiPrivatePostMultiAssetsMargin({"multiAssetsMargin": "true"})
    assert code_of(same.value) == -4171
    with pytest.raises(ccxt.BaseError) as isolated:
        await client.fapiPrivatePostMarginType({"symbol": "BTCUSDT", "marginType": "ISOLATED"})
    assert code_of(isolated.value) == -4168
    await client.load_markets()
    await client.create_order("BTC/USDT:USDT", "market", "buy", 0.01)
    with pytest.raises(ccxt.BaseError) as held:
        await client.fapiPrivatePostMultiAssetsMargin({"multiAssetsMargin": "false"})
    assert code_of(held.value) == -4170
    assert emulator.engine.multi_assets is True


# Multi-Assets with BTC collateral and USDT nearly at the auto-exchange threshold.
DEBT: dict[str, Any] = {
    "multi_assets": True,
    "futures": {"USDT": "-4999", "BTC": "1"},
    "symbols": {"BTCUSDT": {"mark": "60000"}},
    "positions": [{"symbol": "BTCUSDT", "positionAmt": "0.1", "entryPrice": "60000"}],
    "settings": HOUR,
}


@pytest.mark.scenario(DEBT)
async def test_a_balance_past_the_threshold_is_auto_exchanged(
    client: Any, emulator: Emulator
) -> None:
    await client.load_markets()
    async with await user_socket(emulator, client) as ws:
        await client.create_order(
            "BTC/USDT:USDT", "market", "sell", 0.05, None, {"reduceOnly": True}
        )
        assert emulator.engine.wallets["USDT"] == D("-5000.5")  # the fee: 3000 × 0.0005
        await control(emulator, "mark", {"symbol": "BTCUSDT", "price": "60000"})
        event = await until(
            ws, lambda f: f["e"] == "ACCOUNT_UPDATE" and f["a"]["m"] == "AUTO_EXCHANGE"
        )
    balances = {b["a"]: b for b in event["a"]["B"]}
    # 5000.5 USDT at index 1, paid in BTC at its auto-exchange bid rate 60000 × (1 − 0.025)
    assert balances["USDT"]["wb"] == "0.00000000" and balances["USDT"]["bc"] == "5000.50000000"
    assert balances["BTC"]["bc"] == "-0.08547864"
    assert emulator.engine.wallets["BTC"] == D("0.91452136")
    state = await control(emulator, "state")
    assert state["auto_exchanges"][0]["sold"] == {"BTC": "0.08547864"}


CREDITS: dict[str, Any] = {
    "credits": True,
    "futures": {"USDC": "1000", "BTC": "0.3", "BNB": "12"},
    "symbols": {"BTCUSDT": {"mark": "60000"}, "BNBUSDT": {"mark": "600"}},
    "settings": HOUR,
}


@pytest.mark.scenario(CREDITS)
async def test_credits_mode_books_in_bnfcr(client: Any, emulator: Emulator) -> None:
    account = await client.fapiPrivateV3GetAccount()
    # Binance's credits FAQ values these at 26,200 BNFCR before haircuts; with BTC's and
    # BNB's 5% they are 1000 + 17100 + 6840.
    assert account["totalWalletBalance"] == "24940.00000000"
    assert (await client.fapiPrivateGetAccountConfig())["multiAssetsMargin"] is True
    await client.load_markets()
    await client.create_order("BTC/USDT:USDT", "market", "buy", 0.1)
    rows = {r["asset"]: r for r in (await client.fapiPrivateV3GetAccount())["assets"]}
    assert rows["BNFCR"]["walletBalance"] == "-3.00000000"  # the fee, 6000 × 0.0005
    assert rows["USDT"]["walletBalance"] == "0.00000000"
    position = (await client.fapiPrivateV3GetPositionRisk())[0]
    assert position["marginAsset"] == "BNFCR"
    with pytest.raises(ccxt.BaseError) as locked:
        await client.transfer("USDT", 1, "spot", "swap")
    assert code_of(locked.value) == -5013


@pytest.mark.scenario({**FAQ, "multi_assets": False, "portfolio_margin": True})
async def test_portfolio_margin_has_no_fapi_account(client: Any, emulator: Emulator) -> None:
    assert await client.fapiPublicGetExchangeInfo()  # market data still answers
    with pytest.raises(ccxt.AuthenticationError) as refused:
        await client.fapiPrivateV3GetAccount()
    assert code_of(refused.value) == -2015
    assert [r["status"] for r in await control(emulator, "requests")][-1] == 401
    account = await client.papiGetAccount()
    assert D(account["accountEquity"]) == D("416.02")
    assert D(account["accountMaintMargin"]) == D("199.596")
    assert D(account["uniMMR"]) == (D("416.02") / D("199.596")).quantize(D("1e-8"), "ROUND_DOWN")
    assert account["accountStatus"] == "NORMAL"


async def test_a_plain_account_has_no_papi(client: Any) -> None:
    with pytest.raises(ccxt.AuthenticationError) as refused:
        await client.papiGetAccount()
    assert code_of(refused.value) == -2015


# Multi-Assets: a BTCUSDT long backed by BTC alone loses twice as BTC falls.
COLLATERAL: dict[str, Any] = {
    "multi_assets": True,
    "futures": {"USDT": "0", "BTC": "0.1"},
    "symbols": {"BTCUSDT": {"mark": "60000"}},
    "positions": [{"symbol": "BTCUSDT", "positionAmt": "0.5", "entryPrice": "60000"}],
    "settings": HOUR,
}


@pytest.mark.scenario(COLLATERAL)
async def test_multi_assets_liquidation_counts_the_falling_collateral(
    client: Any, emulator: Emulator
) -> None:
    row = (await client.fapiPrivateV3GetPositionRisk())[0]
    # equity = 0.1 × P × 0.95 + 0.5 × (P − 60000), MM = 0.5 × P × 0.004: equal at 50590.22
    # (48795.18 if the BTC held its value)
    assert abs(D(row["liquidationPrice"]) - D("50590.22")) <= D("0.01")
    await control(emulator, "mark", {"symbol": "BTCUSDT", "price": "50600"})
    assert emulator.engine.liquidations == []
    await control(emulator, "mark", {"symbol": "BTCUSDT", "price": "50580"})
    assert [r["symbol"] for r in emulator.engine.liquidations] == ["BTCUSDT"]
    # The USDT loss (4710 and 328.77 of fees) took all the BTC; the insurance fund the rest.
    assert emulator.engine.wallets == {"USDT": 0, "BTC": 0}
    state = await control(emulator, "state")
    assert state["auto_exchanges"][0]["sold"] == {"BTC": "0.10000000"}
    clear = [r for r in emulator.engine.income if r["incomeType"] == "INSURANCE_CLEAR"]
    assert [(r["asset"], r["income"]) for r in clear] == [("USDT", "107.22000000")]
