"""`assistant replay`: what these rules would have done on the recorded history, and how that
differs from what actually happened.

The journal is fed through the same reducer and rules (`core.replay`) on the recorded clock;
no exchange, no Telegram. What actually happened is read from the store's audit table: every
alert sent and every money decision, under whatever config was in force then.

The store keeps `[store] retention` of journal and audit rows. A window that starts before the
oldest row kept is replayed from that row, with one warning line; one that ends before it has
nothing to replay, an error (exit 2).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from assistant.chat.chart import Lines, Mark, Point, history
from assistant.commands.recorded import (
    NOT_RULES,
    Comparison,
    Recorded,
    compare,
    recorded_history,
)
from assistant.core import format as fmt
from assistant.core.replay import Happened, Replayer
from assistant.errors import InputError
from assistant.service.settings import Settings, rules_from
from assistant.service.units import format_duration
from assistant.store.sqlite import SqliteStore

__all__ = ["NOT_RULES", "Report", "as_json", "as_text", "compare", "plot", "recorded_history"]


@dataclass
class Report:
    replayer: Replayer
    recorded: list[Recorded]
    comparison: Comparison
    window: tuple[int, int]
    store: Path
    notes: list[str] = field(default_factory=list)  # warnings, one line each


def parse_time(text: str, where: str) -> int:
    """Milliseconds from an ISO time ("2026-11-24T08:00", UTC unless it says) or epoch ms."""
    if text.isdigit():
        return int(text)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"{where}: expected a time like 2026-11-24T08:00 (UTC)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def iso(at: int) -> str:
    return dt.datetime.fromtimestamp(at / 1000, dt.UTC).isoformat(timespec="milliseconds")


def replay(
    settings: Settings, store_path: Path, since: int | None = None, until: int | None = None
) -> Report:
    if not store_path.exists():
        raise InputError(f"{store_path}: no store (nothing was recorded there)")
    store = SqliteStore(store_path)
    try:
        if store.journal_count() == 0:
            raise InputError(f"{store_path}: the journal is empty; nothing to replay")
        kept = store.journal_start() or 0
        notes = _before_kept(settings, store_path, kept, since, until)
        replayer = Replayer(rules_from(settings), store.settled_decisions())
        for at, event in store.events():
            if until is not None and at > until:
                break
            replayer.feed(at, event)
        recorded = recorded_history(store)
    finally:
        store.db.close()
    start = max(since, kept) if since is not None else kept
    end = until if until is not None else replayer.last_at
    inside = [h for h in replayer.happened if start <= h.at <= end]
    recorded = [r for r in recorded if start <= r.at <= end]
    replayer.happened = inside
    replayer.samples = [s for s in replayer.samples if start <= s.at <= end]
    comparison = compare(inside, list(recorded))
    return Report(replayer, recorded, comparison, (start, end), store_path, notes)


def _before_kept(
    settings: Settings, store_path: Path, kept: int, since: int | None, until: int | None
) -> list[str]:
    """A window reaching back past the oldest journal row (older ones were pruned, or never
    recorded): all of it, an error; its start, a warning, and the report starts there."""
    oldest = (
        f"the oldest event kept, {iso(kept)} ([store] retention ="
        f" {format_duration(settings.store.retention)}: older ones are pruned)"
    )
    if until is not None and until < kept:
        raise InputError(f"{store_path}: nothing to replay: --to {iso(until)} is before {oldest}")
    if since is not None and since < kept:
        return [f"--from {iso(since)} is before {oldest}; the report starts there"]
    return []


def _figure(value: Any) -> str | None:
    return None if value is None else str(value)


def _size_text(kind: str, size: Decimal | None, symbol: str) -> str:
    if size is None:
        return "amount unknown"
    if kind == "reduce":
        return f"{fmt.quantity(size)} {symbol}".strip()
    if kind == "deposit":
        return fmt.coins(size, symbol or "USDT")
    return fmt.usdt(size) + (f" to {symbol}" if symbol else "")


def _recorded_text(g: Recorded) -> str:
    if g.kind != "action":
        return g.text
    how = f", recorded: {fmt.outcome(g.outcome)}" if g.outcome else ""
    return f"{_size_text(g.key, g.size, g.symbol)} ({g.text}{how})"


def as_json(report: Report, settings: Settings) -> dict[str, Any]:
    r, c = report.replayer, report.comparison

    def item(h: Happened) -> dict[str, Any]:
        health = h.health
        body = {
            "at": h.at,
            "time": iso(h.at),
            "kind": h.kind,
            "key": h.key,
            "severity": h.severity,
            "text": h.text,
            "decision_id": h.decision_id,
            "margin_ratio": _figure(health.margin_ratio if health else None),
            "distance": _figure(health.distance if health else None),
        }
        if h.kind == "action":
            body.update(size=_figure(h.size), symbol=h.symbol, would=h.would)
        return body

    def gone(g: Recorded) -> dict[str, Any]:
        body = {"at": g.at, "time": iso(g.at), "kind": g.kind, "key": g.key, "text": g.text}
        if g.kind == "action":
            body.update(size=_figure(g.size), symbol=g.symbol, outcome=g.outcome)
        return body

    return {
        "config": str(settings.source) if settings.source else None,
        "config_version": settings.version,
        "store": str(report.store),
        "events": r.events,
        "from": iso(report.window[0]),
        "notes": report.notes,
        "to": iso(report.window[1]),
        "happened": [item(h) for h in r.happened],
        "compared": {
            "same": c.same,
            "new": [item(h) for h in c.new],
            "gone": [gone(g) for g in c.gone],
            "earlier": [{**item(h), "by_ms": ms} for h, ms in c.earlier],
            "later": [{**item(h), "by_ms": ms} for h, ms in c.later],
            "resized": [{**item(h), "recorded": gone(g)} for h, g in c.resized],
        },
    }


def as_text(report: Report) -> str:
    r, c = report.replayer, report.comparison
    lines = [
        f"replayed {r.events} events, {iso(report.window[0])} to {iso(report.window[1])}",
        f"{sum(h.kind == 'alert' for h in r.happened)} alerts and"
        f" {sum(h.kind == 'action' for h in r.happened)} actions with these rules:",
    ]
    for h in r.happened:
        health = h.health
        figures = (
            f"margin ratio {fmt.ratio(health.margin_ratio)},"
            f" distance to liquidation {fmt.distance(health.distance)}"
            if health
            else ""
        )
        if h.kind == "alert":
            what = f"{h.severity.upper()} {h.key}"
        else:
            what = f"ACTION {h.key}, would be {h.would.upper()}"
        lines.append(f"  {iso(h.at)}  {what}: {h.text}  [{figures}]")
    lines.append(
        f"compared with what happened: {c.same} the same, {len(c.new)} new, {len(c.gone)} gone,"
        f" {len(c.earlier)} earlier, {len(c.later)} later, {len(c.resized)} resized"
        " (actions are paired by kind, amount and time; alerts by key, severity and tier)"
    )
    for h in c.new:
        lines.append(f"  new      {iso(h.at)}  {h.key}: {h.text}")
    for g in c.gone:
        lines.append(f"  gone     {iso(g.at)}  {g.key}: {_recorded_text(g)}")
    for h, ms in c.earlier:
        lines.append(f"  earlier  {iso(h.at)}  {h.key} by {ms / 1000:.1f}s: {h.text}")
    for h, ms in c.later:
        lines.append(f"  later    {iso(h.at)}  {h.key} by {ms / 1000:.1f}s: {h.text}")
    for h, g in c.resized:
        lines.append(
            f"  resized  {iso(h.at)}  {h.key}: {_size_text(h.key, h.size, h.symbol)}"
            f" where {iso(g.at)} had {_recorded_text(g)}"
        )
    return "\n".join(lines)


def plot(report: Report, settings: Settings) -> bytes:
    """The recorded account's health (the journal's: replay moves nothing), the actions that
    were recorded and those these rules would have taken, side by side."""
    r = report.replayer
    points = [Point(s.at, s.margin_ratio, s.distance) for s in r.samples]
    marks = [
        Mark(h.at, h.text, "liquidation" if h.key == "liquidation" else "alert")
        for h in r.happened
        if h.kind == "alert"
    ]
    marks += [
        Mark(h.at, f"{_size_text(h.key, h.size, h.symbol)} ({h.would})", h.key, "replayed")
        for h in r.happened
        if h.kind == "action"
    ]
    marks += [
        Mark(g.at, _size_text(g.key, g.size, g.symbol), g.key, "recorded")
        for g in report.recorded
        if g.kind == "action"
    ]
    rows = ("replayed", "recorded")
    return history(points, marks, Lines.of(r.rules), plot_title(report, settings), rows=rows)


def plot_title(report: Report, settings: Settings) -> str:
    """What the plot shows: the account as recorded (a replay moves nothing), and the
    actions recorded beside those these rules would have taken."""
    config = settings.source.name if settings.source else "the config"
    return (
        f"{report.store.name}: the recorded account's margin health; actions recorded vs"
        f" replayed with {config} (alerts and lines: {config}'s)"
    )
