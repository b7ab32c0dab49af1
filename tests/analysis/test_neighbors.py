"""`projector-tools neighbors` on a trained run: cosine neighbours by label."""

from __future__ import annotations

import json

import numpy as np
import pytest

from projector_tools.cli import main
from projector_tools.errors import InputError
from projector_tools.analysis.neighbors import nearest
from tests.helpers.view_fixtures import NEGATIVE, POSITIVE, export_trained


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return export_trained(tmp_path_factory.mktemp("logs"))


def cli(capsys, *args) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(["neighbors", *map(str, args)])
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_neighbors_of_a_trained_token(trained, capsys):
    rc, out, _ = cli(capsys, trained.logdir, "good", "-k", "5", "--json")
    assert rc == 0
    data = json.loads(out)
    assert data["run"] == trained.run and data["tensor"] == "word_emb"
    sims = [n["similarity"] for n in data["neighbors"]]
    assert sims == sorted(sims, reverse=True) and len(sims) == 5
    # the model learned sentiment: good's neighbours are the other positive words
    assert {n["label"] for n in data["neighbors"]} == set(POSITIVE) - {"good"}
    # similarities are the cosine of the exported vectors, computed independently
    m = trained.matrix.astype(np.float64)
    q = m[trained.labels.index("good")]
    for n in data["neighbors"]:
        v = m[trained.labels.index(n["label"])]
        assert n["similarity"] == pytest.approx(v @ q / np.linalg.norm(v) / np.linalg.norm(q))
    # and a far word is not among them
    assert not {n["label"] for n in data["neighbors"]} & set(NEGATIVE)


def test_text_output_ranks_with_similarities(trained, capsys):
    rc, out, _ = cli(capsys, trained.run_dir, "awful", "-k", "3")
    assert rc == 0
    rows = [line.split() for line in out.splitlines()[2:]]
    assert [r[0] for r in rows] == ["1", "2", "3"]
    sims = [float(r[1]) for r in rows]
    assert sims == sorted(sims, reverse=True)
    assert all(r[2] in NEGATIVE for r in rows)


def test_unknown_token_suggests_close_matches(trained, capsys):
    rc, _, err = cli(capsys, trained.logdir, "godo")
    assert rc == 1
    assert "no point is labelled 'godo'" in err and "'good'" in err
    with pytest.raises(InputError, match="close matches: 'excellent'"):
        nearest(trained.matrix, trained.labels, "excelent")


def test_run_and_tensor_selection_errors(trained, capsys):
    rc, _, err = cli(capsys, trained.logdir, "good", "--run", "nope")
    assert rc == 1 and "no Projector run 'nope'" in err and trained.run in err
    rc, _, err = cli(capsys, trained.logdir, "good", "--tensor", "nope")
    assert rc == 1 and "word_emb" in err


def test_nearest_is_pure_and_handles_zero_vectors():
    m = np.array([[1, 0], [0.9, 0.1], [0, 1], [0, 0]], dtype=np.float32)
    out = nearest(m, ["a", "b", "c", "z"], "a", k=3)
    assert [n.label for n in out] == ["b", "c", "z"]
    assert out[0].similarity == pytest.approx(0.9 / np.hypot(0.9, 0.1))
    assert out[2].similarity == 0.0


def test_subword_word_end_marker(capsys, tmp_path):
    """In a SubwordTextEncoder vocabulary "good" is the label "good_"."""
    from projector_tools import export_embeddings

    m = np.array([[1, 0], [0.9, 0.2], [0, 1]], dtype=np.float32)
    export_embeddings(m, str(tmp_path / "run"), metadata=["good_", "great_", "bad_"])
    rc, out, _ = cli(capsys, tmp_path, "good", "-k", "1")
    assert rc == 0 and "'good_'" in out and "great_" in out.splitlines()[-1]
