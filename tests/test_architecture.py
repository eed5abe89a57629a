"""The import rules of docs/architecture.md ("Who may import whom"), checked by walking every
module's imports."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "assistant"
STDLIB = set(sys.stdlib_module_names)
# What the core must never touch even though it is in the standard library.
CORE_FORBIDDEN_STDLIB = {
    "asyncio",
    "sqlite3",
    "socket",
    "ssl",
    "subprocess",
    "threading",
    "logging",
    "time",
    "os",
    "io",
    "http",
    "urllib",
    "selectors",
}
ADAPTERS = {"binance", "store", "telegram"}
# The dashboard reads the loop and the store through protocols of its own; only the composition
# root knows both sides.
DASHBOARD_MAY_IMPORT = {"core", "errors", "dashboard"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules(sub: str) -> list[Path]:
    return sorted((PACKAGE / sub).rglob("*.py"))


@pytest.mark.parametrize("path", modules("core"), ids=lambda p: p.name)
def test_core_is_pure(path: Path) -> None:
    for name in imports_of(path):
        top = name.split(".")[0]
        if top == "assistant":
            assert name.startswith("assistant.core"), f"{path.name} imports {name}"
        else:
            assert top in STDLIB, f"{path.name} imports third-party {name}"
            assert top not in CORE_FORBIDDEN_STDLIB, f"{path.name} imports {name}"


@pytest.mark.parametrize("layer", sorted(ADAPTERS))
def test_adapters_do_not_import_each_other_or_the_shell(layer: str) -> None:
    for path in modules(layer):
        for name in imports_of(path):
            parts = name.split(".")
            if parts[0] == "assistant" and len(parts) > 1:
                assert parts[1] in {"core", "errors", layer}, f"{path} imports {name}"


def test_emulator_is_an_independent_oracle() -> None:
    for path in modules("emulator"):
        for name in imports_of(path):
            if name.startswith("assistant."):
                allowed = name in {"assistant.core.model", "assistant.errors"} or name.startswith(
                    "assistant.emulator"
                )
                assert allowed, f"{path} imports {name}"


def test_the_exchange_engine_does_not_know_its_server() -> None:
    for path in modules("emulator/exchange"):
        for name in imports_of(path):
            assert not name.startswith("assistant.emulator.server"), f"{path}: {name}"


# Who may import whom, above the core and the adapters (README, "Layout").
SHELL_MAY_IMPORT = {
    "service": {"core", "errors", "secrets", "binance", "store", "service"},
    # The chat's replies are Telegram HTML by the chat port's contract; `telegram.render` is
    # the pure text module that writes it (and turns it into plain text for the console).
    "chat": {"core", "errors", "service", "chat"},
}
CHAT_MAY_ALSO = {"assistant.telegram.render"}
# The config includes the dashboard's own section (its shape and the loopback rule).
SERVICE_MAY_ALSO = {"assistant.dashboard.config"}
BOOTSTRAP = PACKAGE / "service" / "bootstrap.py"  # the composition root wires everything


@pytest.mark.parametrize("layer", sorted(SHELL_MAY_IMPORT))
def test_the_shell_imports_downwards_only(layer: str) -> None:
    for path in modules(layer):
        if path == BOOTSTRAP:
            continue
        for name in imports_of(path):
            parts = name.split(".")
            if parts[0] != "assistant" or len(parts) < 2:
                continue
            if name in (CHAT_MAY_ALSO if layer == "chat" else SERVICE_MAY_ALSO):
                continue
            assert parts[1] in SHELL_MAY_IMPORT[layer], f"{path} imports {name}"


def test_the_chat_sees_the_service_only_through_its_public_faces() -> None:
    """The chat reads a narrow view and puts events in the inbox; it never holds the loop,
    the executor or the store themselves."""
    public = {
        "assistant.service.scheduler",
        "assistant.service.settings",
        "assistant.service.units",
    }
    for path in modules("chat"):
        for name in imports_of(path):
            if name.startswith("assistant.service"):
                assert name in public, f"{path} imports {name}"


def test_the_composition_root_is_the_only_wiring() -> None:
    """Only `bootstrap` builds the runtime's collaborators; everything else asks it."""
    wired = {
        "Loop",
        "Executor",
        "Notifier",
        "BinanceStreams",
        "Scheduler",
        "Inbox",
        "Proposals",
        "Dashboard",
        "Hub",
    }
    for path in [*PACKAGE.rglob("*.py"), *(PACKAGE.parent / "bench").rglob("*.py")]:
        if path == BOOTSTRAP:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in wired, f"{path}:{node.lineno} builds {node.func.id}"


def test_nothing_imports_the_shell() -> None:
    shell = ("assistant.service", "assistant.chat", "assistant.commands", "assistant.cli")
    for sub in ("core", *ADAPTERS, "emulator", "dashboard"):
        for path in modules(sub):
            for name in imports_of(path):
                assert not name.startswith(shell), f"{path}: {name}"


def test_the_dashboard_reads_through_its_own_protocols() -> None:
    for path in modules("dashboard"):
        for name in imports_of(path):
            parts = name.split(".")
            if parts[0] == "assistant" and len(parts) > 1:
                assert parts[1] in DASHBOARD_MAY_IMPORT, f"{path} imports {name}"


@pytest.mark.parametrize(
    "sub", ["service", "chat", "core", *sorted(ADAPTERS), "emulator", "dashboard"]
)
def test_nothing_below_the_commands_imports_them(sub: str) -> None:
    for path in modules(sub):
        for name in imports_of(path):
            assert not name.startswith(("assistant.commands", "assistant.cli")), f"{path}: {name}"


def test_no_folder_holds_more_than_twelve_modules_and_no_module_is_long() -> None:
    for folder in [PACKAGE, *(p for p in PACKAGE.rglob("*") if p.is_dir())]:
        if folder.name == "__pycache__":
            continue
        count = len([p for p in folder.glob("*.py") if p.name != "__init__.py"])
        assert count <= 12, f"{folder} holds {count} modules"
    for path in PACKAGE.rglob("*.py"):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= 400, f"{path} has {lines} lines"
