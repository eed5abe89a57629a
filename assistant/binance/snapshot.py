"""Binance's REST bodies to one `AccountSnapshotted`, and the bodies read on their own (the
account's configuration, the asset index). Pure; a body not shaped as Binance's is an
InputError naming the parser, never a KeyError from deep inside it.

What each body gives (every USDⓈ-M account mode):

- GET /fapi/v3/account: one row per asset. Its `crossWalletBalance` is that asset's cross
  wallet: the pool's wallet in single-asset mode (USDT, USDC, ... each a pool of its own), one
  collateral wallet in Multi-Assets mode (may be negative there). An account in credits mode
  (EEA) has a BNFCR row and may have no USDT row at all: its USDT wallet is then 0. The
  `total*` figures are USDT's alone in single-asset mode and the USD value of every asset in
  Multi-Assets mode; both are kept beside ours (`ExchangeFigures`), with each row's own
  maintenance margin and margin balance, in the asset's units.
- GET /fapi/v3/positionRisk: each position's `marginAsset` names its pool.
- GET /fapi/v1/accountConfig: `multiAssetsMargin` and `dualSidePosition` in one call.
- GET /fapi/v1/openAlgoOrders: the user's stop and take-profit orders (Binance's algo service).
- GET /fapi/v1/assetIndex (Multi-Assets mode): each collateral asset's USD rates.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

from assistant.binance.rows import algo_order, asset_rate, open_order
from assistant.binance.wire import parse_decimal, parse_int, parse_margin_type, parse_side
from assistant.core.events import AccountSnapshotted, AlgoOrder, ExchangeFigures, PositionChange
from assistant.core.model import ZERO, AssetRate, MarginType, PositionSide
from assistant.errors import InputError

T = TypeVar("T")
OPEN_ALGO = frozenset({"NEW", "TRIGGERING"})  # what openAlgoOrders lists as still waiting


def _shape_errors_are_input_errors(parse: Callable[..., T]) -> Callable[..., T]:
    """A body not shaped as Binance's (a missing key, a null, a wrong type) becomes an
    InputError naming the parser, never a KeyError or AttributeError from deep inside it."""

    @functools.wraps(parse)
    def checked(*args: Any, **kwargs: Any) -> T:
        try:
            return parse(*args, **kwargs)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            what = parse.__name__.removeprefix("parse_")
            raise InputError(f"{what}: unexpected body ({type(exc).__name__}: {exc})") from None

    return checked


@_shape_errors_are_input_errors
def parse_account_config(body: Mapping[str, Any]) -> tuple[bool, bool]:
    """GET /fapi/v1/accountConfig: (Multi-Assets mode on, hedge mode on)."""
    multi, hedge = body["multiAssetsMargin"], body["dualSidePosition"]
    if not isinstance(multi, bool) or not isinstance(hedge, bool):
        raise InputError("account_config: multiAssetsMargin and dualSidePosition must be booleans")
    return multi, hedge


@_shape_errors_are_input_errors
def parse_asset_index(payload: Any) -> tuple[AssetRate, ...]:
    """GET /fapi/v1/assetIndex: the array (or, asked for one symbol, the single object)."""
    rows = [payload] if isinstance(payload, Mapping) else payload
    if not isinstance(rows, list):
        raise InputError("asset_index: expected the assetIndex array")
    return tuple(
        asset_rate(r["symbol"], r["index"], r["bidRate"], r["askRate"], f"assetIndex[{i}]")
        for i, r in enumerate(rows)
    )


@_shape_errors_are_input_errors
def parse_algo_orders(payload: Any) -> tuple[AlgoOrder, ...]:
    """GET /fapi/v1/openAlgoOrders: the conditional orders still waiting to trigger."""
    if not isinstance(payload, list):
        raise InputError("algo_orders: expected the openAlgoOrders array")
    orders = []
    for row in payload:
        order, status = algo_order(row, rest=True)
        if status in OPEN_ALGO:
            orders.append(order)
    return tuple(orders)


@_shape_errors_are_input_errors
def parse_snapshot(
    *,
    taken_at: int,
    account: Mapping[str, Any],
    position_risk: list[Mapping[str, Any]],
    symbol_config: list[Mapping[str, Any]],
    open_orders: list[Mapping[str, Any]],
    account_config: Mapping[str, Any],
    algo_orders: list[Mapping[str, Any]] | None = None,
    asset_index: Any = None,
) -> AccountSnapshotted:
    """REST bodies (GET /fapi/v3/account, /fapi/v3/positionRisk, /fapi/v1/symbolConfig,
    /fapi/v1/openOrders, /fapi/v1/accountConfig, /fapi/v1/openAlgoOrders and, in Multi-Assets
    mode, /fapi/v1/assetIndex: not read in single-asset mode) to one snapshot event. Raises
    InputError when a body is not what Binance sends."""
    multi_assets, hedge = parse_account_config(account_config)
    assets = account.get("assets") or []
    if not isinstance(assets, list):
        raise InputError("snapshot: account.assets: expected a list")
    wallets: dict[str, Decimal] = {}
    maint_by_asset: dict[str, Decimal] = {}
    balance_by_asset: dict[str, Decimal] = {}
    for i, row in enumerate(assets):
        where = f"account.assets[{i}]"
        asset = str(row["asset"]).upper()
        wallets[asset] = parse_decimal(row["crossWalletBalance"], f"{where}.crossWalletBalance")
        maint_by_asset[asset] = parse_decimal(row.get("maintMargin", "0"), f"{where}.maintMargin")
        balance_by_asset[asset] = parse_decimal(
            row.get("marginBalance", "0"), f"{where}.marginBalance"
        )
    leverage = {
        str(c["symbol"]).upper(): parse_int(c["leverage"], "symbolConfig.leverage")
        for c in symbol_config
    }
    margin_types = {
        str(c["symbol"]).upper(): parse_margin_type(c["marginType"], "symbolConfig.marginType")
        for c in symbol_config
    }
    positions = []
    marks: dict[str, Decimal] = {}
    liquidation: dict[tuple[str, PositionSide], Decimal] = {}
    maint: dict[tuple[str, PositionSide], Decimal] = {}
    for i, row in enumerate(position_risk):
        where = f"positionRisk[{i}]"
        symbol = str(row["symbol"]).upper()
        side = parse_side(row.get("positionSide", "BOTH"), f"{where}.positionSide")
        mark = parse_decimal(row["markPrice"], f"{where}.markPrice")
        if mark > 0:
            marks[symbol] = mark
        amount = parse_decimal(row["positionAmt"], f"{where}.positionAmt")
        if not amount:
            continue
        wallet = parse_decimal(row.get("isolatedWallet", "0"), f"{where}.isolatedWallet")
        margin_type = margin_types.get(symbol, MarginType.ISOLATED if wallet else MarginType.CROSS)
        margin_asset = row.get("marginAsset")
        positions.append(
            PositionChange(
                symbol,
                side,
                amount,
                parse_decimal(row["entryPrice"], f"{where}.entryPrice"),
                margin_type,
                wallet,
                str(margin_asset).upper() if margin_asset else None,
            )
        )
        liquidation[(symbol, side)] = parse_decimal(
            row.get("liquidationPrice", "0"), f"{where}.liquidationPrice"
        )
        maint[(symbol, side)] = parse_decimal(row.get("maintMargin", "0"), f"{where}.maintMargin")
    return AccountSnapshotted(
        taken_at=taken_at,
        wallet_balance=wallets.get("USDT", ZERO),
        hedge_mode=hedge,
        positions=tuple(positions),
        leverage=leverage,
        margin_types=margin_types,
        open_orders=tuple(open_order(o, rest=True) for o in open_orders),
        marks=marks,
        exchange=ExchangeFigures(
            total_maint_margin=parse_decimal(
                account["totalMaintMargin"], "account.totalMaintMargin"
            ),
            total_margin_balance=parse_decimal(
                account["totalMarginBalance"], "account.totalMarginBalance"
            ),
            liquidation_prices=liquidation,
            maint_margins=maint,
            asset_maint_margins=maint_by_asset,
            asset_margin_balances=balance_by_asset,
            totals_in_usd=multi_assets,
        ),
        wallets=wallets,
        multi_assets=multi_assets,
        rates=parse_asset_index(asset_index) if multi_assets and asset_index is not None else (),
        algo_orders=parse_algo_orders(algo_orders or []),
    )
