"""The store's schema, one migration per version, applied in order on open (a store from a
newer version is refused). A migration never changes one already shipped: it adds."""

from __future__ import annotations

import sqlite_utils

from assistant.store import journal, outbox, retention


def _migrate_1(db: sqlite_utils.Database) -> None:
    db.table("journal").create(
        {"id": int, "received_at": int, "kind": str, "event": str, "raw": str}, pk="id"
    )
    db.table("journal").create_index(["received_at"])
    db.table("state").create({"id": int, "saved_at": int, "state": str}, pk="id")
    db.table("health").create(
        {
            "at": int,
            "margin_ratio": str,
            "margin_balance": str,
            "maintenance_margin": str,
            "distance": str,
        },
        pk="at",
    )


def _migrate_2(db: sqlite_utils.Database) -> None:
    db.table("intents").create(
        {
            "decision_id": str,
            "kind": str,
            "payload": str,
            "created_at": int,
            "status": str,
            "outcome": str,
            "updated_at": int,
            "config_version": str,
            "health": str,
        },
        pk="decision_id",
    )
    db.table("audit").create(
        {"id": int, "at": int, "decision_id": str, "what": str, "detail": str}, pk="id"
    )
    db.table("claims").create({"tran_id": int, "decision_id": str}, pk="tran_id")
    db.table("memory").create({"id": int, "saved_at": int, "memory": str}, pk="id")


def _migrate_4(db: sqlite_utils.Database) -> None:
    """An alert's facts in columns of its audit row (NULL in rows written before them)."""
    for column in ("severity", "metric", "tier", "amount", "outcome"):
        db.table("audit").add_column(column, str)


def _migrate_6(db: sqlite_utils.Database) -> None:
    """`sent_until`: the latest moment (Binance's clock, ms) at which a request sent for the
    intent may still be carried out (NULL: none was sent). An intent left pending before it
    existed gets -1: whether and when its request went out is unknown."""
    db.table("intents").add_column("sent_until", int)
    db.execute("UPDATE intents SET sent_until = -1 WHERE status = 'pending'")


MIGRATIONS = [
    _migrate_1,
    _migrate_2,
    outbox.migrate,
    _migrate_4,
    outbox.migrate_questions,
    _migrate_6,
    retention.migrate,
    journal.migrate,
]
