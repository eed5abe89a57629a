"""Shared test helpers: loading the bracket tables and fixtures kept in tests/."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from assistant.binance.wire import parse_leverage_brackets
from assistant.core.model import BracketTable

TESTS = Path(__file__).parent
DATA = TESTS / "data"
FIXTURES = TESTS / "fixtures" / "binance"


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)


def faq_2021_brackets() -> dict[str, BracketTable]:
    return parse_leverage_brackets(load_json(DATA / "brackets_faq_2021.json")["brackets"])


def real_2024_brackets() -> dict[str, BracketTable]:
    return parse_leverage_brackets(load_json(DATA / "leverage_brackets_2024-10-24.json"))


def fixture(name: str) -> Any:
    return load_json(FIXTURES / name)
