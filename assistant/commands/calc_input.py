"""`assistant calc`'s input in every account mode: the JSON format of docs/calc.md, or the raw
bodies Binance returns (account, positionRisk, leverageBracket, assetIndex, accountConfig,
symbolConfig), turned into margin pools.

Binance's own field names are used so that its responses can be pasted: `assets` are rows of
`GET /fapi/v3/account`, `asset_index` rows of `GET /fapi/v1/assetIndex`, and a position's pool is
its `marginAsset`, else its symbol's quote asset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from assistant.binance.wire import (
    parse_decimal,
    parse_int,
    parse_leverage_brackets,
    parse_margin_type,
    parse_side,
)
from assistant.core.fallbacks import collateral
from assistant.core.margin.book import MarginBook
from assistant.core.margin.pools import (
    link_symbol,
    multi_assets_pool,
    quote_asset,
    single_asset_pools,
    unit,
)
from assistant.core.model import (
    ONE,
    ZERO,
    AccountMode,
    AssetRate,
    BracketTable,
    MarginType,
    Position,
)
from assistant.errors import InputError


@dataclass(frozen=True, slots=True)
class Pools:
    """What `calc` computes: the account's mode and its pools (asset → book)."""

    mode: AccountMode
    pools: Mapping[str, MarginBook]
    wallets: Mapping[str, Decimal]


def _object(data: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InputError(f"{where}: expected a JSON object")
    return data


def _list(data: Any, where: str) -> list[Any]:
    if not isinstance(data, list):
        raise InputError(f"{where}: expected a list")
    return data


def wallets_from(data: Mapping[str, Any]) -> dict[str, Decimal]:
    """`wallet_balance` (USDT) and/or `assets` rows (crossWalletBalance, else walletBalance)."""
    wallets: dict[str, Decimal] = {}
    if "wallet_balance" in data and "assets" in data:
        raise InputError("give the wallet as wallet_balance (USDT only) or as assets, not both")
    if "wallet_balance" in data:
        wallets["USDT"] = parse_decimal(data["wallet_balance"], "wallet_balance")
    for i, row in enumerate(_list(data.get("assets", []), "assets")):
        where = f"assets[{i}]"
        row = _object(row, where)
        asset = row.get("asset")
        if not isinstance(asset, str) or not asset.strip():
            raise InputError(f"{where}.asset: expected an asset name")
        field = "crossWalletBalance" if "crossWalletBalance" in row else "walletBalance"
        if field not in row:
            raise InputError(f"{where}: missing crossWalletBalance")
        name = asset.strip().upper()
        if name in wallets:
            raise InputError(f"{where}.asset: {name} is given twice")
        wallets[name] = parse_decimal(row[field], f"{where}.{field}")
    if not wallets:
        raise InputError("wallet_balance: missing (or give the wallets per asset in `assets`)")
    return wallets


def rates_from(rows: Any, where: str = "asset_index") -> tuple[AssetRate, ...]:
    """Rows of `GET /fapi/v1/assetIndex` (or one row): symbol `BTCUSD` is asset `BTC`; the rates
    are Binance's own when given, else index × (1 − bidBuffer) and index × (1 + askBuffer)."""
    if isinstance(rows, Mapping):
        rows = [rows]
    rates: list[AssetRate] = []
    for i, row in enumerate(_list(rows, where)):
        here = f"{where}[{i}]"
        row = _object(row, here)
        symbol = row.get("symbol")
        if not isinstance(symbol, str) or not symbol.upper().endswith("USD"):
            raise InputError(f"{here}.symbol: expected an asset index symbol such as USDTUSD")
        index = parse_decimal(row.get("index"), f"{here}.index")
        bid = row.get("bidRate")
        ask = row.get("askRate")
        bid_rate = (
            parse_decimal(bid, f"{here}.bidRate")
            if bid is not None
            else index * (ONE - parse_decimal(row.get("bidBuffer", 0), f"{here}.bidBuffer"))
        )
        ask_rate = (
            parse_decimal(ask, f"{here}.askRate")
            if ask is not None
            else index * (ONE + parse_decimal(row.get("askBuffer", 0), f"{here}.askBuffer"))
        )
        if any(r.asset == symbol.upper()[:-3] for r in rates):
            raise InputError(f"{here}.symbol: {symbol.upper()} is given twice")
        try:
            rates.append(AssetRate(symbol.upper()[:-3], index, bid_rate, ask_rate))
        except ValueError as exc:
            raise InputError(f"{here}: {exc}") from None
    return tuple(rates)


def _position(row: Any, where: str, configs: Mapping[str, Mapping[str, Any]]) -> Position:
    row = _object(row, where)
    for name in ("symbol", "positionAmt", "entryPrice", "markPrice"):
        if name not in row:
            raise InputError(f"{where}: missing {name}")
    symbol = row["symbol"]
    if not isinstance(symbol, str) or not symbol.strip():
        raise InputError(f"{where}.symbol: expected a symbol name")
    symbol = symbol.strip().upper()
    config = configs.get(symbol, {})
    leverage = row.get("leverage", config.get("leverage"))
    # positionRisk v3 has no marginType: an isolated position is the one with its own wallet.
    guess = "cross"
    if "isolatedWallet" in row and parse_decimal(row["isolatedWallet"], f"{where}.isolatedWallet"):
        guess = "isolated"
    margin_type = parse_margin_type(
        row.get("marginType", config.get("marginType", guess)), f"{where}.marginType"
    )
    asset = row.get("marginAsset") or quote_asset(symbol)
    if not isinstance(asset, str):
        raise InputError(f"{where}.marginAsset: expected an asset name")
    try:
        return Position(
            symbol=symbol,
            side=parse_side(row.get("positionSide", "BOTH"), f"{where}.positionSide"),
            amount=parse_decimal(row["positionAmt"], f"{where}.positionAmt"),
            entry_price=parse_decimal(row["entryPrice"], f"{where}.entryPrice"),
            margin_type=margin_type,
            isolated_wallet=(
                parse_decimal(row.get("isolatedWallet", 0), f"{where}.isolatedWallet")
                if margin_type is MarginType.ISOLATED
                else ZERO
            ),
            leverage=None if leverage is None else parse_int(leverage, f"{where}.leverage"),
            margin_asset=asset.upper(),
        )
    except ValueError as exc:
        raise InputError(f"{where}: {exc}") from None


def load_pools(data: Any, configs: Mapping[str, Mapping[str, Any]] | None = None) -> Pools:
    """The JSON input (docs/calc.md) as pools; `configs` are symbolConfig rows by symbol."""
    if not isinstance(data, Mapping):
        raise InputError("expected a JSON object with wallet_balance, positions and brackets")
    wallets = wallets_from(data)
    multi = data.get("multi_assets", False)
    if not isinstance(multi, bool):
        raise InputError("multi_assets: expected true or false")
    brackets: dict[str, BracketTable] = parse_leverage_brackets(
        data.get("brackets", {}), strict=True
    )
    positions: list[Position] = []
    marks: dict[str, Decimal] = {}
    for i, row in enumerate(_list(data.get("positions", []), "positions")):
        position = _position(row, f"positions[{i}]", configs or {})
        mark = parse_decimal(row["markPrice"], f"positions[{i}].markPrice")
        if mark <= ZERO:
            raise InputError(f"positions[{i}].markPrice: must be positive")
        if marks.setdefault(position.symbol, mark) != mark:
            raise InputError(
                f"positions[{i}].markPrice: differs from another leg of {position.symbol}"
            )
        if position.symbol not in brackets:
            raise InputError(f"brackets: no brackets for {position.symbol}")
        if position.amount:
            positions.append(position)
    if not multi and "BNFCR" in wallets:
        raise InputError(
            "assets: a BNFCR wallet is the credits mode, a kind of Multi-Assets: set"
            " multi_assets to true (and give asset_index)"
        )
    if not multi:
        for i, position in enumerate(positions):
            if position.margin_asset not in wallets:
                raise InputError(
                    f"positions[{i}]: {position.symbol} is margined in {position.margin_asset},"
                    f" but no {position.margin_asset} wallet is given (add it to assets)"
                )
    try:
        if not multi:
            pools = single_asset_pools(wallets, positions, marks, brackets)
            return Pools(AccountMode.SINGLE, pools, wallets)
        rates = rates_from(data.get("asset_index", []))
        anchors = {
            r.asset: (link, marks[link])
            for r in rates
            if (link := link_symbol(r.asset, marks)) is not None
        }
        held = collateral(wallets, {r.asset: r for r in rates}, anchors)
        pools = multi_assets_pool(held, positions, marks, brackets, unit(wallets))
    except ValueError as exc:
        hint = (
            " (give its row in asset_index, or --asset-index)" if "asset index" in str(exc) else ""
        )
        raise InputError(f"positions: {exc}{hint}") from None
    mode = AccountMode.CREDITS if "BNFCR" in wallets else AccountMode.MULTI
    return Pools(mode, pools, wallets)


def from_bodies(
    account: Any,
    positions: Any,
    brackets: Any,
    asset_index: Any = None,
    config: Any = None,
    symbol_config: Any = None,
) -> dict[str, Any]:
    """The raw bodies as the JSON input: `GET /fapi/v3/account` (its `assets`; in v2 its
    `positions` carry no mark, so the positions come from positionRisk), `GET
    /fapi/v3/positionRisk`, `GET /fapi/v1/leverageBracket`, and optionally `GET
    /fapi/v1/assetIndex`, `GET /fapi/v1/accountConfig`, `GET /fapi/v1/symbolConfig`."""
    body = _object(account, "--account")
    multi = body.get("multiAssetsMargin")  # v2 has it; v3, the one to use, does not
    if config is not None:
        multi = _object(config, "--config").get("multiAssetsMargin", multi)
    if not isinstance(multi, bool):
        raise InputError(
            "the account's mode is not in these bodies (GET /fapi/v3/account does not say it):"
            " give --config ACCOUNTCONFIG.json, the body of GET /fapi/v1/accountConfig"
        )
    data: dict[str, Any] = {
        "multi_assets": bool(multi),
        "assets": body.get("assets", []),
        "positions": [
            row
            for row in _list(positions, "--positions")
            if isinstance(row, Mapping) and str(row.get("positionAmt", "0")) not in ("0", "0.0")
        ],
        "brackets": brackets,
    }
    if asset_index is not None:
        data["asset_index"] = asset_index
    return data


def symbol_configs(body: Any) -> dict[str, Mapping[str, Any]]:
    """`GET /fapi/v1/symbolConfig` rows by symbol (marginType CROSSED/ISOLATED, leverage)."""
    if body is None:
        return {}
    return {
        str(row["symbol"]).upper(): row
        for row in _list(body, "--symbol-config")
        if isinstance(row, Mapping) and "symbol" in row
    }
