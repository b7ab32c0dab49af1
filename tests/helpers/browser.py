"""The headless-Chromium side of the browser tests: the ``browser`` fixture
(registered for every test by ``tests/conftest.py``), reading the Projector's
text, keeping screenshots. Launching Chromium, opening the Projector and its
drop-downs are ``projector_tools.viewer.browser``'s.

Debian's Chromium is driven by Playwright (no browser download). Skipped,
loudly, where Chromium or Playwright is missing, unless
``PROJECTOR_TOOLS_REQUIRE_BROWSER=1`` (set by ``.ci/run``), where that is a
failure.
"""

from __future__ import annotations

import os
import warnings

import pytest

# The Chromium set-up has one home, the package's public helper (which
# scripts/demo_screenshots.py uses too); the tests import open_projector, pick
# and TIMEOUT_MS from there.
from projector_tools.viewer.browser import chromium_path, launch_chromium

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


def _missing_browser(reason: str) -> None:
    if os.environ.get("PROJECTOR_TOOLS_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests are required here (PROJECTOR_TOOLS_REQUIRE_BROWSER=1): {reason}")
    message = f"BROWSER TESTS SKIPPED: {reason}"
    warnings.warn(message)
    pytest.skip(message)


def require_browser() -> str:
    """The Chromium to drive; skips (or fails, where required) the test where
    Playwright or Chromium is missing."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing_browser("playwright is not installed (pip install -e '.[test]')")
    exe = chromium_path()
    if exe is None:
        _missing_browser("no Chromium at /usr/bin/chromium (apt-get install chromium)")
    return exe


@pytest.fixture
def browser(tmp_path):
    exe = require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p, exe)  # Playwright gives it a fresh profile dir of its own
        try:
            yield b
        finally:
            b.close()


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
