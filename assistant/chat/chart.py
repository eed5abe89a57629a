"""`/chart`: margin ratio and margin balance over time, with the alert thresholds, as a PNG.
matplotlib's object API (no pyplot, no global state), so it can draw in a worker thread."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


def render(rows: Sequence[dict[str, Any]], tiers: Sequence[Decimal], title: str) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    times = [dt.datetime.fromtimestamp(r["at"] / 1000, dt.UTC) for r in rows]
    ratio = [float(r["margin_ratio"]) * 100 if r["margin_ratio"] else float("nan") for r in rows]
    balance = [float(r["margin_balance"]) for r in rows]
    figure = Figure(figsize=(8, 5), dpi=100)
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    top.plot(times, ratio, color="tab:red", linewidth=1.5, label="margin ratio")
    for tier in tiers:
        top.axhline(float(tier) * 100, color="tab:orange", linestyle="--", linewidth=0.8)
    top.axhline(100, color="black", linewidth=1, label="liquidation (100%)")
    top.set_ylabel("margin ratio %")
    top.set_title(f"Margin health, {title}")
    top.legend(loc="upper left", fontsize=8)
    top.grid(alpha=0.3)
    bottom.plot(times, balance, color="tab:blue", linewidth=1.2)
    bottom.set_ylabel("margin balance USDT")
    bottom.grid(alpha=0.3)
    figure.autofmt_xdate()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class Mark:
    at: float  # seconds (any origin, the same as the samples')
    label: str
    kind: str  # "alert" | "action" | "liquidation"


def history(
    samples: Sequence[tuple[float, float | None, float | None]],
    marks: Sequence[Mark],
    ratio_tiers: Sequence[Decimal],
    distance_tiers: Sequence[Decimal],
    title: str,
    *,
    clock: bool = True,
) -> bytes:
    """Margin ratio and distance to liquidation (both in %) over time, the alert thresholds
    dashed, alerts and actions marked. `clock`: times are epoch seconds (else seconds from 0)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    def when(t: float) -> Any:
        return dt.datetime.fromtimestamp(t, dt.UTC) if clock else t

    times = [when(t) for t, _, _ in samples]
    ratio = [float("nan") if r is None else r * 100 for _, r, _ in samples]
    distance = [float("nan") if d is None else d * 100 for _, _, d in samples]
    figure = Figure(figsize=(9, 6), dpi=100)
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, sharex=True)
    top.plot(times, ratio, color="tab:red", linewidth=1.4)
    top.axhline(100, color="black", linewidth=1)
    for tier in ratio_tiers:
        top.axhline(float(tier) * 100, color="tab:orange", linestyle="--", linewidth=0.8)
    top.set_ylabel("margin ratio %")
    top.set_title(title)
    bottom.plot(times, distance, color="tab:blue", linewidth=1.4)
    for tier in distance_tiers:
        bottom.axhline(float(tier) * 100, color="tab:orange", linestyle="--", linewidth=0.8)
    bottom.set_ylabel("distance to liquidation %")
    bottom.set_xlabel("time (UTC)" if clock else "seconds")
    colours = {"alert": "tab:orange", "action": "tab:green", "liquidation": "black"}
    seen: set[str] = set()
    for mark in marks:
        colour = colours.get(mark.kind, "grey")
        label = mark.kind if mark.kind not in seen else None
        seen.add(mark.kind)
        for axis in (top, bottom):
            axis.axvline(when(mark.at), color=colour, linewidth=0.8, alpha=0.7, label=label)
            label = None
    if marks:
        top.legend(loc="upper left", fontsize=8)
    for axis in (top, bottom):
        axis.grid(alpha=0.3)
    if clock:
        figure.autofmt_xdate()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
