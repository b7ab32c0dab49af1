"""A tiny trained model and its exported run, shared by the doctor, neighbors,
plot and browser tests (trained once per test process, a few seconds)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

POSITIVE = ["good", "great", "excellent", "superb", "lovely", "wonderful"]
NEGATIVE = ["bad", "awful", "terrible", "poor", "boring", "dreadful"]
NEUTRAL = ["the", "a", "movie", "film", "plot", "actor", "scene", "story", "was", "is",
           "and", "of", "it", "this", "with", "ending"]
VOCAB = [""] + POSITIVE + NEGATIVE + NEUTRAL  # id 0 is padding
LAYER = "word_emb"


@dataclass
class TrainedRun:
    logdir: str      # what you pass to tensorboard --logdir
    run_dir: str     # the run written by export_embeddings
    run: str         # its name as TensorBoard lists it
    matrix: np.ndarray
    labels: list[str]  # first metadata column, as the browser shows it


def corpus(n: int = 600, length: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sentences of neutral words plus two sentiment words; label = sentiment."""
    rng = np.random.default_rng(seed)
    ids = {w: i for i, w in enumerate(VOCAB)}
    x = np.zeros((n, length), dtype="int32")
    y = np.zeros((n, 1), dtype="float32")
    for i in range(n):
        pos = i % 2 == 0
        words = list(rng.choice(NEUTRAL, size=length - 2))
        words += list(rng.choice(POSITIVE if pos else NEGATIVE, size=2))
        rng.shuffle(words)
        x[i] = [ids[w] for w in words]
        y[i] = 1.0 if pos else 0.0
    return x, y


def build_model():
    import keras

    return keras.Sequential([
        keras.Input((None,), dtype="int32"),
        keras.layers.Embedding(len(VOCAB), 8, name=LAYER),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(8, activation="relu", name="hidden"),
        keras.layers.Dense(1, activation="sigmoid", name="out"),
    ])


_MODEL = []


def trained_model():
    """A Keras model whose embedding separates positive from negative words."""
    if _MODEL:
        return _MODEL[0]
    import keras

    keras.utils.set_random_seed(0)
    model = build_model()
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="binary_crossentropy")
    x, y = corpus()
    model.fit(x, y, epochs=12, batch_size=32, verbose=0)
    _MODEL.append(model)
    return model


def export_trained(logdir: str, run: str = "demo") -> TrainedRun:
    """Export the trained model's embedding, labelled, into ``logdir/run``."""
    from projector_tools import export_embeddings, vocabulary_metadata

    model = trained_model()
    run_dir = os.path.join(str(logdir), run)
    meta = vocabulary_metadata(VOCAB)
    export_embeddings(model, run_dir, metadata=meta)
    matrix = np.asarray(model.get_layer(LAYER).get_weights()[0], dtype=np.float32)
    return TrainedRun(logdir=str(logdir), run_dir=run_dir, run=run, matrix=matrix,
                      labels=meta.labels())


def keras_callback_logdir(tmp_path, meta_inside: bool = False):
    """A logdir from Keras 3's own ``TensorBoard(embeddings_freq=1, embeddings_metadata=...)``.

    The metadata is a vocabulary written one token per line with padding ''
    first, as people write ``TextVectorization.get_vocabulary()``; beside the
    logdir, or with ``meta_inside`` in it.
    """
    import keras

    logdir = tmp_path / "keras_logs"
    if meta_inside:
        logdir.mkdir(parents=True)
    meta = (logdir if meta_inside else tmp_path) / "vocab.tsv"
    meta.write_text("".join(f"{t}\n" for t in VOCAB), encoding="utf-8")
    keras.utils.set_random_seed(1)
    model = build_model()
    model.compile(optimizer="adam", loss="binary_crossentropy")
    x, y = corpus(n=64)
    model.fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[
        keras.callbacks.TensorBoard(log_dir=str(logdir), embeddings_freq=1,
                                    embeddings_metadata={LAYER: str(meta)})
    ])
    keras_callback_logdir.weights = np.asarray(model.get_layer(LAYER).get_weights()[0])
    return logdir, VOCAB
