"""The control API under /_emulator: the whole truth, and levers for tests and demos."""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from aiohttp import web

from assistant.emulator.exchange import algo
from assistant.emulator.exchange.engine import s8
from assistant.emulator.exchange.modes.index import state_rows
from assistant.emulator.exchange.modes.valuation import pools
from assistant.emulator.exchange.orders import open_orders
from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server import streams
from assistant.emulator.server.protocol import Fault
from assistant.errors import InputError

if TYPE_CHECKING:
    from assistant.emulator.server.app import Emulator


def _bad(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise InputError("expected a JSON object")
    return data


ALGO_KEYS = (
    "algoId",
    "clientAlgoId",
    "orderType",
    "symbol",
    "side",
    "positionSide",
    "quantity",
    "triggerPrice",
    "price",
    "closePosition",
    "reduceOnly",
    "algoStatus",
    "actualOrderId",
    "triggerTime",
)


def state(emu: Emulator) -> dict[str, Any]:
    engine = emu.engine
    users = sum(1 for s in emu.sockets if s.kind == "user")
    return {
        "spot": {a: s8(v) for a, v in engine.spot.items()},
        "futures": {
            **{a: s8(v) for a, v in engine.wallets.items()},
            "position_mode": "hedge" if engine.hedge else "oneway",
        },
        "multi_assets": engine.multi_assets,
        "credits": engine.credits,
        "portfolio_margin": engine.portfolio_margin,
        "asset_index": state_rows(engine),
        "pools": pools(engine),
        "marks": {s: s8(p) for s, p in engine.marks.items()},
        "positions": [
            {
                "symbol": p.symbol,
                "positionSide": p.side,
                "positionAmt": str(p.amount),
                "entryPrice": str(p.entry),
                "leverage": engine.symbols[p.symbol].leverage,
                "marginType": engine.symbols[p.symbol].margin_type,
                "isolatedWallet": s8(p.isolated_wallet),
            }
            for p in engine.open_positions()
        ],
        "open_orders": [
            {
                "symbol": o["symbol"],
                "clientOrderId": o["clientOrderId"],
                "side": o["side"],
                "origQty": str(o["origQty"]),
                "reduceOnly": o["reduceOnly"],
            }
            for o in open_orders(engine)
        ],
        "orders": [
            {
                "symbol": o["symbol"],
                "orderId": o["orderId"],
                "clientOrderId": o["clientOrderId"],
                "side": o["side"],
                "type": o["type"],
                "status": o["status"],
                "executedQty": str(o["executedQty"]),
                "reduceOnly": o["reduceOnly"],
                "positionSide": o["positionSide"],
                "time": o["time"],
            }
            for o in engine.orders
        ],
        "transfers": [
            {k: t[k] for k in ("tranId", "type", "asset", "amount", "time")}
            for t in engine.transfers
        ],
        "algo_orders": [
            {
                **{k: v for k, v in algo.view(engine, a).items() if k in ALGO_KEYS},
                "reason": a["reason"],
            }
            for a in engine.algo_orders
        ],
        "auto_exchanges": list(engine.auto_exchanges),
        "liquidations": list(engine.liquidations),
        "margin_calls": list(engine.margin_calls),
        "hidden_brackets": sorted(engine.hidden_brackets),
        "listen_keys": sorted(emu.listen_keys),
        "connections": {"user": users, "market": len(emu.sockets) - users},
        "scenario_time": round(emu.scenario_time(), 3),
    }


def add_routes(app: web.Application, emu: Emulator) -> None:
    async def get_state(request: web.Request) -> web.Response:
        return web.json_response(state(emu))

    async def post_mark(request: web.Request) -> web.Response:
        try:
            body = await _body(request)
            symbol = str(body["symbol"]).upper()
            price = Decimal(str(body["price"]))
        except (InputError, KeyError, InvalidOperation) as exc:
            return _bad(f"mark needs symbol and price: {exc}")
        if symbol not in emu.engine.symbols or not price.is_finite() or price <= 0:
            return _bad("unknown symbol or a price that is not positive")
        price = price.quantize(Decimal("0.00000001"))
        emu.pinned[symbol] = price
        marks = dict(emu.engine.marks)
        marks[symbol] = price
        await emu.publish(marks)
        return web.json_response({"symbol": symbol, "price": s8(price)})

    async def post_frame(request: web.Request) -> web.Response:
        """Push one raw frame, exactly as given, on every socket of a stream."""
        try:
            body = await _body(request)
            kind, frame = str(body["stream"]), body["frame"]
        except (InputError, KeyError) as exc:
            return _bad(f"frame needs stream and frame: {exc}")
        if kind not in ("user", "market"):
            return _bad('stream: "user" or "market"')
        sent = await streams.push_raw(emu, kind, frame)
        return web.json_response({"stream": kind, "sockets": sent})

    async def post_brackets(request: web.Request) -> web.Response:
        """Hide a symbol from GET /fapi/v1/leverageBracket, or show it again."""
        try:
            body = await _body(request)
            symbol, hide = str(body["symbol"]).upper(), body.get("hide", True)
        except (InputError, KeyError) as exc:
            return _bad(f"brackets needs symbol: {exc}")
        if symbol not in emu.engine.symbols or not isinstance(hide, bool):
            return _bad("unknown symbol, or hide is not true or false")
        hidden = emu.engine.hidden_brackets
        if hide:
            hidden.add(symbol)
        else:
            hidden.discard(symbol)
        return web.json_response({"symbol": symbol, "hidden": hide})

    async def post_disconnect(request: web.Request) -> web.Response:
        try:
            which = str((await _body(request)).get("streams", "all"))
        except InputError as exc:
            return _bad(str(exc))
        if which not in ("all", "user", "market"):
            return _bad("streams: all, user or market")
        return web.json_response({"closed": emu.disconnect(which)})

    async def post_stall(request: web.Request) -> web.Response:
        try:
            body = await _body(request)
            which, seconds = str(body.get("streams", "all")), float(body.get("seconds", 10))
        except (InputError, ValueError) as exc:
            return _bad(str(exc))
        emu.stalled_until[which] = time.monotonic() + seconds
        return web.json_response({"streams": which, "seconds": seconds})

    async def post_fault(request: web.Request) -> web.Response:
        try:
            fault = Fault.parse(await _body(request))
        except (InputError, KeyError, ValueError, TypeError) as exc:
            return _bad(f"fault: {exc}")
        emu.faults.append(fault)
        return web.json_response({"armed": fault.count})

    async def post_expire(request: web.Request) -> web.Response:
        """Every listenKey expires now, as when its 60 minutes run out."""
        keys = list(emu.listen_keys)
        for key in keys:
            await emu.expire_listen_key(key)
        return web.json_response({"expired": len(keys)})

    async def get_requests(request: web.Request) -> web.Response:
        return web.json_response(list(emu.requests))

    async def get_history(request: web.Request) -> web.Response:
        return web.json_response(list(emu.engine.history))

    async def post_reset(request: web.Request) -> web.Response:
        try:
            body = await _body(request)
            scenario = load_scenario(body.get("scenario"))
            emu.build_engine(scenario, emu.now_ms())  # its algo orders, before anything changes
        except InputError as exc:
            return _bad(str(exc))
        await emu.reset(scenario)
        return web.json_response({"reset": True})

    app.router.add_get("/_emulator/state", get_state)
    app.router.add_post("/_emulator/mark", post_mark)
    app.router.add_post("/_emulator/brackets", post_brackets)
    app.router.add_post("/_emulator/frame", post_frame)
    app.router.add_post("/_emulator/disconnect", post_disconnect)
    app.router.add_post("/_emulator/stall", post_stall)
    app.router.add_post("/_emulator/fault", post_fault)
    app.router.add_post("/_emulator/expire", post_expire)
    app.router.add_get("/_emulator/requests", get_requests)
    app.router.add_get("/_emulator/history", get_history)
    app.router.add_post("/_emulator/reset", post_reset)
