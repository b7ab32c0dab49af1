"""Keras' own files (``model.save("x.keras")``, ``save_weights``) exported by
the CLI and in-memory models labelled by their lookup layers, all served by
one real TensorBoard."""

from __future__ import annotations

import contextlib
import io
import re
import string
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from projector_tools import ProjectorCallback, export_embeddings
from projector_tools.cli import main
from projector_tools.sources.keras_archive import read_keras_archive
from projector_tools.run.metadata import parse_projector_tsv
from projector_tools.viewer.tensorboard import TensorBoardServer
from tests.helpers.projector_checks import assert_run_serves

SENTENCES = [
    "The movie was great, I loved it!",
    "A terrible film. I hated the acting.<br />Never again.",
    "Great acting, great story; would watch again",
    "the plot was dull and the ending was worse",
]
MAX_TOKENS = 40  # more than the sentences' vocabulary: Embedding(vocab_size) has spare rows
pytestmark = pytest.mark.slow  # trains five small models and starts TensorBoard once

COLORS = ["red", "green", "blue", "cyan", "magenta"]


def custom_standardization(input_data):
    """The word-embeddings tutorial's standardizer (lower case, no <br />, no punctuation)."""
    lowercase = tf.strings.lower(input_data)
    stripped_html = tf.strings.regex_replace(lowercase, "<br />", " ")
    return tf.strings.regex_replace(stripped_html, "[%s]" % re.escape(string.punctuation), "")


def tutorial_model(seed: int = 0) -> keras.Model:
    """TensorFlow's word-embeddings tutorial model, fitted for one epoch."""
    # Keras names layers by a process-wide counter: a fresh session makes this
    # layer `text_vectorization` whichever tests built one before in this process.
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    vectorize_layer = keras.layers.TextVectorization(
        standardize=custom_standardization, max_tokens=MAX_TOKENS,
        output_mode="int", output_sequence_length=12)
    vectorize_layer.adapt(SENTENCES)
    model = keras.Sequential([
        vectorize_layer,
        keras.layers.Embedding(MAX_TOKENS, 16, name="embedding"),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dense(1),
    ])
    # The tutorial also passes metrics=["accuracy"]; Keras 3.15 then fails in fit on a
    # string-input model ("dtype='string' is not a valid dtype for Keras type promotion").
    model.compile("adam", keras.losses.BinaryCrossentropy(from_logits=True))
    model.fit(tf.constant(SENTENCES), np.array([1, 0, 1, 0], "float32"), epochs=1, verbose=0)
    return model


def tutorial_labels(model: keras.Model) -> list[str]:
    """What the Projector must show: the vocabulary, then placeholders for spare rows."""
    vocab = [str(t) for t in model.layers[0].get_vocabulary()]
    assert vocab[:2] == ["", "[UNK]"] and len(vocab) < MAX_TOKENS
    return ["<pad>"] + vocab[1:] + [f"<unused id {i}>" for i in range(len(vocab), MAX_TOKENS)]


def string_lookup_model() -> keras.Model:
    """Functional: StringLookup (mask and two OOV ids) -> Reshape -> Embedding."""
    keras.utils.set_random_seed(1)
    inp = keras.Input((3,), dtype="string", name="color_names")
    lookup = keras.layers.StringLookup(vocabulary=COLORS, mask_token="", num_oov_indices=2,
                                       name="color_lookup")
    ids = keras.layers.Reshape((3,))(lookup(inp))
    emb = keras.layers.Embedding(lookup.vocabulary_size(), 4, name="color_emb")(ids)
    model = keras.Model(inp, keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(emb)))
    model.compile("adam", "mse")
    model.fit(tf.constant([COLORS[:3], COLORS[2:]]), np.zeros((2, 1)), epochs=1, verbose=0)
    return model


def nested_model() -> keras.Model:
    """Two Embeddings in nested models (functional and Sequential) beside one at the top."""
    keras.utils.set_random_seed(2)
    inner_in = keras.Input((None,), dtype="int32")
    encoder = keras.Model(inner_in, keras.layers.Embedding(9, 3, name="chars")(inner_in),
                          name="encoder")
    tagger = keras.Sequential([keras.Input((None,), dtype="int32"),
                               keras.layers.Embedding(7, 2, name="tags")], name="tagger")
    inp = keras.Input((5,), dtype="int32")
    parts = [keras.layers.Embedding(11, 4, name="words")(inp), encoder(inp), tagger(inp)]
    x = keras.layers.Concatenate()([keras.layers.GlobalAveragePooling1D()(p) for p in parts])
    model = keras.Model(inp, keras.layers.Dense(1)(x))
    model.compile("adam", "mse")
    model.fit(np.arange(10).reshape(2, 5) % 7, np.zeros((2, 1)), epochs=1, verbose=0)
    return model


def ambiguous_model() -> keras.Model:
    """One Embedding shared by two lookups; one fed by plain ids beside a lookup
    that feeds no Embedding."""
    keras.utils.set_random_seed(3)
    a, b = keras.Input((2,), dtype="string", name="a"), keras.Input((2,), dtype="string", name="b")
    ids = keras.Input((2,), dtype="int32", name="ids")
    shared = keras.layers.Embedding(8, 2, name="shared")
    la = keras.layers.StringLookup(vocabulary=["x", "y"], name="lookup_a")
    lb = keras.layers.StringLookup(vocabulary=["p", "q", "r"], name="lookup_b")
    parts = [shared(la(a)), shared(lb(b)), keras.layers.Embedding(6, 2, name="plain")(ids)]
    x = keras.layers.Concatenate()([keras.layers.GlobalAveragePooling1D()(p) for p in parts])
    c = keras.Input((2,), dtype="string", name="c")
    lc = keras.layers.StringLookup(vocabulary=["u", "v"], name="lookup_c")  # feeds no Embedding
    return keras.Model([a, b, ids, c], [keras.layers.Dense(1)(x), lc(c)])


CUSTOM_WRITER = textwrap.dedent('''
    import sys
    import keras
    import numpy as np
    import tensorflow as tf

    @keras.saving.register_keras_serializable(package="training_script")
    class ScaledMean(keras.layers.Layer):
        def __init__(self, scale=2.0, **kwargs):
            super().__init__(**kwargs)
            self.scale = scale

        def build(self, input_shape):
            self.gain = self.add_weight(shape=(input_shape[-1],), initializer="ones")

        def call(self, x):
            return keras.ops.mean(x, axis=1) * self.scale * self.gain

        def get_config(self):
            return {**super().get_config(), "scale": self.scale}

    keras.utils.set_random_seed(4)
    inp = keras.Input((4,), dtype="string")
    lookup = keras.layers.StringLookup(vocabulary=["ant", "bee", "cat", "dog"], name="animal_lookup")
    emb = keras.layers.Embedding(lookup.vocabulary_size() + 1, 6, name="word_emb")(lookup(inp))
    model = keras.Model(inp, keras.layers.Dense(1)(ScaledMean(name="pool")(emb)))
    model.compile("adam", "mse")
    model.fit(tf.constant([["ant", "bee", "cat", "eel"]]), np.zeros((1, 1)), epochs=1, verbose=0)
    model.save(sys.argv[1] + "/custom.keras")
    np.save(sys.argv[1] + "/custom_word_emb.npy", model.get_layer("word_emb").get_weights()[0])
    np.save(sys.argv[1] + "/custom_vocab.npy", np.array(lookup.get_vocabulary()))
''')


def weights(model: keras.Model, *path: str) -> np.ndarray:
    layer = model
    for name in path:
        layer = layer.get_layer(name)
    return np.asarray(layer.get_weights()[0])


def ids(n: int) -> list[str]:
    return [str(i) for i in range(n)]


def export_cli(*argv: str) -> str:
    """Run ``projector-tools export`` in this process; return what it printed to stderr."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["export", *argv]) == 0
    return err.getvalue()


def quietly(fn, *args, **kwargs) -> str:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        fn(*args, **kwargs)
    return err.getvalue()


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Write every file with Keras, export each, serve them all with one TensorBoard."""
    src = tmp_path_factory.mktemp("keras_files")
    logs = tmp_path_factory.mktemp("keras_logs")
    expected: dict[str, tuple[dict, dict]] = {}
    notes: dict[str, str] = {}

    # (i) the tutorial model saved as .keras: labelled by its own vocabulary
    tutorial = tutorial_model()
    tutorial.save(src / "tutorial.keras")
    notes["tutorial"] = export_cli(str(src / "tutorial.keras"), "--logdir", str(logs / "tutorial"))
    expected["tutorial"] = ({"embedding": weights(tutorial, "embedding")},
                            {"embedding": tutorial_labels(tutorial)})
    # an explicit --vocab still wins
    vocab = src / "vocab.txt"
    vocab.write_text("".join(f"v{i}\n" for i in range(MAX_TOKENS)))
    export_cli(str(src / "tutorial.keras"), "--logdir", str(logs / "tutorial_vocab"), "--vocab", str(vocab))
    expected["tutorial_vocab"] = ({"embedding": weights(tutorial, "embedding")},
                                  {"embedding": [f"v{i}" for i in range(MAX_TOKENS)]})

    # (ii) functional StringLookup -> Reshape -> Embedding
    colors = string_lookup_model()
    colors.save(src / "colors.keras")
    notes["colors"] = export_cli(str(src / "colors.keras"), "--logdir", str(logs / "colors"))
    expected["colors"] = ({"color_emb": weights(colors, "color_emb")},
                          {"color_emb": ["<pad>", "[UNK]", "[UNK]", *COLORS]})

    # (iii) a custom layer class registered only in the training script's process
    proc = subprocess.run([sys.executable, "-c", CUSTOM_WRITER, str(src)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    notes["custom"] = export_cli(str(src / "custom.keras"), "--logdir", str(logs / "custom"))
    custom_vocab = [str(t) for t in np.load(src / "custom_vocab.npy")]
    expected["custom"] = ({"word_emb": np.load(src / "custom_word_emb.npy")},
                          {"word_emb": custom_vocab + [f"<unused id {len(custom_vocab)}>"]})

    # (iv) nested models, as .keras and as .weights.h5
    nested = nested_model()
    nested.save(src / "nested.keras")
    nested.save_weights(src / "nested.weights.h5")
    nested_tensors = {"words": weights(nested, "words"), "chars": weights(nested, "encoder", "chars"),
                      "tags": weights(nested, "tagger", "tags")}
    nested_ids = {k: ids(v.shape[0]) for k, v in nested_tensors.items()}
    notes["nested"] = export_cli(str(src / "nested.keras"), "--logdir", str(logs / "nested"))
    expected["nested"] = (nested_tensors, nested_ids)
    export_cli(str(src / "nested.weights.h5"), "--logdir", str(logs / "nested_h5"))
    expected["nested_h5"] = (nested_tensors, nested_ids)

    # (v) in-memory models: export_embeddings and ProjectorCallback
    notes["memory"] = quietly(export_embeddings, tutorial, str(logs / "memory"))
    expected["memory"] = expected["tutorial"]
    explicit = [f"mine{i}" for i in range(MAX_TOKENS)]
    quietly(export_embeddings, tutorial, str(logs / "memory_explicit"), metadata=explicit)
    expected["memory_explicit"] = ({"embedding": weights(tutorial, "embedding")}, {"embedding": explicit})
    fitted = tutorial_model(seed=5)
    callback = ProjectorCallback(str(logs / "callback"))
    notes["callback"] = quietly(fitted.fit, tf.constant(SENTENCES), np.array([1, 0, 1, 0], "float32"),
                                epochs=1, verbose=0, callbacks=[callback])
    expected["callback"] = ({"embedding": weights(fitted, "embedding")},
                            {"embedding": tutorial_labels(fitted)})

    # (vi) ambiguous links: labelled by id, with a note, from a .keras and in memory
    ambiguous = ambiguous_model()
    ambiguous.save(src / "ambiguous.keras")
    notes["ambiguous"] = export_cli(str(src / "ambiguous.keras"), "--logdir", str(logs / "ambiguous"))
    amb_tensors = {"shared": weights(ambiguous, "shared"), "plain": weights(ambiguous, "plain")}
    expected["ambiguous"] = (amb_tensors, {k: ids(v.shape[0]) for k, v in amb_tensors.items()})
    notes["ambiguous_memory"] = quietly(export_embeddings, ambiguous, str(logs / "ambiguous_memory"))
    expected["ambiguous_memory"] = expected["ambiguous"]

    server = TensorBoardServer(str(logs)).start()
    try:
        server.wait_for_projector_runs(expected=len(expected))
        yield {"src": src, "expected": expected, "notes": notes, "tb": server, "tutorial": tutorial}
    finally:
        server.stop()


RUNS = ["tutorial", "tutorial_vocab", "colors", "custom", "nested", "nested_h5", "memory",
        "memory_explicit", "callback", "ambiguous", "ambiguous_memory"]


@pytest.mark.parametrize("run", RUNS)
def test_run_is_served_with_its_labels(made, run):
    tensors, labels = made["expected"][run]
    assert_run_serves(made["tb"], run, tensors, labels)


def test_tutorial_metadata_is_the_vocabulary_row_for_row(made):
    tb, tutorial = made["tb"], made["tutorial"]
    vocab = [str(t) for t in tutorial.layers[0].get_vocabulary()]
    parsed = parse_projector_tsv(tb.metadata("tutorial", "embedding"))
    assert parsed.columns == ("label", "id", "kind")
    assert len(parsed.rows) == MAX_TOKENS
    for i, row in enumerate(parsed.rows):
        label, row_id, kind = row
        assert int(row_id) == i
        if i == 0:
            assert (label, kind) == ("<pad>", "pad")
        elif i == 1:
            assert (label, kind) == ("[UNK]", "oov")
        elif i < len(vocab):
            assert (label, kind) == (vocab[i], "token")
        else:
            assert (label, kind) == (f"<unused id {i}>", "unused")
    note = made["notes"]["tutorial"]
    assert f"labels for 'embedding' from TextVectorization 'text_vectorization' ({len(vocab)} tokens)" in note
    assert f"40 rows but {len(vocab)} tokens" in note


def test_string_lookup_kinds_and_note(made):
    parsed = parse_projector_tsv(made["tb"].metadata("colors", "color_emb"))
    assert parsed.column("kind") == ["pad", "oov", "oov"] + ["token"] * len(COLORS)
    assert "labels for 'color_emb' from StringLookup 'color_lookup' (8 tokens)" in made["notes"]["colors"]


def test_custom_layer_is_not_importable_here_yet_exports(made):
    with pytest.raises(Exception, match="ScaledMean|training_script|deserializ"):
        keras.models.load_model(made["src"] / "custom.keras", compile=False)
    assert "labels for 'word_emb' from StringLookup 'animal_lookup'" in made["notes"]["custom"]


def test_nested_groups_are_found_by_keras_layout(made):
    archive = read_keras_archive(str(made["src"] / "nested.keras"))
    groups = {name: layer.group for name, layer in archive.embeddings.items()}
    assert groups == {"words": "layers/embedding", "chars": "layers/functional/layers/embedding",
                      "tags": "layers/sequential/layers/embedding"}
    assert "labels for" not in made["notes"]["nested"]


def test_explicit_labels_win_and_lookup_is_not_read(made):
    assert "labels for" not in made["notes"].get("memory_explicit", "")
    assert "labels for 'embedding' from TextVectorization" in made["notes"]["memory"]
    assert "labels for 'embedding' from TextVectorization" in made["notes"]["callback"]


@pytest.mark.parametrize("run", ["ambiguous", "ambiguous_memory"])
def test_ambiguous_links_say_so(made, run):
    note = made["notes"][run]
    assert "shared: ids come from StringLookup 'lookup_a', StringLookup 'lookup_b'" in note
    assert "StringLookup 'lookup_c' feeds no Embedding layer" in note and "'plain'" in note
    assert "labelled by id" in note
    assert "labels for" not in note


def test_layer_choice_and_errors(made, tmp_path, capsys):
    src = made["src"]
    archive = read_keras_archive(str(src / "nested.keras"), ["chars"])
    assert list(archive.tensors) == ["chars"]
    code = main(["export", str(src / "nested.keras"), "--logdir", str(tmp_path / "r"), "--layer", "nope"])
    err = capsys.readouterr().err
    assert code == 1 and "no Embedding layer named 'nope'" in err and "words, chars, tags" in err
    not_zip = tmp_path / "broken.keras"
    not_zip.write_bytes(b"not a zip")
    code = main(["export", str(not_zip), "--logdir", str(tmp_path / "r2")])
    err = capsys.readouterr().err
    assert code == 1 and "not a .keras archive" in err and err.count("\n") == 1
    assert not (tmp_path / "r").exists() and not (tmp_path / "r2").exists()
