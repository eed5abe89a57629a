"""What actually happened, as the store's audit table recorded it, and how a replay's alerts
and actions compare with it: alerts paired by key, severity, metric and tier; actions by
kind, symbol, amount and time (the closest pairs first, never by order)."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from assistant.core.actions import CLEAR, STALE
from assistant.core.replay import Happened
from assistant.core.values import Outcome
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
    size: Decimal | None = None  # an action's: USDT, or an order's quantity (None: unknown)
    symbol: str = ""  # an order's or a top-up's symbol; a transfer's asset
    outcome: str = ""  # an action's last outcome in the audit table (done, dry-run, ...)


@dataclass
class Comparison:
    same: int = 0
    new: list[Happened] = field(default_factory=list)
    gone: list[Recorded] = field(default_factory=list)
    earlier: list[tuple[Happened, int]] = field(default_factory=list)  # (replayed, by ms)
    later: list[tuple[Happened, int]] = field(default_factory=list)
    # An action of the same kind near the recorded one, for another amount.
    resized: list[tuple[Happened, Recorded]] = field(default_factory=list)

    @property
    def differs(self) -> bool:
        return bool(self.new or self.gone or self.earlier or self.later or self.resized)


OUTCOMES = {str(o) for o in Outcome}


def recorded_history(store: SqliteStore) -> list[Recorded]:
    """Alerts the rules sent and money decisions made, as the audit table has them; each
    decision with its amount (from its intent, or the executor's notice of it) and how it
    ended."""
    out: list[Recorded] = []
    decided: dict[str, dict[str, Any]] = {}
    for row in store.audit_rows():
        what, decision = str(row["what"]), str(row["decision_id"] or "")
        if what.startswith("alert:"):
            key = what[len("alert:") :]
            if decision and row.get("amount") is not None:
                decided.setdefault(decision, {}).setdefault("amount", row["amount"])
            if key in NOT_RULES:
                continue
            out.append(_alert(int(row["at"]), key, row))
        elif decision and DECISION.match(decision):
            facts = decided.setdefault(decision, {})
            if what in OUTCOMES:
                facts["outcome"] = what
    for decision, facts in decided.items():
        match = DECISION.match(decision)
        if match is None:
            continue
        size, symbol = _size(store, decision, facts)
        kind = KINDS[match.group(1)]
        at = int(match.group(2))
        outcome = str(facts.get("outcome", ""))
        out.append(Recorded(at, "action", kind, "", decision, "", None, size, symbol, outcome))
    return sorted(out, key=lambda r: r.at)


def _size(store: SqliteStore, decision: str, facts: dict[str, Any]) -> tuple[Decimal | None, str]:
    """A recorded action's amount and symbol: from its intent row (what was sent), else from
    the executor's notice (a dry-run's or a proposal's)."""
    intent = store.intent(decision)
    if intent is not None:
        payload = json.loads(intent["payload"])
        raw = payload.get("quantity", payload.get("amount"))
        where = payload.get("symbol") or payload.get("asset") or "USDT"
        return (None if raw is None else Decimal(str(raw))), str(where)
    amount = facts.get("amount")
    return (None if amount is None else Decimal(str(amount))), ""


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


def _resized(item: Happened, row: Recorded) -> bool:
    """Both amounts known, and different."""
    return item.size is not None and row.size is not None and item.size != row.size


def _pairable(item: Happened, row: Recorded) -> bool:
    """An action pairs with one of its kind (and symbol, where both say); an alert with one
    of its key, severity, metric and tier."""
    if _matching(item) != _matching(row):
        return False
    return not (item.symbol and row.symbol and item.symbol != row.symbol)


def compare(replayed: list[Happened], recorded: list[Recorded]) -> Comparison:
    """Replayed alerts and actions paired with recorded ones: an alert with one of the same
    key, severity, metric and tier; an action with one of its kind and symbol, by amount and
    time, not by order: the closest pairs first (the same amount before another, then the
    nearest in time), each side used once. A pair is the same (within a second, the same
    amount), earlier, later or resized; what is left is new or gone."""
    result = Comparison()
    groups: dict[tuple[str, str, str, str, Tier], list[int]] = defaultdict(list)
    for j, row in enumerate(recorded):
        groups[_matching(row)].append(j)
    pairs = [
        ((_resized(item, recorded[j]), abs(item.at - recorded[j].at), i, j), item, recorded[j])
        for i, item in enumerate(replayed)
        for j in groups.get(_matching(item), ())
        if _pairable(item, recorded[j])
    ]
    pairs.sort(key=lambda pair: pair[0])
    used_item: set[int] = set()
    used_row: set[int] = set()
    for (resized, _, i, j), item, row in pairs:
        if i in used_item or j in used_row:
            continue
        used_item.add(i)
        used_row.add(j)
        shift = item.at - row.at
        if resized:
            result.resized.append((item, row))
        elif abs(shift) <= SAME_MS:
            result.same += 1
        elif shift < 0:
            result.earlier.append((item, -shift))
        else:
            result.later.append((item, shift))
    result.new = [item for i, item in enumerate(replayed) if i not in used_item]
    result.gone = [row for j, row in enumerate(recorded) if j not in used_row]
    result.earlier.sort(key=lambda pair: pair[0].at)
    result.later.sort(key=lambda pair: pair[0].at)
    result.resized.sort(key=lambda pair: pair[0].at)
    return result
