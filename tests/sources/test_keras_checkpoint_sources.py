"""`projector-tools export` on files written by Keras' and TensorFlow's own savers.

Every source here comes from the real writer: a Keras 3 ``tf.train.Checkpoint``
after ``fit`` (optimizer slots included), ``model.export()``,
``tf.saved_model.save``, Keras 3 ``model.save("m.h5")`` (legacy HDF5), and
Keras 2 files written by ``tf_keras`` (``model.save("m.h5")`` with a ``Lambda``
layer, ``model.save_weights("w.h5")``, a SavedModel and a checkpoint with
OptimizerV2 slots). Each export is served by one real TensorBoard: the tensor
appears under the Embedding layer's name, equals the model's weights bit for
bit, comes alone (no slot, no dense kernel) and carries the ``--vocab`` labels.
"""

from __future__ import annotations

import contextlib
import io
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from projector_tools.run.checkpoint import checkpoint_shapes
from projector_tools.cli import main
from projector_tools.run.vocab_labels import vocabulary_metadata
from projector_tools.viewer.tensorboard import TensorBoardServer
from tests.helpers.projector_checks import assert_run_serves

tf_keras = pytest.importorskip("tf_keras", reason="pip install tf_keras (the 'test' extra) for Keras 2 files")

# the module fixture trains three small models and writes eight files (~40 s on 2 cores)
pytestmark = pytest.mark.slow

ROWS, DIMS = 30, 4
TOKENS = ["", "[UNK]", "the", "café", "naïve", "don't"] + [f"w{i}" for i in range(ROWS - 6)]
RNG = np.random.default_rng(7)
X = RNG.integers(0, ROWS, (32, 5))
Y = RNG.normal(size=(32, 3)).astype("float32")


def keras3_model() -> keras.Model:
    keras.utils.set_random_seed(3)
    model = keras.Sequential([
        keras.Input((5,), dtype="int32"),
        keras.layers.Embedding(ROWS, DIMS, name="word_emb"),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(3, name="dense"),
    ], name="sequential")  # named: Keras numbers unnamed models per process (sequential_2, ...)
    model.compile("adam", "mse")
    model.fit(X, Y, epochs=1, verbose=0)
    return model


def keras2_model(marker: str, optimizer: str | object = "adam"):
    """A tf_keras functional model whose Lambda writes ``marker`` if it is ever called."""
    tf.random.set_seed(4)
    side_effect = eval(f"lambda t: (open({marker!r}, 'a').close(), t)[1]")  # noqa: S307 - the probe
    inp = tf_keras.Input((5,), dtype="int32")
    x = tf_keras.layers.Embedding(ROWS, DIMS, name="word_emb")(inp)
    x = tf_keras.layers.Lambda(side_effect, name="probe")(x)
    x = tf_keras.layers.GlobalAveragePooling1D()(x)
    model = tf_keras.Model(inp, tf_keras.layers.Dense(3, name="dense")(x))
    model.compile(optimizer, "mse")
    model.fit(X, Y, epochs=1, verbose=0)
    return model


@tf_keras.utils.register_keras_serializable(package="test_only")
class ScaledEmbedding(tf_keras.layers.Embedding):
    """A user's own layer class, as a training script registers it."""

    def call(self, inputs):
        return super().call(inputs) * 2.0


def export(source: str, run_dir: str, *extra: str) -> str:
    """Run the CLI; return what it printed on stderr (the notes naming each key)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["export", source, "--logdir", run_dir, *extra]) == 0
    return err.getvalue()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    src = tmp_path_factory.mktemp("keras_sources")
    logs = tmp_path_factory.mktemp("keras_logs")
    vocab = src / "vocab.txt"
    vocab.write_text("".join(t + "\n" for t in TOKENS), encoding="utf-8")
    marker = str(src / "lambda_was_called")
    weights, notes, facts = {}, {}, {}

    def run(name: str, source, expected: np.ndarray, layer: str = "word_emb") -> None:
        weights[name] = (layer, expected)
        notes[name] = export(str(source), str(logs / name), "--vocab", str(vocab))

    k3 = keras3_model()
    k3_emb = k3.get_layer("word_emb").get_weights()[0]
    prefix = tf.train.Checkpoint(model=k3, optimizer=k3.optimizer).write(str(src / "k3_ckpt" / "ckpt"))
    facts["k3_ckpt_shapes"] = checkpoint_shapes(prefix)
    run("k3_checkpoint", prefix, k3_emb)
    k3.export(str(src / "k3_export"))
    run("k3_export", src / "k3_export", k3_emb)
    tf.saved_model.save(k3, str(src / "k3_saved_model"))
    run("k3_saved_model", src / "k3_saved_model", k3_emb)
    k3.save(str(src / "k3.h5"))
    run("k3_h5", src / "k3.h5", k3_emb)

    k2 = keras2_model(marker)
    k2_emb = k2.get_layer("word_emb").get_weights()[0]
    k2.save(str(src / "k2.h5"))
    k2.save_weights(str(src / "k2_weights.h5"))
    k2.save(str(src / "k2_saved_model"))  # tf_keras: a directory path writes a SavedModel
    if os.path.exists(marker):
        os.remove(marker)  # building and saving called the Lambda; from here on nothing may
    run("k2_h5", src / "k2.h5", k2_emb)
    run("k2_weights_h5", src / "k2_weights.h5", k2_emb)
    run("k2_saved_model", src / "k2_saved_model", k2_emb)
    facts["marker_after_exports"] = os.path.exists(marker)
    facts["k2_h5"] = str(src / "k2.h5")
    facts["marker"] = marker

    legacy = keras2_model(marker, tf_keras.optimizers.legacy.Adam())
    legacy_prefix = tf.train.Checkpoint(model=legacy, optimizer=legacy.optimizer).write(
        str(src / "k2_ckpt" / "ckpt"))
    facts["k2_ckpt_shapes"] = checkpoint_shapes(legacy_prefix)
    run("k2_checkpoint", legacy_prefix, legacy.get_layer("word_emb").get_weights()[0])

    # a custom Embedding subclass: model_config names no 'Embedding', the weight name decides
    custom = tf_keras.Sequential([tf_keras.Input((5,), dtype="int32"),
                                  ScaledEmbedding(ROWS, DIMS, name="custom_emb"),
                                  tf_keras.layers.Dense(2, name="dense")])
    custom.save(str(src / "custom.h5"))
    run("k2_custom_h5", src / "custom.h5", custom.get_layer("custom_emb").get_weights()[0], "custom_emb")

    # one TensorBoard for the module, stopped by its pid at the end
    tb = TensorBoardServer(str(logs)).start()
    try:
        tb.wait_for_projector_runs(expected=len(weights))
        yield tb, weights, notes, facts
    finally:
        tb.stop()


RUNS = ["k3_checkpoint", "k3_export", "k3_saved_model", "k3_h5",
        "k2_h5", "k2_weights_h5", "k2_saved_model", "k2_checkpoint", "k2_custom_h5"]


@pytest.mark.parametrize("run", RUNS)
def test_served_under_the_layer_name_with_vocab_labels(served, run):
    tb, weights, _, _ = served
    layer, matrix = weights[run]
    # exactly one tensor, named after the layer: no optimizer slot, no dense kernel
    # ('' is TextVectorization's padding: labelled '<pad>' on its own row, see vocabulary_metadata)
    labels = vocabulary_metadata(TOKENS).column("label")
    assert labels[0] == "<pad>" and labels[3] == "café"
    assert_run_serves(tb, run, {layer: matrix}, {layer: labels})


@pytest.mark.parametrize("run, key", [
    ("k3_checkpoint", "optimizer/_trainable_variables/0/.ATTRIBUTES/VARIABLE_VALUE"),
    ("k3_saved_model", "optimizer/_trainable_variables/0/.ATTRIBUTES/VARIABLE_VALUE"),
    ("k3_export", "variables/0/.ATTRIBUTES/VARIABLE_VALUE"),
    ("k2_checkpoint", "model/layer_with_weights-0/embeddings/.ATTRIBUTES/VARIABLE_VALUE"),
    ("k2_h5", "word_emb/word_emb/embeddings:0"),
    ("k3_h5", "word_emb/sequential/word_emb/embeddings"),
    ("k2_custom_h5", "custom_emb/custom_emb/embeddings:0 [30, 4] (a layer weight named 'embeddings')"),
])
def test_each_tensor_names_the_key_it_came_from(served, run, key):
    _, weights, notes, _ = served
    assert f"picked {key}" in notes[run] and f"as '{weights[run][0]}'" in notes[run], notes[run]


def test_the_sources_really_held_optimizer_slots(served):
    """The slot matrices the export left out were there, shaped like the embedding."""
    _, _, _, facts = served
    k3 = facts["k3_ckpt_shapes"]
    assert [k for k, s in k3.items() if s == [ROWS, DIMS] and "optimizer/_variables/" in k], k3
    k2 = facts["k2_ckpt_shapes"]
    assert [k for k, s in k2.items() if s == [ROWS, DIMS] and ".OPTIMIZER_SLOT/" in k], k2


def test_legacy_h5_lambda_is_never_executed(served):
    """Exports read the HDF5 groups only; rebuilding the model would run the Lambda."""
    _, _, _, facts = served
    assert facts["marker_after_exports"] is False
    # control: Keras' own loader does run it, so the probe would have caught a rebuild
    tf_keras.models.load_model(facts["k2_h5"], safe_mode=False)
    assert os.path.exists(facts["marker"])


def test_layer_option_picks_another_weight_of_a_legacy_h5(served, tmp_path):
    _, _, _, facts = served
    notes = export(facts["k2_h5"], str(tmp_path / "run"), "--layer", "dense")
    assert "picked dense/dense/kernel:0" in notes and "as 'dense'" in notes


def test_directory_that_is_neither_checkpoint_nor_saved_model(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["export", str(tmp_path / "empty"), "--logdir", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a SavedModel" in err
    assert not (tmp_path / "run").exists()
