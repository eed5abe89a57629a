"""`status` on accounts the earlier one misread: a flat account, pools, an empty store."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from assistant.commands.status import report, status
from assistant.core.events import AccountSnapshotted, ExchangeFigures
from assistant.core.mirror import MirrorState, apply
from assistant.errors import InputError
from assistant.service.settings import Settings
from assistant.store.sqlite import SqliteStore
from tests.core.test_mirror_modes import ready

D = Decimal
MINUTE = 60_000


def flat(at: int) -> MirrorState:
    snapshot = AccountSnapshotted(
        at, D(1000), False, (), {}, {}, (), {}, ExchangeFigures(D(0), D(1000))
    )
    state = apply(MirrorState(), snapshot)
    return replace(state, connected={"user": True, "market": True})


def test_a_flat_account_is_not_stale_while_the_service_lives() -> None:
    state = flat(1_000)
    settings = Settings()
    # read from the store a minute after the last event, saved a second ago: fresh
    body = report(state, None, settings, 1_000 + MINUTE, saved_at=MINUTE)
    assert body["stale"] is False and body["age_seconds"] == 1.0
    # saved long ago (the service is down): stale
    late = report(state, None, settings, 1_000 + 10 * MINUTE, saved_at=2_000)
    assert late["stale"] is True
    # its user stream down: stale, whatever the clock
    down = replace(state, connected={"user": False})
    assert report(down, None, settings, 2_000, saved_at=2_000)["stale"] is True


def test_top_level_figures_are_all_one_pools() -> None:
    state = ready(usdc_wallet="100")
    body = report(state, None, Settings(), 1_500)
    assert body["pool"] == "USDC"
    assert D(body["wallet_balance"]) == D(100)  # the USDC pool's, beside its margin balance
    pools = {p["asset"]: p for p in body["pools"]}
    assert D(pools["USDT"]["wallet_balance"]) == D(3000)


def test_a_store_that_never_held_an_account_says_so(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    store = SqliteStore(path)
    store.save_state(MirrorState(), 5)  # what a refused (Portfolio Margin) start leaves
    store.close()
    settings = Settings.model_validate({"store": {"path": str(path)}})
    with pytest.raises(InputError, match="holds no account yet"):
        status(settings)


@pytest.mark.parametrize("name", ["/etc/hostname", "../x", ".hidden", "a/b"])
def test_a_credential_is_a_name_never_a_path(name: str, tmp_path: Path) -> None:
    from assistant.secrets import resolve_secret

    with pytest.raises(InputError, match="not a credential's name"):
        resolve_secret(
            f"credential:{name}", "telegram.token", literal_ok=False, credentials_dir=tmp_path
        )


def test_a_short_dashboard_token_is_refused_beyond_loopback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from assistant.service.settings import dashboard_token

    monkeypatch.setenv("BOARD", "12345")
    open_page = Settings.model_validate(
        {"dashboard": {"host": "0.0.0.0", "port": 8080, "token": "env:BOARD"}}
    )
    with pytest.raises(InputError, match="at least 16"):
        dashboard_token(open_page)
    local = Settings.model_validate({"dashboard": {"port": 8080, "token": "env:BOARD"}})
    assert dashboard_token(local) == "12345"
