"""`assistant replay` on a journal the service recorded: the recording's own config gives back
exactly what was decided; another config shows what would have changed."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

from assistant.commands import replay
from assistant.service.settings import load_settings
from assistant.store.sqlite import SqliteStore
from tests.replay.conftest import config


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant", "replay", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_recording_config_reproduces_every_decision_exactly(
    recorded: tuple[Path, Path],
) -> None:
    config_path, store_path = recorded
    report = replay.replay(load_settings(config_path), store_path)
    store = SqliteStore(store_path)
    decided = {r["decision_id"] for r in store.audit_rows() if r["decision_id"]}
    alerts = [
        (r["at"], r["what"][6:], r["detail"])
        for r in store.audit_rows()
        if r["what"].startswith("alert:") and r["what"][6:] not in replay.NOT_RULES
    ]
    store.close()
    happened = report.replayer.happened
    assert decided and alerts, "the recording has decisions and alerts to reproduce"
    assert {h.decision_id for h in happened if h.kind == "action"} == decided
    assert [
        (h.at, h.key, f"{h.severity}: {h.text}") for h in happened if h.kind == "alert"
    ] == alerts
    assert not report.comparison.differs
    result = cli("-c", str(config_path), "--store", str(store_path), "--json", "--check")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["compared"]["same"] == len(happened) and body["compared"]["new"] == []


def test_other_thresholds_change_the_report_as_expected(
    recorded: tuple[Path, Path], tmp_path: Path
) -> None:
    _, store_path = recorded
    other = tmp_path / "other"
    other.mkdir()
    text = config(other).read_text()
    text = text.replace("distance = [0.10, 0.06, 0.03]", "distance = [0.08, 0.05, 0.02]")
    text = text.replace("[deposit]\nenabled = true", "[deposit]\nenabled = false")
    assert "distance = [0.08, 0.05, 0.02]" in text and "[deposit]\nenabled = false" in text
    (other / "assistant.toml").write_text(text)
    report = replay.replay(load_settings(other / "assistant.toml"), store_path)
    c = report.comparison
    gone = [g.text for g in c.gone]
    new = [h.text for h in c.new]
    assert any("past 10%" in t for t in gone) and any("past 8%" in t for t in new)
    assert any(g.kind == "action" and g.key == "deposit" for g in c.gone)
    assert not any(h.kind == "action" and h.key == "deposit" for h in report.replayer.happened)
    assert c.differs
    result = cli("-c", str(other / "assistant.toml"), "--store", str(store_path), "--check")
    assert result.returncode == 1 and "gone" in result.stdout


def test_the_plot_is_a_png(recorded: tuple[Path, Path], tmp_path: Path) -> None:
    config_path, store_path = recorded
    picture = tmp_path / "replay.png"
    result = cli("-c", str(config_path), "--store", str(store_path), "--plot", str(picture))
    assert result.returncode == 0, result.stderr
    image = Image.open(io.BytesIO(picture.read_bytes()))
    image.verify()
    assert image.format == "PNG" and image.width >= 600 and image.height >= 400


def test_a_window_reports_only_inside_it(recorded: tuple[Path, Path]) -> None:
    config_path, store_path = recorded
    full = replay.replay(load_settings(config_path), store_path)
    middle = full.replayer.happened[len(full.replayer.happened) // 2].at
    late = replay.replay(load_settings(config_path), store_path, since=middle)
    assert late.replayer.happened and all(h.at >= middle for h in late.replayer.happened)
    assert not late.comparison.differs  # the state before the window was still replayed


def test_bad_config_empty_or_missing_store_is_one_clear_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[alerts]\nmargin_ratio = [0.9, 0.8]\n")
    result = cli("-c", str(broken), "--store", str(tmp_path / "x.db"))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "alerts.margin_ratio" in result.stderr
    good = config(tmp_path)
    result = cli("-c", str(good), "--store", str(tmp_path / "missing.db"))
    assert result.returncode == 2 and "no store" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    SqliteStore(tmp_path / "empty.db").close()
    result = cli("-c", str(good), "--store", str(tmp_path / "empty.db"))
    assert result.returncode == 2 and "the journal is empty" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = cli("-c", str(good), "--store", str(tmp_path / "empty.db"), "--from", "yesterday")
    assert result.returncode == 2 and "--from: expected a time" in result.stderr
