"""`projector-tools export` for every source kind, served by a real TensorBoard."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from projector_tools.cli import main
from projector_tools.run.metadata import subword_metadata
from projector_tools.viewer.tensorboard import TensorBoardServer
from tests.helpers import REPO_ROOT
from tests.helpers.labels import REVIEWS
from tests.helpers.projector_checks import assert_run_serves


def trained_model() -> keras.Model:
    keras.utils.set_random_seed(5)
    inp = keras.Input((5,), dtype="int32")
    words = keras.layers.Embedding(25, 4, name="words")(inp)
    chars = keras.layers.Embedding(11, 2, name="chars")(inp)
    x = keras.layers.Concatenate()([keras.layers.GlobalAveragePooling1D()(words),
                                    keras.layers.GlobalAveragePooling1D()(chars)])
    model = keras.Model(inp, keras.layers.Dense(1)(keras.layers.Dense(8)(x)))
    model.compile("adam", "mse")
    rng = np.random.default_rng(0)
    model.fit(rng.integers(0, 11, (16, 5)), rng.normal(size=(16, 1)), epochs=1, verbose=0)
    return model


def ids(n: int) -> list[str]:
    return [str(i) for i in range(n)]


def run_cli(*argv: str) -> None:
    assert main(list(argv)) == 0


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    src = tmp_path_factory.mktemp("sources")
    logs = tmp_path_factory.mktemp("cli_logs")
    model = trained_model()
    words = model.get_layer("words").get_weights()[0]
    chars = model.get_layer("chars").get_weights()[0]
    vocab = src / "words.txt"
    vocab.write_text("".join(f"w{i}\n" for i in range(25)))
    expected = {}

    # .keras model: every Embedding layer, then one layer with --vocab
    model.save(src / "model.keras")
    run_cli("export", str(src / "model.keras"), "--logdir", str(logs / "keras_all"))
    # no labels in the source: each point is labelled by its row id
    expected["keras_all"] = ({"words": words, "chars": chars}, {"words": ids(25), "chars": ids(11)})
    run_cli("export", str(src / "model.keras"), "--logdir", str(logs / "keras_words"),
            "--layer", "words", "--vocab", str(vocab))
    expected["keras_words"] = ({"words": words}, {"words": [f"w{i}" for i in range(25)]})

    # TensorFlow checkpoints: Keras 3 model + optimizer (slots must not be picked),
    # given as a prefix and as a directory; and a named-variable checkpoint.
    ckpt = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
    prefix = tf.train.CheckpointManager(ckpt, str(src / "ckpts"), max_to_keep=2).save()
    run_cli("export", prefix, "--logdir", str(logs / "ckpt_prefix"), "--vocab", str(vocab))
    # tensors are named after their layer (the checkpoint's object graph records it);
    # --vocab narrows the two Embedding layers to the one with its row count
    expected["ckpt_prefix"] = ({"words": words}, {"words": [f"w{i}" for i in range(25)]})
    run_cli("export", str(src / "ckpts"), "--logdir", str(logs / "ckpt_dir"))
    expected["ckpt_dir"] = ({"words": words, "chars": chars}, {"words": ids(25), "chars": ids(11)})
    named = tf.train.Checkpoint(token_embedding=tf.Variable(words), dense=tf.Variable(np.ones((4, 4), "float32")))
    named_prefix = named.save(str(src / "named" / "ckpt"))
    run_cli("export", named_prefix, "--logdir", str(logs / "ckpt_named"))
    expected["ckpt_named"] = ({"token_embedding": words}, {"token_embedding": ids(25)})

    # .npy with a SubwordTextEncoder vocab file
    encoder = tfds.deprecated.text.SubwordTextEncoder.build_from_corpus(REVIEWS, target_vocab_size=300)
    encoder.save_to_file(str(src / "encoder"))
    sub = np.random.default_rng(2).normal(size=(encoder.vocab_size, 3)).astype("float32")
    np.save(src / "sub.npy", sub)
    run_cli("export", str(src / "sub.npy"), "--logdir", str(logs / "npy_subwords"),
            "--vocab", str(src / "encoder.subwords"))
    expected["npy_subwords"] = ({"embedding": sub}, {"embedding": subword_metadata(encoder).column("label")})

    # word2vec text: labels come from the file
    w2v_tokens = ["king", "queen", "café", "<br", "don't", "the"]
    w2v = np.random.default_rng(3).normal(size=(len(w2v_tokens), 4)).astype("float32")
    lines = [f"{len(w2v_tokens)} 4"] + [
        t + " " + " ".join(repr(float(v)) for v in row) for t, row in zip(w2v_tokens, w2v)
    ]
    (src / "vectors.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    run_cli("export", str(src / "vectors.txt"), "--logdir", str(logs / "word2vec"))
    expected["word2vec"] = ({"embedding": w2v}, {"embedding": w2v_tokens})

    server = TensorBoardServer(str(logs)).start()
    try:
        server.wait_for_projector_runs(expected=len(expected))
        yield server, expected, src, logs
    finally:
        server.stop()


@pytest.mark.parametrize(
    "run", ["keras_all", "keras_words", "ckpt_prefix", "ckpt_dir", "ckpt_named", "npy_subwords", "word2vec"]
)
def test_each_source_kind_is_served(cli_runs, run):
    tb, expected, _, _ = cli_runs
    tensors, labels = expected[run]
    assert_run_serves(tb, run, tensors, labels)


def test_script_and_json_output(cli_runs, tmp_path):
    _, _, src, _ = cli_runs
    proc = subprocess.run(
        [sys.executable, os.path.join(REPO_ROOT, "scripts", "export_embeddings.py"),
         str(src / "sub.npy"), "--logdir", str(tmp_path / "run"), "--json"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["tensors"][0]["name"] == "embedding"
    assert result["tensors"][0]["shape"] == list(np.load(src / "sub.npy").shape)


def test_vocab_of_wrong_size_is_one_clear_line(cli_runs, tmp_path, capsys):
    _, _, src, _ = cli_runs
    code = main(["export", str(src / "sub.npy"), "--logdir", str(tmp_path / "run"),
                 "--vocab", str(src / "words.txt")])
    err = capsys.readouterr().err
    assert code != 0
    assert err.count("\n") == 1 and "25 entries" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()
