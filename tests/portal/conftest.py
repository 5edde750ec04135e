"""Browser-test fixtures: a live VoiceHub server and Debian's Chromium driven by Playwright.

The browser is Debian's `chromium` (installed by the Makefile's system packages), never one
Playwright downloads: the tests must run offline. One browser serves the whole session; each
test gets a fresh context (its own cookies), so tests stay independent and fast.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from api.app import create_app
from voicehub.runtime import Runtime

# Playwright's expectations wait 5 s by default. A verification that scores a recording,
# or a recorder that must run for a few seconds, can take longer on a loaded CI machine:
# waiting longer never makes a failing page pass, it only keeps a slow one from flaking.
expect.set_options(timeout=30_000)

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 800}
CHROMIUM_FLAGS = [
    "--no-sandbox",
    # The recording step of the consent wizard reads a microphone: Chromium's fake one.
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class LiveServer:
    url: str
    runtime: Runtime


@pytest.fixture
def live_server(runtime: Runtime) -> Iterator[LiveServer]:
    """The real app under uvicorn on a free local port, on the test runtime (so the test can
    read and seed the same database the browser's requests change)."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime=runtime, run_worker=False),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, name="voicehub-live-server", daemon=True)
    thread.start()
    started = threading.Event()
    while not server.started:
        if not thread.is_alive():
            pytest.fail(f"the live server could not start on 127.0.0.1:{port}")
        started.wait(0.02)
    yield LiveServer(url=f"http://127.0.0.1:{port}", runtime=runtime)
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless, shared by every browser test of the session."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("chromium is not on PATH (make system-packages installs Debian's build)")
    chromium = playwright_instance.chromium.launch(
        executable_path=executable, headless=True, args=CHROMIUM_FLAGS
    )
    yield chromium
    chromium.close()


def _new_page(browser: Browser, base_url: str, viewport: dict[str, int]) -> Iterator[Page]:
    context = browser.new_context(
        base_url=base_url,
        viewport={"width": viewport["width"], "height": viewport["height"]},
        locale="ja-JP",
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A desktop-sized page in a fresh context (no cookies), its base URL the live server."""
    yield from _new_page(browser, live_server.url, DESKTOP)


@pytest.fixture
def phone_page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A phone-sized page (375×812) in a fresh context of its own."""
    yield from _new_page(browser, live_server.url, PHONE)


def save_screenshot(page: Page, name: str) -> Path | None:
    """Write docs/screenshots/<name>.png, only when VOICEHUB_SCREENSHOTS=1: an ordinary test
    run must not rewrite the repository's files (`make screenshots` sets it)."""
    if os.environ.get("VOICEHUB_SCREENSHOTS") != "1":
        return None
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def screenshot() -> Callable[[Page, str], Path | None]:
    return save_screenshot
