"""export_embeddings against a real TensorBoard: names, shapes, bytes, labels."""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from projector_tools import (
    InputError,
    LogdirError,
    Metadata,
    ShapeMismatchError,
    export_embeddings,
    parse_projector_tsv,
    subword_metadata,
    unescape_label,
)
from projector_tools.fsio import TMP_MARK
from projector_tools.run.lock import LOCK_FILENAME
from projector_tools.viewer.tensorboard import TensorBoardServer
from tests.helpers.labels import REVIEWS, TRICKY
from tests.helpers.projector_checks import assert_run_serves


def two_layer_model() -> keras.Model:
    keras.utils.set_random_seed(3)
    inp = keras.Input((7,), dtype="int32")
    a = keras.layers.Embedding(40, 6, name="token_embedding")(inp)
    b = keras.layers.Embedding(9, 3, name="position_embedding")(inp)
    x = keras.layers.Concatenate()([keras.layers.GlobalAveragePooling1D()(a),
                                    keras.layers.GlobalAveragePooling1D()(b)])
    x = keras.layers.Dense(16, activation="relu")(x)
    model = keras.Model(inp, keras.layers.Dense(1)(x))
    model.compile("adam", "mse")
    rng = np.random.default_rng(0)
    model.fit(rng.integers(0, 9, (32, 7)), rng.normal(size=(32, 1)), epochs=1, verbose=0)
    return model


TOKENS = [f"tok{i}" for i in range(40)]
POSITIONS = Metadata({"label": [f"pos{i}" for i in range(9)], "parity": ["even", "odd"] * 4 + ["even"]})


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("export_runs")
    model = two_layer_model()
    results = {
        "model": export_embeddings(
            model, str(root / "model"), metadata={"token_embedding": TOKENS, "position_embedding": POSITIONS}
        ),
    }
    rng = np.random.default_rng(1)
    array = rng.normal(size=(len(TRICKY) * 2, 5)).astype("float32")
    results["array"] = export_embeddings(array, str(root / "array"), metadata=TRICKY * 2)

    encoder = tfds.deprecated.text.SubwordTextEncoder.build_from_corpus(REVIEWS, target_vocab_size=400)
    sub = rng.normal(size=(encoder.vocab_size, 4)).astype("float32")
    results["subwords"] = export_embeddings(sub, str(root / "subwords"), metadata=subword_metadata(encoder))

    half = rng.normal(size=(10, 4)).astype("float16")
    results["mapping"] = export_embeddings({"a": half, "b": rng.normal(size=(3, 2))}, str(root / "mapping"))

    server = TensorBoardServer(str(root)).start()
    try:
        server.wait_for_projector_runs(expected=len(results))
        yield server, model, array, encoder, sub, half, results
    finally:
        server.stop()


def test_two_embedding_layers_by_layer_name(served):
    tb, model, *_ , results = served
    assert results["model"].names == ("token_embedding", "position_embedding")
    assert_run_serves(
        tb,
        "model",
        {
            "token_embedding": model.get_layer("token_embedding").get_weights()[0],
            "position_embedding": model.get_layer("position_embedding").get_weights()[0],
        },
        {"token_embedding": TOKENS, "position_embedding": POSITIONS.column("label")},
    )


def test_checkpoint_holds_only_the_exported_tensors(served):
    *_, results = served
    reader = tf.train.load_checkpoint(results["model"].checkpoint_prefix)
    assert sorted(reader.get_variable_to_shape_map()) == ["position_embedding", "token_embedding"]


def test_tricky_labels_survive_the_round_trip(served):
    tb, _, array, *_ = served
    assert_run_serves(tb, "array", {"embedding": array}, {"embedding": TRICKY * 2})
    rows = parse_projector_tsv(tb.metadata("array", "embedding")).rows
    assert [unescape_label(r[0]) for r in rows] == TRICKY * 2


def test_subword_vocabulary_rows_equal_vocab_size(served):
    tb, _, _, encoder, sub, *_ = served
    served_rows = parse_projector_tsv(tb.metadata("subwords", "embedding")).rows
    assert len(served_rows) == encoder.vocab_size
    assert [unescape_label(r[0]) for r in served_rows[1 : 1 + len(encoder.subwords)]] == encoder.subwords
    assert tb.tensor("subwords", "embedding").tobytes() == sub.tobytes()


def test_mapping_source_converts_float16(served):
    tb, *_, half, results = served
    assert results["mapping"].names == ("a", "b")
    assert tb.tensor("mapping", "a").tobytes() == half.astype("float32").tobytes()
    # no labels given: each point is labelled by its row id
    rows = parse_projector_tsv(tb.metadata("mapping", "a")).rows
    assert [r[0] for r in rows] == [str(i) for i in range(10)]


def test_config_and_state_file_use_relative_paths(served):
    *_, results = served
    logdir = results["model"].logdir
    config = open(os.path.join(logdir, "projector_config.pbtxt")).read()
    state = open(os.path.join(logdir, "checkpoint")).read()
    assert "model_checkpoint_path" not in config and logdir not in config
    assert logdir not in state and 'model_checkpoint_path: "embeddings-1"' in state


def test_row_mismatch_is_refused_before_writing(tmp_path):
    with pytest.raises(ShapeMismatchError, match=r"has 5 rows but its metadata has 4 labels"):
        export_embeddings(np.zeros((5, 2), "float32"), str(tmp_path / "run"), metadata=list("abcd"))
    assert not (tmp_path / "run").exists()


def test_unknown_layer_and_model_without_embedding(tmp_path):
    with pytest.raises(InputError, match="token_embedding, position_embedding"):
        export_embeddings(two_layer_model(), str(tmp_path / "r"), layers=["tokens"])
    dense = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    with pytest.raises(InputError, match="no keras.layers.Embedding"):
        export_embeddings(dense, str(tmp_path / "r"))
    assert not (tmp_path / "r").exists()


def test_logdir_with_child_runs_is_refused(tmp_path):
    child = tmp_path / "L" / "train"
    child.mkdir(parents=True)
    (child / "events.out.tfevents.1.host").write_bytes(b"")
    with pytest.raises(LogdirError, match="holds other runs"):
        export_embeddings(np.ones((2, 2), "float32"), str(tmp_path / "L"))


def test_reexport_replaces_previous_files(tmp_path, monkeypatch):
    from projector_tools.run import cleanup as run_cleanup

    run = tmp_path / "run"
    export_embeddings(np.ones((3, 2), "float32"), str(run), metadata=["a", "b", "c"])
    second = export_embeddings(np.zeros((4, 2), "float32"), str(run), metadata=list("wxyz"))
    assert second.step == 2
    # replaced exports written moments ago stay (a reader may have just read
    # their config) ...
    names = sorted(os.listdir(run))
    assert [n for n in names if n.endswith(".index")] == ["embeddings-1.index", "embeddings-2.index"]
    assert len([n for n in names if n.endswith(".tsv")]) == 2
    # ... and once they are old, only the current and the previous export stay
    monkeypatch.setattr(run_cleanup, "RETAIN_RECENT_S", 0.0)
    third = export_embeddings(np.ones((5, 2), "float32"), str(run), metadata=list("pqrst"))
    names = sorted(os.listdir(run))
    assert [n for n in names if n.endswith(".index")] == ["embeddings-2.index", "embeddings-3.index"]
    tsvs = {n for n in names if n.endswith(".tsv")}
    assert tsvs == {os.path.basename(second["embedding"].metadata_path),
                    os.path.basename(third["embedding"].metadata_path)}
    assert not [n for n in names if TMP_MARK in n or n == LOCK_FILENAME]
