"""The book in the journal: the recorded crash holds quotes (at most two a second a symbol),
the recording's config replays its early warnings exactly, and the same history replayed with
`[alerts] early = false` shows the mark-only rules: the early alerts gone, nothing else. (At
the recording's ten times real time the book leads by a tenth of a second: whether an early
warning comes depends on when the quotes fall; `tests/service/test_early_live.py` replays one
that surely does.)"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from assistant.commands import replay
from assistant.core.events import QuoteUpdated
from assistant.service.settings import load_settings
from assistant.store.sqlite import SqliteStore


def test_early_alerts_replay_and_a_mark_only_config_drops_just_them(
    recorded: tuple[Path, Path], tmp_path: Path
) -> None:
    config_path, store_path = recorded
    store = SqliteStore(store_path)
    quotes = [e for _, e in store.events() if isinstance(e, QuoteUpdated)]
    store.close()
    per_second = Counter((e.symbol, e.event_at // 1_000) for e in quotes)
    assert quotes and max(per_second.values()) <= 2
    same = replay.replay(load_settings(config_path), store_path)
    early = [h for h in same.replayer.happened if h.key.startswith("early:")]
    assert not same.comparison.differs  # the early warnings (if any came) reproduced too
    mark_only = tmp_path / "mark-only.toml"
    mark_only.write_text(config_path.read_text().replace("early = true", "early = false"))
    other = replay.replay(load_settings(mark_only), store_path)
    gone = other.comparison.gone
    assert all(g.key.startswith("early:") for g in gone) and len(gone) == len(early)
    assert not other.comparison.new and not other.comparison.earlier
    assert not other.comparison.later
