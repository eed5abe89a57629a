"""The journal's two tables: `journal` (every event, kept `[store] retention`) and `book` (the
quotes the shadow mark reads, conflated, kept `[store] retention_book`: a day of them is
larger than a week of marks). Both take their ids from one sequence, handed out here in the
order the rows were appended, so reading them back merged by id gives the events in the order
they arrived, and a replay of both is the live run's.
"""

from __future__ import annotations

import heapq
import sqlite3
from collections.abc import Iterator, Sequence
from operator import itemgetter

import sqlite_utils

from assistant.store.codec import BOOK_KINDS

Row = tuple[int, int, str, str, str | None]  # id, received_at, kind, text, raw
Pending = tuple[int, str, str, str | None]  # received_at, kind, text, raw


def migrate(db: sqlite_utils.Database) -> None:
    """The `book` table: the journal's columns but the raw frame (quotes keep none)."""
    db.table("book").create({"id": int, "received_at": int, "kind": str, "event": str}, pk="id")


def next_id(conn: sqlite3.Connection) -> int:
    """The next id of the shared sequence (both tables' largest, plus one)."""
    ids = [conn.execute(f"SELECT MAX(id) FROM {t}").fetchone()[0] for t in ("journal", "book")]
    return max(i or 0 for i in ids) + 1


def insert(conn: sqlite3.Connection, rows: Sequence[Pending]) -> None:
    """Rows in the order given, each into its table, ids from the shared sequence (inside the
    caller's transaction)."""
    main: list[Row] = []
    book: list[tuple[int, int, str, str]] = []
    for number, (received_at, kind, text, raw) in enumerate(rows, start=next_id(conn)):
        if kind in BOOK_KINDS:
            book.append((number, received_at, kind, text))
        else:
            main.append((number, received_at, kind, text, raw))
    conn.executemany(
        "INSERT INTO journal (id, received_at, kind, event, raw) VALUES (?, ?, ?, ?, ?)", main
    )
    if book:
        conn.executemany(
            "INSERT INTO book (id, received_at, kind, event) VALUES (?, ?, ?, ?)", book
        )


def read(conn: sqlite3.Connection, after_id: int = 0, limit: int | None = None) -> Iterator[Row]:
    """Both tables' rows after `after_id`, merged by id (at most `limit`)."""
    tail = "" if limit is None else f" LIMIT {int(limit)}"
    main = conn.execute(
        f"SELECT id, received_at, kind, event, raw FROM journal WHERE id > ? ORDER BY id{tail}",
        [after_id],
    )
    book = conn.execute(
        f"SELECT id, received_at, kind, event, NULL FROM book WHERE id > ? ORDER BY id{tail}",
        [after_id],
    )
    for count, row in enumerate(heapq.merge(main, book, key=itemgetter(0))):
        if limit is not None and count >= limit:
            return
        yield row


def prune(conn: sqlite3.Connection, before: int, limit: int) -> int:
    """Quote rows received before `before`, as a prefix in id order, at most `limit`."""
    with conn:
        head = "SELECT id, received_at FROM book ORDER BY id LIMIT ?"
        row = conn.execute(
            f"SELECT id FROM ({head}) WHERE received_at >= ? LIMIT 1", [limit, before]
        ).fetchone()
        if row is None:
            last = conn.execute(f"SELECT MAX(id) FROM ({head})", [limit]).fetchone()[0]
            if last is None:
                return 0
            end = int(last) + 1
        else:
            end = int(row[0])
        return conn.execute("DELETE FROM book WHERE id < ?", [end]).rowcount
