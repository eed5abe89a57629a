"""The health series: one row of margin ratio, balance, maintenance margin and distance per
`health_every` seconds, for `/chart`, `status` and the dashboard; pruned after its own, longer
keep. A part of the store (mixed into `SqliteStore`): it needs only the database."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlite_utils


class HealthSeries:
    db: sqlite_utils.Database

    def record_health(
        self,
        at: int,
        ratio: Decimal | None,
        balance: Decimal,
        mm: Decimal,
        distance: Decimal | None,
    ) -> None:
        self.db.table("health").upsert(
            {
                "at": at,
                "margin_ratio": None if ratio is None else str(ratio),
                "margin_balance": str(balance),
                "maintenance_margin": str(mm),
                "distance": None if distance is None else str(distance),
            },
            pk="at",
        )

    def prune_health(self, keep_after: int) -> int:
        with self.db.conn:
            cursor = self.db.execute("DELETE FROM health WHERE at < ?", [keep_after])
        return cursor.rowcount

    def health_since(self, since: int, until: int, points: int = 1500) -> list[dict[str, Any]]:
        """The health series between two times, oldest first, at most about `points` rows:
        the span the rows actually cover is cut into equal slices and the last row of each
        is kept, so a short history is drawn whole however long the period asked, and the
        newest row is always in (figures as strings)."""
        first, last = self.db.execute(
            "SELECT MIN(at), MAX(at) FROM health WHERE at >= ? AND at <= ?", [since, until]
        ).fetchone()
        if first is None:
            return []
        step = max(1, (last - first) // points)
        return list(
            self.db.query(
                "SELECT * FROM health WHERE at IN (SELECT MAX(at) FROM health"
                " WHERE at >= ? AND at <= ? GROUP BY (at - ?) / ?) ORDER BY at",
                [first, last, first, step],
            )
        )
