"""What a person sees: the Projector in a real headless Chromium, on our runs.

TensorBoard (a real process) serves an exported run; Playwright drives
Debian's Chromium (no browser download) to ``/#projector`` and reads the
page the way a person would. Skipped, loudly, where Chromium or Playwright
is missing, unless ``PROJECTOR_TOOLS_REQUIRE_BROWSER=1`` (set by ``.ci/run``),
where that is a failure.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from projector_tools.viewer.browser import TIMEOUT_MS, open_projector
from tests.helpers.browser import DEEP_TEXT_JS, save_screenshot
from tests.helpers.view_fixtures import LAYER, export_trained

pytestmark = pytest.mark.browser

def colored_pixels_in_scatter(page, frame, png: bytes) -> int:
    """Saturated pixels inside the Projector's largest canvas (the scatter plot):
    the points, which the white background and thin axes do not make up."""
    import io

    from PIL import Image

    canvases = frame.locator("canvas")
    boxes = [canvases.nth(i).bounding_box() for i in range(canvases.count())]
    box = max((b for b in boxes if b), key=lambda b: b["width"] * b["height"])
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    x0, y0 = int(box["x"]), int(box["y"])
    crop = img[y0:y0 + int(box["height"]), x0:x0 + int(box["width"])]
    return int((crop.max(axis=2) - crop.min(axis=2) > 60).sum())


def assert_points_drawn(page, frame, name: str, at_least: int = 2000) -> None:
    """Screenshots until the scatter plot shows ``at_least`` saturated pixels (the
    selection and its neighbours are drawn a frame or more after the panel text),
    up to TIMEOUT_MS; the last one is kept as ``name``."""
    import time

    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while True:
        shot = page.screenshot()
        count = colored_pixels_in_scatter(page, frame, shot)
        if count > at_least or time.monotonic() > deadline:
            break
    save_screenshot(shot, name)
    assert count > at_least, f"the screenshot shows no points ({count} coloured pixels)"


def test_projector_shows_exported_run(tensorboard, browser, tmp_path):
    from playwright.sync_api import expect

    from projector_tools.analysis.neighbors import nearest

    trained = export_trained(tmp_path / "logs")
    n, d = trained.matrix.shape
    tb = tensorboard(trained.logdir)
    assert tb.wait_for_projector_runs() == [trained.run]

    page, frame = open_projector(browser, tb.url)
    # What a person reads in the toolbar once the tensor has loaded.
    points = frame.get_by_text(re.compile(rf"^\s*Points:\s*{n}\s*$")).first
    expect(points).to_be_visible(timeout=TIMEOUT_MS)
    expect(frame.get_by_text(re.compile(rf"^\s*Dimension:\s*{d}\s*$")).first).to_be_visible()
    text = frame.evaluate(DEEP_TEXT_JS)
    # the toolbar reads "Points: N | Dimension: D" (the bar is a CSS border)
    assert re.search(rf"Points: \| {n} \| Dimension: \| {d} \|", text), text[:2000]
    # The tensor drop-down shows the layer name, and the metadata file is loaded.
    assert re.search(rf"1 tensor found \| \[input {re.escape(LAYER)}\]", text), text[:2000]
    assert "Metadata:" in text
    for bad in ("do not match", "Error", "error", "not found"):
        assert bad not in text, f"the page says {bad!r}: {text[:3000]}"

    # A search for a known token in the inspector finds it, and its nearest
    # neighbours are those `projector-tools neighbors` prints.
    token = "good"
    search = frame.locator("vz-projector-inspector-panel input").first
    search.fill(token)  # plain search is a substring match
    inspector = frame.locator("vz-projector-inspector-panel")
    expect(inspector.get_by_text(re.compile(r"^\s*1 matches\.\s*$"))).to_be_visible(
        timeout=TIMEOUT_MS
    )
    expect(inspector.get_by_text("Nearest points in the original space:")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    panel = inspector.evaluate(DEEP_TEXT_JS)
    after = panel.split("Nearest points in the original space:", 1)[1].split(" | ")
    shown = [(after[i], float(after[i + 1])) for i in range(1, 11, 2)]
    ours = nearest(trained.matrix, trained.labels, token, k=5)
    assert [lab for lab, _ in shown] == [nb.label for nb in ours], (shown, ours)
    assert np.allclose([dist for _, dist in shown], [1 - nb.similarity for nb in ours],
                       atol=2e-3)

    assert_points_drawn(page, frame, "projector.png")


def test_projector_shows_keras_callback_logdir_after_doctor_fix(tensorboard, browser, tmp_path):
    """Keras 3's own callback writes an .h5 the Projector cannot read; after
    `doctor --fix` a person sees the embedding with its labels."""
    from playwright.sync_api import expect
    from tests.helpers.view_fixtures import keras_callback_logdir

    logdir, vocab = keras_callback_logdir(tmp_path)
    from projector_tools.cli import main

    # Keras names the vocabulary by its absolute path, outside the logdir:
    # doctor reads it only when the user names it (--vocab), as a person would
    assert main(["doctor", str(logdir), "--fix", "--vocab", str(tmp_path / "vocab.tsv")]) == 0
    tb = tensorboard(logdir)
    assert tb.wait_for_projector_runs() == ["train"]
    page, frame = open_projector(browser, tb.url)
    expect(frame.get_by_text(re.compile(rf"^\s*Points:\s*{len(vocab)}\s*$")).first).to_be_visible(
        timeout=TIMEOUT_MS
    )
    text = frame.evaluate(DEEP_TEXT_JS)
    assert f"[input {LAYER}]" in text and "Metadata:" in text
    assert "do not match" not in text
    frame.locator("vz-projector-inspector-panel input").first.fill("terrible")
    inspector = frame.locator("vz-projector-inspector-panel")
    expect(inspector.get_by_text(re.compile(r"^\s*1 matches\.\s*$"))).to_be_visible(timeout=TIMEOUT_MS)
    expect(inspector.get_by_text("Nearest points in the original space:")).to_be_visible(
        timeout=TIMEOUT_MS
    )
    assert_points_drawn(page, frame, "projector-keras-fixed.png")
