"""``scripts/demo_screenshots.py`` run as a person runs it, on a tiny run with
the two tensors it shows: ``embedding`` coloured by ``positivity`` and
``reviews`` coloured by ``label``. Skipped loudly without a browser, unless
``PROJECTOR_TOOLS_REQUIRE_BROWSER=1``."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import REPO_ROOT
from tests.helpers.browser import require_browser

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # a TensorBoard and a Chromium, ~1 min

SCRIPT = os.path.join(REPO_ROOT, "scripts", "demo_screenshots.py")


def tiny_demo_run(run_dir: str) -> None:
    """What ``projector-tools train --dataset demo`` writes, in miniature: token
    vectors with a ``positivity`` column, review vectors with a ``label`` column."""
    from projector_tools import Metadata, export_embeddings

    rng = np.random.default_rng(0)
    n_tokens, n_reviews = 120, 40
    positivity = rng.uniform(0.05, 0.95, n_tokens).round(3)
    tokens = Metadata({"label": [f"w{i}_" for i in range(n_tokens)],
                       "positivity": [f"{p:.3f}" for p in positivity]})
    labels = np.arange(n_reviews) % 2
    reviews = Metadata({"text": [f"review {i}" for i in range(n_reviews)],
                        "label": ["positive" if v else "negative" for v in labels]})
    embedding = np.c_[positivity, rng.normal(size=(n_tokens, 7))].astype("float32")
    review_vectors = np.c_[labels * 2.0, rng.normal(size=(n_reviews, 7))].astype("float32")
    export_embeddings({"embedding": embedding, "reviews": review_vectors}, run_dir,
                      metadata={"embedding": tokens, "reviews": reviews})


def assert_real_screenshot(path: str) -> None:
    from PIL import Image

    assert os.path.getsize(path) > 10_000, f"{path}: {os.path.getsize(path)} bytes"
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size == (1400, 900), (img.format, img.size)
        rgb = np.asarray(img.convert("RGB")).astype(int)
    colours = np.unique(rgb.reshape(-1, 3), axis=0)
    assert len(colours) > 50, f"{path}: only {len(colours)} colours"
    # the scatter plot fills the middle of the 1400x900 page (the orange header,
    # the side panels and their colour legend are outside this box): coloured
    # points, not only the white background and three thin axes
    scatter = rgb[90:880, 330:1090]
    saturated = int((scatter.max(axis=2) - scatter.min(axis=2) > 60).sum())
    assert saturated > 1500, f"{path}: {saturated} coloured pixels in the scatter plot, no points drawn"


def test_demo_screenshots_script_writes_both_pngs(tmp_path):
    require_browser()
    run_dir = str(tmp_path / "runs" / "demo")
    tiny_demo_run(run_dir)
    out = tmp_path / "shots"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": os.pathsep.join(
        filter(None, [REPO_ROOT, os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, SCRIPT, run_dir, "--out", str(out)],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-5000:]
    for name in ("projector-positivity.png", "projector-reviews.png"):
        path = str(out / name)
        assert os.path.exists(path), f"{name} not written:\n{proc.stdout}"
        assert f"wrote {path}" in proc.stdout
        assert_real_screenshot(path)
