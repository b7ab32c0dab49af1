"""Take the README's Projector screenshots from a real trained run.

    make demo                                   # or: projector-tools train --dataset demo --logdir runs/demo
    python scripts/demo_screenshots.py runs/demo --out docs

Starts a real TensorBoard on the run, drives headless Chromium (the system
``/usr/bin/chromium`` through Playwright, as the browser tests do) to the
Projector and saves:

* ``projector-positivity.png``: tensor ``embedding``, coloured by ``positivity``;
* ``projector-reviews.png``: tensor ``reviews``, coloured by ``label``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))  # the browser tests' Chromium set-up


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("logdir", help="the trained run (what `tensorboard --logdir` gets)")
    parser.add_argument("--out", default="docs", help="folder for the PNGs (default docs)")
    args = parser.parse_args(argv)

    from playwright.sync_api import expect, sync_playwright

    from projector_tools.viewer.tensorboard import TensorBoardServer
    from test_browser import CHROMIUM_FLAGS, TIMEOUT_MS, _chromium
    from test_story_browser import pick

    os.makedirs(args.out, exist_ok=True)
    tb = TensorBoardServer(args.logdir).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            with page.expect_event("framenavigated", timeout=TIMEOUT_MS,
                                   predicate=lambda f: "projector_binary" in f.url) as nav:
                page.goto(tb.url + "/#projector")
            frame = nav.value
            points = re.compile(r"^\s*Points:\s*\d+\s*$")
            expect(frame.get_by_text(points).first).to_be_visible(timeout=TIMEOUT_MS)
            for tensor, column, name in (("embedding", "positivity", "projector-positivity.png"),
                                         ("reviews", "label", "projector-reviews.png")):
                pick(frame, None, tensor, index=0)
                panel = frame.locator("vz-projector-data-panel")
                expect(panel.get_by_text(re.compile(rf"^\s*Metadata:")).first).to_be_visible(
                    timeout=TIMEOUT_MS)
                pick(frame, "Color by", column)
                page.wait_for_timeout(2000)  # let the scatter redraw with the new colours
                path = os.path.join(args.out, name)
                page.screenshot(path=path)
                print(f"wrote {path} ({tensor}, coloured by {column})")
            browser.close()
    finally:
        tb.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
