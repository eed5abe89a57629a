"""The outbox: every chat message the assistant must deliver, one row per (message, chat),
committed before any attempt, marked sent only once Telegram accepted it. A restart, a flood
limit or a dead network delays messages; it never loses or reorders them.

While the store cannot write (a full disk), messages wait in memory instead (bounded), are
delivered from there at once all the same, and move into the table when it can be written."""

from __future__ import annotations

import json
import re
import sqlite3
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

import sqlite_utils

from assistant.core.ports import Button
from assistant.store.held import Held

DECISION_ID = re.compile(r"\b(deposit|reduce|isolated)-\d+-\d+\b")
MAX_IN_MEMORY = 1_000  # messages kept while the store cannot be written


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    chat_id: int
    key: str
    severity: str
    text: str  # Telegram HTML, every dynamic value escaped
    created_at: int
    attempts: int
    buttons: tuple[Button, ...] = ()  # a question: Confirm and Cancel
    expires_at: int | None = None  # a question no longer worth sending after this (epoch ms)


COLUMNS = "id, chat_id, key, severity, text, created_at, attempts, buttons, expires_at"


def _row(values: tuple[Any, ...]) -> OutboxRow:
    row_id, chat_id, key, severity, text, created_at, attempts, buttons, expires_at = values
    pairs = json.loads(buttons) if buttons else []
    return OutboxRow(
        int(row_id),
        int(chat_id),
        str(key),
        str(severity),
        str(text),
        int(created_at),
        int(attempts),
        tuple(Button(str(label), str(data)) for label, data in pairs),
        None if expires_at is None else int(expires_at),
    )


def migrate_questions(db: sqlite_utils.Database) -> None:
    """Questions (a confirmation's buttons) go through the outbox too, with an expiry."""
    db.table("outbox").add_column("buttons", str)
    db.table("outbox").add_column("expires_at", int)


def migrate(db: sqlite_utils.Database) -> None:
    db.table("outbox").create(
        {
            "id": int,
            "chat_id": int,
            "key": str,
            "severity": str,
            "text": str,
            "fingerprint": str,  # the text without decision ids: what deduplication compares
            "created_at": int,
            "sent_at": int,
            "attempts": int,
            "last_error": str,
        },
        pk="id",
    )
    db.table("outbox").create_index(["sent_at", "id"])
    db.table("outbox").create_index(["chat_id", "fingerprint", "created_at"])


class Outbox:
    def __init__(self, db: sqlite_utils.Database, held: Held) -> None:
        self.db = db
        self.held = held  # the store's: what failed last, shared with the journal
        self.memory: deque[tuple[OutboxRow, str]] = deque(maxlen=MAX_IN_MEMORY)  # (row, print)
        self._next_memory_id = -1

    def add(
        self,
        chat_id: int,
        key: str,
        severity: str,
        text: str,
        at: int,
        dedup_ms: int,
        *,
        buttons: tuple[Button, ...] = (),
        expires_at: int | None = None,
    ) -> bool:
        """Queue a message; False (and nothing queued) if the same text to the same chat
        (decision ids aside: "deposit-… failed: spot wallet empty" again and again) is already
        waiting, or was queued less than `dedup_ms` ago. A question carries its buttons and
        the time after which it is dropped unsent."""
        fingerprint = DECISION_ID.sub("#", text)
        if self._recent_in_memory(chat_id, fingerprint, at - dedup_ms) and dedup_ms > 0:
            return False
        try:
            self._drain()
            with self.db.conn:
                row = (
                    None
                    if dedup_ms <= 0
                    else self.db.conn.execute(
                        "SELECT 1 FROM outbox WHERE chat_id = ? AND fingerprint = ?"
                        " AND (sent_at IS NULL OR created_at > ?) LIMIT 1",
                        [chat_id, fingerprint, at - dedup_ms],
                    ).fetchone()
                )
                if row is not None:
                    return False
                self._insert(chat_id, key, severity, text, fingerprint, at, buttons, expires_at)
        except sqlite3.Error as exc:
            self.held.failed(exc)
            held = OutboxRow(
                self._next_memory_id, chat_id, key, severity, text, at, 0, buttons, expires_at
            )
            self._next_memory_id -= 1
            self.memory.append((held, fingerprint))
        return True

    def _insert(
        self,
        chat_id: int,
        key: str,
        severity: str,
        text: str,
        fingerprint: str,
        at: int,
        buttons: tuple[Button, ...],
        expires_at: int | None,
    ) -> None:
        self.db.conn.execute(
            "INSERT INTO outbox (chat_id, key, severity, text, fingerprint, created_at,"
            " attempts, buttons, expires_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)",
            [
                chat_id,
                key,
                severity,
                text,
                fingerprint,
                at,
                json.dumps([[b.text, b.data] for b in buttons]) if buttons else None,
                expires_at,
            ],
        )

    def _recent_in_memory(self, chat_id: int, fingerprint: str, since: int) -> bool:
        return any(
            r.chat_id == chat_id and f == fingerprint and r.created_at > since
            for r, f in self.memory
        )

    def _drain(self) -> None:
        """Messages held in memory into the table, oldest first (raises if it cannot)."""
        while self.memory:
            row, fingerprint = self.memory[0]
            with self.db.conn:
                self._insert(
                    row.chat_id,
                    row.key,
                    row.severity,
                    row.text,
                    fingerprint,
                    row.created_at,
                    row.buttons,
                    row.expires_at,
                )
            self.memory.popleft()

    def pending(self, limit: int = 100) -> list[OutboxRow]:
        rows = self.db.conn.execute(
            f"SELECT {COLUMNS} FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT ?",
            [limit],
        ).fetchall()
        return [_row(row) for row in rows] + [r for r, _ in self.memory][: max(0, limit)]

    def next_per_chat(self) -> list[OutboxRow]:
        """The oldest unsent message of each chat (each chat's order is kept); messages held
        in memory come after the table's, which are older."""
        if self.memory:
            try:
                self._drain()
            except sqlite3.Error as exc:
                self.held.failed(exc)
        rows = [
            _row(row)
            for row in self.db.conn.execute(
                f"SELECT {COLUMNS} FROM outbox"
                " WHERE id IN (SELECT MIN(id) FROM outbox WHERE sent_at IS NULL GROUP BY chat_id)"
                " ORDER BY id"
            ).fetchall()
        ]
        chats = {r.chat_id for r in rows}
        for row, _ in self.memory:
            if row.chat_id not in chats:
                rows.append(row)
                chats.add(row.chat_id)
        return rows

    def _in_memory(self, row_id: int) -> int | None:
        return next((i for i, (r, _) in enumerate(self.memory) if r.id == row_id), None)

    def sent(self, row_id: int, at: int) -> None:
        if row_id < 0:
            index = self._in_memory(row_id)
            if index is not None:
                del self.memory[index]
            return
        self._update(
            "UPDATE outbox SET sent_at = ?, attempts = attempts + 1 WHERE id = ?", [at, row_id]
        )

    def failed(self, row_id: int, error: str, *, give_up_at: int | None = None) -> None:
        """One more failed attempt; with `give_up_at` the row is closed (never sent)."""
        if row_id < 0:
            index = self._in_memory(row_id)
            if index is not None:
                row, fingerprint = self.memory[index]
                if give_up_at is not None:
                    del self.memory[index]
                else:
                    self.memory[index] = (replace(row, attempts=row.attempts + 1), fingerprint)
            return
        self._update(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ?,"
            " sent_at = COALESCE(?, sent_at) WHERE id = ?",
            [error[:300], None if give_up_at is None else -give_up_at, row_id],
        )

    def _update(self, sql: str, params: list[Any]) -> None:
        """A delivery's bookkeeping; if the store cannot write, the row may go out again
        later (at least once, never zero times)."""
        try:
            with self.db.conn:
                self.db.conn.execute(sql, params)
        except sqlite3.Error as exc:
            self.held.failed(exc)

    def count_pending(self) -> int:
        row = self.db.conn.execute("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL").fetchone()
        return int(row[0]) + len(self.memory)

    def delivered(self, chat_id: int) -> list[str]:
        """Texts sent to one chat, in order (for tests and `/alerts`)."""
        rows = self.db.conn.execute(
            "SELECT text FROM outbox WHERE chat_id = ? AND sent_at > 0 ORDER BY id", [chat_id]
        ).fetchall()
        return [row[0] for row in rows]
