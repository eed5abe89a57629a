"""What the chat says is true and reads one way (issue 17, items 7, 8, 10 to 12), through the
real bot stack: PTB polling the fake Bot API, the real service mirroring the emulator. The
emulator's own engine is the judge of where an account is liquidated."""

from __future__ import annotations

import datetime as dt
import io
import re
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from PIL import Image

from assistant.chat import chart
from assistant.core.rules.config import DepositRule, ReduceRule, Rules
from assistant.emulator.exchange.engine import Engine
from assistant.emulator.server.app import Emulator
from tests.service.test_mirror_live import control
from tests.telegram.harness import Harness

D = Decimal
WATCH_ONLY = Rules(deposit=DepositRule(enabled=False), reduce=ReduceRule(enabled=False))
PRICE = r"([0-9][0-9,]*\.[0-9]+)"


def number(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


def prices(text: str) -> dict[str, Decimal]:
    """`BTCUSDT 54,123.4, ETHUSDT 2,700.12` as {symbol: price}."""
    return {s: number(p) for s, p in re.findall(rf"([A-Z]{{3,}}USDT) {PRICE}", text)}


def cross_liquidated(engine: Engine, marks: dict[str, Decimal]) -> bool:
    """The emulator's own health check at these marks (its marks are put back at once)."""
    kept = dict(engine.marks)
    try:
        engine.marks.update(marks)
        balance, mm, _ = engine.cross()
        return balance <= mm
    finally:
        engine.marks.clear()
        engine.marks.update(kept)


def scaled(marks: dict[str, Decimal], factor: str) -> dict[str, Decimal]:
    return {s: p * D(factor) for s, p in marks.items()}


async def test_stress_says_liquidated_past_a_zero_balance_and_where(
    emulator: Emulator, tmp_path: Path
) -> None:
    async with Harness(emulator, tmp_path, rules=WATCH_ONLY) as h:
        wiped = (await h.ask("/stress -30")).params["text"]
        assert "margin ratio 6.00% → past 100% (margin balance ≤ 0)" in wiped, wiped
        assert "→ -" in wiped and "<b>LIQUIDATED</b>" in wiped and "not liquidated" not in wiped
        where = prices(wiped.split("LIQUIDATED")[1])
        assert set(where) == {"BTCUSDT", "ETHUSDT"}
        # The emulator agrees: liquidated just past those marks, not just short of them.
        assert cross_liquidated(emulator.engine, scaled(where, "0.9999"))
        assert not cross_liquidated(emulator.engine, scaled(where, "1.0001"))

        short = (await h.ask("/stress -3")).params["text"]
        assert "not liquidated: that takes a -6.29% move" in short, short
        assert prices(short.split("not liquidated")[1]) == where  # the same place

        one = (await h.ask("/stress BTCUSDT -30")).params["text"]
        assert "<b>LIQUIDATED</b>" in one
        (btc,) = [p for p in emulator.engine.open_positions() if p.symbol == "BTCUSDT"]
        theirs = emulator.engine.liquidation_price(btc)
        ours = prices(one.split("LIQUIDATED")[1])["BTCUSDT"]
        assert abs(ours - theirs) <= D("0.1"), (ours, theirs)  # one tick


async def test_figures_read_one_way_prices_to_the_tick(emulator: Emulator, tmp_path: Path) -> None:
    async with Harness(emulator, tmp_path, rules=WATCH_ONLY) as h:
        positions = (await h.ask("/positions")).params["text"]
        assert "mark 60,000.0," in positions and "mark 3,000.00," in positions  # tick sizes
        assert not re.search(r"\d\.\d{5,}", positions), positions  # no 8-decimal marks
        status = (await h.ask("/status")).params["text"]
        assert "<b>Margin ratio</b> 6.00% (first alert at 80%)" in status, status
        assert "<b>Margin balance</b> 3,000.00 USDT (maintenance margin 180.00 USDT)" in status
        assert "<b>Distance to liquidation</b> 6.29%" in status
        rules = (await h.ask("/rules")).params["text"]
        assert "margin ratio at 80%, 85%, 90%; distance to liquidation at 10%, 6%, 3%" in rules
        helped = (await h.ask("/help")).params["text"]
        assert "<code>/confirm TOKEN</code>" in helped and "<code>/cancel TOKEN</code>" in helped


async def test_health_compares_at_the_snapshot_s_marks_not_ours_of_now(
    emulator: Emulator, tmp_path: Path
) -> None:
    async with Harness(emulator, tmp_path, rules=WATCH_ONLY) as h:
        assert h.service is not None
        await control(emulator, "mark", {"symbol": "BTCUSDT", "price": "57000"})  # it moves on
        await h.service.wait_for(lambda s: s.marks.get("BTCUSDT") == D("57000"), 10)
        text = (await h.ask("/health")).params["text"]  # ... Binance's snapshot did not
        assert "both at the marks of Binance's snapshot of" in text, text
        mm = re.search(rf"maintenance margin USDT {PRICE} \| {PRICE}\n", text)
        balance = re.search(rf"margin balance USDT {PRICE} \| {PRICE}\n", text)
        assert mm and balance, text
        assert mm.group(1) == mm.group(2) and balance.group(1) == balance.group(2)
        for side in re.findall(rf"liquidation {PRICE} \| {PRICE}", text):
            assert abs(number(side[0]) - number(side[1])) <= D("0.1"), text
        assert "now (newest mark" in text and "margin balance 1,500.00 USDT" in text


async def test_chart_draws_whatever_history_there_is_through_now(
    emulator: Emulator, tmp_path: Path
) -> None:
    async with Harness(emulator, tmp_path, rules=WATCH_ONLY) as h:
        for asked in ("/chart", "/chart 24h", "/chart 5m"):
            reply = await h.ask(asked)
            assert reply.method == "sendPhoto", reply.params.get("text")
            caption = str(reply.params["caption"])
            assert "Margin ratio, distance to liquidation and margin balance" in caption
            newest = re.search(r"the newest (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", caption)
            assert newest, caption
            at = dt.datetime.strptime(newest.group(1), "%Y-%m-%d %H:%M:%S")
            assert abs(at.replace(tzinfo=dt.UTC).timestamp() - time.time()) < 30  # live
            image = Image.open(io.BytesIO(reply.params["photo"]))
            assert image.format == "PNG" and image.width >= 800


async def test_a_chat_deposit_says_who_asked_once(emulator: Emulator, tmp_path: Path) -> None:
    async with Harness(emulator, tmp_path, rules=replace(WATCH_ONLY, mode="auto")) as h:
        question = await h.ask("/deposit 100")
        confirm, _ = h.buttons(question)
        await h.press(confirm)
        done = await h.take(lambda c: "done: transfer" in str(c.params.get("text")))
        text = str(done.params["text"])
        assert text.endswith("done: transfer 100.00 USDT from spot to futures (asked by chat 4242)")
        assert "asked from chat" not in text


def test_every_threshold_line_has_its_label() -> None:
    lines = chart.Lines.of(Rules())
    assert [label for _, label in lines.ratio] == [
        "warning 80%",
        "warning 85%",
        "critical 90%",
        "deposit at 70%",
        "reduce at 80%",
    ]
    assert [label for _, label in lines.distance] == [
        "warning 10%",
        "warning 6%",
        "critical 3%",
        "deposit at 6%",
        "reduce at 3%",
    ]
