"""`assistant simulate`: the example rules save the crash account; without their deposit and
reduce rules it is liquidated. The emulator, not our arithmetic, is the judge."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

from tests.replay.conftest import ROOT

SPEED = "20"


def simulate(config: Path, *extra: str) -> dict[str, object]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "assistant",
            "simulate",
            "-c",
            str(config),
            "--scenario",
            "crash",
            "--speed",
            SPEED,
            "--json",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_the_example_rules_avoid_the_liquidation_and_without_them_it_happens(
    tmp_path: Path,
) -> None:
    example = ROOT / "config" / "assistant.example.toml"
    picture = tmp_path / "simulate.png"
    saved = simulate(example, "--plot", str(picture))
    assert saved["liquidated"] is False
    assert float(str(saved["deposited_usdt"])) > 0 and int(str(saved["reduce_orders"])) > 0
    assert saved["config_mode"] == "dry-run" and saved["mode"] == "auto"
    assert float(str(saved["fees_usdt"])) > 0
    actions = [str(a["text"]) for a in saved["actions"]]  # type: ignore[attr-defined]
    assert actions and all(a.startswith(("transfer ", "reduce-only ", "add ")) for a in actions)
    texts = [str(a["text"]) for a in saved["alerts"]]  # type: ignore[attr-defined]
    assert not any(t.startswith(("done: ", "dry-run: ")) for t in texts)  # announcements apart
    assert saved["alert_count"] == len(texts)  # what the demo counts as alerts too
    assert int(str(saved["notice_count"])) >= len(actions)
    kinds = {str(a["kind"]): str(a["amount"]) for a in saved["actions"]}  # type: ignore[attr-defined]
    assert kinds["deposit"].endswith(" USDT") and kinds["reduce"].endswith("USDT")
    image = Image.open(io.BytesIO(picture.read_bytes()))
    image.verify()
    assert image.format == "PNG"

    text = example.read_text()
    text = text.replace("[deposit]\nenabled = true", "[deposit]\nenabled = false")
    text = text.replace("[reduce]\nenabled = true", "[reduce]\nenabled = false")
    assert text.count("enabled = false") >= 2
    bare = tmp_path / "no-money-rules.toml"
    bare.write_text(text)
    lost = simulate(bare)
    assert lost["liquidated"] is True
    assert lost["deposited_usdt"] == "0" and lost["reduce_orders"] == 0
    assert lost["alerts"], "it still warned"
    assert lost["actions"] == []


def test_a_bad_scenario_or_speed_is_one_clear_line(tmp_path: Path) -> None:
    example = ROOT / "config" / "assistant.example.toml"
    for args, words in (
        (["--scenario", "nope"], "nope"),
        (["--scenario", "crash", "--speed", "0"], "--speed"),
    ):
        result = subprocess.run(
            [sys.executable, "-m", "assistant", "simulate", "-c", str(example), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2 and words in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
