"""Wallet and configuration requests: transfers, leverage, margin type, isolated margin,
position mode."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from assistant.emulator.exchange.algo import open_algo
from assistant.emulator.exchange.book import ZERO, Pos, max_notional
from assistant.emulator.exchange.engine import Engine, Rejected, s8
from assistant.emulator.exchange.events import account_update
from assistant.emulator.exchange.orders import open_orders

D = Decimal
TRANSFER_TYPES = {"MAIN_UMFUTURE": 1, "UMFUTURE_MAIN": 2}
CREDITS_LOCKED = ("USDT", "BNFCR")  # credits mode moves BTC, ETH, BNB and USDC only


def _amount(params: dict[str, str]) -> Decimal:
    try:
        amount = D(params["amount"])
    except (KeyError, InvalidOperation):
        raise Rejected(
            -1102, "Mandatory parameter 'amount' was not sent, was empty/null, or malformed."
        ) from None
    if not amount.is_finite() or amount <= 0:
        raise Rejected(
            -1102, "Mandatory parameter 'amount' was not sent, was empty/null, or malformed."
        )
    return amount


def transfer(engine: Engine, kind: str, params: dict[str, str], now: int) -> dict[str, Any]:
    """Spot ↔ USDⓈ-M futures, any asset. Arrives on the user stream as ACCOUNT_UPDATE
    DEPOSIT/WITHDRAW."""
    if kind not in TRANSFER_TYPES:
        raise Rejected(
            -1100,
            f"Illegal characters found in parameter 'type'; legal range is"
            f" {', '.join(TRANSFER_TYPES)}.",
        )
    asset = params.get("asset", "").upper()
    if not asset.isalnum():
        raise Rejected(-5013, "Asset transfer failed: insufficient balance")
    if asset not in {spec.asset for spec in engine.account.asset_index}:
        raise Rejected(-5013, f"Asset transfer failed: {asset} is not a margin asset")
    if engine.credits and asset in CREDITS_LOCKED:
        raise Rejected(-5013, f"Asset transfer failed: {asset} cannot be moved in credits mode")
    amount = _amount(params)
    if kind == "MAIN_UMFUTURE":
        if engine.spot.get(asset, ZERO) < amount:
            raise Rejected(-5013, "Asset transfer failed: insufficient balance")
        engine.spot[asset] -= amount
        engine.credit(asset, amount)
        reason, change = "DEPOSIT", amount
    else:
        wallet = engine.wallets.get(asset, ZERO)
        if asset not in engine.wallets or engine.available(asset) < amount or wallet < amount:
            raise Rejected(-5013, "Asset transfer failed: insufficient balance")
        engine.credit(asset, -amount)
        engine.spot[asset] = engine.spot.get(asset, ZERO) + amount
        reason, change = "WITHDRAW", -amount
    tran_id = engine.next_id()
    engine.transfers.append(
        {
            "tranId": tran_id,
            "type": kind,
            "asset": asset,
            "amount": str(amount),
            "time": now,
            "status": "CONFIRMED",
        }
    )
    engine.income.append(
        {
            "symbol": "",
            "incomeType": "TRANSFER",
            "income": s8(change),
            "asset": asset,
            "info": "TRANSFER",
            "time": now,
            "tranId": tran_id,
            "tradeId": "",
        }
    )
    engine.events.append(account_update(engine, reason, [], change, now, asset=asset))
    return {"tranId": tran_id}


def set_leverage(engine: Engine, params: dict[str, str], now: int) -> dict[str, Any]:
    symbol = params.get("symbol", "").upper()
    if symbol not in engine.symbols:
        raise Rejected(-1121, "Invalid symbol.")
    try:
        leverage = int(params["leverage"])
    except (KeyError, ValueError):
        raise Rejected(
            -1102, "Mandatory parameter 'leverage' was not sent, was empty/null, or malformed."
        ) from None
    state = engine.symbols[symbol]
    if not 1 <= leverage <= max(t.leverage for t in state.tiers):
        raise Rejected(-4028, "Leverage is not valid")
    cap = max_notional(state.tiers, leverage)
    for pos in engine.open_positions():
        if pos.symbol == symbol and abs(pos.amount * engine.marks[symbol]) > cap:
            raise Rejected(-2027, "Exceeded the maximum allowable position at current leverage.")
    state.leverage = leverage
    engine.events.append(
        {"e": "ACCOUNT_CONFIG_UPDATE", "T": now, "ac": {"s": symbol, "l": leverage}}
    )
    return {"leverage": leverage, "maxNotionalValue": str(cap), "symbol": symbol}


def set_margin_type(engine: Engine, params: dict[str, str], now: int) -> dict[str, Any]:
    symbol = params.get("symbol", "").upper()
    if symbol not in engine.symbols:
        raise Rejected(-1121, "Invalid symbol.")
    wanted = params.get("marginType", "").upper()
    if wanted not in ("ISOLATED", "CROSSED"):
        raise Rejected(
            -1102, "Mandatory parameter 'marginType' was not sent, was empty/null, or malformed."
        )
    state = engine.symbols[symbol]
    new = "isolated" if wanted == "ISOLATED" else "cross"
    if new == "isolated" and engine.usd_mode:
        raise Rejected(
            -4168, "Unable to adjust to isolated-margin mode under the Multi-Assets mode."
        )
    if new == state.margin_type:
        raise Rejected(-4046, "No need to change margin type.")
    if any(p.symbol == symbol for p in engine.open_positions()) or open_orders(engine, symbol):
        raise Rejected(-4048, "Margin type cannot be changed if there exists position.")
    state.margin_type = new
    sides = ["LONG", "SHORT"] if engine.hedge else ["BOTH"]
    legs = [engine.positions.get((symbol, side)) or Pos(symbol, side) for side in sides]
    engine.events.append(account_update(engine, "MARGIN_TYPE_CHANGE", legs, ZERO, now))
    return {"code": 200, "msg": "success"}


def position_margin(engine: Engine, params: dict[str, str], now: int) -> dict[str, Any]:
    symbol = params.get("symbol", "").upper()
    side = params.get("positionSide", "BOTH").upper()
    pos = engine.positions.get((symbol, side))
    if pos is None or not pos.amount:
        raise Rejected(-4047, "Cannot add position margin: position is 0.")
    if engine.is_cross(symbol):
        raise Rejected(-4048, "Cannot add position margin: margin type is cross.")
    amount = _amount(params)
    kind = params.get("type", "")
    asset = engine.pool_of(symbol)
    if kind == "1":
        if engine.available(asset) < amount:
            raise Rejected(-2019, "Margin is insufficient.")
        engine.credit(asset, -amount)
        pos.isolated_wallet += amount
    elif kind == "2":
        if pos.isolated_wallet - amount < engine.pos_im(pos):
            raise Rejected(-4051, "Isolated balance insufficient.")
        pos.isolated_wallet -= amount
        engine.credit(asset, amount)
    else:
        raise Rejected(
            -1102, "Mandatory parameter 'type' was not sent, was empty/null, or malformed."
        )
    engine.events.append(account_update(engine, "MARGIN_TRANSFER", [pos], ZERO, now))
    return {
        "amount": float(amount),
        "code": 200,
        "msg": "Successfully modify position margin.",
        "type": int(kind),
    }


def set_position_mode(engine: Engine, params: dict[str, str]) -> dict[str, Any]:
    wanted = params.get("dualSidePosition", "").lower() == "true"
    if wanted == engine.hedge:
        raise Rejected(-4059, "No need to change position side.")
    if engine.open_positions() or open_orders(engine) or open_algo(engine):
        raise Rejected(-4068, "Position side cannot be changed if there exists position.")
    engine.hedge = wanted
    engine.positions = {k: v for k, v in engine.positions.items() if v.amount}
    return {"code": 200, "msg": "success"}


def account_config(engine: Engine) -> dict[str, Any]:
    """GET /fapi/v1/accountConfig."""
    return {
        "feeTier": 0,
        "canTrade": True,
        "canDeposit": True,
        "canWithdraw": True,
        "dualSidePosition": engine.hedge,
        "updateTime": engine.config_time,
        "multiAssetsMargin": engine.multi_assets,
        "tradeGroupId": -1,
    }


def set_multi_assets(engine: Engine, params: dict[str, str], now: int) -> dict[str, Any]:
    """POST /fapi/v1/multiAssetsMargin, refused as Binance refuses it; a switch is pushed as
    ACCOUNT_CONFIG_UPDATE with `ai`."""
    value = params.get("multiAssetsMargin", "").lower()
    if value not in ("true", "false"):
        raise Rejected(
            -1102,
            "Mandatory parameter 'multiAssetsMargin' was not sent, was empty/null, or malformed.",
        )
    wanted = value == "true"
    if wanted == engine.multi_assets:
        raise Rejected(
            -4171,
            "Adjusted asset mode is currently set and does not need to be adjusted repeatedly",
        )
    if engine.credits:  # credits mode works in Multi-Assets mode only (the emulator's code)
        raise Rejected(
            -4169,
            "Unable to adjust Multi-Assets Mode with insufficient margin balance in USDⓈ-M Futures",
        )
    if open_orders(engine) or open_algo(engine):
        raise Rejected(
            -4170, "Unable to adjust Multi-Assets Mode with open orders in USDⓈ-M Futures"
        )
    if engine.open_positions():
        raise Rejected(
            -4170, "Unable to adjust Multi-Assets Mode with open positions in USDⓈ-M Futures"
        )
    if wanted and any(state.margin_type == "isolated" for state in engine.symbols.values()):
        raise Rejected(
            -4167,
            "Unable to adjust to Multi-Assets mode with symbols of USDⓈ-M Futures under"
            " isolated-margin mode.",
        )
    if not wanted and any(amount < 0 for amount in engine.wallets.values()):
        raise Rejected(
            -4172,
            "Unable to adjust Multi-Assets Mode with a negative wallet balance of margin"
            " available asset in USDⓈ-M Futures account.",
        )
    engine.multi_assets = wanted
    engine.config_time = now
    engine.events.append({"e": "ACCOUNT_CONFIG_UPDATE", "T": now, "ai": {"j": wanted}})
    return {"code": 200, "msg": "success"}
