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
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from assistant.core.actions import CLEAR, STALE
from assistant.core.replay import Happened, Replayer
from assistant.errors import InputError
from assistant.service.settings import Settings, rules_from
from assistant.service.units import format_duration
from assistant.store.sqlite import SqliteStore

SAME_MS = 1_000  # an alert within this of the recorded one counts as the same
# Alerts the rules do not make (the executor's announcements, the daily summary).
NOT_RULES = {"deposit", "reduce", "isolated-margin", "summary"}
DECISION = re.compile(r"^(deposit|reduce|isolated)-(\d+)-\d+$")
KINDS = {"deposit": "deposit", "reduce": "reduce", "isolated": "isolated-margin"}
# Audit rows written before the alert columns: the metric by the key's first part, the tier
# from the text (the rules' own wording, "past 80.00%", "all clear").
LEGACY_METRICS = {"margin_ratio": "margin_ratio", "distance": "distance"}
LEGACY_METRICS |= {"isolated": "isolated_ratio", "stale": "mark_age"}
LEGACY_PAST = re.compile(r"past ([-\d.]+)%")

Tier = Decimal | str | None


@dataclass(frozen=True, slots=True)
class Recorded:
    at: int
    kind: str
    key: str
    severity: str
    text: str
    metric: str = ""
    tier: Tier = None


@dataclass
class Comparison:
    same: int = 0
    new: list[Happened] = field(default_factory=list)
    gone: list[Recorded] = field(default_factory=list)
    earlier: list[tuple[Happened, int]] = field(default_factory=list)  # (replayed, by ms)
    later: list[tuple[Happened, int]] = field(default_factory=list)

    @property
    def differs(self) -> bool:
        return bool(self.new or self.gone or self.earlier or self.later)


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


def recorded_history(store: SqliteStore) -> list[Recorded]:
    """Alerts the rules sent and money decisions made, as the audit table has them."""
    out: list[Recorded] = []
    decided: set[str] = set()
    for row in store.audit_rows():
        what, decision = str(row["what"]), str(row["decision_id"] or "")
        if what.startswith("alert:"):
            key = what[len("alert:") :]
            if key in NOT_RULES:
                continue
            out.append(_alert(int(row["at"]), key, row))
        elif decision and decision not in decided and (match := DECISION.match(decision)):
            decided.add(decision)
            kind = KINDS[match.group(1)]
            out.append(Recorded(int(match.group(2)), "action", kind, "", decision))
    return sorted(out, key=lambda r: r.at)


def _alert(at: int, key: str, row: dict[str, Any]) -> Recorded:
    """An alert's audit row: its fields from their columns, or (a row written before them)
    from its text."""
    severity, _, text = str(row["detail"]).partition(": ")
    if row.get("severity") is not None:
        severity, metric, tier = str(row["severity"]), str(row["metric"]), _tier(row["tier"])
        return Recorded(at, "alert", key, severity, text, metric, tier)
    metric = LEGACY_METRICS.get(key.partition(":")[0], "")
    found = LEGACY_PAST.search(text)
    if text.startswith("all clear"):
        tier = CLEAR
    elif metric == "mark_age":
        tier = STALE
    else:
        tier = None if found is None else Decimal(found.group(1)) / 100
    return Recorded(at, "alert", key, severity, text, metric, tier)


def _tier(text: str | None) -> Tier:
    """A tier as the audit table keeps it: a threshold (a number) or a tag."""
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return text


def _matching(item: Happened | Recorded) -> tuple[str, str, str, str, Tier]:
    """What must agree for two alerts to be the same one (tiers as numbers: 0.8 is 0.80)."""
    return (item.kind, item.key, item.severity, item.metric, item.tier)


def compare(replayed: list[Happened], recorded: list[Recorded]) -> Comparison:
    """Each replayed alert or action matched with the nearest recorded one of the same key,
    severity, metric and tier: the same (within a second), earlier, later, new, or gone."""
    result = Comparison()
    pool: dict[tuple[str, str, str, str, Tier], list[Recorded]] = defaultdict(list)
    for row in recorded:
        pool[_matching(row)].append(row)
    for item in replayed:
        candidates = pool.get(_matching(item), [])
        if not candidates:
            result.new.append(item)
            continue
        nearest = min(candidates, key=lambda r: abs(r.at - item.at))
        candidates.remove(nearest)
        shift = item.at - nearest.at
        if abs(shift) <= SAME_MS:
            result.same += 1
        elif shift < 0:
            result.earlier.append((item, -shift))
        else:
            result.later.append((item, shift))
    result.gone = sorted((r for rows in pool.values() for r in rows), key=lambda r: r.at)
    return result


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


def as_json(report: Report, settings: Settings) -> dict[str, Any]:
    r, c = report.replayer, report.comparison

    def item(h: Happened) -> dict[str, Any]:
        health = h.health
        return {
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
            "gone": [
                {"at": g.at, "time": iso(g.at), "kind": g.kind, "key": g.key, "text": g.text}
                for g in c.gone
            ],
            "earlier": [{**item(h), "by_ms": ms} for h, ms in c.earlier],
            "later": [{**item(h), "by_ms": ms} for h, ms in c.later],
        },
    }


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{value * 100:.2f}%"


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
            f"ratio {_pct(health.margin_ratio)}, distance {_pct(health.distance)}" if health else ""
        )
        what = f"{h.severity.upper()} {h.key}" if h.kind == "alert" else f"ACTION {h.key}"
        lines.append(f"  {iso(h.at)}  {what}: {h.text}  [{figures}]")
    lines.append(
        f"compared with what happened: {c.same} the same, {len(c.new)} new, {len(c.gone)} gone,"
        f" {len(c.earlier)} earlier, {len(c.later)} later"
    )
    for h in c.new:
        lines.append(f"  new      {iso(h.at)}  {h.key}: {h.text}")
    for g in c.gone:
        lines.append(f"  gone     {iso(g.at)}  {g.key}: {g.text}")
    for h, ms in c.earlier:
        lines.append(f"  earlier  {iso(h.at)}  {h.key} by {ms / 1000:.1f}s: {h.text}")
    for h, ms in c.later:
        lines.append(f"  later    {iso(h.at)}  {h.key} by {ms / 1000:.1f}s: {h.text}")
    return "\n".join(lines)


def plot(report: Report, settings: Settings) -> bytes:
    from assistant.chat.chart import Mark, history

    rules = report.replayer.rules
    samples = [
        (
            s.at / 1000,
            None if s.margin_ratio is None else float(s.margin_ratio),
            None if s.distance is None else float(s.distance),
        )
        for s in report.replayer.samples
    ]
    marks = [Mark(h.at / 1000, h.text, h.kind) for h in report.replayer.happened]
    config = settings.source.name if settings.source else "the config"
    title = f"replay of {report.store.name} with {config}"
    return history(samples, marks, rules.alerts.ratio_tiers, rules.alerts.distance_tiers, title)
