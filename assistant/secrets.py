"""Secrets in the config file are references, never values: `env:NAME`, `file:PATH`, or
`credential:NAME` (systemd's LoadCredential=, read from $CREDENTIALS_DIRECTORY)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from assistant.errors import InputError


def resolve_secret(
    reference: str, where: str, *, literal_ok: bool, credentials_dir: Path | None = None
) -> str:
    """The secret a reference points at; literal values only where allowed. A credential is
    read from `credentials_dir` when given, else from systemd's $CREDENTIALS_DIRECTORY."""
    kind, _, name = reference.partition(":")
    if kind == "env" and name:
        value = os.environ.get(name)
        if value is None:
            raise InputError(f"{where}: environment variable {name} is not set")
        return value.strip()
    if kind == "file" and name:
        return _read_secret(Path(name), where)
    if kind == "credential" and name:
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,127}", name):
            raise InputError(
                f"{where}: credential {name[:40]!r} is not a credential's name (letters, digits,"
                " _ . - @; no path): systemd gives each under its own name"
            )
        folder = credentials_dir or os.environ.get("CREDENTIALS_DIRECTORY")
        if not folder:
            raise InputError(
                f"{where}: credential {name} needs systemd's CREDENTIALS_DIRECTORY"
                " (check-config: give --credentials-dir DIR)"
            )
        return _read_secret(Path(folder) / name, where)
    if literal_ok:
        return reference
    raise InputError(f'{where}: give secrets as "env:NAME", "file:PATH" or "credential:NAME"')


def _read_secret(path: Path, where: str) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise InputError(f"{where}: cannot read {path}: {exc.strerror}") from None
