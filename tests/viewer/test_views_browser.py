"""Views that open on the story (issue 21, acceptance 3), in the real thing:
``projector-tools train --dataset demo`` writes its views, TensorBoard serves
them at ``/data/plugin/projector/bookmarks``, and in headless Chromium
choosing the first one in the Projector's Bookmarks panel (the radio button
left of its name) sets *Color by* to ``positivity``; ``projector-tools
layout`` adds "embedding: UMAP by cluster", which restores *Color by*
``cluster`` on the layout tensor."""

from __future__ import annotations

import pytest

from projector_tools.cli import main
from projector_tools.viewer.browser import TIMEOUT_MS, open_projector, pick, wait_for_points
from tests.helpers.browser import save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # training ~30 s, each browser test ~60 s on 2 busy cores


@pytest.fixture(scope="module")
def demo_logdir(tmp_path_factory):
    """The ``make demo`` run, shortened to 2 epochs (the views do not depend on them)."""
    logdir = tmp_path_factory.mktemp("views") / "demo"
    assert main(["train", "--dataset", "demo", "--logdir", str(logdir), "--epochs", "2",
                 "--review-points", "200", "--quiet"]) == 0
    return logdir


def served_views(tb, tensor: str) -> list[tuple[str, str]]:
    states = tb.get_json("/data/plugin/projector/bookmarks", {"run": "train", "name": tensor})
    return [(s["label"], s["selectedColorOptionName"]) for s in states]


def rows_of(tb, tensor: str) -> int:
    return next(int(e["tensorShape"][0]) for e in tb.info("train")["embeddings"] if e["tensorName"] == tensor)


def expect_views(frame, labels: list[str]) -> None:
    """The Bookmarks panel lists ``labels``, in order (each name is an editable text area)."""
    from playwright.sync_api import expect

    rows = frame.locator("vz-projector-bookmark-panel .state-row")
    expect(rows).to_have_count(len(labels), timeout=TIMEOUT_MS)
    for i, label in enumerate(labels):
        expect(rows.nth(i).locator("paper-textarea")).to_have_js_property("value", label, timeout=TIMEOUT_MS)


def expect_legend_counts(frame, tb, tensor: str, column: str) -> None:
    """The points are coloured by ``column``, not only the menu set: the legend
    lists each value with its count of rows in the served metadata."""
    from collections import Counter

    from playwright.sync_api import expect

    from projector_tools.run.metadata import parse_projector_tsv

    counts = Counter(parse_projector_tsv(tb.metadata("train", tensor)).column(column))
    panel = frame.locator("vz-projector-data-panel")
    for value, count in counts.most_common(3):
        expect(panel.get_by_text(str(value), exact=True).first).to_be_visible(timeout=TIMEOUT_MS)
        expect(panel.get_by_text(str(count), exact=True).first).to_be_visible(timeout=TIMEOUT_MS)


def color_by(frame):
    return frame.locator('vz-projector-data-panel paper-dropdown-menu[label="Color by"]')


def choose_view(frame, index: int = 0) -> None:
    """Click the radio button left of the ``index``-th view in the Bookmarks panel."""
    rows = frame.locator("vz-projector-bookmark-panel .state-row")
    rows.nth(index).wait_for(timeout=TIMEOUT_MS)
    rows.nth(index).locator('paper-icon-button[icon="radio-button-unchecked"]').click()


def test_the_trainers_views_are_served_and_the_first_colors_by_positivity(demo_logdir, tensorboard, browser):
    from playwright.sync_api import expect

    tb = tensorboard(demo_logdir)
    assert tb.wait_for_projector_runs() == ["train"]
    assert served_views(tb, "embedding") == [("words by positivity", "positivity")]
    assert served_views(tb, "reviews") == [("reviews by correct", "correct")]

    page, frame = open_projector(browser, tb.url)
    wait_for_points(frame)
    pick(frame, None, "embedding", index=0)
    wait_for_points(frame, rows_of(tb, "embedding"))
    expect(color_by(frame)).to_have_js_property("value", "No color map", timeout=TIMEOUT_MS)
    expect_views(frame, ["words by positivity"])
    choose_view(frame, 0)
    expect(color_by(frame)).to_have_js_property("value", "positivity", timeout=TIMEOUT_MS)
    save_screenshot(page.screenshot(), "projector-view-words-by-positivity.png")

    # the second view belongs to the reviews tensor: listed once that tensor is chosen
    pick(frame, None, "reviews", index=0)
    wait_for_points(frame, rows_of(tb, "reviews"))
    expect_views(frame, ["reviews by correct"])
    choose_view(frame, 0)
    expect(color_by(frame)).to_have_js_property("value", "correct", timeout=TIMEOUT_MS)
    expect_legend_counts(frame, tb, "reviews", "correct")


def test_the_layout_commands_view_colors_the_umap_tensor_by_cluster(demo_logdir, tensorboard, browser):
    from playwright.sync_api import expect

    pytest.importorskip("umap", reason="the layout extra (umap-learn) is not installed")
    assert main(["layout", str(demo_logdir / "train"), "--tensor", "embedding"]) == 0
    tb = tensorboard(demo_logdir)
    assert tb.wait_for_projector_runs() == ["train"]
    assert served_views(tb, "embedding/umap") == [("embedding: UMAP by cluster", "cluster")]
    assert served_views(tb, "embedding") == [("words by positivity", "positivity")]  # kept
    assert served_views(tb, "reviews") == [("reviews by correct", "correct")]

    page, frame = open_projector(browser, tb.url)
    wait_for_points(frame)
    pick(frame, None, "embedding/umap", index=0)
    wait_for_points(frame, rows_of(tb, "embedding/umap"))
    expect_views(frame, ["embedding: UMAP by cluster"])
    choose_view(frame, 0)
    expect(color_by(frame)).to_have_js_property("value", "cluster", timeout=TIMEOUT_MS)
    expect_legend_counts(frame, tb, "embedding/umap", "cluster")
    save_screenshot(page.screenshot(), "projector-view-umap-by-cluster.png")
