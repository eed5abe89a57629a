"""The page in a real browser (Debian's headless Chromium, driven over the DevTools protocol)
against the service mirroring the emulator's crash scenario: it shows what `status --json`
says, and shouts when the streams stall."""

from __future__ import annotations

import asyncio
import contextlib
import io
from dataclasses import replace
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image

from assistant.binance.rest import BinanceRest
from assistant.commands.status import reporter
from assistant.dashboard.server import DashboardOptions
from assistant.emulator.exchange.scenario import load_scenario
from assistant.emulator.server.app import Emulator
from assistant.service.bootstrap import build
from assistant.service.scheduler import Timings
from assistant.service.settings import load_settings
from assistant.store.sqlite import SqliteStore
from tests.dashboard.browser import Browser, chromium
from tests.dashboard.test_api import status_json

GAUGE = "document.querySelector('#pool-USDT .gauge-value')?.textContent || ''"
BANNER = (
    "document.body.classList.contains('blind')"
    " ? document.getElementById('banner-title').textContent : ''"
)


def gauge_text(ratio: str) -> str:
    """The ratio as the gauge writes it: a percentage truncated to two places."""
    return f"{(Decimal(ratio) * 100).quantize(Decimal('0.01'), rounding=ROUND_DOWN)}%"


def not_blank(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 200, "a screenshot of few colours"
    commonest = max(count for count, _ in colours)
    assert commonest < 0.9 * image.width * image.height, "a screenshot of one colour"
    return image


def red_share(image: Image.Image, rows: int) -> float:
    band = image.crop((0, 0, image.width, rows))
    colours: list[tuple[int, Any]] = band.getcolors(maxcolors=1 << 20) or []
    red = sum(count for count, (r, g, b) in colours if r > 170 and g < 90 and b < 90)
    return red / (band.width * band.height)


async def test_the_page_shows_the_status_and_shouts_when_blind(tmp_path: Path) -> None:
    if chromium() is None:
        pytest.skip("no chromium: `make browser` installs Debian's package (needs root)")
    scenario = load_scenario("crash")
    scenario = replace(scenario, settings=replace(scenario.settings, speed=2.0))
    emulator = await Emulator(scenario).start()
    config = tmp_path / "assistant.toml"
    config.write_text(
        f'[exchange]\nenvironment = "emulator"\nrest_url = "{emulator.urls["rest"]}"\n'
        f'ws_url = "{emulator.urls["ws"]}"\n[store]\npath = "assistant.db"\n'
        '[mirror]\nstaleness_limit = "2s"\n'
    )
    settings = load_settings(config)
    rest = BinanceRest(
        api_key="emulator-key", api_secret="emulator-secret", rest_url=emulator.urls["rest"]
    )
    store = SqliteStore(settings.store_path)
    runtime = build(
        settings,
        rest=rest,
        ws_url=emulator.urls["ws"],
        store=store,
        # The streams are not reopened during the stall: the page must say stale by itself.
        timings=Timings(reconcile_every=3600, staleness_limit=3600),
        dashboard=DashboardOptions(reporter(settings)),
    )
    task = asyncio.create_task(runtime.run())
    try:
        board = runtime.dashboard
        assert board is not None
        await asyncio.wait_for(board.listening.wait(), 15)
        # No token on loopback, but only for requests addressed to a loopback name.
        port = board.url.rstrip("/").rsplit(":", 1)[1]
        async with (
            aiohttp.ClientSession() as session,
            session.get(board.url, headers={"Host": f"rebound.example:{port}"}) as refused,
        ):
            assert refused.status == 401
        async with Browser() as browser:
            page = await browser.open(board.url)
            await page.wait_for(f"{GAUGE}.endsWith('%') && !({BANNER})", 20)
            not_blank(await page.screenshot())
            assert await page.evaluate("document.querySelectorAll('.rung').length") == 2
            assert await page.evaluate("document.querySelectorAll('canvas').length") >= 2

            async with (
                aiohttp.ClientSession() as session,
                session.post(
                    f"{emulator.urls['control']}/stall", json={"streams": "all", "seconds": 60}
                ) as stalled,
            ):
                assert stalled.status == 200
            shown, expected = "", "?"
            for _ in range(10):  # bounded: page and store settle within a second or two
                body = await status_json(config)
                expected = gauge_text(body["margin_ratio"])
                shown = await page.evaluate(GAUGE)
                if shown == expected:
                    break
            assert shown == expected

            assert await page.wait_for(BANNER, 10) == "DATA IS STALE"
            shot = await page.screenshot()
            (tmp_path / "stale.png").write_bytes(shot)
            image = not_blank(shot)
            assert red_share(image, 40) > 0.5, "no loud banner at the top"
            assert await page.evaluate(GAUGE) == expected  # the last figures stay, greyed
            problems = [
                line
                for line in browser.console
                if line.startswith(("error", "exception")) or "Content Security" in line
            ]
            assert problems == []

            # The service goes away: the page says it has lost contact, at once.
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            assert await page.wait_for(BANNER, 10) == "NO CONTACT WITH THE GUARDIAN"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        store.close()
        await rest.close()
        await emulator.stop()
