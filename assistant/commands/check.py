"""`assistant check-config`: can the service run with this config, and what will it do?

Problems (the config's own, then every secret that cannot be read) go to stderr, one
`FILE: key: problem` line each, and the exit status is 2. Otherwise stdout gets what was not
checked (a `credential:` reference with no folder to read it from), the warnings, and one
paragraph saying what the service will do.
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from assistant.errors import InputError
from assistant.secrets import resolve_secret
from assistant.service.settings import Settings, api_keys, short_token


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # not checked
    warnings: list[str] = field(default_factory=list)
    summary: str = ""


def check(settings: Settings, credentials_dir: Path | None) -> Report:
    report = Report()
    _secrets(settings, credentials_dir, report)
    _store(settings, report)
    if not settings.telegram.token:
        report.warnings.append(
            'no alert reaches a person: Telegram is off ([telegram] token = ""), so alerts'
            " go to the log only; nobody is told when the account is in danger"
        )
    report.summary = summary(settings) + " " + deposit_summary(settings)
    return report


def _secrets(settings: Settings, folder: Path | None, report: Report) -> None:
    """Every secret, each problem reported (not only the first)."""
    references = list(api_keys(settings))
    if settings.telegram.token:
        references.append(("telegram.token", settings.telegram.token, False))
    if settings.dashboard.token:
        references.append(("dashboard.token", settings.dashboard.token, False))
    systemd = os.environ.get("CREDENTIALS_DIRECTORY")
    for where, reference, literal_ok in references:
        kind, _, name = reference.partition(":")
        if kind == "credential" and name and folder is None and not systemd:
            report.notes.append(
                f"{where}: credential {name} not checked (no --credentials-dir DIR and no"
                " $CREDENTIALS_DIRECTORY); systemd's LoadCredential gives it to the service"
            )
            continue
        try:
            value = resolve_secret(reference, where, literal_ok=literal_ok, credentials_dir=folder)
        except InputError as exc:
            report.problems.append(str(exc))
            continue
        if not value:
            report.problems.append(f"{where}: {kind} {name} is empty")
        elif where == "dashboard.token":
            try:
                short_token(value, settings)
            except InputError as exc:
                report.problems.append(str(exc))


def _store(settings: Settings, report: Report) -> None:
    path = settings.store_path
    folder = path.parent
    if not folder.is_dir():
        report.warnings.append(
            f"store.path: the folder {folder} does not exist; the service does not create it"
            " (under systemd, StateDirectory= does)"
        )
    elif not os.access(folder, os.W_OK | os.X_OK):
        report.warnings.append(
            f"store.path: {folder} is not writable by this user (uid {os.getuid()}); the"
            f" service must create {path.name} and its journal files there"
        )
    elif path.exists() and not os.access(path, os.R_OK | os.W_OK):
        report.warnings.append(f"store.path: {path} is not readable and writable by this user")


def _pct(value: Decimal | None) -> str:
    return "-" if value is None else f"{(value * 100).normalize():f}%"


def _when(ratio: Decimal | None, distance: Decimal | None) -> str:
    parts = [f"margin ratio ≥ {_pct(ratio)}"] if ratio is not None else []
    parts += [f"distance to liquidation ≤ {_pct(distance)}"] if distance is not None else []
    return " or ".join(parts) or "never"


MODES = {
    "dry-run": "dry-run: the rules decide and say what they would do; no money moves",
    "confirm": "confirm: each action the rules decide waits for a person to confirm it",
    "auto": "auto: the rules act on their own, within the caps",
}


def summary(settings: Settings) -> str:
    """One paragraph: environment, mode, who gets alerts, which rules act, the store."""
    ex, tg, actions = settings.exchange, settings.telegram, settings.actions
    a, d, r = settings.alerts, settings.deposit, settings.reduce
    where = {
        "live": "Binance (live)",
        "demo": "Binance demo trading",
        "emulator": f"the emulator at {ex.rest_url}",
    }[ex.environment]
    people = (
        f"Telegram chat(s) {', '.join(str(c) for c in tg.allowed_chat_ids)} and the log"
        if tg.token
        else "the log only"
    )
    acting = [
        "alerts at margin ratio "
        + ", ".join(_pct(t) for t in a.margin_ratio)
        + " and distance to liquidation "
        + ", ".join(_pct(t) for t in a.distance)
    ]
    if d.enabled:
        acting.append(
            f"deposits from spot when {_when(d.trigger_ratio, d.trigger_distance)}, to ratio"
            f" {_pct(d.target_ratio)} (at most {d.max_per_action} USDT each,"
            f" {d.max_per_day} a day)"
        )
    if r.enabled:
        acting.append(
            f"reduce-only orders when {_when(r.trigger_ratio, r.trigger_distance)}, toward ratio"
            f" {_pct(r.target_ratio)} ({r.policy}, at most {_pct(r.max_fraction)} of a"
            " position a step)"
        )
    store = f"{settings.store_path}"
    if not Path(settings.store.path).is_absolute() and not os.environ.get("STATE_DIRECTORY"):
        store += " (a relative path: under systemd it is in $STATE_DIRECTORY instead)"
    text = (
        f"Valid. The service watches {where} in mode {MODES[actions.mode]}"
        + (" — and PAUSED: no money moves ([actions] paused = true)" if actions.paused else "")
        + f". Alerts go to {people}. Rules: {'; '.join(acting)}. Store: {store}."
    )
    return textwrap.fill(text, width=100, break_on_hyphens=False, break_long_words=False)


def deposit_summary(settings: Settings) -> str:
    """check-config's line on deposits: which pools may be topped up, within which caps, and
    which are alerted only."""
    d = settings.deposit
    if not d.enabled:
        return "Deposits: off; every pool is alerted only."
    caps = {"USDT": (d.max_per_action, d.max_per_day)}
    caps |= {a: (c.max_per_action, c.max_per_day) for a, c in sorted(d.assets.items())}
    funded = ", ".join(f"{a} (at most {n} a deposit, {day} a day)" for a, (n, day) in caps.items())
    said = (
        f"Deposits: single-asset pools topped up from spot: {funded}; any other margin asset's"
        f" pool is alerted only. Multi-Assets and credits accounts are topped up with {d.asset}"
        f" (at most {d.max_per_action} a deposit, {d.max_per_day} a day)."
    )
    if d.asset in ("USDT", "BNFCR"):
        said += (
            f" A credits (BNFCR) account cannot take {d.asset} (Binance takes BTC, ETH, BNB or"
            " USDC there): it would be alerted only; set [deposit] asset for one."
        )
    return said
