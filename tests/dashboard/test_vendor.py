"""The page's files: uPlot exactly as its pinned release, everything shipped in the package,
nothing inline and nothing from elsewhere."""

from __future__ import annotations

import hashlib
import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PACKAGE = ROOT / "assistant" / "dashboard"
STATIC = PACKAGE / "static"


def test_vendored_uplot_is_the_pinned_release_byte_for_byte() -> None:
    note = (STATIC / "vendor" / "VENDOR.md").read_text()
    assert "| version | 1.6.32 (pinned) |" in note
    rows = re.findall(r"^\| `([^`]+)` \| `[^`]+` \| `([0-9a-f]{64})` \|$", note, re.M)
    assert {name for name, _ in rows} == {"uPlot.iife.min.js", "uPlot.min.css", "uPlot.LICENSE"}
    for name, digest in rows:
        assert hashlib.sha256((STATIC / "vendor" / name).read_bytes()).hexdigest() == digest, name
    assert "MIT License" in (STATIC / "vendor" / "uPlot.LICENSE").read_text()


def test_every_file_of_the_page_is_package_data() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["assistant.dashboard"]
    files = [p.relative_to(PACKAGE).as_posix() for p in STATIC.rglob("*") if p.is_file()]
    assert len(files) >= 7
    for name in files:
        assert any(fnmatch(name, pattern) for pattern in patterns), name


def test_the_page_has_no_inline_script_or_style_and_nothing_from_elsewhere() -> None:
    html = (STATIC / "index.html").read_text()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="static/' in attrs and not body.strip() for attrs, body in scripts)
    assert "<style" not in html and " style=" not in html and "javascript:" not in html
    assert not re.search(r" on[a-z]+=", html)  # no inline event handlers
    for name in ("index.html", "app.js", "app.css"):
        text = (STATIC / name).read_text().replace('"http://www.w3.org/2000/svg"', "")  # a name
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text), name
    script = (STATIC / "app.js").read_text()
    assert "innerHTML" not in script and "eval(" not in script and "new Function" not in script
