"""Settings: the TOML config file as frozen, validated pydantic models.

Secrets are given by reference (`env:NAME`, `file:PATH`, `credential:NAME` for systemd's
LoadCredential) and resolved here; an unresolvable reference is a config error, never a
silent "off". Unknown keys are errors. Durations are strings like "30s", "15m".
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from assistant.core.rules.config import AlertRules, AssetCaps, DepositRule, ReduceRule, Rules
from assistant.core.values import Mode, Policy
from assistant.dashboard.config import DashboardSection, is_loopback
from assistant.errors import InputError
from assistant.secrets import resolve_secret
from assistant.service.units import (
    Asset,
    Cap,
    Duration,
    Fraction,
    Positive,
    Size,
    format_duration,
    problems,
    short_of_trigger,
)

DEFAULT_PATHS = (Path("config/assistant.toml"), Path("/etc/assistant/assistant.toml"))
EMULATOR_KEY, EMULATOR_SECRET = "emulator-key", "emulator-secret"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Exchange(_Section):
    environment: Literal["live", "demo", "emulator"] = "live"
    api_key: str = "env:BINANCE_API_KEY"
    api_secret: str = "env:BINANCE_API_SECRET"
    rest_url: str = ""
    ws_url: str = ""
    # After a request whose outcome is unknown, a lookup that finds nothing proves it was not
    # carried out only from its `timestamp + recvWindow` plus this (the executor's
    # LOOKUP_MARGIN: our clock estimate's error, Binance's delay in showing what it did).
    lookup_margin: Duration = 5.0

    @field_validator("rest_url", "ws_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if value and not re.match(r"^(https?|wss?)://", value):
            raise ValueError("must start with http://, https://, ws:// or wss://")
        return value.rstrip("/")


class Telegram(_Section):
    token: str = ""  # "env:NAME", "file:PATH" or "credential:NAME"; "" = Telegram off
    allowed_chat_ids: tuple[int, ...] = ()
    # Who may command the bot in a group chat; required when a group is listed.
    allowed_user_ids: tuple[int, ...] = Field(default=(), validate_default=True)
    base_url: str = ""  # a self-hosted Bot API server, e.g. "http://127.0.0.1:8081/bot"
    confirm_timeout: Duration = 60.0  # Confirm buttons stop working after this

    @field_validator("base_url")
    @classmethod
    def _base(cls, value: str) -> str:
        if value and not re.match(r"^https?://", value):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("allowed_user_ids")
    @classmethod
    def _people(cls, value: tuple[int, ...], info: ValidationInfo) -> tuple[int, ...]:
        """A group (Telegram gives groups negative ids, private chats positive ones) without
        a list of people would let anyone in it command the bot, and move money."""
        groups = [chat for chat in info.data.get("allowed_chat_ids", ()) if chat < 0]
        if groups and not value:
            raise ValueError(
                f"required when allowed_chat_ids lists a group ({groups[0]}): list the people"
                " in it who may command the bot, or anyone in the group could move money"
            )
        return value

    @model_validator(mode="after")
    def _owners(self) -> Telegram:
        if self.token and not self.allowed_chat_ids:
            raise ValueError(
                "allowed_chat_ids: required with a token (nobody could use the bot,"
                " and alerts would go nowhere)"
            )
        return self


MIN_RETENTION = 3600.0


class Store(_Section):
    path: str = "assistant.db"
    warn_free: Size = 2_000_000_000  # free space under the store's folder: a warning below
    critical_free: Size = 500_000_000  # and a critical alert below this
    # Journal, audit and sent outbox rows older than this are pruned (intents and claims never).
    retention: Duration = 7 * 86400.0
    retention_book: Duration = 86400.0  # the shadow mark's quotes (book, trades): pruned sooner

    @field_validator("retention")
    @classmethod
    def _an_hour_at_least(cls, value: float) -> float:
        # Shorter would prune what the outbox's duplicate check (10 minutes) and a replay of
        # the last hour read.
        if value < MIN_RETENTION:
            raise ValueError(f'at least "1h", got {format_duration(value)}')
        return value


class Actions(_Section):
    mode: Literal["dry-run", "confirm", "auto"] = "dry-run"
    paused: bool = False  # the kill switch: no money moves while true


class AlertsSection(_Section):
    margin_ratio: tuple[Fraction, ...] = (Decimal("0.80"), Decimal("0.85"), Decimal("0.90"))
    margin_ratio_band: Fraction = Decimal("0.02")
    distance: tuple[Fraction, ...] = (Decimal("0.10"), Decimal("0.06"), Decimal("0.03"))
    distance_band: Fraction = Decimal("0.01")
    isolated_ratio: tuple[Fraction, ...] = (Decimal("0.80"), Decimal("0.90"))
    cooldown: Duration = 300.0
    stale_after: Duration = 15.0
    drift: bool = True
    daily_summary: str = "08:00"  # UTC time of a daily health summary; "" = none
    early: bool = True  # early warnings from the book (the shadow mark)
    early_stale_after: Duration = 0.5  # a book with no update for this long gives no estimate
    early_max_spread: Fraction = Decimal("0.002")  # nor one wider than this fraction of mid

    @field_validator("daily_summary")
    @classmethod
    def _clock(cls, value: str) -> str:
        if value and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError('expected a UTC time like "08:00", or "" for none')
        return value

    @field_validator("margin_ratio", "isolated_ratio")
    @classmethod
    def _rising(cls, value: tuple[Decimal, ...]) -> tuple[Decimal, ...]:
        if list(value) != sorted(value):
            raise ValueError("tiers must rise from the first warning to the last")
        return value

    @field_validator("distance")
    @classmethod
    def _falling(cls, value: tuple[Decimal, ...]) -> tuple[Decimal, ...]:
        if list(value) != sorted(value, reverse=True):
            raise ValueError("distance tiers must fall from the first warning to the last")
        return value


class DepositAssetCaps(_Section):
    """`[deposit.assets.ASSET]`: the caps of deposits in one asset other than USDT."""

    max_per_action: Cap
    max_per_day: Cap


class DepositSection(_Section):
    enabled: bool = True
    trigger_ratio: Fraction | None = Decimal("0.70")
    trigger_distance: Fraction | None = Decimal("0.06")
    target_ratio: Positive = Decimal("0.50")
    target_distance: Fraction = Decimal("0.10")
    max_per_action: Cap = Decimal("1000")
    max_per_day: Cap = Decimal("3000")
    min_amount: Positive = Decimal("5")
    cooldown: Duration = 30.0
    # What a Multi-Assets or credits account is topped up with, under the caps above (in
    # single-asset mode they are USDT's pool's; another pool only with caps of its own).
    asset: Asset = "USDT"
    assets: dict[Asset, DepositAssetCaps] = Field(default_factory=dict)
    early: bool = False  # may also act on the shadow mark (the book), within the same caps

    @model_validator(mode="after")
    def _caps(self) -> DepositSection:
        if "USDT" in self.assets:
            raise ValueError("assets.USDT: USDT's caps are max_per_action and max_per_day")
        return self

    @model_validator(mode="after")
    def _targets(self) -> DepositSection:
        short_of_trigger("a deposit", self)
        return self


class ReduceSection(_Section):
    enabled: bool = True
    trigger_ratio: Fraction | None = Decimal("0.80")
    trigger_distance: Fraction | None = Decimal("0.03")
    target_ratio: Positive = Decimal("0.60")
    target_distance: Fraction | None = Decimal("0.05")
    policy: Literal["largest-mm", "largest-loss", "priority"] = "largest-mm"
    priority: tuple[str, ...] = ()
    max_fraction: Annotated[Decimal, Field(gt=0, le=1)] = Decimal("0.5")
    fee_rate: Fraction = Decimal("0.0005")
    cooldown: Duration = 10.0
    early: bool = False  # may also act on the shadow mark (the book), within the same caps

    @model_validator(mode="after")
    def _targets(self) -> ReduceSection:
        short_of_trigger("a reduction", self)
        return self


class Mirror(_Section):
    staleness_limit: Duration = 5.0  # no mark for a held symbol for this long: stale
    reconcile_every: Duration = 60.0  # REST snapshot compared with the mirror
    brackets_every: Duration = 3600.0  # leverage brackets are per account and change
    keepalive_every: Duration = 1800.0  # listenKey PUT, well inside its 60 minutes
    flush_every: Duration = 0.05  # group commit of the journal
    future_tolerance: Duration = 2.0  # events dated further past the exchange's clock: refused
    # The maintenance rate assumed for a held symbol Binance sent no brackets for (or the
    # highest rate the held positions' own brackets give them, if higher), until they come.
    fallback_mmr: Annotated[Decimal, Field(gt=0, lt=1, allow_inf_nan=False)] = Decimal("0.05")


class MetricsSection(_Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 0  # 0: no endpoint


class Settings(_Section):
    exchange: Exchange = Field(default_factory=Exchange)
    telegram: Telegram = Field(default_factory=Telegram)
    store: Store = Field(default_factory=Store)
    actions: Actions = Field(default_factory=Actions)
    mirror: Mirror = Field(default_factory=Mirror)
    alerts: AlertsSection = Field(default_factory=AlertsSection)
    deposit: DepositSection = Field(default_factory=DepositSection)
    reduce: ReduceSection = Field(default_factory=ReduceSection)
    metrics: MetricsSection = Field(default_factory=MetricsSection)
    dashboard: DashboardSection = Field(default_factory=DashboardSection)
    source: Path | None = Field(default=None, exclude=True)
    version: str = Field(default="", exclude=True)  # the config file's hash: decisions record it

    @property
    def store_path(self) -> Path:
        """A relative `[store] path` is under systemd's StateDirectory when it sets one
        (`$STATE_DIRECTORY`; the first, if it lists several), else beside the config file."""
        path = Path(self.store.path)
        if path.is_absolute():
            return path
        state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
        if state:
            return Path(state) / path
        return path if self.source is None else self.source.parent / path


def find_config(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    if os.environ.get("ASSISTANT_CONFIG"):
        return Path(os.environ["ASSISTANT_CONFIG"])
    for path in DEFAULT_PATHS:
        if path.exists():
            return path
    raise InputError(
        "no config file: give -c CONFIG, set ASSISTANT_CONFIG, or create config/assistant.toml"
    )


def load_settings(path: Path) -> Settings:
    """Read and validate; raises InputError with one `FILE: key: problem` line per problem."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise InputError(f"{path}: not valid TOML: nested too deeply") from None
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise InputError("\n".join(f"{path}: {line}" for line in problems(exc, Settings))) from None
    version = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    settings = settings.model_copy(update={"source": path.resolve(), "version": version})
    if settings.exchange.environment == "emulator" and not settings.exchange.rest_url:
        raise InputError(f"{path}: exchange.rest_url: required for the emulator")
    if settings.exchange.environment == "demo" and settings.deposit.enabled:
        raise InputError(
            f"{path}: deposit.enabled: Binance demo trading has no spot wallet to"
            " transfer from; set [deposit] enabled = false"
        )
    return settings


def telegram_token(settings: Settings) -> str:
    """The bot token, resolved ("" when Telegram is off)."""
    token = settings.telegram.token
    return resolve_secret(token, "telegram.token", literal_ok=False) if token else ""


MIN_TOKEN = 16  # characters of a dashboard token that guards a page open to the network


def dashboard_token(settings: Settings) -> str:
    """The dashboard's token, resolved ("" when none is set); a short one is refused when the
    page listens beyond loopback (it would be guessed)."""
    token = settings.dashboard.token
    value = resolve_secret(token, "dashboard.token", literal_ok=False) if token else ""
    short_token(value, settings)
    return value


def short_token(value: str, settings: Settings) -> None:
    if value and len(value) < MIN_TOKEN and not is_loopback(settings.dashboard.host):
        raise InputError(
            f"dashboard.token: {len(value)} characters; at least {MIN_TOKEN} are needed when the"
            " page listens beyond loopback (e.g. the output of `openssl rand -hex 16`)"
        )


def api_keys(settings: Settings) -> list[tuple[str, str, bool]]:
    """(key, reference, literal allowed) of the API key and secret; none when the emulator's
    own keys are used (its default)."""
    exchange = settings.exchange
    emulator = exchange.environment == "emulator"
    if emulator and exchange.api_key == Exchange().api_key and "BINANCE_API_KEY" not in os.environ:
        return []
    return [
        ("exchange.api_key", exchange.api_key, emulator),
        ("exchange.api_secret", exchange.api_secret, emulator),
    ]


def credentials(settings: Settings) -> tuple[str, str]:
    """(api key, api secret), resolved; the emulator's own keys by default there."""
    keys = [resolve_secret(ref, where, literal_ok=ok) for where, ref, ok in api_keys(settings)]
    return (keys[0], keys[1]) if keys else (EMULATOR_KEY, EMULATOR_SECRET)


def rules_from(settings: Settings) -> Rules:
    """The config's rules as the pure core's values."""
    a, d, r = settings.alerts, settings.deposit, settings.reduce
    return Rules(
        alerts=AlertRules(
            a.margin_ratio,
            a.margin_ratio_band,
            a.distance,
            a.distance_band,
            a.isolated_ratio,
            int(a.cooldown * 1000),
            int(a.stale_after * 1000),
            a.drift,
            *(a.early, int(a.early_stale_after * 1000), a.early_max_spread),
        ),
        deposit=DepositRule(
            d.enabled,
            d.trigger_ratio,
            d.trigger_distance,
            d.target_ratio,
            d.target_distance,
            d.max_per_action,
            d.max_per_day,
            d.min_amount,
            int(d.cooldown * 1000),
            d.asset,
            {a: AssetCaps(c.max_per_action, c.max_per_day) for a, c in d.assets.items()},
            early=d.early,
        ),
        reduce=ReduceRule(
            r.enabled,
            r.trigger_ratio,
            r.trigger_distance,
            r.target_ratio,
            r.target_distance,
            Policy(r.policy),
            tuple(s.upper() for s in r.priority),
            r.max_fraction,
            r.fee_rate,
            int(r.cooldown * 1000),
            early=r.early,
        ),
        mode=Mode(settings.actions.mode),
        paused=settings.actions.paused,
        version=settings.version,
    )
