"""A store file the assistant cannot trust is refused in one line (exit 2), by every command
that opens it: a corrupt file, and one written by a newer version (its schema unknown here)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.store.sqlite import SqliteStore


def config(tmp_path: Path) -> Path:
    path = tmp_path / "assistant.toml"
    path.write_text(
        '[exchange]\nenvironment = "emulator"\nrest_url = "http://127.0.0.1:9"\n'
        'ws_url = "ws://127.0.0.1:9"\n[store]\npath = "a.db"\n'
    )
    return path


def assistant(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args], capture_output=True, text=True, timeout=60
    )


def corrupt(db: Path) -> None:
    db.write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 64)


def newer(db: Path) -> None:
    SqliteStore(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO schema_version (version) VALUES (99)")


@pytest.mark.parametrize("spoil", [corrupt, newer], ids=["corrupt", "newer"])
@pytest.mark.parametrize("command", ["run", "status", "replay"])
def test_an_untrusted_store_is_one_line_and_exit_2(
    tmp_path: Path, spoil: object, command: str
) -> None:
    cfg = config(tmp_path)
    spoil(tmp_path / "a.db")  # type: ignore[operator]
    done = assistant(command, "-c", str(cfg))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    (last,) = done.stderr.strip().splitlines()
    assert str(tmp_path / "a.db") in last
    assert ("newer version" in last) if spoil is newer else ("not a readable store" in last)
