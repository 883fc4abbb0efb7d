"""The console end to end: the real API server, the real ledger CLI, a real Chromium.

One server per session, on a free localhost port, over an embedded SQLite store in a
temporary LEDGER_HOME, prepared the way an operator would: `ledger ingest` the worked
examples, `ledger derive` (the responsibility engine), `ledger projections catch-up` (the
read models), `ledger token create`, then `ledger serve`. Chromium is Debian's
(`deploy/local/browser.sh` installs it), driven by Playwright through `executable_path`:
no browser is ever downloaded.

Screenshots go to `tests/browser/artifacts/` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "worked-examples.jsonl"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path(os.environ.get("LEDGER_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SKIP_BROWSER = os.environ.get("LEDGER_SKIP_BROWSER") == "1"
TENANT = "acme"
VIEWPORT: ViewportSize = {"width": 1440, "height": 900}
START_TIMEOUT_S = 60.0


@dataclass
class ConsoleServer:
    base_url: str
    token: str  # an auditor's
    manager_token: str  # a manager of the plant (e-he, e-wu)
    home: Path
    log: Path

    @property
    def console_url(self) -> str:
        return f"{self.base_url}/console/"

    def get(self, path: str, **params: str) -> httpx.Response:
        """The API as the console calls it: with the bearer token (its tenant is acme)."""
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.get(f"{self.base_url}{path}", params=params, headers=headers, timeout=30)


@dataclass
class PageErrors:
    """Uncaught script errors of a page: a console that throws is broken even if it looks fine."""

    errors: list[str] = field(default_factory=list)


def _require_chromium() -> None:
    if SKIP_BROWSER:
        pytest.skip("LEDGER_SKIP_BROWSER=1: browser tests skipped")
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run deploy/local/browser.sh (installs Debian's "
                    "chromium and fonts-noto-cjk), or set LEDGER_SKIP_BROWSER=1 to skip",
                    pytrace=False)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail("the `playwright` package is missing: pip install -e '.[dev]' "
                    "(never `playwright install`: the tests use Debian's chromium)", pytrace=False)


def _environment(home: Path) -> dict[str, str]:
    """The caller's environment on an embedded store of our own: no PostgreSQL, no key."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LEDGER_") or k in ("LEDGER_SKIP_SERVICES", "LEDGER_SKIP_BROWSER")}
    env.update({"LEDGER_HOME": str(home), "PYTHONUNBUFFERED": "1", "NO_COLOR": "1",
                "COLUMNS": "120"})
    return env


def _ledger(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "cli", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        pytest.fail(f"`ledger {' '.join(args)}` exited {done.returncode}:\n"
                    f"{done.stdout}\n{done.stderr}", pytrace=False)
    return done.stdout


def _token(env: dict[str, str], *options: str) -> str:
    """A token made the way an operator makes one: `ledger token create` prints it last."""
    lines = _ledger(env, "token", "create", "--tenant", TENANT, *options).splitlines()
    return [line.strip() for line in lines if line.strip()][-1]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_ready(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the API server exited {process.returncode}:\n{log.read_text()}",
                        pytrace=False)
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    pytest.fail(f"the API server was not ready in {START_TIMEOUT_S}s:\n{log.read_text()}",
                pytrace=False)


@pytest.fixture(scope="session")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    _require_chromium()
    home = tmp_path_factory.mktemp("console-ledger")
    env = _environment(home)
    _ledger(env, "ingest", str(EXAMPLES))
    _ledger(env, "derive")
    _ledger(env, "projections", "catch-up")
    token = _token(env, "--role", "auditor")
    manager_token = _token(env, "--role", "manager", "--unit", "plant")

    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = home / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_ready(base_url, process, log)
        yield ConsoleServer(base_url, token, manager_token, home, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser(console_server: ConsoleServer) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def _context(browser: Browser, locale: str) -> BrowserContext:
    context = browser.new_context(viewport=VIEWPORT, locale=locale, accept_downloads=True)
    context.set_default_timeout(15_000)
    return context


def _page(context: BrowserContext, errors: PageErrors) -> Page:
    page = context.new_page()
    page.on("pageerror", lambda error: errors.errors.append(str(error)))
    return page


@pytest.fixture
def page_errors() -> PageErrors:
    return PageErrors()


@pytest.fixture
def page(browser: Browser, page_errors: PageErrors) -> Iterator[Page]:
    """A fresh English-speaking tab (navigator.language en-US); fails on script errors."""
    context = _context(browser, "en-US")
    try:
        yield _page(context, page_errors)
    finally:
        context.close()
    assert page_errors.errors == [], f"uncaught script errors: {page_errors.errors}"


@pytest.fixture
def chinese_page(browser: Browser, page_errors: PageErrors) -> Iterator[Page]:
    """A tab whose browser language is Chinese (navigator.language zh-CN)."""
    context = _context(browser, "zh-CN")
    try:
        yield _page(context, page_errors)
    finally:
        context.close()
    assert page_errors.errors == [], f"uncaught script errors: {page_errors.errors}"


@pytest.fixture
def signed_in(page: Page, console_server: ConsoleServer) -> Page:
    sign_in(page, console_server)
    return page


#: Where each role lands after signing in: auditor on cases, HR on evidence, manager on
#: their queue.
LANDING = re.compile(r".*/console/#/(case|evidence|queue)$")


def sign_in(page: Page, server: ConsoleServer, token: str | None = None) -> None:
    page.goto(server.console_url)
    page.get_by_label("API token").fill(token or server.token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(LANDING)


def screenshot(page: Page, artifacts: Path, name: str) -> Path:
    path = artifacts / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path

