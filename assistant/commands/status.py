"""`assistant status`: the mirrored account's health, read from the store (the service need
not be running; old data is flagged as stale). The dashboard's `GET /api/status` and its
health events are `report` of the running service's own state: the same JSON."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from assistant.commands.calc import fixed, render_account
from assistant.core import format as fmt
from assistant.core.mirror import MirrorState
from assistant.core.rules.control import effective
from assistant.core.rules.memory import Memory
from assistant.errors import InputError
from assistant.service.clock import SystemClock
from assistant.service.settings import Settings, rules_from
from assistant.store.sqlite import SqliteStore


def load_mirror(settings: Settings) -> tuple[MirrorState, Memory | None, int]:
    """The mirrored account, the rules' memory (the chat's overrides) and when they were
    saved (the running service saves every second)."""
    path = settings.store_path
    if not path.exists():
        raise InputError(f"{path}: no store yet; start the service with `assistant run` first")
    store = SqliteStore(path)
    try:
        loaded = store.load_state()
        memory = store.load_memory(Memory)
    finally:
        store.db.close()
    if loaded is None or (loaded[0].snapshot_at == 0 and loaded[0].updated_at == 0):
        raise InputError(
            f"{path}: the store holds no account yet (the service has not mirrored one: if it"
            " is running, wait; if it stopped, its log says why)"
        )
    return loaded[0], memory, loaded[1]


def in_force(settings: Settings, memory: Memory | None) -> dict[str, Any]:
    """The mode and the kill switch as the service applies them: the chat's `/mode` and
    `/pause` (kept in the store) over the config's, while the config file is the one they
    were set under; a pause from chat holds whatever the file says."""
    rules = rules_from(settings)
    if memory is None:
        return {"mode": rules.mode.value, "mode_source": "config", "paused": rules.paused}
    applied = effective(rules, memory)
    chat = memory.overrides_version == rules.version and bool(memory.mode)
    return {
        "mode": applied.mode.value,
        "mode_source": "chat" if chat else "config",
        "paused": applied.paused,
    }


def status(settings: Settings, now_ms: int | None = None) -> dict[str, Any]:
    state, memory, saved_at = load_mirror(settings)
    return report(state, memory, settings, now_ms, saved_at)


def reporter(settings: Settings) -> Callable[[MirrorState, Memory, int], dict[str, Any]]:
    """`report` for the running service's dashboard: its live state and memory, its clock."""
    return lambda state, memory, now_ms: report(state, memory, settings, now_ms)


def report(
    state: MirrorState,
    memory: Memory | None,
    settings: Settings,
    now_ms: int | None = None,
    saved_at: int | None = None,
) -> dict[str, Any]:
    """The status of a mirrored state (InputError while it is incomplete); `saved_at` when it
    was read from the store (None: the running service's own)."""
    now_ms = SystemClock().now_ms() if now_ms is None else now_ms
    book = state.book
    if book is None:
        raise InputError(
            "the mirrored account is incomplete (marks or brackets missing);"
            " is the service running?"
        )
    body = render_account(book, state.account_mode, state.pools)
    # Figures that rest on an assumption rather than on Binance's data, said out loud.
    body["assumptions"] = list(state.assumptions)
    held = [state.mark_at.get(symbol, 0) for symbol in state.held_symbols]
    # The stalest held mark decides. With nothing held there is no price to be stale: the
    # service's own liveness does (its last save, every second; its user stream up).
    alive = now_ms if saved_at is None else saved_at
    oldest = min(held) if held else max(state.updated_at, alive)
    limit = settings.mirror.staleness_limit * 1000
    body["wallet_balance"] = fixed(book.wallet_balance)  # the top-level pool's, like the rest
    body["updated_at"] = state.updated_at
    body["stale"] = now_ms - oldest > limit or (not held and not state.connected.get("user"))
    newest = state.updated_at if held else max(state.updated_at, alive)
    body["age_seconds"] = round(max(0, now_ms - newest) / 1000, 1)
    body.update(in_force(settings, memory))
    # Held symbols Binance sent no brackets for, computed at an assumed maintenance rate.
    body["assumed_brackets"] = {s: str(rate) for s, rate in sorted(state.assumed.items())}
    legs = [
        pos
        for pool in [book, *(p for p in state.pools.values() if p is not book)]
        for pos in pool.account.positions
    ]
    marks = {s: m for pool in state.pools.values() for s, m in pool.account.marks.items()}
    for row, pos in zip(body["positions"], legs, strict=True):
        row.update(
            positionAmt=str(pos.amount),
            entryPrice=str(pos.entry_price),
            markPrice=fixed(marks[pos.symbol]),
            leverage=pos.leverage,
            marginType=pos.margin_type.value,
            isolatedWallet=fixed(pos.isolated_wallet),
        )
    exchange = state.exchange
    body["exchange"] = (
        None
        if exchange is None
        else {
            "totalMaintMargin": fixed(exchange.total_maint_margin),
            "totalMarginBalance": fixed(exchange.total_margin_balance),
            "updated_at": state.snapshot_at,
            "positions": [
                {
                    "symbol": sym,
                    "positionSide": side.value,
                    "liquidationPrice": fixed(price),
                    "maintMargin": fixed(exchange.maint_margins.get((sym, side))),
                }
                for (sym, side), price in exchange.liquidation_prices.items()
            ],
        }
    )
    return body


def text(body: dict[str, Any]) -> str:
    """A short human summary of `status`: percent, money and prices as in every other channel
    (`--json` keeps the exact strings)."""

    def num(value: Any) -> Decimal | None:
        return None if value is None else Decimal(str(value))

    ratio = num(body["margin_ratio"])
    unit = str(body.get("pool", "USDT"))
    source = "set from chat" if body["mode_source"] == "chat" else "from the config"
    lines = [
        f"mode {body['mode']} ({source})"
        + ("   PAUSED: no money moves" if body["paused"] else "")
        + f"   data {body['age_seconds']:g}s old"
        + ("   DATA IS STALE" if body["stale"] else ""),
        f"margin ratio {fmt.ratio(ratio)}"
        f"   margin balance {fmt.coins(num(body['margin_balance']), unit)}"
        f"   maintenance margin {fmt.coins(num(body['maintenance_margin']), unit)}",
    ]
    distance = body["distance_to_liquidation"]
    down = fmt.distance(num(distance["down"]), "never")
    up = fmt.distance(num(distance["up"]), "never")
    lines.append(f"distance to liquidation, every mark moving together: down {down}, up {up}")
    for p in body["positions"]:
        liquidation = num(p["liquidation_price"])
        lines.append(
            f"  {p['symbol']:<14} {p['positionSide']:<5} {p['positionAmt']:>14}"
            f" @ {fmt.price(num(p['entryPrice'])):<12} mark {fmt.price(num(p['markPrice'])):<14}"
            f" liquidation {'none' if liquidation is None else fmt.price(liquidation)}"
        )
    pools = body.get("pools", [])
    if len(pools) > 1 or body.get("account_mode", "single-asset") != "single-asset":
        lines.append(f"account {body['account_mode']}; figures above: the {body['pool']} pool")
        for pool in pools:
            asset = str(pool["asset"])
            lines.append(
                f"  pool {asset:<6} margin ratio {fmt.ratio(num(pool['margin_ratio']))}"
                f"   margin balance {fmt.coins(num(pool['margin_balance']), asset)}"
                f"   maintenance margin {fmt.coins(num(pool['maintenance_margin']), asset)}"
            )
    for said in body.get("assumptions", []):
        lines.append(f"  ASSUMED: {said}")
    for symbol, rate in body.get("assumed_brackets", {}).items():
        lines.append(
            f"  ASSUMED maintenance rate {fmt.percent(Decimal(rate))} for {symbol}:"
            " no brackets from Binance"
        )
    return "\n".join(lines)
