"""A published site as a person opens it: ``projector-tools publish``, served by
``python -m http.server`` on 127.0.0.1 (started here, readiness polled,
stopped by pid), in headless Chromium. Skipped loudly without a browser,
unless ``PROJECTOR_TOOLS_REQUIRE_BROWSER=1``."""

from __future__ import annotations

import re
import urllib.parse

import numpy as np
import pytest

from projector_tools.viewer.browser import TIMEOUT_MS, wait_for_points
from projector_tools.viewer.static_site import StaticServer
from tests.helpers.browser import DEEP_TEXT_JS, save_screenshot
from tests.helpers.cli_process import run_cli

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # a CLI export, a publish, a 150k-point page


def open_site(browser, url: str):
    """The site's page, every request it makes recorded: ``(page, requested URLs)``."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(url + "/")
    return page, requested


def assert_only_local(requested: list[str]) -> None:
    hosts = {urllib.parse.urlsplit(u).hostname for u in requested if not u.startswith(("data:", "blob:"))}
    assert hosts == {"127.0.0.1"}, sorted(set(requested))


def test_published_150k_run_shows_every_point_and_finds_the_last_label(browser, tmp_path):
    from playwright.sync_api import expect

    rows = 150_000
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(rows, 4)).astype("float32")
    matrix[100_000:] += 25.0  # the rows TensorBoard drops sit far from the rest
    np.save(tmp_path / "big.npy", matrix)
    (tmp_path / "labels.txt").write_text("".join(f"w{i}\n" for i in range(rows)))
    run = tmp_path / "logs" / "big"
    proc = run_cli(tmp_path, "export", ["export", str(tmp_path / "big.npy"), "--vocab",
                                        str(tmp_path / "labels.txt"), "--logdir", str(run)])
    assert proc.returncode == 0, proc.stderr
    site = tmp_path / "site"
    proc = run_cli(tmp_path, "publish", ["publish", str(run), "--out", str(site)])
    assert proc.returncode == 0, proc.stderr

    with StaticServer(str(site)) as server:
        page, requested = open_site(browser, server.url)
        wait_for_points(page.main_frame, rows)
        text = page.evaluate(DEEP_TEXT_JS)
        assert re.search(rf"Points: \| {rows} \| Dimension: \| 4 \|", text), text[:2000]
        # the Projector's own search (inspector panel) finds the label of row 149,999
        inspector = page.locator("vz-projector-inspector-panel")
        inspector.locator("input").first.fill("w149999")
        expect(inspector.get_by_text(re.compile(r"^\s*1 matches\.\s*$"))).to_be_visible(timeout=TIMEOUT_MS)
        expect(inspector.get_by_text("Nearest points in the original space:")).to_be_visible(timeout=TIMEOUT_MS)
        # its neighbours are rows of the far cluster, which TensorBoard would have dropped
        after = inspector.evaluate(DEEP_TEXT_JS).split("Nearest points in the original space:", 1)[1]
        neighbours = [int(m) for m in re.findall(r"\bw(\d+)\b", after)]
        assert len(neighbours) >= 10 and min(neighbours) >= 100_000, after[:500]
        save_screenshot(page.screenshot(), "publish-150k.png")
    assert_only_local(requested)


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory):
    """The demo run (``projector-tools train --dataset demo``, one epoch), published."""
    from projector_tools import publish, train

    tmp = tmp_path_factory.mktemp("demo")
    train(str(tmp / "demo"), epochs=1, verbose=0)
    return publish(str(tmp / "demo"), str(tmp / "site"))


def test_published_demo_run_lists_both_tensors_with_their_columns(browser, demo_site):
    from projector_tools.viewer.browser import pick

    assert {t.name for t in demo_site.tensors} == {"embedding", "reviews"}
    with StaticServer(demo_site.out) as server:
        page, requested = open_site(browser, server.url)
        wait_for_points(page.main_frame)
        text = page.evaluate(DEEP_TEXT_JS)
        assert "2 tensors found" in text, text[:2000]
        frame = page.main_frame
        pick(frame, "Color by", "positivity")  # the token tensor's column
        pick(frame, None, "reviews", index=0)  # the tensor drop-down
        reviews = next(t for t in demo_site.tensors if t.name == "reviews")
        wait_for_points(frame, reviews.rows)
        pick(frame, "Color by", "correct")  # the review tensor's columns
        save_screenshot(page.screenshot(), "publish-demo-reviews.png")
    assert_only_local(requested)
