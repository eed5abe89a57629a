"""The outbox in the store and message splitting, without a network."""

from __future__ import annotations

from pathlib import Path

from assistant.emulator.telegram import html_problem
from assistant.store.sqlite import SqliteStore
from assistant.telegram.render import esc, split


def test_the_same_failure_again_and_again_is_queued_once_per_window(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "a.db")
    outbox = store.outbox
    text = "deposit deposit-{}-{} failed: spot wallet has 0 USDT free"
    assert outbox.add(1, "action", "critical", text.format(1000, 1), 1000, 600_000)
    assert not outbox.add(1, "action", "critical", text.format(31_000, 2), 31_000, 600_000)
    assert outbox.add(2, "action", "critical", text.format(31_000, 2), 31_000, 600_000)
    assert outbox.add(1, "action", "critical", "something else", 31_000, 600_000)
    rows = outbox.pending()
    outbox.sent(rows[0].id, 40_000)
    assert not outbox.add(1, "action", "critical", text.format(50_000, 3), 50_000, 600_000)
    assert outbox.add(1, "action", "critical", text.format(700_000, 4), 700_000, 600_000)
    store.close()
    reopened = SqliteStore(tmp_path / "a.db")  # pending rows survive a restart, in order
    assert [r.chat_id for r in reopened.outbox.pending()] == [2, 1, 1]
    reopened.close()


def test_long_messages_are_split_into_valid_telegram_html() -> None:
    lines = [f"<b>{esc(f'SYM{i}USDT <&>')}</b> liquidation {i * 1.5:.2f}" for i in range(400)]
    text = "\n".join(lines)
    pieces = split(text, 4000)
    assert len(pieces) > 1 and all(len(p) <= 4000 for p in pieces)
    assert all(html_problem(p) == "" for p in pieces)
    assert "".join(p.replace("\n", "") for p in pieces) == text.replace("\n", "")
    one_line = "<b>" + "x" * 9000 + "</b>"
    pieces = split(one_line, 4000)
    assert all(html_problem(p) == "" for p in pieces) and len(pieces) == 3
