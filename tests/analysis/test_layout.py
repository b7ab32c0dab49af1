"""Full-data layouts: what a real TensorBoard serves, and what a person sees.

One 30,000 x 64 export of 20 separable classes with a UMAP layout is made
once for the module (UMAP takes most of this file's time) and served by one
real TensorBoard; the ``layout`` subcommand gets a small run of its own.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from projector_tools.cli import main
from projector_tools.errors import InputError, MissingDependencyError
from projector_tools.export.embeddings import export_embeddings
from projector_tools.analysis.layouts import (
    CLUSTER_COLUMN,
    cluster_labels,
    compute_layout,
    neighbor_agreement,
    pca,
    require,
)
from projector_tools.run.metadata import Metadata, parse_projector_tsv
from projector_tools.viewer.tensorboard import TensorBoardServer
from tests.helpers.projector_checks import assert_run_serves

ROWS, DIMS, CLASSES = 30_000, 64, 20


def gaussians(rows: int, dims: int, classes: int = CLASSES, seed: int = 0):
    """``classes`` Gaussians: centres N(0, I), unit noise (separable in the original
    space, overlapping in its first three principal components)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dims))
    y = rng.integers(0, classes, rows)
    return (centres[y] + rng.normal(size=(rows, dims))).astype(np.float32), y


@pytest.fixture(scope="module")
def umap_run(tmp_path_factory):
    """The acceptance export, and a TensorBoard serving it (stopped by pid)."""
    x, y = gaussians(ROWS, DIMS)
    logdir = tmp_path_factory.mktemp("layout-logs")
    meta = Metadata({"label": [f"class {c}" for c in y], "id": range(ROWS)})
    result = export_embeddings(x, str(logdir / "gauss"), metadata=meta, layouts=("umap",))
    server = TensorBoardServer(str(logdir)).start()
    try:
        yield x, y, meta, result, server
    finally:
        server.stop()


@pytest.mark.slow
def test_umap_layout_served_with_every_point_and_the_same_rows(umap_run):
    x, y, meta, result, tb = umap_run
    assert result.names == ("embedding", "embedding/umap")
    info = {e["tensorName"]: [int(v) for v in e["tensorShape"]] for e in tb.info("gauss")["embeddings"]}
    assert info == {"embedding": [ROWS, DIMS], "embedding/umap": [ROWS, 3]}
    # the original tensor is served bit for bit with its own labels
    assert tb.tensor("gauss", "embedding").tobytes() == x.tobytes()
    original = parse_projector_tsv(tb.metadata("gauss", "embedding"))
    assert [r[0] for r in original.rows] == meta.column("label")
    layout_meta = parse_projector_tsv(tb.metadata("gauss", "embedding/umap"))
    assert original.header == ("label", "id")
    assert layout_meta.header == ("label", "id", CLUSTER_COLUMN)
    assert [r[:2] for r in layout_meta.rows] == list(original.rows)
    clusters = [int(c) for c in layout_meta.column(CLUSTER_COLUMN)]
    assert len(set(clusters) - {-1}) >= CLASSES // 2

    served = tb.tensor("gauss", "embedding/umap").reshape(ROWS, 3)
    assert np.isfinite(served).all()
    classes = [r[0] for r in layout_meta.rows]  # the class, as TensorBoard serves it
    ours = neighbor_agreement(served, classes)
    projector_pca = neighbor_agreement(pca(tb.tensor("gauss", "embedding").reshape(ROWS, DIMS)),
                                       classes)
    assert ours >= 0.9 and ours > projector_pca, (ours, projector_pca)


@pytest.mark.slow
@pytest.mark.browser
def test_projector_shows_every_point_of_the_layout(umap_run, browser):
    from playwright.sync_api import expect

    from projector_tools.viewer.browser import TIMEOUT_MS, open_projector
    from tests.helpers.browser import DEEP_TEXT_JS, save_screenshot

    *_, tb = umap_run
    page, frame = open_projector(browser, tb.url)
    expect(frame.get_by_text(re.compile(rf"^\s*Points:\s*{ROWS}\s*$")).first).to_be_visible(
        timeout=TIMEOUT_MS)
    # pick the layout tensor in the data panel's tensor drop-down
    panel = frame.locator("vz-projector-data-panel")
    panel.locator("paper-dropdown-menu").filter(has_text=re.compile(r"tensors? found")).first.click()
    panel.locator("paper-item").filter(has_text=re.compile(r"^\s*embedding/umap\b")).first.click()
    expect(frame.get_by_text(re.compile(r"^\s*Dimension:\s*3\s*$")).first).to_be_visible(
        timeout=TIMEOUT_MS)
    text = frame.evaluate(DEEP_TEXT_JS)
    assert re.search(rf"Points: \| {ROWS} \| Dimension: \| 3 \|", text), text[:2000]
    assert "[input embedding/umap]" in text, text[:2000]
    assert "do not match" not in text, text[:3000]
    # colour by the clusters, as categories
    panel.locator("#colorby").click()
    panel.locator("#colorby paper-item").filter(
        has_text=re.compile(rf"^\s*{CLUSTER_COLUMN}\b")).first.click()
    force = panel.locator("#force-categorical-checkbox")
    if force.is_visible():
        force.click()
    save_screenshot(page.screenshot(), "projector-layout.png")


@pytest.mark.slow
def test_layout_command_adds_a_layout_without_touching_the_run(tmp_path, capsys):
    """`projector-tools layout` on an existing run: the original tensor and its
    metadata are served byte for byte as before; the layout comes beside them."""
    x, y = gaussians(1500, 16, classes=5, seed=1)
    labels = [f"tok\t{c}" if i % 7 == 0 else f"w{i} {c}" for i, c in enumerate(y)]  # escaped
    run = tmp_path / "logs" / "run"
    export_embeddings(x, str(run), metadata=labels)

    def served(names):
        with TensorBoardServer(str(tmp_path / "logs")) as tb:
            tb.wait_for_projector_runs()
            info = {e["tensorName"]: e["tensorShape"] for e in tb.info("run")["embeddings"]}
            return info, {n: (tb.tensor("run", n).tobytes(), tb.metadata("run", n)) for n in names}

    info_before, before = served(["embedding"])
    meta_file = sorted(p.name for p in run.glob("metadata-*.tsv"))
    assert main(["layout", str(run), "--method", "pca"]) == 0
    assert "embedding/pca 1500x3" in capsys.readouterr().out
    info_after, after = served(["embedding", "embedding/pca"])
    assert before["embedding"] == after["embedding"]
    assert set(meta_file) <= {p.name for p in run.glob("metadata-*.tsv")}
    assert {k: [int(v) for v in s] for k, s in info_after.items()} == {
        "embedding": [1500, 16], "embedding/pca": [1500, 3]}
    parsed = parse_projector_tsv(after["embedding/pca"][1])
    assert parsed.header == ("label", CLUSTER_COLUMN)
    assert [r[0] for r in parsed.rows] == [r[0] for r in parse_projector_tsv(before["embedding"][1]).rows]
    assert np.array_equal(np.frombuffer(after["embedding/pca"][0], np.float32).reshape(-1, 3), pca(x))

    # again: the layout is replaced, not duplicated; plot colours by its clusters
    assert main(["layout", str(run), "--method", "pca"]) == 0
    png = tmp_path / "clusters.png"
    assert main(["plot", str(run), "--tensor", "embedding/pca", "--color", "cluster",
                 "-o", str(png), "--labels", "0"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["layout", str(tmp_path / "nowhere")]) == 1
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.slow
def test_sampled_tsne_is_reproducible_and_places_every_row():
    x, y = gaussians(900, 20, classes=4, seed=2)
    a = compute_layout(x, "tsne", seed=3, max_rows=400)
    b = compute_layout(x, "tsne", seed=3, max_rows=400)
    assert a.shape == (900, 3) and a.dtype == np.float32
    assert np.array_equal(a, b)
    assert neighbor_agreement(a, y) > 0.95
    clusters = cluster_labels(a, max_rows=400)
    assert len(clusters) == 900 and set(clusters) - {-1} == {0, 1, 2, 3}


def test_bad_layout_requests_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(InputError, match="layout method 'mds' is unknown"):
        export_embeddings(np.ones((5, 2), "float32"), str(tmp_path / "r"), layouts=("mds",))
    assert not (tmp_path / "r").exists()
    with pytest.raises(InputError, match="NaN"):
        compute_layout(np.array([[np.nan, 1.0]] * 5), "pca")
    with pytest.raises(MissingDependencyError, match=r"pip install 'projector_tools\[layout\]'"):
        require("umap_not_installed_here")


def test_layout_command_keeps_the_tensor_order(tmp_path, capsys):
    """The Projector opens a run's first tensor and `neighbors`/`plot` default to the
    first labelled one: after `projector-tools layout` (README: then `neighbors runs/demo
    good_`) the run's tensors keep their order, the layouts after them."""
    from projector_tools.run.switch import read_run_config

    run = tmp_path / "run"
    names = ["zeta", "embedding", "reviews"]
    rng = np.random.default_rng(0)
    export_embeddings({n: rng.normal(size=(20, 4)) for n in names}, str(run))
    assert [e.tensor_name for e in read_run_config(str(run)).embeddings] == names
    assert main(["layout", str(run), "--method", "pca"]) == 0
    assert [e.tensor_name for e in read_run_config(str(run)).embeddings] == names + [
        f"{n}/pca" for n in names]


@pytest.mark.slow
def test_callback_adds_layouts_at_the_end_of_training(tmp_path, tensorboard):
    import keras

    from projector_tools import ProjectorCallback

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,), dtype="int32"),
                              keras.layers.Embedding(50, 8, name="words"),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    x = np.random.default_rng(0).integers(0, 50, (64, 4))
    labels = [f"w{i}" for i in range(50)]
    cb = ProjectorCallback(str(tmp_path / "run"), metadata=labels, layouts=("pca",))
    model.fit(x, np.zeros(64), epochs=2, batch_size=16, verbose=0, callbacks=[cb])
    weights = model.get_layer("words").get_weights()[0]
    tb = tensorboard(tmp_path)
    assert_run_serves(tb, "run", {"words": weights, "words/pca": pca(weights)},
                      {"words": labels, "words/pca": labels})
    parsed = parse_projector_tsv(tb.metadata("run", "words/pca"))
    assert parsed.header == ("label", CLUSTER_COLUMN)
