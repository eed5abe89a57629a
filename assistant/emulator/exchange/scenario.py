"""Scenarios: the starting account, its symbols, a price path and the emulator's settings.

A scenario is a JSON object (docs/emulator.md, "Scenarios") or the name of a built-in one. Every key
but `symbols` is optional. Symbols with a real bracket table and real filters use them; others
get a generic table and filters derived from their price, so a scenario can list fifty.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from assistant.emulator.exchange.builtins import BUILTINS
from assistant.emulator.exchange.checks import check_scenario
from assistant.emulator.exchange.modes.spec import (
    AccountSpec,
    margin_asset_of,
    parse_account,
    scenario_number,
)
from assistant.errors import InputError

D = Decimal

GENERIC_BRACKETS = [  # DOGEUSDT's real 2024 table: a typical alt
    {
        "bracket": 1,
        "initialLeverage": 75,
        "notionalFloor": 0,
        "notionalCap": 10000,
        "maintMarginRatio": 0.005,
        "cum": 0,
    },
    {
        "bracket": 2,
        "initialLeverage": 50,
        "notionalFloor": 10000,
        "notionalCap": 50000,
        "maintMarginRatio": 0.007,
        "cum": 20,
    },
    {
        "bracket": 3,
        "initialLeverage": 40,
        "notionalFloor": 50000,
        "notionalCap": 750000,
        "maintMarginRatio": 0.01,
        "cum": 170,
    },
    {
        "bracket": 4,
        "initialLeverage": 25,
        "notionalFloor": 750000,
        "notionalCap": 800000,
        "maintMarginRatio": 0.02,
        "cum": 7670,
    },
    {
        "bracket": 5,
        "initialLeverage": 20,
        "notionalFloor": 800000,
        "notionalCap": 1600000,
        "maintMarginRatio": 0.025,
        "cum": 11670,
    },
    {
        "bracket": 6,
        "initialLeverage": 10,
        "notionalFloor": 1600000,
        "notionalCap": 8000000,
        "maintMarginRatio": 0.05,
        "cum": 51670,
    },
    {
        "bracket": 7,
        "initialLeverage": 5,
        "notionalFloor": 8000000,
        "notionalCap": 16000000,
        "maintMarginRatio": 0.1,
        "cum": 451670,
    },
    {
        "bracket": 8,
        "initialLeverage": 4,
        "notionalFloor": 16000000,
        "notionalCap": 20000000,
        "maintMarginRatio": 0.125,
        "cum": 851670,
    },
    {
        "bracket": 9,
        "initialLeverage": 2,
        "notionalFloor": 20000000,
        "notionalCap": 40000000,
        "maintMarginRatio": 0.25,
        "cum": 3351670,
    },
    {
        "bracket": 10,
        "initialLeverage": 1,
        "notionalFloor": 40000000,
        "notionalCap": 80000000,
        "maintMarginRatio": 0.5,
        "cum": 13351670,
    },
]


@cache
def real_symbols() -> dict[str, Any]:
    path = Path(__file__).parent / "data" / "symbols.json"
    return json.loads(path.read_text(encoding="utf-8"))["symbols"]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Settings:
    mark_interval: float = 1.0  # scenario seconds between published marks
    speed: float = 1.0  # scenario seconds per wall second
    listen_key_ttl: float = 3600.0  # wall seconds a listenKey lives without keepalive
    max_connection_age: float = 86400.0  # wall seconds before the server closes a socket
    margin_call_ratio: Decimal = D("0.8")
    taker_fee: Decimal = D("0.0005")
    funding_interval: float = 0.0  # scenario seconds; 0 = no funding
    funding_rate: Decimal = D("0.0001")
    weight_limit: int = 2400  # futures request weight per client address per minute
    spot_weight_limit: int = 6000
    ban_seconds: float = 120.0
    legacy_ws_delivers: bool = False
    ping_interval: float = 180.0  # wall seconds between server pings
    clock_offset: float = 0.0  # seconds the emulator's clock runs ahead of the host's
    book_lead: float = 1.0  # scenario seconds the book, last price and index lead the marks


@dataclass(frozen=True)
class SymbolSpec:
    symbol: str
    mark: Decimal
    brackets: tuple[dict[str, Any], ...]
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    min_notional: Decimal
    hide_brackets: bool = False  # left out of GET /fapi/v1/leverageBracket until unhidden
    margin_asset: str = "USDT"  # the pool it is margined in: its quote asset (BTCUSDC: USDC)


@dataclass(frozen=True)
class Scenario:
    symbols: dict[str, SymbolSpec]
    api_key: str = "emulator-key"
    api_secret: str = "emulator-secret"
    position_mode: str = "oneway"
    spot: dict[str, Decimal] = field(default_factory=lambda: {"USDT": D("5000")})
    account: AccountSpec = field(default_factory=lambda: AccountSpec({"USDT": D("1000")}))
    positions: tuple[dict[str, Any], ...] = ()
    path: tuple[tuple[float, dict[str, Decimal]], ...] = ()
    settings: Settings = field(default_factory=Settings)

    def marks_at(self, t: float) -> dict[str, Decimal]:
        """Marks at scenario time t: the path interpolated linearly, per symbol."""
        marks = {}
        for symbol, spec in self.symbols.items():
            points = self.tracks.get(symbol)
            marks[symbol] = spec.mark if not points else _along(points, spec.mark, t)
        return marks

    @property
    def tracks(self) -> dict[str, list[tuple[float, Decimal]]]:
        """Each symbol's own path points, in time order (computed once)."""
        cached: dict[str, list[tuple[float, Decimal]]] | None = self.__dict__.get("_tracks")
        if cached is None:
            cached = {}
            for t, prices in self.path:
                for symbol, price in prices.items():
                    cached.setdefault(symbol, []).append((t, price))
            object.__setattr__(self, "_tracks", cached)
        return cached

    @property
    def futures(self) -> dict[str, Decimal]:
        """The futures wallet per asset (cross; isolated margin sits in its positions)."""
        return self.account.futures

    @property
    def duration(self) -> float:
        return max((t for t, _ in self.path), default=0.0)


def _along(points: list[tuple[float, Decimal]], start: Decimal, t: float) -> Decimal:
    if t <= points[0][0]:
        return points[0][1] if points[0][0] <= 0 else _between((0.0, start), points[0], t)
    if t >= points[-1][0]:
        return points[-1][1]
    i = bisect_right([p[0] for p in points], t)
    return _between(points[i - 1], points[i], t)


def _between(a: tuple[float, Decimal], b: tuple[float, Decimal], t: float) -> Decimal:
    if b[0] <= a[0]:
        return b[1]
    share = D(str((t - a[0]) / (b[0] - a[0])))
    return a[1] + (b[1] - a[1]) * share


def _generic_filters(mark: Decimal) -> dict[str, str]:
    exponent = mark.adjusted() - 5
    return {
        "tickSize": str(D(1).scaleb(exponent)),
        "stepSize": "0.001",
        "minQty": "0.001",
        "minNotional": "5",
    }


def _symbol(name: str, raw: Any) -> SymbolSpec:
    if not isinstance(raw, dict) or "mark" not in raw:
        raise InputError(f"scenario symbols.{name}: needs a mark")
    mark = scenario_number(raw["mark"], f"symbols.{name}.mark")
    real = real_symbols().get(name, {})
    brackets = raw.get("brackets") or real.get("brackets") or GENERIC_BRACKETS
    filters = {**(real.get("filters") or _generic_filters(mark)), **raw.get("filters", {})}
    return SymbolSpec(
        symbol=name,
        mark=mark,
        brackets=tuple(brackets),
        tick_size=scenario_number(filters["tickSize"], f"symbols.{name}.filters.tickSize"),
        step_size=scenario_number(filters["stepSize"], f"symbols.{name}.filters.stepSize"),
        min_qty=scenario_number(filters["minQty"], f"symbols.{name}.filters.minQty"),
        min_notional=scenario_number(filters["minNotional"], f"symbols.{name}.filters.minNotional"),
        hide_brackets=raw.get("hide_brackets", False) is True,
        margin_asset=margin_asset_of(name, raw),
    )


def parse_scenario(raw: Any) -> Scenario:
    check_scenario(raw, Settings)
    symbols = {name.upper(): _symbol(name.upper(), spec) for name, spec in raw["symbols"].items()}
    path = []
    for i, point in enumerate(raw.get("path", [])):
        if not isinstance(point, dict) or "t" not in point:
            raise InputError(f"scenario path[{i}]: needs t")
        prices = {
            k.upper(): scenario_number(v, f"path[{i}].{k}") for k, v in point.items() if k != "t"
        }
        unknown = set(prices) - set(symbols)
        if unknown:
            raise InputError(f"scenario path[{i}]: unknown symbol {sorted(unknown)[0]}")
        path.append((float(point["t"]), prices))
    path.sort(key=lambda p: p[0])
    known = {f.name for f in Settings.__dataclass_fields__.values()}
    given = raw.get("settings", {})
    if set(given) - known:
        raise InputError(f"scenario settings: unknown key {sorted(set(given) - known)[0]}")
    defaults = Settings()
    # Each value is converted to its field's type (that of the default) here, at run time:
    # a static type for the mixed keyword arguments would only be their union.
    overrides: dict[str, Any] = {
        k: (
            scenario_number(v, f"settings.{k}")
            if isinstance(getattr(defaults, k), Decimal)
            else type(getattr(defaults, k))(v)
        )
        for k, v in given.items()
    }
    settings = Settings(**overrides)
    mode = raw.get("position_mode", "oneway")
    if mode not in ("oneway", "hedge"):
        raise InputError("scenario position_mode: oneway or hedge")
    for i, pos in enumerate(raw.get("positions", [])):
        if not isinstance(pos, dict) or str(pos.get("symbol", "")).upper() not in symbols:
            raise InputError(f"scenario positions[{i}]: unknown or missing symbol")
    return Scenario(
        symbols=symbols,
        api_key=str(raw.get("api_key", "emulator-key")),
        api_secret=str(raw.get("api_secret", "emulator-secret")),
        position_mode=mode,
        spot={
            k.upper(): scenario_number(v, f"spot.{k}")
            for k, v in raw.get("spot", {"USDT": "5000"}).items()
        },
        account=parse_account(raw, {name: spec.margin_asset for name, spec in symbols.items()}),
        positions=tuple(raw.get("positions", [])),
        path=tuple(path),
        settings=settings,
    )


def load_scenario(source: str | dict[str, Any] | None) -> Scenario:
    """A built-in name, a JSON file path, or an already-parsed object; None is `calm`."""
    if source is None:
        return parse_scenario(BUILTINS["calm"]())
    if isinstance(source, dict):
        return parse_scenario(source)
    if source in BUILTINS:
        return parse_scenario(BUILTINS[source]())
    try:
        raw = json.loads(Path(source).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(
            f"scenario {source}: not a built-in ({', '.join(BUILTINS)})"
            f" and not readable: {exc.strerror}"
        ) from None
    except RecursionError:
        raise InputError(f"scenario {source}: not valid JSON: nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"scenario {source}: not valid JSON: {exc.msg} at line {exc.lineno}"
        ) from None
    try:
        return parse_scenario(raw)
    except InputError as exc:  # which file, then what in it
        raise InputError(f"{source}: {exc}") from None
