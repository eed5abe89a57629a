"""Read-only REST bodies in Binance's shapes: exchange info, account, positions, brackets."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from assistant.emulator.exchange.book import Pos, max_notional
from assistant.emulator.exchange.engine import Engine, Rejected, s8
from assistant.emulator.exchange.modes.autoexchange import threshold
from assistant.emulator.exchange.modes.valuation import account_figures, assets_listed
from assistant.emulator.exchange.orders import open_orders


def _places(quantum: Decimal) -> int:
    exponent = quantum.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def quote(symbol: str) -> str:
    for asset in ("USDT", "USDC", "FDUSD", "BTC"):
        if symbol.endswith(asset) and symbol != asset:
            return asset
    return "USDT"


def exchange_info(engine: Engine, now: int) -> dict[str, Any]:
    symbols = []
    for name, state in engine.symbols.items():
        symbols.append(
            {
                "symbol": name,
                "pair": name,
                "contractType": "PERPETUAL",
                "deliveryDate": 4133404800000,
                "onboardDate": 1569398400000,
                "status": "TRADING",
                "maintMarginPercent": "2.5000",
                "requiredMarginPercent": "5.0000",
                "baseAsset": name.removesuffix(quote(name)),
                "quoteAsset": quote(name),
                "marginAsset": state.margin_asset,
                "pricePrecision": _places(state.tick),
                "quantityPrecision": _places(state.step),
                "baseAssetPrecision": 8,
                "quotePrecision": 8,
                "underlyingType": "COIN",
                "underlyingSubType": [],
                "settlePlan": 0,
                "triggerProtect": "0.0500",
                "liquidationFee": "0.012500",
                "marketTakeBound": "0.05",
                "filters": [
                    {
                        "filterType": "PRICE_FILTER",
                        "minPrice": str(state.tick),
                        "maxPrice": "10000000",
                        "tickSize": str(state.tick),
                    },
                    {
                        "filterType": "LOT_SIZE",
                        "stepSize": str(state.step),
                        "maxQty": "100000000",
                        "minQty": str(state.min_qty),
                    },
                    {
                        "filterType": "MARKET_LOT_SIZE",
                        "stepSize": str(state.step),
                        "maxQty": "100000000",
                        "minQty": str(state.min_qty),
                    },
                    {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                    {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                    {"filterType": "MIN_NOTIONAL", "notional": str(state.min_notional)},
                    {
                        "filterType": "PERCENT_PRICE",
                        "multiplierUp": "1.0500",
                        "multiplierDown": "0.9500",
                        "multiplierDecimal": "4",
                    },
                ],
                "orderTypes": [
                    "LIMIT",
                    "MARKET",
                    "STOP",
                    "STOP_MARKET",
                    "TAKE_PROFIT",
                    "TAKE_PROFIT_MARKET",
                ],
                "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
            }
        )
    limits = engine.settings
    return {
        "timezone": "UTC",
        "serverTime": now,
        "futuresType": "U_MARGINED",
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": limits.weight_limit,
            },
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
        ],
        "exchangeFilters": [],
        "assets": [
            {"asset": a, "marginAvailable": True, "autoAssetExchange": threshold(a)}
            for a in assets_listed(engine)
        ],
        "symbols": symbols,
    }


def account(engine: Engine, version: int) -> dict[str, Any]:
    totals, assets = account_figures(engine, version)
    body: dict[str, Any] = {
        **totals,
        "assets": assets,
        "positions": [_account_position(engine, p, version) for p in _rows(engine, version)],
    }
    if version == 2:
        body = {
            "feeTier": 0,
            "feeBurn": False,
            "canTrade": True,
            "canDeposit": True,
            "canWithdraw": True,
            "updateTime": 0,
            "multiAssetsMargin": engine.multi_assets,
            "tradeGroupId": -1,
            **body,
        }
    return body


def _rows(engine: Engine, version: int) -> list[Pos]:
    """v3 lists positions held (or with open orders); v2 lists every symbol and side."""
    sides = ["LONG", "SHORT"] if engine.hedge else ["BOTH"]
    with_orders = {o["symbol"] for o in open_orders(engine)}
    rows = []
    for symbol in engine.symbols:
        for side in sides:
            pos = engine.positions.get((symbol, side)) or Pos(symbol, side)
            if version == 2 or pos.amount or symbol in with_orders:
                rows.append(pos)
    return rows


def _account_position(engine: Engine, pos: Pos, version: int) -> dict[str, Any]:
    row = engine.position_row(pos)
    keep = [
        "symbol",
        "positionSide",
        "positionAmt",
        "unrealizedProfit",
        "isolatedMargin",
        "notional",
        "isolatedWallet",
        "initialMargin",
        "maintMargin",
        "updateTime",
    ]
    row["unrealizedProfit"] = row["unRealizedProfit"]
    out = {k: row[k] for k in keep}
    if version == 2:
        state = engine.symbols[pos.symbol]
        out.update(
            leverage=str(state.leverage),
            isolated=state.margin_type == "isolated",
            entryPrice=row["entryPrice"],
            maxNotional=str(max_notional(state.tiers, state.leverage)),
            positionInitialMargin=row["initialMargin"],
            openOrderInitialMargin="0",
            bidNotional="0",
            askNotional="0",
        )
    return out


def position_risk(engine: Engine, version: int, symbol: str | None) -> list[dict[str, Any]]:
    out = []
    for pos in _rows(engine, version):
        if symbol and pos.symbol != symbol:
            continue
        row = engine.position_row(pos)
        if version == 2:
            state = engine.symbols[pos.symbol]
            row = {
                k: row[k]
                for k in (
                    "symbol",
                    "positionSide",
                    "positionAmt",
                    "entryPrice",
                    "breakEvenPrice",
                    "markPrice",
                    "unRealizedProfit",
                    "liquidationPrice",
                    "isolatedMargin",
                    "notional",
                    "marginAsset",
                    "isolatedWallet",
                    "updateTime",
                )
            }
            row.update(
                leverage=str(state.leverage),
                marginType=state.margin_type,
                isAutoAddMargin="false",
                maxNotionalValue=str(max_notional(state.tiers, state.leverage)),
            )
        out.append(row)
    return out


def brackets(engine: Engine, symbol: str | None) -> Any:
    """The scenario's bracket rows; a hidden symbol is left out, and asked for by name it is
    an unknown symbol (as a listing the endpoint does not know yet)."""

    def one(name: str) -> dict[str, Any]:
        rows = [dict(r) for r in engine.scenario.symbols[name].brackets]
        return {"symbol": name, "brackets": rows}

    if symbol:
        if symbol not in engine.symbols or symbol in engine.hidden_brackets:
            raise Rejected(-1121, "Invalid symbol.")
        return one(symbol)
    return [one(name) for name in engine.symbols if name not in engine.hidden_brackets]


def premium_index(engine: Engine, symbol: str | None, now: int) -> Any:
    def one(name: str) -> dict[str, Any]:
        mark = s8(engine.marks[name])
        return {
            "symbol": name,
            "markPrice": mark,
            "indexPrice": mark,
            "estimatedSettlePrice": mark,
            "lastFundingRate": str(engine.settings.funding_rate),
            "interestRate": "0.00010000",
            "nextFundingTime": now - now % 28_800_000 + 28_800_000,
            "time": now,
        }

    return one(symbol) if symbol else [one(name) for name in engine.symbols]


def symbol_config(engine: Engine, symbol: str | None) -> list[dict[str, Any]]:
    return [
        {
            "symbol": name,
            "marginType": "CROSSED" if state.margin_type == "cross" else "ISOLATED",
            "isAutoAddMargin": False,
            "leverage": state.leverage,
            "maxNotionalValue": str(max_notional(state.tiers, state.leverage)),
        }
        for name, state in engine.symbols.items()
        if symbol in (None, name)
    ]


def spot_account(engine: Engine, now: int) -> dict[str, Any]:
    return {
        "makerCommission": 10,
        "takerCommission": 10,
        "buyerCommission": 0,
        "sellerCommission": 0,
        "canTrade": True,
        "canWithdraw": True,
        "canDeposit": True,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": now,
        "accountType": "SPOT",
        "permissions": ["SPOT"],
        "balances": [
            {"asset": a, "free": s8(v), "locked": "0.00000000"} for a, v in engine.spot.items()
        ],
    }


def user_assets(engine: Engine, asset: str | None) -> list[dict[str, Any]]:
    return [
        {
            "asset": a,
            "free": s8(v),
            "locked": "0",
            "freeze": "0",
            "withdrawing": "0",
            "ipoable": "0",
            "btcValuation": "0",
        }
        for a, v in engine.spot.items()
        if v and asset in (None, a)
    ]
