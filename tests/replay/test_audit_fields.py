"""An alert's fields in the audit table's columns, and the replay matching on them: the same
key, severity, metric and tier, not the same-looking text."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlite_utils

from assistant.commands import replay
from assistant.commands.recorded import _tier as tier_of
from assistant.core.actions import CLEAR, STALE, SendAlert
from assistant.core.replay import Happened
from assistant.core.values import Outcome, Severity
from assistant.service.notifier import Notifier
from assistant.service.settings import load_settings
from assistant.store.sqlite import MIGRATIONS, SqliteStore
from tests.replay.conftest import config

D = Decimal
COLUMNS = ("severity", "metric", "tier", "amount", "outcome")


def columns(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[c] for c in COLUMNS)


def test_the_notifier_audits_an_alerts_fields_in_their_columns(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db")
    heard: list[SendAlert] = []
    notifier = Notifier(store, listeners=[heard.append], log_alerts=False)
    crossed = SendAlert(
        "distance", Severity.WARNING, "distance at 9.9%: past 10.0%", 5, "distance", D("0.10")
    )
    clear = SendAlert("margin_ratio", Severity.INFO, "all clear: ratio", 6, "margin_ratio", CLEAR)
    done = SendAlert(
        "deposit",
        Severity.WARNING,
        "done: transfer 12.5",
        7,
        amount=D("12.5"),
        outcome=Outcome.DONE,
    )
    drift = SendAlert("drift", Severity.WARNING, "drift: wallet", 8)
    for alert in (crossed, clear, done, drift):
        notifier(alert)
    rows = store.audit_rows()
    store.close()
    assert heard == [crossed, clear, done, drift]
    assert [(r["what"], r["detail"], r["decision_id"]) for r in rows] == [
        ("alert:distance", "warning: distance at 9.9%: past 10.0%", ""),
        ("alert:margin_ratio", "info: all clear: ratio", ""),
        ("alert:deposit", "warning: done: transfer 12.5", ""),
        ("alert:drift", "warning: drift: wallet", ""),
    ]  # the columns that were there are written as ever
    assert [columns(r) for r in rows] == [
        ("warning", "distance", "0.10", None, None),
        ("info", "margin_ratio", "clear", None, None),
        ("warning", "", None, "12.5", "done"),
        ("warning", "", None, None, None),
    ]


def _old_store(path: Path) -> None:
    """A store as the last version left it: the first three migrations, no alert columns."""
    db = sqlite_utils.Database(path)
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for number, migration in enumerate(MIGRATIONS[:3], start=1):
        migration(db)
        db.execute("INSERT INTO schema_version (version) VALUES (?)", [number])
    rows = [
        (1_000, "alert:distance", "warning: distance to liquidation at 9.95% of price: past 10.0%"),
        (2_000, "alert:stale:BTCUSDT", "critical: BTCUSDT mark price is 16s old: past 100%"),
        (3_000, "alert:margin_ratio", "info: all clear: margin ratio at 70.00%"),
        (4_000, "alert:drift", "warning: drift: wallet: ours 1, exchange 2"),
    ]
    for at, what, detail in rows:
        db.execute(
            "INSERT INTO audit (at, decision_id, what, detail) VALUES (?, '', ?, ?)",
            [at, what, detail],
        )
    db.conn.commit()
    db.close()


def test_an_old_store_gains_the_columns_and_its_rows_still_compare(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_store(path)
    store = SqliteStore(path)
    version = store.db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
    assert version == len(MIGRATIONS)
    rows = store.audit_rows()
    assert all(columns(r) == (None,) * len(COLUMNS) for r in rows)
    recorded = replay.recorded_history(store)
    store.close()
    assert [(r.key, r.severity, r.metric, r.tier) for r in recorded] == [
        ("distance", "warning", "distance", D("0.1")),
        ("stale:BTCUSDT", "critical", "mark_age", STALE),
        ("margin_ratio", "info", "margin_ratio", CLEAR),
        ("drift", "warning", "", None),
    ]
    replayed = [
        Happened(1_000, "alert", "distance", Severity.WARNING, "", "", None, "distance", D("0.10")),
        Happened(
            2_100, "alert", "stale:BTCUSDT", Severity.CRITICAL, "", "", None, "mark_age", STALE
        ),
        Happened(
            3_000, "alert", "margin_ratio", Severity.INFO, "", "", None, "margin_ratio", CLEAR
        ),
        Happened(4_000, "alert", "drift", Severity.WARNING, "", "", None),
    ]
    result = replay.compare(replayed, recorded)
    assert result.same == 4 and not result.differs
    again = SqliteStore(path)  # opened again: nothing left to migrate
    names = [row[1] for row in again.db.execute("PRAGMA table_info(audit)")]
    versions = again.db.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0]
    again.close()
    assert names[-len(COLUMNS) :] == list(COLUMNS) and versions == len(MIGRATIONS)


def test_alerts_that_read_alike_but_crossed_other_tiers_are_new_and_gone(tmp_path: Path) -> None:
    """Tiers 12.347% and 12.348% both print "past 12.35%": the old comparison, by the text,
    called them the same; by their fields they are not."""
    store = SqliteStore(tmp_path / "a.db")
    text = "distance to liquidation at 12.30% of price: past 12.35%"
    store.audit_alert(
        SendAlert("distance", Severity.WARNING, text, 1_000, "distance", D("0.12347"))
    )
    recorded = replay.recorded_history(store)
    store.close()
    assert recorded[0].tier == D("0.12347") and recorded[0].text == text

    def happened(tier: Decimal) -> Happened:
        return Happened(
            1_000, "alert", "distance", Severity.WARNING, text, "", None, "distance", tier
        )

    other = replay.compare([happened(D("0.12348"))], list(recorded))
    assert other.same == 0 and len(other.new) == 1 and len(other.gone) == 1
    assert other.new[0].text == other.gone[0].text  # alike, and still told apart
    same = replay.compare([happened(D("0.123470"))], list(recorded))  # the same number
    assert same.same == 1 and not same.differs


def test_the_recording_audits_every_alert_with_the_fields_the_replay_gives(
    recorded: tuple[Path, Path],
) -> None:
    config_path, store_path = recorded
    report = replay.replay(load_settings(config_path), store_path)
    store = SqliteStore(store_path)
    rows = [r for r in store.audit_rows() if r["what"].startswith("alert:")]
    store.close()
    assert rows and all(r["severity"] in ("info", "warning", "critical") for r in rows)
    rules = [r for r in rows if r["what"][6:] not in replay.NOT_RULES]
    happened = [h for h in report.replayer.happened if h.kind == "alert"]
    assert [(r["at"], r["what"][6:], r["metric"], tier_of(r["tier"])) for r in rules] == [
        (h.at, h.key, h.metric, h.tier) for h in happened
    ]
    assert any(h.metric == "distance" and isinstance(h.tier, Decimal) for h in happened)
    done = [r for r in rows if r["what"] == "alert:deposit" and r["outcome"] == "done"]
    assert done and all(D(r["amount"]) > 0 for r in done)
    assert all(r["outcome"] is None for r in rules)  # the rules' own alerts announce no outcome


def test_other_tiers_are_told_by_their_tier(recorded: tuple[Path, Path], tmp_path: Path) -> None:
    _, store_path = recorded
    text = config(tmp_path).read_text()
    text = text.replace("distance = [0.10, 0.06, 0.03]", "distance = [0.08, 0.06, 0.03]")
    (tmp_path / "assistant.toml").write_text(text)
    report = replay.replay(load_settings(tmp_path / "assistant.toml"), store_path)
    c = report.comparison
    gone = {(g.metric, g.tier) for g in c.gone if g.kind == "alert"}
    new = {(h.metric, h.tier) for h in c.new if h.kind == "alert"}
    assert ("distance", D("0.1")) in gone and ("distance", D("0.08")) in new
    assert ("distance", D("0.1")) not in new and ("distance", D("0.08")) not in gone
