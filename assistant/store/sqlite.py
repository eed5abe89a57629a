"""SqliteStore: the journal of every event, the current mirror state and a health series.

Writes are group-committed: `append` only queues; `flush` writes the queue in one
transaction (the service flushes at least every 50 ms and always before an action goes out).
A hard kill loses at most the queue; committed rows are never lost (WAL with
synchronous=NORMAL survives a killed process; only a power cut may lose the last commits).
Rows are encoded by `codec.encode_row` (a mark in about 40 bytes), written to the journal's
two tables by `journal` (quotes in `book`) and pruned by `retention` (and `journal.prune`).
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlite_utils

from assistant.core import events
from assistant.core.actions import SendAlert
from assistant.core.mirror import MirrorState, rebuild
from assistant.errors import InputError, StoreUnwritable
from assistant.store import journal, outbox, retention
from assistant.store.caps import MoneyFacts, money_facts
from assistant.store.codec import (
    COMPACT,
    decode_event,
    decode_row,
    encode_event,
    encode_row,
    from_plain,
    to_plain,
)
from assistant.store.health import HealthSeries
from assistant.store.held import Ballast, Held
from assistant.store.migrations import MIGRATIONS

WAL_LIMIT = 64 * 2**20


@dataclass(frozen=True, slots=True)
class JournalRow:
    id: int
    received_at: int
    event: events.Event
    raw: str | None


class SqliteStore(HealthSeries):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.db = sqlite_utils.Database(self.path)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA busy_timeout=5000")
            # Checkpoints (the only fsyncs in WAL mode) run from `checkpoint()`, on the
            # service's periodic save, never inside the commit of an intent an order awaits.
            self.db.execute("PRAGMA wal_autocheckpoint=0")
            # A WAL that grew while a reader held it back (a long replay on a live store) is
            # cut back to this when a checkpoint next resets it.
            self.db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
            self._migrate()
        except sqlite3.DatabaseError as exc:  # not a database, or a damaged one
            raise InputError(f"{self.path}: not a readable store ({exc})") from None
        self._pending: list[tuple[int, str, str, str | None]] = []
        self.held = Held()
        self.ballast = Ballast(self.path.with_name(self.path.name + ".ballast"))
        self.ballast.lay()
        self.outbox = outbox.Outbox(self.db, self.held)

    def _migrate(self) -> None:
        self.db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = self.db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        current = row[0] or 0
        if current > len(MIGRATIONS):
            raise InputError(
                f"{self.path}: written by a newer version of the assistant (store schema"
                f" {current}; this version knows {len(MIGRATIONS)}): refusing to open it"
            )
        for number, migration in enumerate(MIGRATIONS, start=1):
            if number > current:
                with self.db.conn:
                    migration(self.db)
                    self.db.execute("INSERT INTO schema_version (version) VALUES (?)", [number])

    # ---- journal --------------------------------------------------------------------------

    def append(self, event: events.Event, received_at: int, raw: str | None = None) -> None:
        kind, text = encode_row(event, received_at)
        self._pending.append((received_at, kind, text, None if kind in COMPACT else raw))

    @property
    def pending(self) -> int:
        return len(self._pending)

    def flush(self) -> int:
        """Commit every queued row in one transaction; return how many. If the store cannot
        write, the rows stay queued (bounded, see `held`) and `held.error` says why; the next
        flush tries again, and first writes what was held (audit rows, a gap marker)."""
        if not self._pending and self.held.writable:
            return 0
        batch = [] if self.held.conserving else self._pending  # space for intents first
        try:
            with self.db.conn:
                held = self._write_held()
                journal.insert(self.db.conn, batch)
        except sqlite3.Error as exc:
            self._failed(exc)
            self.held.trim(self._pending)
            return 0
        self.held.written(*held)
        if batch:
            self._pending = []
        else:
            self.held.trim(self._pending)
        return len(batch)

    def _failed(self, exc: Exception) -> None:
        """A write failed: the first time, the ballast's space is given to the store."""
        self.held.failed(exc)
        if not self.held.conserving and self.ballast.release():
            self.held.conserving = True

    def restore(self) -> bool:
        """Once there is room again: the ballast laid anew and the journal resumed."""
        if self.held.conserving and self.ballast.lay():
            self.held.conserving = False
        return not self.held.conserving

    def _write_held(self) -> tuple[int, bool]:
        """Inside a transaction: the audit rows held while the store could not write, and a
        gap marker for journal rows dropped meanwhile (what was written, for `held.written`
        once the transaction is committed)."""
        audits = list(self.held.audits)
        for sql, params in audits:
            self.db.conn.execute(sql, params)
        gap = self.held.gap()
        if gap is not None:
            rows, since, until = gap
            marker = events.JournalGap(rows, since, until, until)
            journal.insert(self.db.conn, [(until, "JournalGap", encode_event(marker), None)])
        return len(audits), gap is not None

    def journal(self, after_id: int = 0, limit: int | None = None) -> Iterator[JournalRow]:
        """Journaled events, quotes included, in the order they arrived."""
        for row in journal.read(self.db.conn, after_id, limit):
            yield JournalRow(row[0], row[1], decode_row(row[2], row[3], row[1]), row[4])

    def events(self) -> Iterator[tuple[int, events.Event]]:
        """Every journaled event with its arrival time, in order (for a replay)."""
        for _, received_at, kind, text, _ in journal.read(self.db.conn):
            yield received_at, decode_row(kind, text, received_at)

    def settled_decisions(self) -> frozenset[str]:
        """Decision ids the journal has an outcome for."""
        rows = self.db.execute("SELECT event FROM journal WHERE kind = 'ActionSettled'")
        return frozenset(decode_event(row[0]).decision_id for row in rows)  # type: ignore[union-attr]

    def journal_count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM journal").fetchone()[0])

    def journal_start(self) -> int | None:
        """The arrival time of the oldest journal row kept (None: the journal is empty)."""
        return retention.journal_start(self.db.conn)

    def prune(self, before: int, limit: int = retention.BATCH) -> int:
        """Journal, audit and sent outbox rows older than `before` (epoch ms), at most `limit`
        of each; see `store/retention.py`."""
        return retention.prune(self.db.conn, before, limit)

    def prune_book(self, before: int, limit: int = retention.BATCH) -> int:
        """Quote rows older than `before` (`[store] retention_book`)."""
        return journal.prune(self.db.conn, before, limit)

    # ---- state ----------------------------------------------------------------------------

    def save_state(self, state: MirrorState, saved_at: int) -> None:
        plain = {
            f.name: to_plain(getattr(state, f.name))
            for f in dataclasses.fields(state)
            if f.name not in ("book", "recent", "pools")
        }
        with self.db.conn:
            self.db.table("state").upsert(
                {"id": 1, "saved_at": saved_at, "state": json.dumps(plain)}, pk="id"
            )

    def load_state(self) -> tuple[MirrorState, int] | None:
        row = self.db.execute("SELECT state, saved_at FROM state WHERE id = 1").fetchone()
        if row is None:
            return None
        plain = json.loads(row[0])
        plain.pop("book", None)
        plain.pop("recent", None)
        state = from_plain(MirrorState, plain)
        return rebuild(state), int(row[1])

    # ---- intents, audit, claims (exactly-once actions) -------------------------------------

    def record_intent(
        self,
        decision_id: str,
        kind: str,
        payload: dict[str, Any],
        created_at: int,
        config_version: str,
        health: dict[str, Any] | None,
        audit: str = "",
    ) -> None:
        """Committed before any request goes out; the journal is flushed first. Raises
        StoreUnwritable if it cannot be committed: then nothing may be sent for it."""
        self.flush()
        try:
            self._record_intent(
                decision_id, kind, payload, created_at, config_version, health, audit
            )
        except sqlite3.Error as exc:
            self._failed(exc)
            raise StoreUnwritable(f"the intent of {decision_id} was not recorded: {exc}") from None

    def _record_intent(
        self,
        decision_id: str,
        kind: str,
        payload: dict[str, Any],
        created_at: int,
        config_version: str,
        health: dict[str, Any] | None,
        audit: str,
    ) -> None:
        with self.db.conn:
            self.db.conn.execute(
                "INSERT INTO intents (decision_id, kind, payload, created_at, status, outcome,"
                " updated_at, config_version, health) VALUES (?, ?, ?, ?, 'pending', '', ?, ?, ?)",
                [
                    decision_id,
                    kind,
                    json.dumps(payload),
                    created_at,
                    created_at,
                    config_version,
                    json.dumps(health),
                ],
            )
            if not self.held.audits:  # its audit row in the same commit: one write, not two
                self.db.conn.execute(
                    "INSERT INTO audit (at, decision_id, what, detail) VALUES (?, ?, 'intent', ?)",
                    [created_at, decision_id, audit],
                )
        if self.held.audits:  # behind the rows already waiting, so the order is kept
            self._audit(
                "INSERT INTO audit (at, decision_id, what, detail) VALUES (?, ?, 'intent', ?)",
                [created_at, decision_id, audit],
            )

    def intent(self, decision_id: str) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM intents WHERE decision_id = ?", [decision_id]))
        return rows[0] if rows else None

    def pending_intents(self) -> list[dict[str, Any]]:
        return list(
            self.db.query("SELECT * FROM intents WHERE status = 'pending' ORDER BY created_at")
        )

    def money_facts(self, day: int) -> tuple[Decimal, dict[str, Decimal]]:
        """For the caps, from the intents alone: what our USDT deposits and isolated top-ups
        decided on UTC day `day` moved or may have moved (done, unknown, or still in flight),
        and the amount of every intent still in flight, whatever its day."""
        facts = self.asset_facts(day)
        return facts.moved.get("USDT", Decimal(0)), facts.in_flight

    def asset_facts(self, day: int) -> MoneyFacts:
        """`money_facts` per asset (a deposit's payload names it; none means USDT)."""
        return money_facts(self.db, day)

    def mark_sent(self, decision_id: str, until: int) -> None:
        """A request for the intent is about to leave; Binance may carry it out until `until`.
        Committed before the request leaves; the latest of them is kept."""
        with self.db.conn:
            self.db.conn.execute(
                "UPDATE intents SET sent_until = MAX(COALESCE(sent_until, ?), ?)"
                " WHERE decision_id = ?",
                [until, until, decision_id],
            )

    def settle_intent(
        self, decision_id: str, status: str, outcome: dict[str, Any], at: int
    ) -> None:
        """Never raises: while the store cannot write, the update waits with the audit rows
        (until then the intent reads as in flight: its cap stays booked)."""
        self._audit(
            "UPDATE intents SET status = ?, outcome = ?, updated_at = ? WHERE decision_id = ?",
            [status, json.dumps(outcome, default=str), at, decision_id],
        )

    def audit(self, at: int, decision_id: str, what: str, detail: str) -> None:
        self._audit(
            "INSERT INTO audit (at, decision_id, what, detail) VALUES (?, ?, ?, ?)",
            [at, decision_id, what, detail],
        )

    def _audit(self, sql: str, params: list[Any]) -> None:
        """An audit row never raises: while the store cannot write, it waits in memory."""
        if self.held.audits:  # keep the order: behind those already waiting
            self.held.audits.append((sql, params))
            return
        try:
            with self.db.conn:
                self.db.conn.execute(sql, params)
        except sqlite3.Error as exc:
            self._failed(exc)
            self.held.audits.append((sql, params))

    def audit_alert(self, alert: SendAlert) -> None:
        """An alert sent: `what` and `detail` as ever ("alert:KEY", "SEVERITY: TEXT"), and its
        fields in their own columns (metric "" when it has none; tier and amount as text)."""
        tier, amount = alert.tier, alert.amount
        self._audit(
            "INSERT INTO audit (at, decision_id, what, detail, severity, metric, tier, amount,"
            " outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                alert.at,
                alert.decision_id,
                f"alert:{alert.key}",
                f"{alert.severity}: {alert.text}",
                str(alert.severity),
                alert.metric,
                None if tier is None else str(tier),
                None if amount is None else str(amount),
                None if alert.outcome is None else str(alert.outcome),
            ],
        )

    def audit_rows(self) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM audit ORDER BY id"))

    def recent_audit(self, prefix: str, limit: int) -> list[dict[str, Any]]:
        """The newest audit rows whose `what` starts with `prefix`, newest first."""
        return list(
            self.db.query(
                "SELECT * FROM audit WHERE what LIKE ? ORDER BY id DESC LIMIT ?",
                [prefix.replace("%", "") + "%", limit],
            )
        )

    def claim_transfer(self, tran_id: int, decision_id: str) -> bool:
        """Attribute a transfer in Binance's history to a decision: True if it is (now or
        already) this decision's, False if another decision claimed it."""
        try:
            with self.db.conn:
                self.db.conn.execute(
                    "INSERT INTO claims (tran_id, decision_id) VALUES (?, ?)",
                    [tran_id, decision_id],
                )
        except sqlite3.IntegrityError:
            row = self.db.execute(
                "SELECT decision_id FROM claims WHERE tran_id = ?", [tran_id]
            ).fetchone()
            return bool(row) and row[0] == decision_id
        return True

    def save_memory(self, memory: Any, at: int) -> None:
        with self.db.conn:
            self.db.table("memory").upsert(
                {"id": 1, "saved_at": at, "memory": json.dumps(to_plain(memory))}, pk="id"
            )

    def load_memory(self, cls: type) -> Any | None:
        row = self.db.execute("SELECT memory FROM memory WHERE id = 1").fetchone()
        return None if row is None else from_plain(cls, json.loads(row[0]))

    def checkpoint(self) -> None:
        self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        self.flush()
        self.checkpoint()
        self.db.close()
