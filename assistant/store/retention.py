"""Retention: journal, audit and outbox rows older than `[store] retention` are deleted on the
service's save tick, a bounded batch at a time, so a prune never holds the one loop for long.

- The journal is deleted as a prefix, in id order (arrival order, replay's order), up to the
  first row received at or after the cutoff: what is kept is a contiguous tail a replay can
  run. The rowid walk is the time index (the journal's own `received_at` index cost about a
  quarter of a mark row and is dropped). Kept from the pruned prefix: the newest row of each
  kind in `CONTEXT` (the filters, the brackets, the chat's mode, pause and mute), which set
  state until replaced and are journaled rarely (the filters only at start-up): a replay of
  the tail starts from them. A future change-only kind (an asset's index price, see
  `store/codec.py`) would be kept the same way, its newest row per asset.
- Audit rows by their `at`, outbox rows by their `created_at` once sent or closed (`sent_at`
  set, through its index): a message still waiting is never deleted.
- Never deleted: intents and claims (the caps and exactly-once rest on them), the state and
  the memory (one row each), the health series (its own `health_keep`).
"""

from __future__ import annotations

import sqlite3

import sqlite_utils

from assistant.core import events

BATCH = 5_000  # rows per table and prune: a few milliseconds, whatever the backlog
CONTEXT = tuple(
    cls.__name__
    for cls in (
        events.FiltersLoaded,
        events.BracketsLoaded,
        events.ModeSet,
        events.PauseSet,
        events.MuteSet,
    )
)
_IN_CONTEXT = ", ".join(f"'{kind}'" for kind in CONTEXT)


def migrate(db: sqlite_utils.Database) -> None:
    """The journal's `received_at` index goes (the prune walks the rowid); the audit table
    gains one on `at` for the prune."""
    db.execute("DROP INDEX IF EXISTS idx_journal_received_at")
    db.table("audit").create_index(["at"], if_not_exists=True)


def prune(conn: sqlite3.Connection, before: int, limit: int = BATCH) -> int:
    """Delete up to `limit` rows of each table older than `before` (epoch ms), in one
    transaction; return how many rows went."""
    limit = max(limit, len(CONTEXT) + 1)  # past the context rows kept at the journal's head
    with conn:
        return (
            _journal(conn, before, limit)
            + _audit(conn, before, limit)
            + _outbox(conn, before, limit)
        )


def _journal(conn: sqlite3.Connection, before: int, limit: int) -> int:
    head = "SELECT id, received_at FROM journal ORDER BY id LIMIT ?"
    row = conn.execute(
        f"SELECT id FROM ({head}) WHERE received_at >= ? LIMIT 1", [limit, before]
    ).fetchone()
    if row is not None:
        end = int(row[0])
    else:
        last = conn.execute(f"SELECT MAX(id) FROM ({head})", [limit]).fetchone()[0]
        if last is None:
            return 0
        end = int(last) + 1
    cursor = conn.execute(
        "DELETE FROM journal WHERE id < ? AND id NOT IN (SELECT MAX(id) FROM journal"
        f" WHERE id < ? AND kind IN ({_IN_CONTEXT}) GROUP BY kind)",
        [end, end],
    )
    return cursor.rowcount


def _audit(conn: sqlite3.Connection, before: int, limit: int) -> int:
    cursor = conn.execute(
        "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ? ORDER BY at LIMIT ?)",
        [before, limit],
    )
    return cursor.rowcount


def _outbox(conn: sqlite3.Connection, before: int, limit: int) -> int:
    # Sent (`sent_at` the time, never before `created_at`) or closed (`sent_at` the negated
    # time it was given up): the (sent_at, id) index finds both below the cutoff.
    cursor = conn.execute(
        "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox"
        " WHERE sent_at < ? AND created_at < ? ORDER BY sent_at LIMIT ?)",
        [before, before, limit],
    )
    return cursor.rowcount


def journal_start(conn: sqlite3.Connection) -> int | None:
    """When the journal's contiguous tail starts: the arrival time of its oldest row that is
    not one of the context rows a prune kept (None when the journal is empty)."""
    row = conn.execute(
        f"SELECT received_at FROM journal WHERE kind NOT IN ({_IN_CONTEXT}) ORDER BY id LIMIT 1"
    ).fetchone()
    if row is None:
        row = conn.execute("SELECT received_at FROM journal ORDER BY id LIMIT 1").fetchone()
    return None if row is None else int(row[0])
