"""A TF1 name-based checkpoint (``tf.compat.v1.train.Saver``), written by TensorFlow
itself after one optimizer step: the embedding exports under its variable name,
the optimizer's slots (``.../Adam``, ``.../Adam_1``, ``.../Momentum``) and
bookkeeping (``beta1_power``, ``global_step``) do not; served by a real TensorBoard."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import tensorflow as tf

from projector_tools.cli import main
from projector_tools.run.checkpoint import checkpoint_shapes
from tests.helpers.projector_checks import assert_run_serves

OPTIMIZERS = {
    "adam": lambda: tf.compat.v1.train.AdamOptimizer(0.1),
    "momentum": lambda: tf.compat.v1.train.MomentumOptimizer(0.1, 0.9),
}


def saver_checkpoint(folder, optimizer: str, rows: int = 40) -> tuple[str, np.ndarray, np.ndarray]:
    """``(prefix, embedding, dense kernel)`` of a Saver checkpoint after one training step."""
    graph = tf.Graph()
    with graph.as_default():
        ids = tf.compat.v1.placeholder(tf.int32, [None])
        emb = tf.compat.v1.get_variable("word_embeddings", [rows, 6])
        kernel = tf.compat.v1.get_variable("dense/kernel", [6, 3])
        loss = tf.reduce_sum(tf.matmul(tf.nn.embedding_lookup(emb, ids), kernel) ** 2)
        step = OPTIMIZERS[optimizer]().minimize(loss, global_step=tf.compat.v1.train.get_or_create_global_step())
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            session.run(step, {ids: [1, 2, 3]})
            prefix = saver.save(session, str(folder / "model.ckpt"), global_step=1)
            return prefix, *session.run([emb, kernel])


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_saver_checkpoint_exports_the_embedding_not_its_slots(tmp_path, tensorboard, optimizer):
    prefix, emb, kernel = saver_checkpoint(tmp_path / "ckpt", optimizer)
    keys = set(checkpoint_shapes(prefix))
    assert {"word_embeddings", "dense/kernel", "global_step"} <= keys
    assert any(k.startswith("word_embeddings/") for k in keys)  # the slots are there to skip
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        assert main(["export", str(tmp_path / "ckpt"), "--logdir", str(tmp_path / "logs" / "tf1")]) == 0, err.getvalue()
        assert main(["export", prefix, "--layer", "dense/kernel",
                     "--logdir", str(tmp_path / "logs" / "kernel")]) == 0, err.getvalue()
    tb = tensorboard(tmp_path / "logs")
    tb.wait_for_projector_runs(expected=2)
    assert_run_serves(tb, "tf1", {"word_embeddings": emb})
    assert_run_serves(tb, "kernel", {"dense/kernel": kernel})
    assert "picked word_embeddings [40, 6]" in err.getvalue()
