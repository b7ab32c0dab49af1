"""What a person sees in the Projector (real TensorBoard, headless Chromium):
sprite thumbnails of scikit-learn's 8x8 digits, and a metadata column picked
in the "Color by" drop-down. Skipped loudly without a browser, unless
``PROJECTOR_TOOLS_REQUIRE_BROWSER=1``."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

from projector_tools.viewer.browser import TIMEOUT_MS, open_projector, pick
from tests.helpers.browser import save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # ~50-60 s each on 2 busy cores


def scatter_box(frame) -> dict:
    canvases = frame.locator("canvas")
    boxes = [canvases.nth(i).bounding_box() for i in range(canvases.count())]
    return max((b for b in boxes if b), key=lambda b: b["width"] * b["height"])


def crop(png: bytes, box: dict) -> np.ndarray:
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    x0, y0 = int(box["x"]), int(box["y"])
    return img[y0:y0 + int(box["height"]), x0:x0 + int(box["width"])]


def test_projector_draws_digit_sprites(tensorboard, browser, tmp_path):  # noqa: F811
    from playwright.sync_api import expect
    from sklearn.datasets import load_digits

    from projector_tools import export_embeddings

    d = load_digits()
    n = 400
    export_embeddings({"digits": d.data[:n]}, str(tmp_path / "logs" / "digits"),
                      metadata={"digits": [str(t) for t in d.target[:n]]},
                      images={"digits": d.images[:n] / 16.0})
    tb = tensorboard(tmp_path / "logs")
    assert tb.wait_for_projector_runs() == ["digits"]

    sprite_responses: list[int] = []
    page, frame = open_projector(browser, tb.url)
    page.on("response", lambda r: sprite_responses.append(r.status) if "sprite_image" in r.url else None)
    expect(frame.get_by_text(re.compile(rf"^\s*Points:\s*{n}\s*$")).first).to_be_visible(timeout=TIMEOUT_MS)
    # the sprite is fetched once the tensor is chosen; wait for it, not for a fixed time
    for _ in range(300):
        if sprite_responses:
            break
        page.wait_for_timeout(100)
    assert sprite_responses and sprite_responses[0] == 200, sprite_responses
    box = scatter_box(frame)
    # the digits are white strokes on black 8x8 squares: black fills the points
    dark = 0
    for _ in range(100):
        shot = page.screenshot()
        dark = int((crop(shot, box).max(axis=2) < 40).sum())
        if dark > 3000:
            break
        page.wait_for_timeout(200)
    save_screenshot(shot, "projector-digits-sprite.png")
    assert dark > 3000, f"no thumbnails drawn ({dark} dark pixels)"


def test_color_by_a_numeric_column_shows_its_range(tensorboard, browser, tmp_path):  # noqa: F811
    from playwright.sync_api import expect

    from projector_tools import Metadata, export_embeddings

    rng = np.random.default_rng(0)
    n = 200
    positivity = rng.uniform(0.1, 0.9, n).round(3)
    meta = Metadata({"label": [f"w{i}_" for i in range(n)],
                     "positivity": [f"{p:.3f}" for p in positivity],
                     "label2": ["positive" if p > 0.5 else "negative" for p in positivity]})
    x = np.c_[positivity, rng.normal(size=(n, 3))].astype("float32")
    export_embeddings({"embedding": x, "reviews": x[:50]}, str(tmp_path / "logs" / "run"),
                      metadata={"embedding": meta, "reviews": meta.take(range(50))})
    tb = tensorboard(tmp_path / "logs")
    page, frame = open_projector(browser, tb.url)
    expect(frame.get_by_text(re.compile(r"^\s*Points:\s*\d+\s*$")).first).to_be_visible(timeout=TIMEOUT_MS)
    pick(frame, None, "embedding", index=0)
    expect(frame.get_by_text(re.compile(rf"^\s*Points:\s*{n}\s*$")).first).to_be_visible(timeout=TIMEOUT_MS)
    pick(frame, "Color by", "positivity")
    panel = frame.locator("vz-projector-data-panel")
    # the gradient legend reads the column's minimum and maximum
    expect(panel.get_by_text(f"{positivity.min():.3f}", exact=True).first).to_be_visible(timeout=TIMEOUT_MS)
    expect(panel.get_by_text(f"{positivity.max():.3f}", exact=True).first).to_be_visible()
    pick(frame, "Color by", "label2")
    n_pos = int((positivity > 0.5).sum())
    expect(panel.get_by_text(re.compile(rf"^\s*{n_pos}\s*$")).first).to_be_visible(timeout=TIMEOUT_MS)
    save_screenshot(page.screenshot(), "projector-color-by.png")
