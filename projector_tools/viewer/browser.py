"""The Embedding Projector in a headless Chromium, driven by Playwright.

The system Chromium (Debian's ``chromium`` package, ``/usr/bin/chromium``, or
``$PROJECTOR_TOOLS_CHROMIUM``) is driven; Playwright's own browser download is
not needed. Playwright is imported only when a function here needs it. Used by
``scripts/demo_screenshots.py`` and the browser tests::

    from projector_tools.viewer.browser import (
        launch_chromium, open_projector, pick, start_playwright, wait_for_points)
    from projector_tools.viewer.tensorboard import TensorBoardServer

    with TensorBoardServer("runs/demo") as tb, start_playwright() as p:
        browser = launch_chromium(p)
        page, frame = open_projector(browser, tb.url)
        wait_for_points(frame)
        pick(frame, None, "embedding", index=0)   # the tensor drop-down has no label
        pick(frame, "Color by", "positivity")
        page.screenshot(path="projector.png")
        browser.close()
"""

from __future__ import annotations

import os
import re
import shutil
from typing import Any

from projector_tools.errors import MissingDependencyError

#: Where Debian and Ubuntu put Chromium; ``$PROJECTOR_TOOLS_CHROMIUM`` comes first.
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
#: Headless in a container: no sandbox, no GPU (WebGL through SwiftShader), no
#: background network traffic of the browser's own.
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
#: How long to wait for the Projector to load or redraw (it is slow on 2 busy cores).
TIMEOUT_MS = 90_000
#: One line for a machine without the browser side.
INSTALL_HINT = ("the Projector in a browser needs Playwright and Chromium: "
                "pip install playwright, and the Debian package chromium (apt-get install chromium)")


def start_playwright() -> Any:
    """Playwright's ``sync_playwright()`` (a context manager), or
    :class:`MissingDependencyError` naming what to install."""
    try:
        from playwright.sync_api import sync_playwright as start
    except ImportError as e:
        raise MissingDependencyError(INSTALL_HINT) from e
    return start()


def chromium_path() -> str | None:
    """The Chromium executable to drive: ``$PROJECTOR_TOOLS_CHROMIUM``, the
    Debian paths, then ``chromium`` on ``PATH``; None where there is none."""
    env = os.environ.get("PROJECTOR_TOOLS_CHROMIUM")
    for path in ([env] if env else []) + list(CHROMIUM_CANDIDATES):
        if path and os.path.exists(path):
            return path
    return shutil.which("chromium")


def launch_chromium(playwright: Any, executable_path: str | None = None) -> Any:
    """A headless Chromium browser from a started Playwright (``with
    start_playwright() as p: launch_chromium(p)``), with a fresh profile."""
    exe = executable_path or chromium_path()
    if exe is None:
        raise MissingDependencyError(INSTALL_HINT)
    return playwright.chromium.launch(executable_path=exe, args=CHROMIUM_FLAGS)


def open_projector(browser: Any, url: str, *, width: int = 1400, height: int = 900) -> tuple[Any, Any]:
    """A new page on TensorBoard's ``url + "/#projector"``, and the frame that
    holds the Projector's UI (two iframes deep): ``(page, frame)``."""
    page = browser.new_page(viewport={"width": width, "height": height})
    with page.expect_event(
        "framenavigated", predicate=lambda f: "projector_binary" in f.url, timeout=TIMEOUT_MS
    ) as navigated:
        page.goto(url + "/#projector")
    return page, navigated.value


def wait_for_points(frame: Any, count: int | None = None, timeout_ms: int = TIMEOUT_MS) -> None:
    """Waits until the toolbar reads ``Points: N`` (``count`` where given):
    the tensor is loaded."""
    from playwright.sync_api import expect

    number = r"\d+" if count is None else str(count)
    points = frame.get_by_text(re.compile(rf"^\s*Points:\s*{number}\s*$")).first
    expect(points).to_be_visible(timeout=timeout_ms)


def pick(frame: Any, dropdown_label: str | None, option: str, *, index: int | None = None) -> None:
    """Chooses ``option`` in a drop-down of the Projector's data panel, found by
    its label (``"Color by"``, ``"Label by"``) or by position (``index``: the
    tensor drop-down, the first, has no label)."""
    panel = frame.locator("vz-projector-data-panel")
    menus = panel.locator("paper-dropdown-menu")
    menu = menus.nth(index) if index is not None else panel.locator(
        f'paper-dropdown-menu[label="{dropdown_label}"]')
    menu.click()
    menu.locator("paper-item").filter(has_text=re.compile(rf"^\s*{re.escape(option)}\b")).first.click()
