"""Take the README's Projector screenshots from a real trained run.

    make demo                                   # or: projector-tools train --dataset demo --logdir runs/demo
    python scripts/demo_screenshots.py runs/demo --out docs

Starts a real TensorBoard on the run, drives headless Chromium (the system
``/usr/bin/chromium`` through Playwright, with ``projector_tools.viewer.browser``
as the browser tests do) to the Projector and saves:

* ``projector-positivity.png``: tensor ``embedding``, coloured by ``positivity``;
* ``projector-reviews.png``: tensor ``reviews``, coloured by ``label``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # this checkout's package


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("logdir", help="the trained run (what `tensorboard --logdir` gets)")
    parser.add_argument("--out", default="docs", help="folder for the PNGs (default docs)")
    args = parser.parse_args(argv)

    from projector_tools.errors import MissingDependencyError

    try:
        shoot(args.logdir, args.out)
    except MissingDependencyError as e:  # no Playwright or no Chromium: one line, what to install
        print(f"demo_screenshots: {e}", file=sys.stderr)
        return 1
    return 0


def shoot(logdir: str, out: str) -> None:
    from projector_tools.viewer.browser import (
        TIMEOUT_MS, launch_chromium, open_projector, pick, start_playwright, wait_for_points)
    from projector_tools.viewer.tensorboard import TensorBoardServer

    playwright = start_playwright()
    from playwright.sync_api import expect

    os.makedirs(out, exist_ok=True)
    with TensorBoardServer(logdir) as tb, playwright as p:
        browser = launch_chromium(p)
        page, frame = open_projector(browser, tb.url)
        wait_for_points(frame)
        for tensor, column, name in (("embedding", "positivity", "projector-positivity.png"),
                                     ("reviews", "label", "projector-reviews.png")):
            pick(frame, None, tensor, index=0)
            panel = frame.locator("vz-projector-data-panel")
            expect(panel.get_by_text(re.compile(r"^\s*Metadata:")).first).to_be_visible(
                timeout=TIMEOUT_MS)
            pick(frame, "Color by", column)
            page.wait_for_timeout(2000)  # let the scatter redraw with the new colours
            path = os.path.join(out, name)
            page.screenshot(path=path)
            print(f"wrote {path} ({tensor}, coloured by {column})")
        browser.close()


if __name__ == "__main__":
    sys.exit(main())
