"""`/chart`: margin ratio and margin balance over time, with the alert thresholds, as a PNG.
matplotlib's object API (no pyplot, no global state), so it can draw in a worker thread."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
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
