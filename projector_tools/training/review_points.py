"""The trainer's ``reviews`` tensor: validation reviews as Projector points.

Each point is a review's pooled vector (the output of the model's
``GlobalAveragePooling1D`` layer: the average of its subword vectors, what
the classifier head sees). Up to N validation reviews are chosen,
reproducibly (a seeded generator) and balanced by label (N/2 of each, the
other label filling in when one runs short), in order of length. Columns:

* ``text``: the review, cut to :data:`TEXT_CHARS` characters (``...`` marks a cut);
* ``label``: ``positive`` / ``negative``;
* ``predicted``: the model's probability of positive (sigmoid of its
  logit), 3 decimals, refreshed at every export;
* ``correct``: ``yes`` when ``predicted >= 0.5`` matches the label.

    >>> rows = choose_review_points([0, 1, 1, 0, 1], 4, seed=0)
    >>> sorted(int(r) for r in rows) == sorted(set(int(r) for r in rows)), len(rows)
    (True, 4)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from projector_tools.export.activations import ActivationSpec
from projector_tools.run.metadata import Metadata

__all__ = ["DEFAULT_REVIEW_POINTS", "REVIEWS_TENSOR", "TEXT_CHARS", "choose_review_points",
           "review_spec"]

DEFAULT_REVIEW_POINTS = 2000
REVIEWS_TENSOR = "reviews"
TEXT_CHARS = 200
LABEL_NAMES = ("negative", "positive")


def choose_review_points(labels: Sequence[int], n: int, *, seed: int = 0) -> np.ndarray:
    """Indices of up to ``n`` reviews, half of each label where possible, in index order."""
    y = np.asarray(labels)
    rng = np.random.default_rng(seed)
    n = min(int(n), len(y))
    groups = [rng.permutation(np.flatnonzero(y == v)) for v in (0, 1)]
    take = [min(len(g), n // 2) for g in groups]
    short = n - sum(take)  # one label ran short (or n is odd): the other fills in
    for k in (1, 0):
        extra = min(short, len(groups[k]) - take[k])
        take[k] += extra
        short -= extra
    chosen = np.concatenate([g[:t] for g, t in zip(groups, take)])
    return np.sort(chosen)


def shorten(text: str, limit: int = TEXT_CHARS) -> str:
    """``text`` cut to about ``limit`` characters (at a space where one is near)."""
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit * 0.7 else cut) + "..."


def review_metadata(texts: Sequence[str], labels: Sequence[int], logits: np.ndarray) -> Metadata:
    """The ``reviews`` columns for the model's current ``logits`` (see the module doc)."""
    prob = 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64).reshape(len(texts), -1)[:, 0]))
    y = np.asarray(labels).astype(int)
    return Metadata({
        "text": [shorten(t) for t in texts],
        "label": [LABEL_NAMES[v] for v in y],
        "predicted": [f"{p:.3f}" for p in prob],
        "correct": ["yes" if (p >= 0.5) == bool(v) else "no" for p, v in zip(prob, y)],
    })


def review_spec(
    ids: Sequence[Sequence[int]],
    texts: Sequence[str],
    labels: Sequence[int],
    *,
    layer: Any,
    n: int = DEFAULT_REVIEW_POINTS,
    seed: int = 0,
    batch_size: int = 256,
) -> ActivationSpec | None:
    """The :class:`ActivationSpec` of the ``reviews`` tensor (None when ``n`` is 0).

    ``ids`` are the encoded reviews. The chosen reviews are ordered by length
    and cut into batches of ``batch_size``, each padded with 0 to its own
    longest review (the model masks padding, so the average is that of the
    review's own subwords): on IMDB-length reviews that is ~5x less work per
    export than padding all of them to the longest one.
    """
    import tensorflow as tf

    if n <= 0 or not len(ids):
        return None
    chosen = choose_review_points(labels, n, seed=seed)
    rows = chosen[np.argsort([len(ids[i]) for i in chosen], kind="stable")]
    batches = []
    for start in range(0, len(rows), batch_size):
        part = rows[start:start + batch_size]
        x = np.zeros((len(part), max(1, max(len(ids[i]) for i in part))), dtype=np.int32)
        for k, i in enumerate(part):
            x[k, : len(ids[i])] = ids[i]
        batches.append(x)
    inputs = tf.data.Dataset.from_generator(
        lambda: iter(batches), output_signature=tf.TensorSpec([None, None], tf.int32))
    chosen_texts = [texts[i] for i in rows]
    chosen_labels = [int(labels[i]) for i in rows]
    return ActivationSpec(
        inputs, layer=layer, name=REVIEWS_TENSOR, batch_size=batch_size,
        metadata=lambda logits: review_metadata(chosen_texts, chosen_labels, logits),
    )
