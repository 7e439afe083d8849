"""The web UI's fixtures: a seeded SQLite store, the UI served over loopback, one headless Chromium.

The store, the server and the browser are started once per session and shared by every UI test.
Screenshots of each page go to ``<pytest basetemp>/ui-screenshots`` (or ``$TUREEN_UI_SCREENSHOTS``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest

from _ui_seed import seed

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

@pytest.fixture(scope="session")
def ui_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("ui-store")
    return seed(f"sqlite:///{work / 'ui.db'}", work)


class _Server:
    def __init__(self, app: Any) -> None:
        from werkzeug.serving import make_server

        self.srv = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.srv.server_port}"
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture(scope="session")
def ui_app(ui_data: dict[str, Any]) -> Any:
    from tureen.server.ui import create_ui_app

    return create_ui_app(ui_data["uri"])


@pytest.fixture(scope="session")
def ui_url(ui_app: Any) -> Any:
    server = _Server(ui_app)
    yield server.url
    server.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = Path(os.environ.get("TUREEN_UI_SCREENSHOTS") or tmp_path_factory.getbasetemp() / "ui-screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out


def chrome_options(profile: str) -> Any:
    from selenium.webdriver.chrome.options import Options

    opts = Options()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}", "--window-size=1440,1000"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return opts


@pytest.fixture(scope="session")
def browser() -> Any:
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("headless Chromium is not installed (scripts/install-system-deps.sh installs it)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="tureen-chromium-")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=chrome_options(profile))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


class Page:
    """The browser on the UI: ``open(path)`` loads a page and checks the console stayed clean."""

    def __init__(self, driver: Any, base: str, shots: Path) -> None:
        self.d = driver
        self.base = base
        self.shots = shots

    def open(self, path: str) -> Any:
        self.d.get_log("browser")  # drop what earlier pages logged
        self.d.get(self.base + path)
        return self.d

    def console_errors(self) -> list[str]:
        return [e["message"] for e in self.d.get_log("browser") if e.get("level") == "SEVERE"]

    def assert_clean(self) -> None:
        errors = self.console_errors()
        assert not errors, f"console errors: {errors}"
        assert self.d.execute_script("return window.__pwned || null") is None, "a hostile value ran as script"

    def shot(self, name: str) -> Path:
        """A full-page screenshot (the window grows to the page's height for the capture)."""
        path = self.shots / f"{name}.png"
        height = int(self.d.execute_script("return document.documentElement.scrollHeight") or 1000)
        self.d.set_window_size(1440, min(max(height, 800), 6000))
        try:
            self.d.save_screenshot(str(path))
        finally:
            self.d.set_window_size(1440, 1000)
        return path

    def wait(self, condition: Any, timeout: float = 10) -> Any:
        """Wait until ``condition(driver)`` is truthy. An element the page swapped out while the condition read
        it (htmx replaced the node) counts as "not yet": chromedriver reports that either as a stale element or
        as an inspector error naming a node that no longer belongs to the document."""
        from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait

        def checked(driver: Any) -> Any:
            try:
                return condition(driver)
            except StaleElementReferenceException:
                return False
            except WebDriverException as e:
                if "does not belong to the document" in (e.msg or ""):
                    return False
                raise

        return WebDriverWait(self.d, timeout).until(checked)

    def texts(self, selector: str) -> list[str]:
        """The visible text of every element matching ``selector``, read in one script (so a swap in the middle
        cannot leave the list half old, half new)."""
        return list(self.d.execute_script(
            "return Array.from(document.querySelectorAll(arguments[0]), e => e.innerText.trim())", selector))

    def settle(self) -> None:
        """Wait until no htmx request is in flight (and the swap after it is done)."""
        import time

        time.sleep(0.3)
        self.wait(lambda d: not d.find_elements("css selector", ".htmx-request, .htmx-settling, .htmx-swapping"))

    def css(self, selector: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.d.find_element(By.CSS_SELECTOR, selector)

    def all(self, selector: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return self.d.find_elements(By.CSS_SELECTOR, selector)


@pytest.fixture(scope="session")
def page(browser: Any, ui_url: str, screenshots: Path) -> Page:
    return Page(browser, ui_url, screenshots)
