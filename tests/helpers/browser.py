"""The headless-Chromium side of the browser tests: the ``browser`` fixture
(registered for every test by ``tests/conftest.py``), opening the Projector,
reading its text, keeping screenshots.

Debian's Chromium is driven by Playwright (no browser download). Skipped,
loudly, where Chromium or Playwright is missing, unless
``PROJECTOR_TOOLS_REQUIRE_BROWSER=1`` (set by ``.ci/run``), where that is a
failure.
"""

from __future__ import annotations

import os
import shutil
import warnings

import pytest

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 90_000

# Every text node and input value of a subtree, shadow roots included (the
# Projector is Polymer): what a person can read, in document order.
DEEP_TEXT_JS = """(root) => {
  const out = [];
  const walk = (n) => {
    if (n.shadowRoot) walk(n.shadowRoot);
    for (const c of n.childNodes) {
      if (c.nodeType === 3) {
        const t = c.textContent.trim();
        if (t && !['STYLE', 'SCRIPT'].includes(c.parentNode.nodeName)) out.push(t);
      } else if (c.nodeType === 1 || c.nodeType === 11) {
        if (c.nodeName === 'INPUT') out.push('[input ' + c.value + ']');
        walk(c);
      }
    }
  };
  walk(root || document.body);
  return out.join(' | ');
}"""


def _chromium() -> str | None:
    env = os.environ.get("PROJECTOR_TOOLS_CHROMIUM")
    for path in ([env] if env else []) + list(CHROMIUM_CANDIDATES):
        if path and os.path.exists(path):
            return path
    return shutil.which("chromium")


def _missing_browser(reason: str) -> None:
    if os.environ.get("PROJECTOR_TOOLS_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests are required here (PROJECTOR_TOOLS_REQUIRE_BROWSER=1): {reason}")
    message = f"BROWSER TESTS SKIPPED: {reason}"
    warnings.warn(message)
    pytest.skip(message)


@pytest.fixture
def browser(tmp_path):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing_browser("playwright is not installed (pip install -e '.[test]')")
    exe = _chromium()
    if exe is None:
        _missing_browser("no Chromium at /usr/bin/chromium (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=exe,
            args=CHROMIUM_FLAGS,  # Playwright gives it a fresh profile dir of its own
        )
        try:
            yield b
        finally:
            b.close()


def open_projector(browser, url: str):
    """The page and the frame holding the Projector UI (two iframes deep)."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    with page.expect_event(
        "framenavigated", predicate=lambda f: "projector_binary" in f.url, timeout=TIMEOUT_MS
    ) as navigated:
        page.goto(url + "/#projector")
    return page, navigated.value


def save_screenshot(png: bytes, name: str) -> str:
    """Keep a screenshot where people (and CI artifacts) find it:
    ``$PROJECTOR_TOOLS_SCREENSHOT_DIR`` or ``<tmp>/projector-tools-screenshots``
    (``PROJECTOR_TOOLS_SCREENSHOT_DIR=docs`` refreshes the README's picture)."""
    import tempfile

    folder = os.environ.get("PROJECTOR_TOOLS_SCREENSHOT_DIR") or os.path.join(
        tempfile.gettempdir(), "projector-tools-screenshots")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(png)
    print(f"screenshot: {path}")
    return path
