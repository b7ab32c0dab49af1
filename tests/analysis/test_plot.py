"""`projector-tools plot`: a PNG of a run with labelled points."""

from __future__ import annotations

import numpy as np
import pytest

from projector_tools.cli import main
from projector_tools.analysis.plot import choose_labelled_rows, pca_2d, tsne_2d
from tests.helpers.view_fixtures import export_trained


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return export_trained(tmp_path_factory.mktemp("logs"))


def read_png(path):
    import matplotlib.image as mpimg

    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    return mpimg.imread(str(path))[..., :3]


def ink(img) -> int:
    """Pixels that are not (near) white background."""
    return int((img.min(axis=2) < 0.9).sum())


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_plot_writes_png_with_labels(trained, tmp_path, capsys, method):
    labelled, bare = tmp_path / f"{method}.png", tmp_path / f"{method}-bare.png"
    assert main(["plot", trained.logdir, "-o", str(labelled), "--method", method,
                 "--labels", "12"]) == 0
    assert "12 labels" in capsys.readouterr().out
    assert main(["plot", trained.logdir, "-o", str(bare), "--method", method,
                 "--labels", "0"]) == 0
    with_labels, without = read_png(labelled), read_png(bare)
    assert with_labels.shape == without.shape
    assert ink(without) > 1000  # points and frame were drawn
    # the labels add ink where the unlabelled plot has none: text was drawn
    added = (with_labels.min(axis=2) < 0.5) & (without.min(axis=2) > 0.9)
    assert added.sum() > 12 * 20


def test_chosen_tokens_and_unknown_token(trained, tmp_path, capsys):
    out = tmp_path / "chosen.png"
    assert main(["plot", trained.logdir, "-o", str(out), "--token", "good",
                 "--token", "awful"]) == 0
    assert read_png(out).size
    capsys.readouterr()
    assert main(["plot", trained.logdir, "-o", str(out), "--token", "godo"]) == 1
    assert "'good'" in capsys.readouterr().err


def test_label_choice_and_projections():
    labels = ["<pad>", "[UNK]", "the", "a", "<0x00>", "b"]
    assert choose_labelled_rows(labels, 2) == [2, 3]
    assert choose_labelled_rows(["x", "y", "y", "z", "y", "x"], 2) == [1, 0]
    rng = np.random.default_rng(0)
    a = rng.normal(size=(40, 5)) + np.array([8, 0, 0, 0, 0])
    b = rng.normal(size=(40, 5)) - np.array([8, 0, 0, 0, 0])
    m = np.vstack([a, b])
    xy, explained = pca_2d(m)
    assert xy.shape == (80, 2) and explained > 0.5
    assert np.sign(xy[:40, 0]).mean() * np.sign(xy[40:, 0]).mean() < 0  # clusters apart
    ts = tsne_2d(m, n_iter=300)
    ca, cb = ts[:40].mean(axis=0), ts[40:].mean(axis=0)
    spread = max(ts[:40].std(axis=0).max(), ts[40:].std(axis=0).max())
    assert np.linalg.norm(ca - cb) > 2 * spread
