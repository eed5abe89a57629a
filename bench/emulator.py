"""Emulator: mark-price updates pushed per second to one websocket subscriber.

The emulator runs as its own process (`assistant emulator`), as in the service's end-to-end
benchmarks, with fifty symbols and a clock so fast that it publishes back to back; one real
`websockets` client subscribed to every symbol's `<symbol>@markPrice@1s` counts what arrives.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect

SYMBOLS = [f"SYM{i:02d}USDT" for i in range(50)]
SECONDS = 5.0


def scenario_file(folder: Path) -> Path:
    raw = {
        "symbols": {s: {"mark": str(100 + i)} for i, s in enumerate(SYMBOLS)},
        "path": [
            {"t": 0, **{s: str(100 + i) for i, s in enumerate(SYMBOLS)}},
            {"t": 10_000_000, **{s: str(200 + i) for i, s in enumerate(SYMBOLS)}},
        ],
        "settings": {"mark_interval": 1, "speed": 1_000_000},
    }
    path = folder / "bench.json"
    path.write_text(json.dumps(raw))
    return path


async def count_updates(ws_url: str) -> tuple[int, float]:
    streams = "/".join(f"{s.lower()}@markPrice@1s" for s in SYMBOLS)
    async with connect(f"{ws_url}/market/ws/{streams}", proxy=None, max_queue=None) as ws:
        await ws.recv()  # the first frame: the stream is flowing
        received = 0
        start = time.perf_counter()
        deadline = start + SECONDS
        async for _ in ws:  # bounded by the deadline; the emulator never stops publishing
            received += 1
            if time.perf_counter() >= deadline:
                break
        return received, time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = scenario_file(Path(folder))
        with subprocess.Popen(
            [sys.executable, "-m", "assistant", "emulator", "--scenario", str(path)],
            stdout=subprocess.PIPE,
            text=True,
        ) as process:
            try:
                assert process.stdout is not None
                urls = json.loads(process.stdout.readline())
                received, elapsed = asyncio.run(count_updates(urls["ws"]))
            finally:
                process.terminate()
                process.wait(timeout=10)
    print("emulator: mark updates pushed to one subscriber (50 symbols, separate process)")
    print(f"  {received / elapsed:,.0f} updates/s over {elapsed:.1f} s")


if __name__ == "__main__":
    main()
