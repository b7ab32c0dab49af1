"""UMAP of a matrix the fast way: exact neighbours, cached kernels, 200 epochs.

What umap-learn's defaults spend in a fresh process, and what this does
instead (measured in docs/design.md, "Layout speed"):

* neighbours: pynndescent's approximate search compiles ~2 minutes of
  numba code in every process (its kernels take the metric as an argument,
  so they cannot be cached). Here scikit-learn's exact search (compiled
  C, nothing to JIT) finds them and umap-learn gets them as
  ``precomputed_knn``; inputs reach it with at most 50 columns
  (``PCA_BEFORE``) and at most ``--layout-max-rows`` rows.
* kernels: compiled once per machine into this project's numba cache
  (:mod:`projector_tools.analysis.umap_cache`).
* epochs (:func:`umap_epochs`): 200 above 10,000 rows, as umap-learn itself
  uses there; 100 up to 10,000 rows, where umap-learn runs 500 (the
  neighbour class agreement of 7,188 digits and of 10,000 x 100 Gaussians
  is the same at 100, 200 and 500 epochs: docs/design.md).
* init: ``"pca"``, not the spectral default (an eigensolver on the graph).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.normal(loc=10 * i, size=(50, 8)) for i in range(2)]).astype(np.float32)
    >>> fit_umap(x, 0).shape
    (100, 3)
"""

from __future__ import annotations

import warnings

import numpy as np

from projector_tools.analysis.stages import Stages
from projector_tools.analysis.umap_cache import load_umap

__all__ = ["UMAP_NEIGHBORS", "exact_neighbors", "fit_umap", "umap_epochs"]

UMAP_NEIGHBORS = 15
UMAP_EPOCHS = 200
SMALL_ROWS = 10_000
SMALL_EPOCHS = 100


def umap_epochs(rows: int) -> int:
    """Epochs of the layout of ``rows`` rows: ``umap_epochs(8308) == 100``, ``umap_epochs(50_000) == 200``."""
    return SMALL_EPOCHS if rows <= SMALL_ROWS else UMAP_EPOCHS


def exact_neighbors(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, distances)`` of each row's ``k`` nearest rows of ``x``
    (itself first), Euclidean, exact (scikit-learn)."""
    from sklearn.neighbors import NearestNeighbors

    dist, idx = NearestNeighbors(n_neighbors=k).fit(x).kneighbors(x)
    return idx.astype(np.int32), dist.astype(np.float32)


def fit_umap(x: np.ndarray, seed: int, stages: Stages | None = None, *,
             label: str = "umap", dims: int = 3) -> np.ndarray:
    """umap-learn's ``dims``-D UMAP of the rows of ``x`` (seeded), float32."""
    stages = stages or Stages()
    n = x.shape[0]
    k = min(UMAP_NEIGHBORS, n - 1)
    with stages.stage(f"{label}: import umap-learn"):
        cache = load_umap()
    with stages.stage(f"{label}: {k} nearest neighbours of {n} rows"):
        idx, dist = exact_neighbors(x, k)
    before = cache.counts()
    epochs = umap_epochs(n)
    with stages.stage(f"{label}: {epochs} epochs") as record:
        model = cache.module.UMAP(
            n_components=dims, n_neighbors=k, n_epochs=epochs, init="pca",
            random_state=seed, precomputed_knn=(idx, dist, None),
        )
        with warnings.catch_warnings():
            # "n_jobs overridden by setting random_state" (the price of a
            # reproducible layout) and "no search index, transform unavailable"
            warnings.filterwarnings("ignore", category=UserWarning, module="umap")
            points = np.asarray(model.fit_transform(x), dtype=np.float32)
        record["numba_cache"] = cache.state(before)
    return points
