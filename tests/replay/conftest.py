"""A journal recorded by the real service on the crash scenario, once per test session."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator
from assistant.service.settings import Settings, load_settings, rules_from
from tests.emulator.conftest import fast
from tests.service.test_mirror_live import Running

ROOT = Path(__file__).resolve().parent.parent.parent
SPEED = 10.0


def config(folder: Path, extra: str = "") -> Path:
    """The example config in auto, with `extra` TOML appended (later keys win by section)."""
    text = (ROOT / "config" / "assistant.example.toml").read_text()
    text = text.replace('mode = "dry-run"', 'mode = "auto"')
    path = folder / "assistant.toml"
    path.write_text(text + extra)
    return path


async def record(folder: Path, settings: Settings) -> Path:
    emulator = await Emulator(load_scenario(fast("crash", speed=SPEED))).start()
    path = folder / "recorded.db"
    running = Running(emulator, path, rules=rules_from(settings))
    try:
        async with running as service:
            await service.wait_for(lambda s: s.ready, 15)
            for _ in range(200):  # bounded: the scenario ends at 110 s, 11 s of wall time
                if emulator.scenario_time() > 112 or emulator.engine.liquidations:
                    break
                await asyncio.sleep(0.1)
    finally:
        await emulator.stop()
    return path


@pytest.fixture(scope="session")
def recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(config, store) of one recorded crash: the service in auto with the example rules."""
    folder = tmp_path_factory.mktemp("recording")
    path = config(folder)
    store = asyncio.run(record(folder, load_settings(path)))
    return path, store


@pytest.fixture
def recorded(recording: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of the recording (a replay only reads, but tests stay independent)."""
    config_path, store = recording
    shutil.copy(store, tmp_path / store.name)
    shutil.copy(config_path, tmp_path / config_path.name)
    return tmp_path / config_path.name, tmp_path / store.name
