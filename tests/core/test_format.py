"""One way to write figures for people (`core/format.py`), and the words the rules use with it:
the inconsistencies a user saw (`past 10.0%` beside `past 6.00%`, `ours 0E-8`, `ALERT drift:
drift:`, marks with 8 decimals, "toward ratio 0.6" when distance triggered, a capped deposit
that did not say so) are gone."""

from __future__ import annotations

import logging
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from assistant.chat.chart import Point, ratio_line
from assistant.commands.calc import render
from assistant.commands.recorded import Comparison
from assistant.commands.replay import Report, as_text
from assistant.commands.status import text as status_text
from assistant.core import format as fmt
from assistant.core.actions import SendAlert, reason_of
from assistant.core.events import BracketsLoaded, ExchangeFigures, MarkPriceUpdated, PauseSet
from assistant.core.margin.health import book_health
from assistant.core.margin.liquidation import uniform_distance
from assistant.core.reconcile import figure_drift
from assistant.core.replay import Replayer
from assistant.core.rules.config import DepositRule, ReduceRule, Rules
from assistant.core.rules.engine import evaluate
from assistant.core.rules.memory import Memory
from assistant.core.rules.money import deposit
from assistant.core.values import Severity
from assistant.service.notifier import Notifier
from assistant.store.sqlite import SqliteStore
from tests.core.rules.test_engine import at_price
from tests.core.test_mirror import ready, snapshot
from tests.helpers import real_2024_brackets

D = Decimal


def test_each_kind_of_figure_is_written_one_way() -> None:
    assert fmt.usdt(D("1234.565")) == "1,234.56 USDT"  # half to even, two decimals
    assert fmt.usdt(D("0E-8")) == "0.00 USDT" and fmt.usdt(D("-0.001")) == "0.00 USDT"
    assert fmt.limit(D("0.001")) == "0.001 USDT" and fmt.limit(D("1000")) == "1,000.00 USDT"
    assert (
        fmt.coins(D("500"), "USDC") == "500.00 USDC"
        and fmt.coins(D("0.0150"), "BTC") == "0.015 BTC"
    )
    assert fmt.price(D("31967.27000000"), D("0.10")) == "31,967.3"  # to the tick size
    assert fmt.price(D("1.23456789"), D("0.0001")) == "1.2346"
    assert fmt.price(D("31967.27000000")) == "31,967.27"  # no tick known: by its size
    assert fmt.price(D("0.00123456")) == "0.001235"
    assert fmt.quantity(D("0.50000000")) == "0.5" and fmt.quantity(D("3"), D("0.001")) == "3.000"
    assert fmt.percent(D("0.85123")) == "85.12%" and fmt.percent(None) == "n/a"
    assert fmt.ratio(None) == "past 100% (margin balance ≤ 0)"
    assert fmt.distance(None) == "none" and fmt.distance(None, "never") == "never"
    assert fmt.move(D("-0.1")) == "-10.00%" and fmt.move(D("0.025")) == "+2.50%"
    assert fmt.age(400) == "0.4 s" and fmt.age(20_000) == "20 s" and fmt.age(600_000) == "10 min"
    pause = PauseSet(True, "ann in chat 1", 1)
    assert fmt.event(pause) == "pause or resume from chat"  # never "PauseSet" in a log line


@pytest.mark.parametrize(
    ("tier", "written"),
    [("0.10", "10%"), ("0.06", "6%"), ("0.065", "6.5%"), ("0.80", "80%"), ("0.12347", "12.347%")],
)
def test_thresholds_read_as_configured_whatever_their_size(tier: str, written: str) -> None:
    assert fmt.threshold(D(tier)) == written


def test_a_drift_alert_names_the_figure_once_with_readable_numbers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = ready()
    exchange = ExchangeFigures(D("0E-8"), D("3000"), maint_margins={})
    (drift,) = figure_drift(replace(state, exchange=exchange))
    assert drift.ours.endswith(" USDT") and drift.theirs == "0.00 USDT"  # never "0E-8"
    rules = Rules(deposit=DepositRule(enabled=False), reduce=ReduceRule(enabled=False))
    (alert,) = [
        a for a in evaluate(state, Memory(), 5_000, rules, drift).actions
        if isinstance(a, SendAlert) and a.key == "drift"
    ]  # fmt: skip
    store = SqliteStore(tmp_path / "a.db")
    with caplog.at_level(logging.WARNING, "assistant.alerts"):
        Notifier(store)(alert)
    store.close()
    (line,) = [r.getMessage() for r in caplog.records if r.name == "assistant.alerts"]
    assert line.startswith("ALERT drift: total maintenance margin differs: ours ")
    assert "drift: drift" not in line and "E-" not in line and "Binance's 0.00 USDT" in line


def test_a_money_rule_says_which_trigger_fired_and_that_its_deposit_was_capped() -> None:
    rule = DepositRule(
        trigger_ratio=D("0.99"), trigger_distance=D("0.2"), max_per_action=D("100"), cooldown_ms=0
    )
    book = at_price(ready(), "56000", 2_000).book
    assert book is not None
    _, (action,) = deposit(book, Memory(), 2_000, rule, book.margin_ratio, D("0.05"))
    why = reason_of(action)
    assert why.startswith("distance to liquidation 5.00% ≤ 20%;")  # not the ratio: it did not
    assert "margin ratio" not in why.split(";")[0]
    assert "to reach margin ratio 50% and distance to liquidation 10%" in why
    assert "CAPPED at 100.00 USDT by max_per_action 100.00 USDT (the targets need " in why


def test_an_undefined_ratio_is_the_worst_tier_and_says_why() -> None:
    """A margin balance ≤ 0 leaves no ratio: that is past liquidation, the critical tier, and
    the alert says so with the balance (never "n/a")."""
    rules = Rules(deposit=DepositRule(enabled=False), reduce=ReduceRule(enabled=False))
    state = at_price(ready(), "30000", 2_000)  # far past: the balance is negative
    assert state.book is not None and state.book.margin_ratio is None
    alerts = [
        a for a in evaluate(state, Memory(), 2_000, rules).actions if isinstance(a, SendAlert)
    ]
    (ratio,) = [a for a in alerts if a.key == "margin_ratio"]
    assert ratio.severity == Severity.CRITICAL
    assert ratio.text.startswith("margin ratio past 100% (margin balance -")
    assert "n/a" not in ratio.text


def test_an_undefined_ratio_reads_past_liquidation_in_status_replay_and_plots() -> None:
    """Every other reader of a margin ratio that is None (the balance ≤ 0): `status` text,
    replay's report and the plots of /chart, replay and simulate."""
    state = at_price(ready(), "30000", 2_000)
    assert state.book is not None and state.book.margin_ratio is None
    down, up = uniform_distance(state.book)
    body = render(book_health(state.book), down, up)
    body.update(
        mode="auto", mode_source="config", stale=False, paused=False, age_seconds=1, positions=[]
    )
    shown = status_text(body)
    assert "margin ratio past 100% (margin balance ≤ 0)   margin balance -" in shown

    replayer = Replayer(Rules(deposit=DepositRule(enabled=False), reduce=ReduceRule(enabled=False)))
    replayer.feed_all(
        [
            (900, BracketsLoaded(real_2024_brackets(), 900)),
            (1_000, snapshot()),
            (2_000, MarkPriceUpdated("BTCUSDT", D("30000"), 2_000)),
        ]
    )
    assert replayer.samples[-1].margin_ratio is None
    report = Report(replayer, [], Comparison(), (0, 2_000), Path("a.db"))
    assert "[margin ratio past 100% (margin balance ≤ 0)," in as_text(report)
    points = [Point(s.at, s.margin_ratio, s.distance) for s in replayer.samples]
    assert ratio_line(points)[-1] >= 100  # drawn at the top, not left out as "no data"
