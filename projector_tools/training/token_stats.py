"""Token statistics to colour a vocabulary by: how often, and how positive.

For every id of a vocabulary, from the encoded train reviews and their 0/1
labels:

* ``count``: occurrences of the id in all train reviews (padding and bytes
  included: they get their real counts, often 0);
* ``positivity``: the share of positive reviews among the train reviews that
  contain the id (each review counted once), smoothed towards the overall
  positive rate ``p0`` so that rare ids sit near it::

      positivity = (positive reviews with the id + M * p0) / (reviews with the id + M)

  with ``M = PRIOR_REVIEWS`` (10 pseudo-reviews at the overall rate). An id
  seen in no review has positivity ``p0``; one seen in 1,000 reviews, all
  positive, about 0.99. Written with 3 decimals.

Everything is numpy over one flat array of ids (sorting
``review * V + id`` and dropping repeats keeps each id once per review, ``np.bincount`` counts),
so it runs in a second over all 25,000 IMDB train reviews.

    >>> count, positivity = token_statistics([[1, 2, 2], [2, 3]], [1, 0], vocab_size=4)
    >>> count.tolist()
    [0, 1, 3, 1]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from projector_tools.errors import InputError
from projector_tools.run.metadata import Metadata

__all__ = ["PRIOR_REVIEWS", "token_statistics", "with_token_statistics"]

#: Weight of the prior in pseudo-reviews (the ``M`` of the module formula).
PRIOR_REVIEWS = 10.0


def token_statistics(
    reviews: Sequence[Sequence[int]],
    labels: Sequence[int],
    vocab_size: int,
    *,
    prior_reviews: float = PRIOR_REVIEWS,
) -> tuple[np.ndarray, np.ndarray]:
    """``(count, positivity)``, one value per id ``0..vocab_size-1`` (see the module doc)."""
    if len(reviews) != len(labels):
        raise InputError(f"{len(reviews)} reviews but {len(labels)} labels")
    y = np.asarray(labels, dtype=np.float64)
    lengths = np.fromiter((len(r) for r in reviews), dtype=np.int64, count=len(reviews))
    flat = (np.concatenate([np.asarray(r, dtype=np.int64) for r in reviews])
            if len(reviews) else np.zeros(0, np.int64))
    if flat.size and (flat.min() < 0 or flat.max() >= vocab_size):
        raise InputError(
            f"token ids run from {flat.min()} to {flat.max()}, outside the vocabulary "
            f"0..{vocab_size - 1}; encode the reviews with the model's own vocabulary"
        )
    count = np.bincount(flat, minlength=vocab_size)
    review_of = np.repeat(np.arange(len(reviews), dtype=np.int64), lengths)
    # each id once per review: sort review*V+id and drop repeats (a plain
    # sort; np.unique's hashing is ~10x slower here on numpy 2.x)
    pairs = np.sort(review_of * vocab_size + flat)
    pairs = pairs[np.concatenate([[True], pairs[1:] != pairs[:-1]])] if pairs.size else pairs
    ids, rev = pairs % vocab_size, pairs // vocab_size
    docs = np.bincount(ids, minlength=vocab_size).astype(np.float64)
    pos_docs = np.bincount(ids, weights=y[rev], minlength=vocab_size)
    p0 = float(y.mean()) if y.size else 0.5
    positivity = (pos_docs + prior_reviews * p0) / (docs + prior_reviews)
    return count, positivity


def with_token_statistics(
    meta: Metadata, reviews: Sequence[Sequence[int]], labels: Sequence[int]
) -> Metadata:
    """``meta`` (one row per id) plus the columns ``count`` and ``positivity``."""
    count, positivity = token_statistics(reviews, labels, len(meta))
    return meta.with_column("count", count.tolist()).with_column(
        "positivity", [f"{p:.3f}" for p in positivity]
    )
