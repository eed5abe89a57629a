"""REST endpoints: a route table (weight, budget, security) and one dispatcher that applies
Binance's rules in order: ban and weight, injected faults, API key, timestamp and signature."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from assistant.emulator.exchange import accounts, algo, orders, views
from assistant.emulator.exchange.engine import Rejected
from assistant.emulator.exchange.modes import portfolio
from assistant.emulator.exchange.modes.index import asset_index_rows
from assistant.emulator.server.protocol import Limited, check_signed, split_params

if TYPE_CHECKING:
    from assistant.emulator.server.app import Emulator

Handler = Callable[["Emulator", dict[str, str], int], Any]
NONE, KEY, SIGNED = "none", "key", "signed"


@dataclass(frozen=True)
class Route:
    handler: Handler
    weight: int
    security: str = SIGNED
    family: str = "futures"
    is_order: bool = False


def _symbol(params: dict[str, str]) -> str | None:
    return params["symbol"].upper() if params.get("symbol") else None


def _require_symbol(emu: Emulator, params: dict[str, str]) -> str:
    symbol = _symbol(params)
    if symbol is None or symbol not in emu.engine.symbols:
        raise Rejected(-1121, "Invalid symbol.")
    return symbol


def _listen_key(emu: Emulator, params: dict[str, str], now: int, method: str) -> Any:
    return emu.listen_key_request(method, params)


def _open_orders(emu: Emulator, params: dict[str, str], now: int) -> Any:
    symbol = _symbol(params)
    return [orders.order_view(emu.engine, o) for o in orders.open_orders(emu.engine, symbol)]


def _all_orders(emu: Emulator, params: dict[str, str], now: int) -> Any:
    symbol = _require_symbol(emu, params)
    rows = [orders.order_view(emu.engine, o) for o in emu.engine.orders if o["symbol"] == symbol]
    return rows[-int(params.get("limit", 500)) :]


def _user_trades(emu: Emulator, params: dict[str, str], now: int) -> Any:
    symbol = _require_symbol(emu, params)
    trades = []
    for o in emu.engine.orders:
        if o["symbol"] == symbol and o["status"] == "FILLED":
            trades.append(
                {
                    "buyer": o["side"] == "BUY",
                    "commission": "0",
                    "commissionAsset": "USDT",
                    "id": o["orderId"],
                    "maker": False,
                    "orderId": o["orderId"],
                    "price": str(o["avgPrice"]),
                    "qty": str(o["executedQty"]),
                    "quoteQty": str(o["cumQuote"]),
                    "realizedPnl": "0",
                    "side": o["side"],
                    "positionSide": o["positionSide"],
                    "symbol": symbol,
                    "time": o["updateTime"],
                }
            )
    return trades


def _income(emu: Emulator, params: dict[str, str], now: int) -> Any:
    rows = emu.engine.income
    if params.get("incomeType"):
        rows = [r for r in rows if r["incomeType"] == params["incomeType"]]
    if params.get("symbol"):
        rows = [r for r in rows if r["symbol"] == params["symbol"].upper()]
    if params.get("startTime"):
        rows = [r for r in rows if r["time"] >= int(params["startTime"])]
    if params.get("endTime"):
        rows = [r for r in rows if r["time"] <= int(params["endTime"])]
    return rows[: int(params.get("limit", 100))]


def _transfer_history(emu: Emulator, params: dict[str, str], now: int) -> Any:
    kind = params.get("type", "")
    rows = [dict(t) for t in emu.engine.transfers if t["type"] == kind]
    if params.get("startTime"):
        rows = [r for r in rows if r["time"] >= int(params["startTime"])]
    return {"total": len(rows), "rows": list(reversed(rows))[: int(params.get("size", 10))]}


def _legacy_transfer(emu: Emulator, params: dict[str, str], now: int) -> Any:
    kind = {"1": "MAIN_UMFUTURE", "2": "UMFUTURE_MAIN"}.get(params.get("type", ""), "?")
    return accounts.transfer(emu.engine, kind, params, now)


def _asset_index(emu: Emulator, params: dict[str, str], now: int) -> Any:
    rows = asset_index_rows(emu.engine, now)
    symbol = _symbol(params)
    if symbol is None:
        return rows
    for row in rows:
        if row["symbol"] == symbol:
            return row
    raise Rejected(-1121, "Invalid symbol.")


def _papi_account(emu: Emulator, params: dict[str, str], now: int) -> Any:
    return portfolio.account(emu.engine)


def _order(emu: Emulator, params: dict[str, str], now: int) -> Any:
    return orders.order_view(emu.engine, orders.find_order(emu.engine, params))


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/fapi/v1/ping"): Route(lambda e, p, n: {}, 1, NONE),
    ("GET", "/fapi/v1/time"): Route(lambda e, p, n: {"serverTime": n}, 1, NONE),
    ("GET", "/fapi/v1/exchangeInfo"): Route(
        lambda e, p, n: views.exchange_info(e.engine, n), 1, NONE
    ),
    ("GET", "/fapi/v1/premiumIndex"): Route(
        lambda e, p, n: views.premium_index(e.engine, _symbol(p), n), 1, NONE
    ),
    ("GET", "/fapi/v2/account"): Route(lambda e, p, n: views.account(e.engine, 2), 5),
    ("GET", "/fapi/v3/account"): Route(lambda e, p, n: views.account(e.engine, 3), 5),
    ("GET", "/fapi/v2/positionRisk"): Route(
        lambda e, p, n: views.position_risk(e.engine, 2, _symbol(p)), 5
    ),
    ("GET", "/fapi/v3/positionRisk"): Route(
        lambda e, p, n: views.position_risk(e.engine, 3, _symbol(p)), 5
    ),
    ("GET", "/fapi/v1/leverageBracket"): Route(
        lambda e, p, n: views.brackets(e.engine, _symbol(p)), 1
    ),
    ("GET", "/fapi/v1/symbolConfig"): Route(
        lambda e, p, n: views.symbol_config(e.engine, _symbol(p)), 5
    ),
    ("GET", "/fapi/v1/openOrders"): Route(_open_orders, 1),
    ("GET", "/fapi/v1/allOrders"): Route(_all_orders, 5),
    ("GET", "/fapi/v1/userTrades"): Route(_user_trades, 5),
    ("POST", "/fapi/v1/order"): Route(
        lambda e, p, n: orders.place_order(e.engine, p, n), 0, is_order=True
    ),
    ("GET", "/fapi/v1/order"): Route(_order, 1),
    ("DELETE", "/fapi/v1/order"): Route(lambda e, p, n: orders.cancel_order(e.engine, p, n), 1),
    ("POST", "/fapi/v1/leverage"): Route(lambda e, p, n: accounts.set_leverage(e.engine, p, n), 1),
    ("POST", "/fapi/v1/marginType"): Route(
        lambda e, p, n: accounts.set_margin_type(e.engine, p, n), 1
    ),
    ("POST", "/fapi/v1/positionMargin"): Route(
        lambda e, p, n: accounts.position_margin(e.engine, p, n), 1
    ),
    ("GET", "/fapi/v1/income"): Route(_income, 30),
    ("GET", "/fapi/v1/positionSide/dual"): Route(
        lambda e, p, n: {"dualSidePosition": e.engine.hedge}, 30
    ),
    ("POST", "/fapi/v1/positionSide/dual"): Route(
        lambda e, p, n: accounts.set_position_mode(e.engine, p), 1
    ),
    ("GET", "/fapi/v1/multiAssetsMargin"): Route(
        lambda e, p, n: {"multiAssetsMargin": e.engine.multi_assets}, 30
    ),
    ("POST", "/fapi/v1/multiAssetsMargin"): Route(
        lambda e, p, n: accounts.set_multi_assets(e.engine, p, n), 1
    ),
    ("GET", "/fapi/v1/accountConfig"): Route(lambda e, p, n: accounts.account_config(e.engine), 5),
    ("GET", "/fapi/v1/assetIndex"): Route(_asset_index, 1, NONE),
    ("POST", "/fapi/v1/algoOrder"): Route(
        lambda e, p, n: algo.place(e.engine, p, n), 0, is_order=True
    ),
    ("GET", "/fapi/v1/algoOrder"): Route(
        lambda e, p, n: algo.view(e.engine, algo.find(e.engine, p)), 1
    ),
    ("DELETE", "/fapi/v1/algoOrder"): Route(lambda e, p, n: algo.cancel(e.engine, p, n), 1),
    ("GET", "/fapi/v1/openAlgoOrders"): Route(lambda e, p, n: algo.listing(e.engine, p, True), 1),
    ("GET", "/fapi/v1/allAlgoOrders"): Route(lambda e, p, n: algo.listing(e.engine, p, False), 5),
    ("DELETE", "/fapi/v1/algoOpenOrders"): Route(
        lambda e, p, n: algo.cancel_all(e.engine, p, n), 1
    ),
    ("GET", "/papi/v1/account"): Route(_papi_account, 20, family="papi"),
    ("POST", "/fapi/v1/listenKey"): Route(lambda e, p, n: _listen_key(e, p, n, "POST"), 1, KEY),
    ("PUT", "/fapi/v1/listenKey"): Route(lambda e, p, n: _listen_key(e, p, n, "PUT"), 1, KEY),
    ("DELETE", "/fapi/v1/listenKey"): Route(lambda e, p, n: _listen_key(e, p, n, "DELETE"), 1, KEY),
    ("POST", "/sapi/v1/asset/transfer"): Route(
        lambda e, p, n: accounts.transfer(e.engine, p.get("type", ""), p, n), 900, family="spot"
    ),
    ("GET", "/sapi/v1/asset/transfer"): Route(_transfer_history, 1, family="spot"),
    ("POST", "/sapi/v1/futures/transfer"): Route(_legacy_transfer, 1, family="spot"),
    ("GET", "/api/v3/account"): Route(
        lambda e, p, n: views.spot_account(e.engine, n), 20, family="spot"
    ),
    ("POST", "/sapi/v3/asset/getUserAsset"): Route(
        lambda e, p, n: views.user_assets(e.engine, p.get("asset", "").upper() or None),
        5,
        family="spot",
    ),
    ("GET", "/sapi/v1/capital/config/getall"): Route(lambda e, p, n: [], 10, family="spot"),
    ("GET", "/sapi/v1/margin/allPairs"): Route(lambda e, p, n: [], 1, family="spot"),
}


def _weight(route: Route, method: str, path: str, params: dict[str, str]) -> int:
    if path == "/fapi/v1/openOrders" and not params.get("symbol"):
        return 40
    if path in ("/fapi/v1/premiumIndex", "/fapi/v1/assetIndex") and not params.get("symbol"):
        return 10
    if path == "/fapi/v1/openAlgoOrders" and not params.get("symbol"):
        return 40
    return route.weight


def error_response(exc: Rejected, headers: dict[str, str] | None = None) -> web.Response:
    headers = dict(headers or {})
    if isinstance(exc, Limited):
        headers["Retry-After"] = str(exc.retry_after)
    return web.json_response({"code": exc.code, "msg": exc.msg}, status=exc.status, headers=headers)


async def dispatch(emu: Emulator, request: web.Request) -> web.Response:
    method, path = request.method, request.path
    body = await request.text()
    params, payload, signature = split_params(request.query_string, body)
    address = request.remote or "?"
    api_key = request.headers.get("X-MBX-APIKEY", "")
    entry = {
        "time": emu.now_ms(),
        "address": address,
        "api_key": api_key,
        "method": method,
        "path": path,
        "weight": 0,
        "status": 0,
    }
    emu.requests.append(entry)
    response = await _serve(emu, method, path, params, payload, signature, address, api_key, entry)
    entry["status"] = response.status
    return response


async def _serve(
    emu: Emulator,
    method: str,
    path: str,
    params: dict[str, str],
    payload: str,
    signature: str | None,
    address: str,
    api_key: str,
    entry: dict[str, Any],
) -> web.Response:
    route = ROUTES.get((method, path))
    if route is None:
        return web.json_response(
            {"code": -5000, "msg": f"Path {path}, Method {method} is invalid"}, status=404
        )
    weight = _weight(route, method, path, params)
    try:
        _, headers = emu.limiter.admit(address, route.family, weight, emu.clock())
    except Limited as exc:
        return error_response(exc)
    entry["weight"] = weight
    if route.is_order:
        headers.update(emu.limiter.count_order(address, emu.clock()))
    fault = emu.take_fault(method, path)
    if fault is not None and fault.late:
        # Held, then carried out whether or not the client still waits (aiohttp cancels the
        # handler when its client leaves; the held work runs in a task of its own). Its
        # timestamp is checked when it is carried out, so past its recvWindow it is refused
        # (-1021), as Binance refuses a request that reaches it too late: dropped.
        delay = fault.delay

        async def late() -> web.Response:
            await asyncio.sleep(delay)
            response = await _carry_out(
                emu, route, params, payload, signature, address, api_key, headers
            )
            entry["status"] = response.status  # logged even when nobody reads the answer
            return response

        return await emu.hold(late())
    if fault is not None and fault.delay:
        await asyncio.sleep(fault.delay)
    if fault is not None and fault.status < 400:
        fault = None  # a pure delay: the request is then served as usual
    if fault is not None and not fault.execute:
        return emu.fault_response(fault, headers)
    response = await _carry_out(emu, route, params, payload, signature, address, api_key, headers)
    if fault is not None and response.status < 400:
        return emu.fault_response(fault, headers)
    return response


async def _carry_out(
    emu: Emulator,
    route: Route,
    params: dict[str, str],
    payload: str,
    signature: str | None,
    address: str,
    api_key: str,
    headers: dict[str, str],
) -> web.Response:
    """The API key, the timestamp and signature, then the request itself."""
    try:
        if route.security != NONE:
            if not api_key:
                raise Rejected(-2014, "API-key format invalid.", 401)
            # A Portfolio Margin account's key has no fapi permission but for market data
            # (Binance's PM API FAQ), another account's none on papi: refused as a wrong key.
            pm = emu.engine.portfolio_margin
            refused = route.family == ("futures" if pm else "papi")
            if api_key != emu.scenario.api_key or refused:
                raise Rejected(
                    -2015,
                    f"Invalid API-key, IP, or permissions for action, request ip: {address}",
                    401,
                )
        if route.security == SIGNED:
            check_signed(params, payload, signature, emu.scenario.api_secret, emu.now_ms())
        result = route.handler(emu, params, emu.now_ms())
    except Rejected as exc:
        await emu.flush_events()
        return error_response(exc, headers)
    await emu.flush_events()
    return web.Response(text=json.dumps(result), content_type="application/json", headers=headers)


def new_listen_key() -> str:
    return secrets.token_urlsafe(48)[:64]
