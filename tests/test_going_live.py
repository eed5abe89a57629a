"""The README's going-live commands, the systemd units and `make install` agree: the command's
path, the config's location, the credential names and files, the user, the state folder, the
Telegram drop-in. (They once did not: the README said config/assistant.toml, the unit read
/etc/assistant, and the unit required a Telegram token even with Telegram off.)"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end > 0 else None]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def commands(text: str) -> list[list[str]]:
    """The shell commands of a section's ```sh blocks, as words (comments dropped)."""
    found = []
    for block in blocks(text, "sh"):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words:
                found.append(words[1:] if words[0] == "sudo" else words)
    return found


def unit(name: str) -> list[tuple[str, str]]:
    pairs = []
    for line in (ROOT / "systemd" / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            pairs.append((key, value))
    return pairs


def values(pairs: list[tuple[str, str]], key: str) -> list[str]:
    return [v for k, v in pairs if k == key]


GOING_LIVE = section("Going live")
STEPS = commands(GOING_LIVE)
MAIN = unit("assistant.service")
TEMPLATE = unit("assistant@.service")


def run_with(*first: str) -> list[list[str]]:
    return [words for words in STEPS if words[: len(first)] == list(first)]


def test_the_command_is_where_make_install_puts_it() -> None:
    prefix = re.search(r"^PREFIX\s*\?=\s*(\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert prefix is not None
    command = f"{prefix.group(1)}/bin/assistant"
    for pairs in (MAIN, TEMPLATE):
        (exec_start,) = values(pairs, "ExecStart")
        assert exec_start.split()[:2] == [command, "run"]
    assert run_with(command, "--version")
    assert run_with(command, "check-config")
    assert run_with("-u", "assistant", command, "status")


def test_the_config_is_where_the_unit_reads_it() -> None:
    (exec_start,) = values(MAIN, "ExecStart")
    config = exec_start.split()[exec_start.split().index("-c") + 1]
    assert config == "/etc/assistant/assistant.toml"
    installed = [w for w in STEPS if w[0] == "install" and w[-1] == config]
    assert installed and installed[0][-2].endswith("/share/assistant/assistant.example.toml")
    for words in run_with("/opt/assistant/bin/assistant", "check-config") + run_with(
        "-u", "assistant", "/opt/assistant/bin/assistant", "status"
    ):
        assert words[words.index("-c") + 1] == config
    (template_exec,) = values(TEMPLATE, "ExecStart")
    assert template_exec.endswith("-c /etc/assistant/%i.toml")
    assert "config/assistant.toml" not in GOING_LIVE  # the old, wrong, instruction


def test_each_credential_the_units_load_is_created_and_named_in_the_config() -> None:
    toml = "\n".join(blocks(GOING_LIVE, "toml"))
    created = {w[-1].split("> ")[-1] for w in STEPS if w[0] == "sh" and "cat >" in w[-1]}
    loads = [v.split(":", 1) for v in values(MAIN, "LoadCredential")]
    assert {name for name, _ in loads} == {"binance_api_key", "binance_api_secret"}
    telegram = unit("assistant.service.d/telegram.conf")
    loads += [v.split(":", 1) for v in values(telegram, "LoadCredential")]
    for name, path in loads:
        assert path in created, f"the README never writes {path}"
        assert f'"credential:{name}"' in toml or f'"credential:{name}"' in GOING_LIVE, name
    folders = {str(Path(path).parent) for _, path in loads}
    assert len(folders) == 1
    (checked,) = run_with("/opt/assistant/bin/assistant", "check-config")
    assert checked[checked.index("--credentials-dir") + 1] == folders.pop()
    # The template reads the same names from the instance's own folder.
    for name, path in (v.split(":", 1) for v in values(TEMPLATE, "LoadCredential")):
        assert path == f"/etc/assistant/credentials/%i/{name}"
    instance = unit("assistant@.service.d/telegram.conf")
    assert values(instance, "LoadCredential") == [
        "telegram_token:/etc/assistant/credentials/%i/telegram_token"
    ]


def test_telegram_is_optional_and_its_drop_in_is_the_one_installed() -> None:
    for pairs in (MAIN, TEMPLATE):
        assert all("telegram" not in v for v in values(pairs, "LoadCredential"))
    (installed,) = [w for w in STEPS if w[0] == "install" and w[-1].endswith("telegram.conf")]
    assert installed[-1] == "/etc/systemd/system/assistant.service.d/telegram.conf"
    source = installed[-2].split("/share/assistant/", 1)[1]
    assert (ROOT / source).is_file()  # make install copies systemd/ to share/assistant/


def test_the_user_the_state_folder_and_the_store_agree() -> None:
    (user,) = values(MAIN, "User")
    (useradd,) = run_with("useradd")
    assert useradd[-1] == user
    assert values(MAIN, "Group") == [user] and values(TEMPLATE, "User") == [user]
    assert values(MAIN, "DynamicUser") == []  # a system user: status runs as it by hand
    (state,) = values(MAIN, "StateDirectory")
    folder = f"/var/lib/{state}"
    assert values(MAIN, "WorkingDirectory") == [folder]
    made = [w for w in STEPS if w[:2] == ["install", "-d"] and w[-1] == folder]
    assert made and f"-o {user}" in " ".join(made[0])
    toml = "\n".join(blocks(GOING_LIVE, "toml"))
    assert f'path = "{folder}/assistant.db"' in toml
    assert values(TEMPLATE, "StateDirectory") == [f"{state}/%i"]


def test_start_and_watch() -> None:
    installed = [w for w in STEPS if w[0] == "install" and w[-1].startswith("/etc/systemd/")]
    assert [w[-1] for w in installed][-1] == "/etc/systemd/system/assistant.service"
    assert installed[-1][-2].endswith("/share/assistant/systemd/assistant.service")
    assert run_with("systemctl", "daemon-reload")
    assert run_with("systemctl", "enable", "--now", "assistant")
    assert run_with("journalctl", "-u", "assistant", "-f")
    for pairs in (MAIN, TEMPLATE):
        assert "3" in values(pairs, "RestartPreventExitStatus")[0].split()


def test_the_readme_points_only_into_the_repository() -> None:
    assert "../shared" not in README and "shared/" not in README
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if not target.startswith("http"):
            assert (ROOT / target).is_file(), target
    for doc in ("emulator.md", "calc.md", "architecture.md", "margin-math.md"):
        assert f"(docs/{doc})" in README, doc
