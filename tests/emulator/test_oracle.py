"""The emulator's own engine against figures Binance published, and its liquidation edge."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from assistant.emulator.server.app import Emulator
from tests.helpers import DATA

FAQ_BRACKETS = json.loads((DATA / "brackets_faq_2021.json").read_text())["brackets"]

# Binance FAQ "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts", worked example.
FAQ_SCENARIO: dict[str, Any] = {
    "futures": {"USDT": "1535443.01"},
    "spot": {"USDT": "0"},
    "symbols": {
        "BTCUSDT": {"mark": "31967.27", "brackets": FAQ_BRACKETS["BTCUSDT"]},
        "ETHUSDT": {"mark": "1335.18", "brackets": FAQ_BRACKETS["ETHUSDT"]},
    },
    "positions": [
        {"symbol": "BTCUSDT", "positionAmt": "109.488", "entryPrice": "32481.98", "leverage": 5},
        {"symbol": "ETHUSDT", "positionAmt": "3683.979", "entryPrice": "1456.84", "leverage": 5},
    ],
    "settings": {"mark_interval": 3600},
}

# Binance API docs, Position Information V2/V3 hedge-mode example (isolated, 10x).
HEDGE_SCENARIO: dict[str, Any] = {
    "position_mode": "hedge",
    "futures": {"USDT": "0"},
    "symbols": {"BTCUSDT": {"mark": "6679.50671178", "brackets": FAQ_BRACKETS["BTCUSDT"]}},
    "positions": [
        {
            "symbol": "BTCUSDT",
            "positionSide": "LONG",
            "positionAmt": "20",
            "entryPrice": "6563.665",
            "leverage": 10,
            "marginType": "isolated",
            "isolatedWallet": "13200.70726908",
        },
        {
            "symbol": "BTCUSDT",
            "positionSide": "SHORT",
            "positionAmt": "-10",
            "entryPrice": "6563.86",
            "leverage": 10,
            "marginType": "isolated",
            "isolatedWallet": "6570.42511771",
        },
    ],
    "settings": {"mark_interval": 3600},
}


def cents(text: str) -> Decimal:
    return Decimal(text).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@pytest.mark.scenario(FAQ_SCENARIO)
async def test_faq_liquidation_prices_and_maintenance_margin(client: Any) -> None:
    rows = {r["symbol"]: r for r in await client.fapiPrivateV3GetPositionRisk()}
    assert cents(rows["BTCUSDT"]["liquidationPrice"]) == Decimal("26316.89")
    assert cents(rows["ETHUSDT"]["liquidationPrice"]) == Decimal("1153.26")
    mm = Decimal(rows["ETHUSDT"]["maintMargin"]).quantize(Decimal("0.001"))
    assert mm == Decimal("356512.508")


@pytest.mark.scenario(HEDGE_SCENARIO)
async def test_api_doc_hedge_isolated_example(client: Any) -> None:
    rows = {r["positionSide"]: r for r in await client.fapiPrivateV2GetPositionRisk()}
    assert rows["LONG"]["unRealizedProfit"] == "2316.83423560"
    assert rows["SHORT"]["unRealizedProfit"] == "-1156.46711780"
    assert rows["LONG"]["isolatedMargin"] == "15517.54150468"
    assert rows["SHORT"]["isolatedMargin"] == "5413.95799991"
    assert cents(rows["LONG"]["liquidationPrice"]) == Decimal("5930.78")
    assert cents(rows["SHORT"]["liquidationPrice"]) == Decimal("7189.95")


@pytest.mark.scenario(FAQ_SCENARIO)
async def test_not_liquidated_one_step_before_the_published_price_and_liquidated_across_it(
    emulator: Emulator, client: Any
) -> None:
    # BTC alone moves; Binance's liquidation price for it is 26316.89 (a step is one cent).
    await _mark(emulator, "BTCUSDT", "26316.90")
    assert emulator.engine.liquidations == []
    await _mark(emulator, "BTCUSDT", "26316.89")
    assert [x["symbol"] for x in emulator.engine.liquidations] == ["BTCUSDT", "ETHUSDT"]
    positions = await client.fapiPrivateV3GetPositionRisk()
    assert positions == []


async def _mark(emulator: Emulator, symbol: str, price: str) -> None:
    import aiohttp

    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{emulator.urls['control']}/mark", json={"symbol": symbol, "price": price}
        ) as response,
    ):
        assert response.status == 200
