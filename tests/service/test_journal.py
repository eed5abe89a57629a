"""The journal's rows in a real store file: a mark in its compact form read back exactly, rows
an older version wrote still read, and the prune: bounded batches, a contiguous tail, the
context rows a replay starts from kept."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

import sqlite_utils
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.core import events
from assistant.core.events import MarkPriceUpdated
from assistant.core.values import Outcome
from assistant.store.codec import MARK, decode_row, encode_event, encode_row
from assistant.store.sqlite import MIGRATIONS, SqliteStore

DAY = 86_400_000
NOW = 1_760_000_000_000
TIMES = st.integers(-(2**62), 2**62)
MARKS = st.builds(
    MarkPriceUpdated, symbol=st.text(), price=st.decimals(allow_nan=False), event_at=TIMES
)


def exactly(a: events.Event, b: events.Event) -> bool:
    """Equal, and every price in the same form (Decimal("1.50") == Decimal("1.5"))."""
    if isinstance(a, MarkPriceUpdated) and isinstance(b, MarkPriceUpdated):
        return a == b and a.price.as_tuple() == b.price.as_tuple()
    return a == b


@given(MARKS, TIMES)
def test_a_mark_row_reads_back_exactly_and_so_does_the_old_form(
    mark: MarkPriceUpdated, received_at: int
) -> None:
    kind, text = encode_row(mark, received_at)
    assert kind == MARK
    assert exactly(decode_row(kind, text, received_at), mark)
    # The form every version before wrote: the class name and the event's JSON.
    assert exactly(decode_row("MarkPriceUpdated", encode_event(mark), received_at), mark)


STORABLE = st.builds(
    MarkPriceUpdated,
    symbol=st.text(st.characters(blacklist_categories=["Cs"])),  # SQLite text is UTF-8
    price=st.decimals(allow_nan=False),
    event_at=st.integers(0, 2**50),
)


@settings(max_examples=30)
@given(st.lists(st.tuples(STORABLE, st.integers(0, 2**50)), min_size=1, max_size=20))
def test_marks_through_a_store_file_come_back_exactly_without_their_frames(
    rows: list[tuple[MarkPriceUpdated, int]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = SqliteStore(Path(folder) / "a.db")
        for mark, received_at in rows:
            store.append(mark, received_at, '{"e":"markPriceUpdate"}')
        store.close()
        again = SqliteStore(Path(folder) / "a.db")
        back = list(again.journal())
        replayed = list(again.events())
        again.close()
    assert [(r.received_at, r.raw) for r in back] == [(at, None) for _, at in rows]
    assert all(exactly(r.event, mark) for r, (mark, _) in zip(back, rows, strict=True))
    assert [at for at, _ in replayed] == [at for _, at in rows]
    assert all(exactly(e, mark) for (_, e), (mark, _) in zip(replayed, rows, strict=True))


def old_store(path: Path) -> None:
    """A store as the version before the compact rows left it, journal rows and all."""
    db = sqlite_utils.Database(path)
    db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for number, migration in enumerate(MIGRATIONS[:5], start=1):
        migration(db)
        db.execute("INSERT INTO schema_version (version) VALUES (?)", [number])
    old = [  # (received_at, kind, event, raw) exactly as that version wrote them
        (
            NOW,
            "MarkPriceUpdated",
            '{"type":"MarkPriceUpdated","data":{"symbol":"BTCUSDT","price":"97012.30000000",'
            '"event_at":1759999999990}}',
            '{"e":"markPriceUpdate","E":1759999999990,"s":"BTCUSDT","p":"97012.30000000"}',
        ),
        (
            NOW + 1,
            "MarkPriceUpdated",
            '{"type":"MarkPriceUpdated","data":{"symbol":"A\\"B,C","price":"1E+3","event_at":7}}',
            None,
        ),
        (
            NOW + 2,
            "ActionSettled",
            '{"type":"ActionSettled","data":{"decision_id":"deposit-1-1","kind":"deposit",'
            '"outcome":"done","detail":"ok","at":5,"amount":"12.50"}}',
            None,
        ),
    ]
    db.conn.executemany(
        "INSERT INTO journal (received_at, kind, event, raw) VALUES (?, ?, ?, ?)", old
    )
    db.conn.commit()
    db.close()


def test_an_old_journal_still_reads_and_new_rows_follow_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old_store(path)
    store = SqliteStore(path)  # the retention migration runs
    indexes = {row[1] for row in store.db.execute("SELECT * FROM sqlite_master")}
    newer = MarkPriceUpdated("ETHUSDT", Decimal("3012.10000000"), NOW + 3)
    store.append(newer, NOW + 5, '{"e":"markPriceUpdate"}')
    store.flush()
    rows = list(store.journal())
    settled = store.settled_decisions()
    store.close()
    assert "idx_journal_received_at" not in indexes and "idx_audit_at" in indexes
    expected = [
        MarkPriceUpdated("BTCUSDT", Decimal("97012.30000000"), 1_759_999_999_990),
        MarkPriceUpdated('A"B,C', Decimal("1E+3"), 7),
        events.ActionSettled("deposit-1-1", "deposit", Outcome.DONE, "ok", 5, Decimal("12.50")),
        newer,
    ]
    assert all(exactly(r.event, e) for r, e in zip(rows, expected, strict=True))
    assert rows[0].raw is not None and rows[0].raw.startswith('{"e":"markPriceUpdate"')
    assert [r.raw for r in rows[1:]] == [None, None, None]
    assert settled == {"deposit-1-1"}


def mark(at: int) -> MarkPriceUpdated:
    return MarkPriceUpdated("BTCUSDT", Decimal("97000.10000000"), at - 3)


def test_a_prune_goes_in_bounded_batches_and_keeps_a_contiguous_tail(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db")
    cutoff = NOW - 7 * DAY
    old, new = NOW - 8 * DAY, NOW - 6 * DAY
    filters = events.FiltersLoaded({}, old)
    first_mode, last_mode = events.ModeSet("auto", "ann", old), events.ModeSet("", "bob", old + 9)
    store.append(filters, old)
    store.append(first_mode, old + 1)
    for i in range(12):
        store.append(mark(old + 2 + i), old + 2 + i, "{}")
    store.append(last_mode, old + 20)
    store.append(mark(new), new, "{}")  # the tail starts here
    store.append(mark(old + 30), old + 30, "{}")  # the clock stepped back: inside the tail
    store.append(mark(new + 1), new + 1, "{}")
    store.flush()
    for at in (old, old + 1, new):
        store.audit(at, "", "note", "a note")
    deleted = []
    for _ in range(40):  # bounded: 6 rows of each table a prune (the least it takes)
        deleted.append(store.prune(cutoff, limit=6))
        if deleted[-1] == 0:
            break
    rows = [(r.received_at, r.event) for r in store.journal()]
    audit = [r["at"] for r in store.audit_rows()]
    start = store.journal_start()
    store.close()
    assert deleted[-1] == 0 and len(deleted) > 2 and max(deleted) <= 6 + 2  # journal + audit
    assert rows == [
        (old, filters),  # the newest of each context kind before the cutoff stays
        (old + 20, last_mode),
        (new, mark(new)),
        (old + 30, mark(old + 30)),
        (new + 1, mark(new + 1)),
    ]
    assert audit == [new] and start == new
