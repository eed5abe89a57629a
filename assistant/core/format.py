"""How the assistant writes numbers and names for people, in one place for every channel:
Telegram, the console, the log, `status`, `demo`, `simulate` and `replay` (JSON outputs keep
their exact strings; this is for text a person reads).

- money: two decimals with thousands separators, `1,234.56`; `usdt()` adds the unit;
- prices: to the symbol's tick size when it is known (`31,967.3` with a tick of 0.1), else to
  a precision that fits their size; quantities to the step size likewise;
- ratios and distances: percent, two decimals (`85.12%`); a margin ratio is undefined once the
  margin balance is ≤ 0, which is past liquidation, and says so;
- thresholds from the config: percent as written (`80%`, `6.5%`), the same for every tier;
- moves: signed percent (`-10.00%`).

The vocabulary: one name for each figure, action and outcome (`METRICS`, `KINDS`,
`OUTCOMES`), and who asked for something (`CONSOLE`, `asked`).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal

from assistant.core.model import STABLE as POOL_STABLE

NONE = "n/a"
RATIO_UNDEFINED = "past 100% (margin balance ≤ 0)"
CONSOLE = "the console"  # who asked, when it was typed in the terminal
STABLE = POOL_STABLE | {"USD"}  # written like money: two decimals

METRICS = {
    "margin_ratio": "margin ratio",
    "distance": "distance to liquidation",
    "isolated_ratio": "isolated margin ratio",
    "mark_age": "mark price",
    "health": "margin health",
    "assumed_mmr": "assumed maintenance rate",
}
KINDS = {"deposit": "deposit", "reduce": "reduce-only order", "isolated-margin": "isolated top-up"}
OUTCOMES = {
    "done": "done",
    "dry-run": "dry-run: nothing moved",
    "awaiting-confirmation": "awaiting confirmation",
    "cancelled": "cancelled",
    "expired": "expired",
    "failed": "failed",
    "unknown": "outcome unknown",
    "abandoned": "abandoned: not sent",
    "replayed": "replayed",
}


EVENTS = {
    "MarkPriceUpdated": "mark price",
    "AccountSnapshotted": "account snapshot",
    "BracketsLoaded": "leverage brackets",
    "FiltersLoaded": "symbol filters",
    "BalanceAndPositionUpdated": "account update",
    "OrderUpdated": "order update",
    "LeverageChanged": "leverage change",
    "MarginCallReceived": "margin call",
    "ListenKeyExpired": "listenKey expiry",
    "StreamConnected": "stream connected",
    "StreamDisconnected": "stream dropped",
    "DataWentStale": "stale data",
    "DriftDetected": "drift",
    "ActionSettled": "action outcome",
    "ModeSet": "mode change from chat",
    "PauseSet": "pause or resume from chat",
    "MuteSet": "mute from chat",
    "ManualDeposit": "deposit asked in chat",
    "ManualReduce": "reduce-only order asked in chat",
    "CapsRestored": "caps restored at start",
}


def event(value: object) -> str:
    """What an event is, in words (for the log): `mark price`, `account update`."""
    name = type(value).__name__
    return EVENTS.get(name, name)


def _fixed(value: Decimal, places: int, group: bool = True) -> str:
    q = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    if q.is_zero():
        q = abs(q)  # never "-0.00"
    return f"{q:,.{places}f}" if group else f"{q:.{places}f}"


def _places(step: Decimal) -> int:
    """Decimals a tick or step size has (0.10 → 1, 1 → 0, 0.001 → 3)."""
    exponent = step.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 2


def money(value: Decimal | None) -> str:
    """An amount of USDT, without its unit: `1,234.56`."""
    return NONE if value is None else _fixed(value, 2)


def usdt(value: Decimal | None) -> str:
    return f"{money(value)} USDT"


def coins(value: Decimal | None, asset: str) -> str:
    """An amount of an asset: a stablecoin like USDT (`1,234.56 USDC`), any other exactly
    (`0.015 BTC`)."""
    if asset in STABLE:
        return f"{money(value)} {asset}"
    return f"{NONE if value is None else exact(value)} {asset}"


def limit(value: Decimal) -> str:
    """A configured amount of USDT (a cap): like `usdt`, but never rounded to a cent it does
    not have (`0.001 USDT`)."""
    if value == value.quantize(Decimal("0.01")):
        return usdt(value)
    return f"{exact(value)} USDT"


def price(value: Decimal | None, tick: Decimal | None = None) -> str:
    """A price to the symbol's tick size; without one, to a precision that fits its size
    (at least 2 decimals, more below 100)."""
    if value is None:
        return NONE
    if tick is not None and tick > 0:
        return _fixed(value, _places(tick))
    digits = len(str(int(abs(value)))) if abs(value) >= 1 else 0
    return _fixed(value, max(2, 6 - digits))


def quantity(value: Decimal, step: Decimal | None = None) -> str:
    """A position or order size: to the step size, else exactly (no exponent)."""
    if step is not None and step > 0:
        return _fixed(value, _places(step))
    return exact(value)


def exact(value: Decimal) -> str:
    """A decimal as written, without an exponent or trailing zeros: `0`, `1000.001`."""
    text = f"{value.normalize():f}"
    return "0" if text in ("-0", "0") else text


def percent(fraction: Decimal | None, places: int = 2) -> str:
    """A fraction as percent: 0.8512 → `85.12%`."""
    return NONE if fraction is None else f"{_fixed(fraction * 100, places)}%"


def threshold(fraction: Decimal | None) -> str:
    """A configured tier or target as percent, as written: 0.80 → `80%`, 0.065 → `6.5%`."""
    return NONE if fraction is None else f"{exact(fraction * 100)}%"


def ratio(value: Decimal | None) -> str:
    """A margin ratio (maintenance margin / margin balance); None: the balance is ≤ 0."""
    return RATIO_UNDEFINED if value is None else percent(value)


def distance(value: Decimal | None, none: str = "none") -> str:
    """A distance to liquidation, as percent of price; `none` when no move liquidates."""
    return none if value is None else percent(value)


def move(fraction: Decimal) -> str:
    """A signed move of price: `-10.00%`, `+2.50%`."""
    sign = "+" if fraction > 0 else ("-" if fraction < 0 else "")
    return f"{sign}{percent(abs(fraction))}"


def age(ms: int) -> str:
    """How old something is: `0.4 s`, `20 s`, `5 min`, `3 h`."""
    seconds = max(0, ms) / 1000
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"


def when(at_ms: int) -> str:
    """A moment, in UTC: `2026-11-24 08:00:00 UTC`."""
    return dt.datetime.fromtimestamp(at_ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def metric(name: str) -> str:
    return METRICS.get(name, name.replace("_", " "))


def kind(name: str) -> str:
    return KINDS.get(name, name)


def outcome(name: str) -> str:
    return OUTCOMES.get(name, name)


def asked(by: str) -> str:
    """Who asked for a chat action, as a clause: `asked in the console`, `asked by alice in
    chat 4242`."""
    return "asked in the console" if by == CONSOLE else f"asked by {by}"


def trigger(
    ratio_now: Decimal | None,
    distance_now: Decimal | None,
    trigger_ratio: Decimal | None,
    trigger_distance: Decimal | None,
) -> str:
    """Which trigger of a money rule fired, with the figure that fired it:
    `distance to liquidation 5.43% ≤ 6%`, `margin ratio 86.10% ≥ 85%`, or both."""
    fired = []
    if trigger_ratio is not None and (ratio_now is None or ratio_now >= trigger_ratio):
        if ratio_now is None:
            fired.append(f"margin ratio {RATIO_UNDEFINED}")
        else:
            fired.append(f"margin ratio {percent(ratio_now)} ≥ {threshold(trigger_ratio)}")
    if (
        trigger_distance is not None
        and distance_now is not None
        and distance_now <= trigger_distance
    ):
        fired.append(
            f"distance to liquidation {percent(distance_now)} ≤ {threshold(trigger_distance)}"
        )
    return " and ".join(fired) or "no trigger"


def targets(target_ratio: Decimal, target_distance: Decimal | None) -> str:
    """What a money rule aims for: `margin ratio 60% and distance to liquidation 5%`."""
    text = f"margin ratio {threshold(target_ratio)}"
    if target_distance is not None:
        text += f" and distance to liquidation {threshold(target_distance)}"
    return text
