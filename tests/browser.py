"""Open a local HTML file in the system's headless Chromium, as a person would, offline.

Playwright drives Debian's ``/usr/bin/chromium`` (never a browser of its own). Every
request the page makes is recorded and every one that leaves the file is refused, so a
page that needs the internet shows it: blank charts and a request in ``outside``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@dataclass
class Visit:
    page: object
    requests: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)


def require_chromium() -> None:
    """Skip without Chromium on a developer's machine; fail in CI, which installs it."""
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")


@contextlib.contextmanager
def visit(path: Path, *, wait_ms: int = 1500, width: int = 1200) -> Iterator[Visit]:
    """Open ``path`` in a fresh profile; yield the page and what it asked for."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    url = path.resolve().as_uri()
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport={"width": width, "height": 900},
        )
        try:
            page = context.new_page()
            seen = Visit(page)

            def route(r) -> None:
                seen.requests.append(r.request.url)
                if r.request.url == url:
                    r.continue_()
                else:
                    seen.outside.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.on("console", lambda m: seen.console.append((m.type, m.text)))
            page.on("pageerror", lambda e: seen.console.append(("pageerror", str(e))))
            page.goto(url)
            page.wait_for_timeout(wait_ms)
            yield seen
        finally:
            context.close()
