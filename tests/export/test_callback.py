"""ProjectorCallback during model.fit, checked against a real TensorBoard."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from projector_tools import InputError, Metadata, ProjectorCallback, ShapeMismatchError
from projector_tools.run.metadata import parse_projector_tsv
from projector_tools.viewer.tensorboard import TensorBoardServer
from tests.helpers.projector_checks import assert_run_serves

WORDS, CHARS = 30, 12


def two_embedding_model(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    words = keras.Input((6,), dtype="int32", name="word_ids")
    chars = keras.Input((4,), dtype="int32", name="char_ids")
    a = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(WORDS, 8, name="words")(words))
    b = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(CHARS, 3, name="chars")(chars))
    out = keras.layers.Dense(1)(keras.layers.Concatenate()([a, b]))
    model = keras.Model([words, chars], out)
    model.compile("adam", keras.losses.BinaryCrossentropy(from_logits=True))
    return model


def data(n: int = 64):
    rng = np.random.default_rng(0)
    x = [rng.integers(0, WORDS, (n, 6)), rng.integers(0, CHARS, (n, 4))]
    return x, rng.integers(0, 2, (n, 1)).astype("float32")


WORD_LABELS = [f"word{i}" for i in range(WORDS)]
CHAR_META = Metadata({"label": [f"c{i}" for i in range(CHARS)], "vowel": ["yes", "no"] * 6})


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Train once per scenario, all under one parent; one TensorBoard serves them."""
    root = tmp_path_factory.mktemp("callback_runs")
    x, y = data()
    made = {}

    # 1 + 3: two embedding layers, separate metadata, 3 epochs
    model = two_embedding_model()
    cb = ProjectorCallback(root / "plain", metadata={"words": WORD_LABELS, "chars": CHAR_META})
    model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[cb])
    made["plain"] = (model, cb)

    # 2: beside keras.callbacks.TensorBoard on the same logdir, in both orders
    for order in ("tb_first", "tb_last"):
        model = two_embedding_model(1)
        ours = ProjectorCallback(root / order, metadata={"words": WORD_LABELS, "chars": CHAR_META})
        theirs = keras.callbacks.TensorBoard(log_dir=str(root / order))
        cbs = [theirs, ours] if order == "tb_first" else [ours, theirs]
        model.fit(x, y, epochs=2, batch_size=16, verbose=0, validation_data=(x, y), callbacks=cbs)
        made[order] = (model, ours)

    # 5: keep_history
    model = two_embedding_model(2)
    cb = ProjectorCallback(root / "history", layers=["words"], metadata=WORD_LABELS, keep_history=True)
    model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[cb])
    made["history"] = (model, cb)

    server = TensorBoardServer(str(root)).start()
    try:
        server.wait_for_projector_runs(expected=4)
        yield root, made, server
    finally:
        server.stop()


def weights(model, name):
    return model.get_layer(name).get_weights()[0]


def test_three_epochs_serves_final_weights_and_labels(runs):
    root, made, tb = runs
    model, cb = made["plain"]
    assert cb.run_dir == str(root / "plain")
    assert_run_serves(
        tb,
        "plain",
        {"words": weights(model, "words"), "chars": weights(model, "chars")},
        {"words": WORD_LABELS, "chars": CHAR_META.column("label")},
    )
    # the second column of the two-column metadata reaches the browser too
    parsed = parse_projector_tsv(tb.metadata("plain", "chars"))
    assert parsed.header == ("label", "vowel")
    assert parsed.column("vowel") == ["yes", "no"] * 6


def test_only_latest_checkpoint_remains_without_history(runs):
    root, _, _ = runs
    ckpts = {n.split(".")[0] for n in os.listdir(root / "plain") if n.startswith("embeddings-")}
    assert ckpts == {"embeddings-3"}, ckpts  # the last epoch, written once
    state = (root / "plain" / "checkpoint").read_text()
    assert state.count("all_model_checkpoint_paths") == 1


def test_every_n_epochs_still_exports_the_last_epoch(tmp_path):
    import tensorflow as tf

    model = two_embedding_model()
    x, y = data(16)
    cb = ProjectorCallback(tmp_path / "run", every_n_epochs=2, layers=["words"])
    exported = []
    model.fit(x, y, epochs=3, verbose=0, callbacks=[cb, keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: exported.append(cb._exported_epoch))])
    assert exported == [None, 2, 2]
    assert cb.last_result.step == 3
    reader = tf.train.load_checkpoint(cb.last_result.checkpoint_prefix)
    assert reader.get_tensor("words").tobytes() == weights(model, "words").tobytes()


@pytest.mark.parametrize("order", ["tb_first", "tb_last"])
def test_beside_keras_tensorboard_callback(runs, order):
    root, made, tb = runs
    model, cb = made[order]
    run = f"{order}/train"
    assert cb.run_dir == str(root / order / "train")
    plugins = tb.plugins()
    assert plugins["scalars"] and plugins["projector"]
    # scalars and the embedding share the run; no run shows it unlabelled
    tags = tb.get_json("/data/plugin/scalars/tags")
    assert run in tags and tags[run], tags
    projector_runs = tb.projector_runs()
    assert f"{order}/validation" not in projector_runs and order not in projector_runs
    assert_run_serves(
        tb,
        run,
        {"words": weights(model, "words"), "chars": weights(model, "chars")},
        {"words": WORD_LABELS, "chars": CHAR_META.column("label")},
    )
    # Keras' own files are untouched: its event files are still there
    assert any("tfevents" in n for n in os.listdir(root / order / "validation"))


def test_keep_history_lists_every_epoch(runs):
    root, made, tb = runs
    model, cb = made["history"]
    info = tb.info("history")
    names = [e["tensorName"] for e in info["embeddings"]]
    assert names == ["words@epoch1", "words@epoch2", "words@epoch3"]
    final = tb.tensor("history", "words@epoch3")
    assert final.tobytes() == weights(model, "words").astype("float32").tobytes()
    first = tb.tensor("history", "words@epoch1")
    assert first.tobytes() != final.tobytes()  # the space moved between epochs
    for name in names:
        rows = parse_projector_tsv(tb.metadata("history", name)).rows
        assert [r[0] for r in rows] == WORD_LABELS


def test_misspelled_layer_fails_at_train_begin_listing_layers(tmp_path):
    model = two_embedding_model()
    x, y = data(16)
    cb = ProjectorCallback(tmp_path / "run", layers=["wrods"])
    with pytest.raises(InputError, match="words, chars|chars, words"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[cb])
    assert not (tmp_path / "run").exists()


def test_metadata_of_wrong_length_fails_before_training(tmp_path):
    model = two_embedding_model()
    x, y = data(16)
    cb = ProjectorCallback(tmp_path / "run", layers=["words"], metadata=WORD_LABELS[:-1])
    with pytest.raises(ShapeMismatchError, match="30 rows.*29 labels"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[cb])


class Nested(keras.Model):
    """A subclassed model whose embedding sits inside a sub-layer."""

    def __init__(self):
        super().__init__()
        self.encoder = keras.Sequential([keras.layers.Embedding(20, 4, mask_zero=True, name="inner")])
        self.pool = keras.layers.GlobalAveragePooling1D()
        self.head = keras.layers.Dense(1)

    def call(self, x):
        return self.head(self.pool(self.encoder(x)))


def test_subclassed_nested_mask_zero(tmp_path, tensorboard):
    model = Nested()
    model.compile("adam", "mse")
    x = np.random.default_rng(0).integers(1, 20, (32, 5))
    y = np.zeros((32, 1), "float32")
    labels = ["<pad>"] + [f"t{i}" for i in range(1, 20)]
    cb = ProjectorCallback(tmp_path / "nested", metadata=labels)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[cb])
    tb = tensorboard(tmp_path)
    assert_run_serves(tb, "nested", {"inner": model.encoder.layers[0].get_weights()[0]}, {"inner": labels})


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import faulthandler; faulthandler.dump_traceback_later(240, exit=True)  # a hang shows its stacks
    import sys, json
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras, numpy as np
    from projector_tools import ProjectorCallback
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    with strategy.scope():
        model = keras.Sequential([keras.Input((5,), dtype="int32"),
            keras.layers.Embedding(25, 4, name="emb"),
            keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)])
        model.compile("adam", "mse")
    x = np.random.default_rng(0).integers(0, 25, (64, 5)); y = np.zeros((64, 1), "float32")
    cb = ProjectorCallback(sys.argv[1], metadata=[f"id{i}" for i in range(25)])
    model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[cb])
    np.save(sys.argv[2], model.get_layer("emb").get_weights()[0])
    """
)


def test_mirrored_strategy_two_logical_cpus(tmp_path, tensorboard):
    script = tmp_path / "mirrored.py"
    script.write_text(MIRRORED_SCRIPT)
    run = tmp_path / "logs" / "mirrored"
    proc = subprocess.run(
        [sys.executable, str(script), str(run), str(tmp_path / "w.npy")],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = sorted(os.listdir(run))
    assert sum(1 for f in files if f.endswith(".index")) == 1, files
    assert sum(1 for f in files if "tfevents" in f) == 1, files
    tb = tensorboard(tmp_path / "logs")
    assert_run_serves(tb, "mirrored", {"emb": np.load(tmp_path / "w.npy")},
                      {"emb": [f"id{i}" for i in range(25)]})
