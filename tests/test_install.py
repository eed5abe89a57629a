"""`make install PREFIX=...` as an operator runs it: a runtime-only virtual environment and
PREFIX/bin/assistant, which then answers `--version` and `check-config --credentials-dir`;
nothing of the install lands in the checkout. pip's own cache makes it take seconds, not
minutes (no download when the wheels are there); bytecode compiling is left out here only."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEV_ONLY = ("pytest", "mypy", "ruff", "hypothesis", "pytest-asyncio", "pytest_asyncio")
# As on a server: nothing points Python at this checkout.
CLEAN = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CREDENTIALS_DIRECTORY")}


def lock_names(path: Path) -> set[str]:
    lines = path.read_text().splitlines()
    return {line.split("==")[0].lower() for line in lines if line and not line.startswith("#")}


def test_the_runtime_lock_holds_no_development_tool() -> None:
    runtime = lock_names(ROOT / "requirements.lock")
    dev = lock_names(ROOT / "requirements-dev.lock")
    assert not runtime & {name.lower() for name in DEV_ONLY}
    assert {"pytest", "mypy", "ruff", "hypothesis"} <= dev
    assert not runtime & dev  # each pin in one place


def test_make_install_into_a_prefix(tmp_path: Path) -> None:
    if shutil.which("make") is None:
        pytest.skip("no make here")
    prefix = tmp_path / "opt" / "assistant"
    before = sorted(p.name for p in ROOT.iterdir())
    python = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    result = subprocess.run(
        ["make", "--no-print-directory", "install", f"PREFIX={prefix}", f"PYTHON={python}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**CLEAN, "PIP_NO_COMPILE": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in ROOT.iterdir()) == before  # no build/, no *.egg-info
    assert sorted(p.name for p in prefix.iterdir()) == ["bin", "share", "venv"]
    command = prefix / "bin" / "assistant"
    said = subprocess.run(
        [str(command), "--version"], capture_output=True, text=True, timeout=60, env=CLEAN
    )
    assert said.returncode == 0
    assert said.stdout == f"assistant {version('binance-margin-assistant')}\n"
    # The runtime only, and it is enough: every module imports without the dev tools.
    python_in = prefix / "venv" / "bin" / "python"
    listed = subprocess.run(
        [str(python_in), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env=CLEAN,
    ).stdout.lower()
    for tool in DEV_ONLY:
        assert f"\n{tool}==" not in f"\n{listed}", tool
    imported = subprocess.run(
        [
            str(python_in),
            "-c",
            "import pkgutil, importlib, assistant\n"
            "for m in pkgutil.walk_packages(assistant.__path__, 'assistant.'):\n"
            "    if not m.name.endswith('__main__'): importlib.import_module(m.name)\n"
            "print(assistant.__file__)",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
        env=CLEAN,
    )
    assert imported.returncode == 0, imported.stderr[-3000:]
    assert imported.stdout.startswith(str(prefix / "venv"))  # the installed copy, not ours
    # The example config, the units and the docs are there for the README's steps.
    share = prefix / "share" / "assistant"
    for name in ("README.md", "assistant.example.toml", "docs/calc.md", "docs/emulator.md"):
        assert (share / name).is_file(), name
    assert (share / "systemd" / "assistant.service.d" / "telegram.conf").is_file()
    # check-config with the credentials in a folder, as the README's step 5 runs it.
    creds = tmp_path / "credentials"
    creds.mkdir()
    (creds / "binance_api_key").write_text("fake-key-for-tests\n")
    (creds / "binance_api_secret").write_text("fake-secret-for-tests\n")
    config = tmp_path / "assistant.toml"
    example = (share / "assistant.example.toml").read_text()
    config.write_text(
        example.replace('"env:BINANCE_API_KEY"', '"credential:binance_api_key"')
        .replace('"env:BINANCE_API_SECRET"', '"credential:binance_api_secret"')
        .replace('path = "assistant.db"', f'path = "{tmp_path / "assistant.db"}"')
    )
    checked = subprocess.run(
        [str(command), "check-config", "-c", str(config), "--credentials-dir", str(creds)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=CLEAN,
    )
    assert checked.returncode == 0, checked.stderr
    assert "Valid. The service watches Binance (live) in mode dry-run" in checked.stdout
    assert "not checked" not in checked.stdout and "fake-secret" not in checked.stdout
    # Installing again (an upgrade) works over the first install.
    again = subprocess.run(
        ["make", "--no-print-directory", "install", f"PREFIX={prefix}", f"PYTHON={python}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**CLEAN, "PIP_NO_COMPILE": "1"},
    )
    assert again.returncode == 0, again.stderr[-3000:]
