"""The caps' facts, from the intents alone: what our deposits and isolated top-ups moved or may
have moved on a day, per asset, and what is still in flight (see `SqliteStore.money_facts`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal

import sqlite_utils

from assistant.core.rules.memory import DAY_MS, decided_day


@dataclass
class MoneyFacts:
    moved: dict[str, Decimal] = field(default_factory=dict)  # asset -> moved on the day
    in_flight: dict[str, Decimal] = field(default_factory=dict)  # decision id -> amount
    assets: dict[str, str] = field(default_factory=dict)  # decision id -> asset, if not USDT


def money_facts(db: sqlite_utils.Database, day: int) -> MoneyFacts:
    """Done, unknown and pending intents decided on UTC day `day` count as moved; pending ones
    are in flight whatever their day. A deposit's payload names its asset (none: USDT)."""
    facts = MoneyFacts()
    for row in db.query(
        "SELECT decision_id, payload, status FROM intents"
        " WHERE kind IN ('deposit', 'isolated-margin')"
        " AND status IN ('done', 'unknown', 'pending')"
    ):
        payload = json.loads(row["payload"])
        amount = Decimal(str(payload["amount"]))
        asset = str(payload.get("asset") or "USDT")
        decided = decided_day(row["decision_id"])
        if (decided if decided is not None else int(payload["at"]) // DAY_MS) == day:
            facts.moved[asset] = facts.moved.get(asset, Decimal(0)) + amount
        if row["status"] == "pending":
            facts.in_flight[row["decision_id"]] = amount
            if asset != "USDT":
                facts.assets[row["decision_id"]] = asset
    return facts
