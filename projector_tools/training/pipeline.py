"""The trainer's input pipeline and model: batches cut by length, the seed's model.

The input pipeline encodes every review once, keeps the ids in memory,
reshuffles every epoch, groups reviews of similar length into batches
(length bucketing: little padding) and prefetches; the seed's
``shuffle(1000).padded_batch(10)`` is the slow baseline (``bench/train.py``).

    >>> import numpy as np
    >>> batches = length_batches([3, 1, 2, 5], 2, np.random.default_rng(0))
    >>> sorted(len(b) for b in batches), count_batches(4, 2)
    ([2, 2], 2)
"""

from __future__ import annotations

from projector_tools.errors import InputError

__all__ = ["POOL_LAYER", "build_model", "count_batches", "length_batches", "make_dataset"]

POOL_LAYER = "pool"


def length_batches(lengths, batch_size: int, rng, pool_batches: int = 50) -> list:
    """One epoch of batches (arrays of example indices), grouped by length.

    The examples are shuffled, cut into pools of ``pool_batches`` batches,
    each pool is sorted by length and cut into batches, and the batch order
    is shuffled. Reviews in a batch then have similar lengths (little
    padding) while batch composition and order change every epoch. The
    number of batches depends only on the number of examples.
    """
    import numpy as np

    lengths = np.asarray(lengths)
    perm = rng.permutation(len(lengths))
    pool = batch_size * pool_batches
    batches = []
    for start in range(0, len(perm), pool):
        chunk = perm[start:start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def count_batches(n: int, batch_size: int, pool_batches: int = 50) -> int:
    pool = batch_size * pool_batches
    full, rest = divmod(n, pool)
    return full * pool_batches + -(-rest // batch_size)


def make_dataset(ids: list[list[int]], labels: list[int], *, batch_size: int, shuffle: bool, seed: int = 0):
    """``tf.data`` pipeline over reviews encoded once and kept in memory.

    Every epoch: reshuffle, group reviews of similar length into batches
    (:func:`length_batches`), pad each batch only to its longest review,
    prefetch in the background. Without ``shuffle`` (validation) the
    batches are sorted by length and fixed. Yields
    ``(int32 [batch, longest in batch], float32 [batch])``.

    (``tf.data``'s own ``bucket_by_sequence_length`` does the same per
    element in graph ops; measured here it was 2-4x slower per epoch and left
    4x more padding than pool sorting, so the batches are cut in numpy.)
    """
    import numpy as np
    import tensorflow as tf

    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    flat = np.fromiter((i for x in ids for i in x), dtype=np.int32, count=int(offsets[-1]))
    y_all = np.asarray(labels, dtype=np.float32)
    if len(ids) == 0:
        raise InputError("no reviews to batch")
    rng = np.random.default_rng(seed)
    if shuffle:
        n_batches = count_batches(len(ids), batch_size)
    else:
        order = np.argsort(lengths, kind="stable")
        fixed = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
        n_batches = len(fixed)

    def epoch():
        for b in (length_batches(lengths, batch_size, rng) if shuffle else fixed):
            x = np.zeros((len(b), int(lengths[b].max())), dtype=np.int32)
            for row, j in enumerate(b):
                x[row, : lengths[j]] = flat[offsets[j]:offsets[j + 1]]
            yield x, y_all[b]

    ds = tf.data.Dataset.from_generator(
        epoch,
        output_signature=(
            tf.TensorSpec([None, None], tf.int32),
            tf.TensorSpec([None], tf.float32),
        ),
    )
    ds = ds.apply(tf.data.experimental.assert_cardinality(n_batches))
    return ds.prefetch(tf.data.AUTOTUNE)


def build_model(vocab_size: int, embedding_dim: int = 16, *, mask_zero: bool = True,
                steps_per_execution: int = 1, seed: int | None = None):
    """The seed's model (compiled): Embedding -> average -> Dense(16, relu) -> Dense(1).

    ``steps_per_execution`` > 1 runs that many batches per call into the
    compiled graph: the same updates, less Python overhead per step (this
    model does so little work per batch that the overhead dominates).
    ``seed`` seeds each layer's initializer (Keras' defaults, seeded), so
    the initial weights repeat without touching the process's global
    random state; None leaves them unseeded.
    """
    import keras

    def seeded(initializer: str, k: int):
        if seed is None:
            return initializer
        return keras.initializers.get({"class_name": initializer, "config": {"seed": int(seed) + k}})

    model = keras.Sequential(
        [
            keras.Input(shape=(None,), dtype="int32"),
            keras.layers.Embedding(vocab_size, embedding_dim, mask_zero=mask_zero, name="embedding",
                                   embeddings_initializer=seeded("RandomUniform", 0)),
            keras.layers.GlobalAveragePooling1D(name=POOL_LAYER),
            keras.layers.Dense(16, activation="relu", kernel_initializer=seeded("GlorotUniform", 1)),
            keras.layers.Dense(1, kernel_initializer=seeded("GlorotUniform", 2)),
        ],
        name="seed_model",
    )
    model.compile(
        optimizer="adam",
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    return model
