"""Pictures of margin health: `/chart` (the health series), and the plots of `replay` and
`simulate`, drawn the same way: margin ratio and distance to liquidation in percent, each
threshold a labelled line (the alert tiers, the deposit and reduce triggers, liquidation),
a margin ratio past 100% (balance ≤ 0) drawn at the top with a cross, not left out, and the
time axis in UTC clock time (or scenario seconds). `replay` and `simulate` add a strip of
actions: deposits and reductions with their amounts. matplotlib's object API (no pyplot, no
global state), so it can draw in a worker thread."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from assistant.core import format as fmt
from assistant.core.margin.liquidation import distance
from assistant.core.mirror import MirrorState
from assistant.core.rules.config import Rules

TOP = 150.0  # the ratio axis stops here (%); a ratio past it, or undefined, is drawn at it
COLOURS = {"deposit": "tab:green", "isolated-margin": "tab:cyan", "reduce": "tab:purple"}
SHAPES = {"deposit": "^", "isolated-margin": "s", "reduce": "v"}


@dataclass(frozen=True, slots=True)
class Point:
    at: int  # epoch ms (or scenario ms)
    ratio: Decimal | None  # None: the margin balance is ≤ 0 (past liquidation)
    distance: Decimal | None  # None: no move liquidates
    balance: Decimal | None = None


def series(rows: Sequence[Mapping[str, Any]]) -> list[Point]:
    """The store's health rows (figures as strings) as points."""

    def num(value: Any) -> Decimal | None:
        return None if value is None else Decimal(str(value))

    return [
        Point(int(r["at"]), num(r["margin_ratio"]), num(r["distance"]), num(r["margin_balance"]))
        for r in rows
    ]


def now_point(state: MirrorState, now: int) -> Point | None:
    """The live figures, the chart's newest point (None while not mirrored)."""
    book = state.book
    if book is None or not state.ready:
        return None
    return Point(now, book.margin_ratio, distance(book).nearest, book.margin_balance)


@dataclass(frozen=True, slots=True)
class Lines:
    """The thresholds a chart draws, each (fraction, label)."""

    ratio: tuple[tuple[Decimal, str], ...] = ()
    distance: tuple[tuple[Decimal, str], ...] = ()

    @classmethod
    def of(cls, rules: Rules) -> Lines:
        a, d, r = rules.alerts, rules.deposit, rules.reduce

        def tiers(values: tuple[Decimal, ...]) -> list[tuple[Decimal, str]]:
            last = len(values) - 1
            words = ["critical" if i == last else "warning" for i in range(len(values))]
            return [(t, f"{w} {fmt.threshold(t)}") for t, w in zip(values, words, strict=True)]

        ratio, near = tiers(a.ratio_tiers), tiers(a.distance_tiers)
        for rule, name in ((d, "deposit"), (r, "reduce")):
            if not rule.enabled:
                continue
            if rule.trigger_ratio is not None:
                ratio.append((rule.trigger_ratio, f"{name} at {fmt.threshold(rule.trigger_ratio)}"))
            if rule.trigger_distance is not None:
                near.append(
                    (rule.trigger_distance, f"{name} at {fmt.threshold(rule.trigger_distance)}")
                )
        return cls(tuple(ratio), tuple(near))


@dataclass(frozen=True, slots=True)
class Mark:
    at: int  # ms, on the points' clock
    label: str  # the amount, e.g. "200.00 USDT"; an alert's text
    kind: str  # "deposit" | "reduce" | "isolated-margin" | "alert" | "liquidation"
    row: str = ""  # which strip row: "recorded", "replayed", "done" ...


def render(points: Sequence[Point], lines: Lines, title: str) -> bytes:
    """`/chart`: margin ratio, distance to liquidation and margin balance."""
    figure, axes = _figure(3, (3, 3, 2))
    top, middle, bottom = axes
    times = _times(points, True)
    _ratio(top, times, points, lines)
    _distance(middle, times, points, lines)
    balance = [float("nan") if p.balance is None else float(p.balance) for p in points]
    bottom.plot(times, balance, color="tab:blue", linewidth=1.2)
    bottom.set_ylabel("margin balance\nUSDT", fontsize=8)
    top.set_title(f"Margin health, {title}", fontsize=10)
    _time_axis(bottom, True)
    return _png(figure, axes)


def history(
    points: Sequence[Point],
    marks: Sequence[Mark],
    lines: Lines,
    title: str,
    *,
    clock: bool = True,
    rows: Sequence[str] = ("done",),
) -> bytes:
    """`replay` and `simulate`: margin ratio and distance, alerts as faint lines, and a strip
    of actions, one row per entry of `rows` (e.g. recorded and replayed), each action a
    marker by kind with its amount."""
    figure, axes = _figure(3, (3, 3, 1.4))
    top, middle, strip = axes
    times = _times(points, clock)
    _ratio(top, times, points, lines)
    _distance(middle, times, points, lines)
    top.set_title(title, fontsize=10)
    seen: set[str] = set()
    for mark in marks:
        when = _when(mark.at, clock)
        if mark.kind in ("alert", "liquidation"):
            colour, width = ("tab:orange", 0.6) if mark.kind == "alert" else ("black", 1.6)
            label = None if mark.kind in seen else mark.kind
            seen.add(mark.kind)
            for axis in axes:
                axis.axvline(when, color=colour, linewidth=width, alpha=0.6, label=label)
                label = None
            continue
        y = rows.index(mark.row) if mark.row in rows else 0
        label = None if mark.kind in seen else fmt.kind(mark.kind)
        seen.add(mark.kind)
        strip.plot(
            [when],
            [y],
            marker=SHAPES.get(mark.kind, "o"),
            color=COLOURS.get(mark.kind, "grey"),
            markersize=8,
            linestyle="none",
            label=label,
        )
        strip.annotate(
            mark.label,
            (when, y),
            (0, 7),
            textcoords="offset points",
            fontsize=6,
            rotation=45,
            ha="left",
            va="bottom",
        )
    top.legend(loc="upper left", fontsize=7)  # again: with the alerts and liquidation
    strip.set_yticks(range(len(rows)), list(rows), fontsize=8)
    strip.set_ylim(-0.6, len(rows) - 0.1)
    strip.set_ylabel("actions", fontsize=8)
    if seen:
        strip.legend(loc="lower right", fontsize=7, ncols=5)
    _time_axis(strip, clock)
    return _png(figure, axes)


# ---- the parts both share -------------------------------------------------------------------


def _figure(count: int, heights: Sequence[float]) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 7), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(count, 1, sharex=True, height_ratios=heights)
    return figure, axes


def _when(at: int, clock: bool) -> Any:
    return dt.datetime.fromtimestamp(at / 1000, dt.UTC) if clock else at / 1000


def _times(points: Sequence[Point], clock: bool) -> list[Any]:
    return [_when(p.at, clock) for p in points]


def ratio_line(points: Sequence[Point]) -> list[float]:
    """The margin ratio in percent as drawn: capped at TOP, and at TOP when undefined (the
    balance is ≤ 0: past liquidation, not a gap in the line)."""
    return [TOP if p.ratio is None else min(float(p.ratio) * 100, TOP) for p in points]


def _ratio(axis: Any, times: list[Any], points: Sequence[Point], lines: Lines) -> None:
    values = ratio_line(points)
    axis.plot(times, values, color="tab:red", linewidth=1.4, label="margin ratio")
    past = [(t, TOP) for t, p in zip(times, points, strict=True) if p.ratio is None]
    if past:
        xs, ys = zip(*past, strict=True)
        axis.plot(xs, ys, "x", color="black", label="margin balance ≤ 0")
    axis.set_ylabel("margin ratio %", fontsize=8)
    high = max([*values, *(float(v) * 100 for v, _ in lines.ratio), 100.0])
    axis.set_ylim(0, min(TOP, high * 1.08) + 2)
    _thresholds(axis, [(100.0, "liquidation 100%"), *_percent(lines.ratio)])
    axis.legend(loc="upper left", fontsize=7)


def _distance(axis: Any, times: list[Any], points: Sequence[Point], lines: Lines) -> None:
    values = [float("nan") if p.distance is None else float(p.distance) * 100 for p in points]
    axis.plot(times, values, color="tab:blue", linewidth=1.4, label="distance to liquidation")
    axis.set_ylabel("distance to\nliquidation %", fontsize=8)
    known = [v for v in values if v == v]  # not NaN
    high = max([*known, *(float(v) * 100 for v, _ in lines.distance), 1.0])
    axis.set_ylim(-0.5, high * 1.1)
    _thresholds(axis, [(0.0, "liquidation 0%"), *_percent(lines.distance)])
    axis.legend(loc="upper left", fontsize=7)


def _percent(lines: Sequence[tuple[Decimal, str]]) -> list[tuple[float, str]]:
    return [(float(value) * 100, label) for value, label in lines]


def _colour(label: str) -> str:
    for word, colour in (
        ("liquidation", "black"),
        ("critical", "tab:red"),
        ("deposit", "tab:green"),
        ("reduce", "tab:purple"),
    ):
        if label.startswith(word):
            return colour
    return "tab:orange"


def _thresholds(axis: Any, lines: Sequence[tuple[float, str]]) -> None:
    """Each threshold a horizontal line, its label at the right edge outside the plot; lines
    at the same value share one label, and labels are spread so none covers another."""
    merged: dict[float, list[str]] = {}
    for y, label in lines:
        merged.setdefault(y, []).append(label)
    low, high = axis.get_ylim()
    gap = (high - low) * 0.05
    placed = -float("inf")
    for y in sorted(merged):
        labels = merged[y]
        colour = _colour(labels[0])
        solid = labels[0].startswith("liquidation")
        axis.axhline(y, color=colour, linestyle="-" if solid else "--", linewidth=0.8)
        at = max(y, placed + gap)
        placed = at
        axis.text(
            1.005,
            at,
            ", ".join(labels),
            transform=axis.get_yaxis_transform(),
            fontsize=7,
            color=colour,
            va="center",
            ha="left",
        )


def _time_axis(axis: Any, clock: bool) -> None:
    if clock:
        from matplotlib import dates

        locator = dates.AutoDateLocator(tz=dt.UTC)  # type: ignore[no-untyped-call]
        formatter = dates.ConciseDateFormatter(locator, tz=dt.UTC)  # type: ignore[no-untyped-call]
        axis.xaxis.set_major_locator(locator)
        axis.xaxis.set_major_formatter(formatter)
        axis.set_xlabel("time (UTC)", fontsize=8)
    else:
        axis.set_xlabel("scenario time (s)", fontsize=8)


def _png(figure: Any, axes: Any) -> bytes:
    for axis in axes:
        axis.grid(alpha=0.3)
        axis.tick_params(labelsize=8)
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
