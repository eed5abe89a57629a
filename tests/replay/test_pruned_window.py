"""`assistant replay` on a journal whose oldest part was pruned: a window starting before the
oldest row kept is a one-line warning and the report starts there; one ending before it is a
one-line error, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.commands.replay import iso
from assistant.store.sqlite import SqliteStore
from tests.replay.test_replay import cli


def prune_half(store_path: Path) -> tuple[int, int]:
    """Prune the first half of the recording; (the first time recorded, the oldest kept)."""
    store = SqliteStore(store_path)
    times = [r.received_at for r in store.journal()]
    middle = times[len(times) // 2]
    for _ in range(100):  # bounded: the recording is a few thousand rows
        if store.prune(middle) == 0:
            break
    kept = store.journal_start()
    store.close()
    assert kept is not None and times[0] < middle <= kept
    return times[0], kept


def test_a_window_before_the_oldest_row_kept_says_so(recorded: tuple[Path, Path]) -> None:
    config_path, store_path = recorded
    first, kept = prune_half(store_path)
    base = ["-c", str(config_path), "--store", str(store_path)]
    early = cli(*base, "--from", str(first), "--json")
    assert early.returncode == 0, early.stderr
    (line,) = early.stderr.strip().splitlines()
    assert iso(kept) in line and '[store] retention = "7d"' in line
    assert line.startswith(f"assistant replay: --from {iso(first)} is before the oldest event")
    body = json.loads(early.stdout)
    assert body["from"] == iso(kept) and body["notes"] == [line.removeprefix("assistant replay: ")]
    gone = cli(*base, "--from", str(first), "--to", str(kept - 1))
    assert gone.returncode == 2 and gone.stdout == ""
    (line,) = gone.stderr.strip().splitlines()
    assert "nothing to replay" in line and iso(kept) in line and "[store] retention" in line
    inside = cli(*base, "--from", str(kept))
    assert inside.returncode == 0 and inside.stderr == ""
