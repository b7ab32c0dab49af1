"""Fit on a sample, place the rest: how a layout covers more rows than it fits.

Above ``max_rows`` rows a layout is fitted on a seeded random sample of
``max_rows`` rows and every other row is placed at the coordinate-wise
median of the places of its :data:`PLACE_NEIGHBORS` nearest sample rows.

    >>> import numpy as np
    >>> sample_rows(5, 10).tolist(), sample_rows(10, 3).size
    ([0, 1, 2, 3, 4], 3)
    >>> place(np.array([[0.0], [1.0], [0.1]]), np.array([0, 1]), np.array([[5.0], [7.0]]), k=1).ravel().tolist()
    [5.0, 7.0, 5.0]
"""

from __future__ import annotations

import numpy as np

__all__ = ["PLACE_NEIGHBORS", "place", "sample_note", "sample_rows"]

PLACE_NEIGHBORS = 10


def sample_rows(n_rows: int, max_rows: int, seed: int = 0) -> np.ndarray:
    """Sorted ids of the rows a layout is fitted on (all when ``n_rows <= max_rows``)."""
    if max_rows is None or n_rows <= max_rows:
        return np.arange(n_rows)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_rows, size=int(max_rows), replace=False))


def sample_note(name: str, n_rows: int, method: str, max_rows: int | None, seed: int = 0) -> str | None:
    """The line to print when ``method`` lays out ``name`` from a sample, else None."""
    if method == "pca" or max_rows is None or n_rows <= max_rows:
        return None
    return (
        f"{name}: {n_rows} rows > --layout-max-rows {max_rows}: {method} is fitted on a "
        f"random sample of {max_rows} rows (seed {seed}); the other {n_rows - max_rows} rows "
        f"are placed by their {PLACE_NEIGHBORS} nearest sample rows. Raise --layout-max-rows "
        "to fit on more rows (slower)"
    )


def place(matrix: np.ndarray, sample: np.ndarray, fitted: np.ndarray, *,
          k: int = PLACE_NEIGHBORS, chunk: int = 20_000) -> np.ndarray:
    """Layout of every row of ``matrix`` given the layout ``fitted`` of rows ``sample``.

    Sample rows keep their place; each other row goes to the coordinate-wise
    median of the places of its ``k`` nearest sample rows (Euclidean, in
    the space of ``matrix``).
    """
    from sklearn import neighbors
    out = np.empty((matrix.shape[0], fitted.shape[1]), dtype=np.float32)
    out[sample] = fitted
    rest = np.setdiff1d(np.arange(matrix.shape[0]), sample, assume_unique=True)
    if rest.size == 0:
        return out
    index = neighbors.NearestNeighbors(n_neighbors=min(k, len(sample))).fit(matrix[sample])
    for start in range(0, rest.size, chunk):
        ids = rest[start : start + chunk]
        nb = index.kneighbors(matrix[ids], return_distance=False)
        out[ids] = np.median(fitted[nb], axis=1)
    return out
