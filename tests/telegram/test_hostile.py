"""Hostile and broken messages get a polite error and change nothing."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from assistant.core.rules.config import Rules
from assistant.emulator.server.app import Emulator
from tests.telegram.harness import Harness

HOSTILE = [
    ("/status " + "A" * 5000, "too long"),
    ("hello there", "only understand commands"),
    ("/rm -rf /", "Unknown command <code>/rm</code>"),
    ("/<b>bold</b>", "Unknown command <code>/&lt;b&gt;bold&lt;/b&gt;</code>"),
    ("/stress abc", "expected a number, got <code>abc</code>"),
    ("/stress <i>x</i> -5", "is not held"),
    ("/stress -150", "between -99% and +1000%"),
    ("/deposit -5", "a positive number"),
    ("/deposit 1e9", "expected a number"),
    ("/deposit 10.001", "at most 2 decimals"),
    ("/deposit 99999999", "cap"),
    ("/reduce ;DROP TABLE", "Usage"),
    ("/reduce XRPUSDT 50%", "No XRPUSDT position"),
    ("/reduce BTCUSDT 150%", "at most 100%"),
    ("/reduce BTCUSDT 0.0001", "is below BTCUSDT's minimum"),
    ("/reduce BTCUSDT 0.0015", "multiple of"),
    ("/mode yolo", "Usage"),
    ("/mute forever", "expected a duration"),
    ("/mute 400d", "at most"),
    ("/alerts 9999", "between 1 and 50"),
    ("/chart 1y", "expected a duration"),
    ("/status a b c d e f g", "Too many arguments"),
    ("/deposit \u202e100", "expected a number"),
]


@pytest.mark.parametrize(("text", "expected"), HOSTILE)
async def test_a_hostile_message_gets_a_polite_error_and_changes_nothing(
    emulator: Emulator, tmp_path: Path, text: str, expected: str
) -> None:
    rules = replace(Rules(), mode="auto")
    async with Harness(emulator, tmp_path, rules=rules) as h:
        service = h.service
        assert service is not None
        memory = service.memory
        reply = await h.ask(text)
        answer = reply.params["text"]
        assert answer.startswith("⚠️") and expected in answer, answer
        assert h.buttons(reply) == []
        follow = await h.ask("/status")  # still answering, still the same rules and memory
        assert "Margin ratio" in follow.params["text"]
        assert service.memory == memory
        assert service.effective_rules() == rules
    assert emulator.engine.transfers == []
    assert not [o for o in emulator.engine.orders if o["clientOrderId"].startswith("mg-")]


async def test_chart_sends_a_png_of_sensible_size(emulator: Emulator, tmp_path: Path) -> None:
    async with Harness(emulator, tmp_path) as h:
        assert h.service is not None
        store = h.service.store
        now = h.service.state.updated_at
        from decimal import Decimal

        for i in range(200):  # two hours of history, one row every 36 s
            at = now - (200 - i) * 36_000
            ratio = Decimal("0.30") + Decimal(i) / 400
            store.record_health(at, ratio, Decimal(10_000 - i), Decimal(3000), Decimal("0.2"))
        reply = await h.ask("/chart 3h")
        assert reply.method == "sendPhoto"
        assert "3h" in reply.params["caption"]
        image = Image.open(io.BytesIO(reply.params["photo"]))
        image.verify()
        assert image.format == "PNG"
        assert 400 <= image.width <= 2000 and 300 <= image.height <= 2000
