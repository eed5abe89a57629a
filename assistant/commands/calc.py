"""`assistant calc`: an account as JSON in, its independent margin health as JSON out."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from decimal import ROUND_DOWN, Decimal, localcontext
from typing import Any

from assistant.commands.calc_input import Pools, from_bodies, load_pools, symbol_configs
from assistant.core.margin.book import MarginBook
from assistant.core.margin.health import AccountHealth, book_health
from assistant.core.margin.liquidation import uniform_distance
from assistant.core.margin.pools import worst
from assistant.core.model import ZERO, AccountMode, asset_value
from assistant.errors import InputError

QUANTUM = Decimal("0.00000001")  # Binance's API prints amounts truncated to 8 decimals


def read_json(text: str) -> Any:
    """JSON with every non-integer number as an exact Decimal; NaN and Infinity refused."""

    def refuse(name: str) -> Any:
        raise InputError(f"not a number: {name}")

    try:
        return json.loads(text, parse_float=Decimal, parse_constant=refuse)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except (ValueError, ArithmeticError) as exc:  # a number Python cannot hold
        raise InputError(f"not valid JSON: a number out of range ({type(exc).__name__})") from None
    except RecursionError:
        raise InputError("not valid JSON: nested too deeply") from None


def fixed(value: Decimal | None) -> str | None:
    """Fixed-point, 8 decimals, truncated toward zero like Binance; never an exponent."""
    if value is None:
        return None
    with localcontext(prec=60):  # quantizing a large value needs more than 28 digits
        text = format(value.quantize(QUANTUM, rounding=ROUND_DOWN), "f")
    return "0.00000000" if text == "-0.00000000" else text


def render(health: AccountHealth, down: Decimal | None, up: Decimal | None) -> dict[str, Any]:
    return {
        "margin_balance": fixed(health.margin_balance),
        "unrealized_pnl": fixed(health.unrealized_pnl),
        "maintenance_margin": fixed(health.maintenance_margin),
        "initial_margin": fixed(health.initial_margin),
        "margin_ratio": fixed(health.margin_ratio),
        "available_balance": fixed(health.available_balance),
        "distance_to_liquidation": {"down": fixed(down), "up": fixed(up)},
        "positions": [
            {
                "symbol": p.position.symbol,
                "positionSide": p.position.side.value,
                "marginAsset": p.position.margin_asset,
                "notional": fixed(p.notional),
                "unrealized_pnl": fixed(p.unrealized_pnl),
                "initial_margin": fixed(p.initial_margin),
                "maintenance_margin": fixed(p.maintenance_margin),
                "margin_ratio": fixed(p.margin_ratio),
                "liquidation_price": fixed(p.liquidation_price),
            }
            for p in health.positions
        ],
    }


def render_pool(book: MarginBook) -> dict[str, Any]:
    return {
        "asset": book.asset,
        "wallet_balance": fixed(book.wallet_balance),
        "margin_balance": fixed(book.margin_balance),
        "unrealized_pnl": fixed(book.upnl),
        "maintenance_margin": fixed(book.mm),
        "initial_margin": fixed(book.initial_margin),
        "margin_ratio": fixed(book.margin_ratio),
        "available_balance": fixed(book.available_balance),
    }


def render_assets(book: MarginBook) -> list[dict[str, Any]]:
    """A Multi-Assets pool's assets as Binance shows them: wallet, uPnL, equity, its USD value
    (at the bid rate, a debt at the ask) and available (the account's ÷ the asset's askRate)."""
    held = book.account.collateral
    if held is None:
        return []
    marks = book.account.marks
    upnl: dict[str, Decimal] = {}
    for pos in book.account.positions:
        if pos.amount:
            upnl[pos.margin_asset] = upnl.get(pos.margin_asset, ZERO) + pos.upnl(marks[pos.symbol])
    available = book.available_balance
    rows = []
    for asset in sorted(set(held.wallets) | set(upnl)):
        if asset not in held.rates:
            continue
        rate = held.rate(asset, marks)
        equity = held.wallets.get(asset, ZERO) + upnl.get(asset, ZERO)
        rows.append(
            {
                "asset": asset,
                "wallet_balance": fixed(held.wallets.get(asset, ZERO)),
                "unrealized_pnl": fixed(upnl.get(asset, ZERO)),
                "equity": fixed(equity),
                "value": fixed(asset_value(equity, rate)),
                "available_balance": fixed(None if available is None else available / rate.ask),
                "bidRate": fixed(rate.bid),
                "askRate": fixed(rate.ask),
            }
        )
    return rows


def render_all(loaded: Pools) -> dict[str, Any]:
    return render_account(worst(loaded.pools), loaded.mode, loaded.pools)


def render_account(
    top: MarginBook, mode: AccountMode, pools: Mapping[str, MarginBook]
) -> dict[str, Any]:
    """The top-level figures of `top` (the pool closest to liquidation), then every pool, every
    position (whichever pool holds it: `top`'s first) and, in Multi-Assets mode, every asset.
    `calc` and `status` (and the dashboard) say an account the same way."""
    down, up = uniform_distance(top)
    body = render(book_health(top), down, up)
    body["account_mode"] = mode.value
    body["pool"] = top.asset
    body["pools"] = [render_pool(book) for book in pools.values()]
    for book in pools.values():
        if book is not top:
            body["positions"] += render(book_health(book), None, None)["positions"]
    if top.valued is not None:
        body["assets"] = render_assets(top)
    return body


def calc(text: str) -> dict[str, Any]:
    """The whole command minus its I/O: JSON text in, the output object back."""
    return computed(lambda: load_pools(read_json(text)))


def computed(load: Callable[[], Pools]) -> dict[str, Any]:
    try:
        return render_all(load())
    except ArithmeticError as exc:  # decimal overflow on absurd (but in-range) combinations
        raise InputError(f"numbers too large to compute exactly ({type(exc).__name__})") from None


def _theirs(row: Mapping[str, Any], name: str) -> Decimal | None:
    value = row.get(name)
    try:
        return None if value in (None, "") else Decimal(str(value))
    except ArithmeticError:
        return None


def _minus(ours: str | None, theirs: Decimal | None) -> str | None:
    return None if ours is None or theirs is None else fixed(Decimal(ours) - theirs)


def beside_binance(body: dict[str, Any], account: Any, positions: Any) -> dict[str, Any]:
    """Binance's own figures from the raw bodies, and ours minus theirs. Its account totals are
    USDT's pool in single-asset mode and the USD pool in Multi-Assets mode."""
    account = account if isinstance(account, Mapping) else {}
    totals = {
        name: fixed(_theirs(account, name))
        for name in (
            "totalMarginBalance",
            "totalMaintMargin",
            "totalInitialMargin",
            "availableBalance",
        )
    }
    rows = [r for r in positions if isinstance(r, Mapping)] if isinstance(positions, list) else []
    theirs_positions = [
        {
            "symbol": r.get("symbol"),
            "positionSide": r.get("positionSide", "BOTH"),
            "liquidationPrice": fixed(_theirs(r, "liquidationPrice")),
            "maintMargin": fixed(_theirs(r, "maintMargin")),
        }
        for r in rows
        if _theirs(r, "positionAmt")
    ]
    pool = body["pool"] if body["account_mode"] != "single-asset" else "USDT"
    ours = next((p for p in body["pools"] if p["asset"] == pool), None)
    difference: dict[str, Any] = {"compared": f"the {pool} pool with the account's totals"}
    if ours is not None:
        difference["margin_balance"] = _minus(
            ours["margin_balance"], _theirs(account, "totalMarginBalance")
        )
        difference["maintenance_margin"] = _minus(
            ours["maintenance_margin"], _theirs(account, "totalMaintMargin")
        )
    by_key = {(p["symbol"], p["positionSide"]): p for p in body["positions"]}
    difference["positions"] = [
        {
            "symbol": t["symbol"],
            "positionSide": t["positionSide"],
            "liquidation_price": _minus(
                by_key.get((t["symbol"], t["positionSide"]), {}).get("liquidation_price"),
                None if t["liquidationPrice"] is None else Decimal(t["liquidationPrice"]),
            ),
            "maintenance_margin": _minus(
                by_key.get((t["symbol"], t["positionSide"]), {}).get("maintenance_margin"),
                None if t["maintMargin"] is None else Decimal(t["maintMargin"]),
            ),
        }
        for t in theirs_positions
    ]
    body["binance"] = {"totals": totals, "positions": theirs_positions}
    body["difference"] = difference
    return body


def calc_bodies(bodies: Mapping[str, str | None]) -> dict[str, Any]:
    """`calc --account A --positions P --brackets B [...]`: Binance's raw bodies in, our figures
    and Binance's own beside them out."""
    parsed: dict[str, Any] = {}
    for name, text in bodies.items():
        try:
            parsed[name] = None if text is None else read_json(text)
        except InputError as exc:
            raise InputError(f"--{name.replace('_', '-')}: {exc}") from None
    configs = symbol_configs(parsed.get("symbol_config"))
    data = from_bodies(
        parsed["account"],
        parsed["positions"],
        parsed["brackets"],
        parsed.get("asset_index"),
        parsed.get("config"),
    )
    body = computed(lambda: load_pools(data, configs))
    return beside_binance(body, parsed["account"], parsed["positions"])
