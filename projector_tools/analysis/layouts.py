"""Full-data layouts (UMAP, t-SNE, PCA) and clusters, computed offline.

The Projector lays out only a sample in the browser (t-SNE 10,000 points,
UMAP 5,000) and recomputes it on every visit. Here every row gets a place,
once: the export writes the layout as a companion tensor ``<tensor>/umap``
(3 columns, one row per row of ``<tensor>``) whose metadata is the tensor's
own plus a ``cluster`` column. A 3-column tensor viewed with the
Projector's default PCA is a rotation of those columns, so picking it shows
every point where the layout put it.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> centres = rng.normal(scale=10, size=(3, 16))   # three groups: 60, 40 and 20 rows
    >>> matrix = np.concatenate([c + rng.normal(size=(n, 16)) for c, n in zip(centres, (60, 40, 20))])
    >>> points = compute_layout(matrix, "umap")
    >>> points.shape, points.dtype
    ((120, 3), dtype('float32'))
    >>> clusters = cluster_labels(points)             # 0 is the biggest cluster
    >>> clusters[:3], clusters[60:63], clusters[100:103]
    ([0, 0, 0], [1, 1, 1], [2, 2, 2])

Libraries (the optional extra ``projector_tools[layout]``): umap-learn for
UMAP, openTSNE for t-SNE (FFT-accelerated, 2-D; the third column is 0),
scikit-learn for HDBSCAN clusters and nearest neighbours; PCA is numpy's
SVD. Everything is seeded, so one matrix always gives the same layout.

Above ``max_rows`` rows the layout is fitted on a random sample of
``max_rows`` rows (seeded) and every other row is placed at the median
position of its nearest sample rows (:mod:`~projector_tools.analysis.placement`) in the original
space (:func:`sample_note` says so). PCA needs no sample.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from projector_tools.analysis.placement import place, sample_note, sample_rows
from projector_tools.analysis.stages import Stages
from projector_tools.analysis.umap_fit import fit_umap
from projector_tools.errors import InputError, MissingDependencyError
from projector_tools.process import voice
from projector_tools.run.metadata import Metadata
from projector_tools.run.views import View

__all__ = [
    "CLUSTER_COLUMN",
    "DEFAULT_MAX_ROWS",
    "METHODS",
    "add_layouts",
    "cluster_labels",
    "compute_layout",
    "layout_name",
    "layout_views",
    "neighbor_agreement",
]

METHODS = ("umap", "tsne", "pca")
# 50,000 rows: UMAP fits 100,000 x 100 in under 5 minutes on 2 cores this
# way (bench/layout.py); raise it to fit on more rows.
DEFAULT_MAX_ROWS = 50_000
LAYOUT_DIMS = 3
CLUSTER_COLUMN = "cluster"
NOISE = -1
# Wider inputs are reduced to this many principal components before UMAP and
# t-SNE (the usual preprocessing; it speeds up the neighbour search).
PCA_BEFORE = 50
_PCA_BLOCK = 65_536
TSNE_PERPLEXITY = 30.0
EXTRA = "projector_tools[layout]"
_PACKAGES = {"umap": "umap-learn", "openTSNE": "openTSNE", "sklearn": "scikit-learn"}


def layout_name(tensor: str, method: str) -> str:
    """Name of ``tensor``'s layout tensor: ``layout_name("embedding", "umap") == "embedding/umap"``."""
    return f"{tensor}/{method}"


def is_layout_name(name: str) -> bool:
    """Whether ``name`` is a layout tensor's name (``<tensor>/<method>``)."""
    head, _, tail = name.rpartition("/")
    return bool(head) and tail in METHODS


def layout_views(names: Iterable[str]) -> list[View]:
    """A view by ``cluster`` of each layout tensor in ``names`` (the Projector's PCA of 3 columns shows them).

        >>> [(v.label, v.tensor, v.color_by) for v in layout_views(["embedding", "embedding/umap"])]
        [('embedding: UMAP by cluster', 'embedding/umap', 'cluster')]
    """
    titles = {"umap": "UMAP", "tsne": "t-SNE", "pca": "PCA"}
    return [View(f"{n.rpartition('/')[0]}: {titles[n.rpartition('/')[2]]} by {CLUSTER_COLUMN}", n,
                 color_by=CLUSTER_COLUMN, categorical=True) for n in names if is_layout_name(n)]


def check_methods(methods: str | Sequence[str]) -> tuple[str, ...]:
    """``methods`` as a tuple of known method names, without repeats."""
    if isinstance(methods, str):
        methods = (methods,)
    out: list[str] = []
    for m in methods:
        if m not in METHODS:
            raise InputError(f"layout method {m!r} is unknown; use one of {', '.join(METHODS)}")
        if m not in out:
            out.append(m)
    return tuple(out)


def require(module: str) -> Any:
    """Import ``module`` of the ``layout`` extra, or say in one line how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = _PACKAGES.get(module.split(".")[0], module)
        raise MissingDependencyError(
            f"layouts need {package}: pip install '{EXTRA}'"
        ) from exc


def _as_input(matrix: Any) -> np.ndarray:
    x = np.asarray(matrix, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise InputError(f"a layout needs a non-empty 2-D matrix, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise InputError(
            "the matrix holds NaN or Inf values, which no layout can place; "
            "export it without layouts, or clean it first"
        )
    return x


def pca(matrix: np.ndarray, dims: int = LAYOUT_DIMS) -> np.ndarray:
    """Rows of ``matrix`` on their first ``dims`` principal components (zero-padded), float32.

    The covariance is ``dims x dims`` of the columns, so a million rows cost
    one pass: ``pca(np.eye(4), 3).shape == (4, 3)``.
    """
    return pca_explained(matrix, dims)[0]


def pca_explained(matrix: np.ndarray, dims: int = LAYOUT_DIMS) -> tuple[np.ndarray, float]:
    """:func:`pca` of ``matrix`` and the share of its variance those components
    explain (0.0 for a matrix without variance).

        >>> points, explained = pca_explained(np.array([[0.0, 0.0], [2.0, 0.1], [4.0, 0.0]]), 1)
        >>> points.ravel().tolist(), round(explained, 3)
        ([-2.0, 0.0, 2.0], 0.999)
    """
    x = np.asarray(matrix)
    # float64 a block of rows at a time: a million rows cost their float32
    # size, not four float64 copies of it
    blocks = [slice(s, s + _PCA_BLOCK) for s in range(0, x.shape[0], _PCA_BLOCK)]
    mean = sum(x[b].sum(axis=0, dtype=np.float64) for b in blocks) / max(x.shape[0], 1)
    cov = np.zeros((x.shape[1], x.shape[1]))
    for b in blocks:
        centred = x[b].astype(np.float64) - mean
        cov += centred.T @ centred
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1][: min(dims, x.shape[1])]
    vecs = vecs[:, order]
    # a fixed sign per component, so a layout never flips between runs
    vecs *= np.where(vecs[np.abs(vecs).argmax(axis=0), range(vecs.shape[1])] < 0, -1.0, 1.0)
    out = np.zeros((x.shape[0], dims), dtype=np.float32)
    for b in blocks:
        out[b, : vecs.shape[1]] = (x[b].astype(np.float64) - mean) @ vecs
    variances = np.clip(vals, 0.0, None)
    total = float(variances.sum())
    return out, float(variances[order].sum() / total) if total > 0 else 0.0


def _fit_umap(x: np.ndarray, seed: int, stages: Stages, label: str) -> np.ndarray:
    """umap-learn's UMAP (:mod:`projector_tools.analysis.umap_fit`: exact
    neighbours, kernels cached on disk, 200 epochs, PCA init)."""
    try:
        return fit_umap(x, seed, stages, label=label, dims=LAYOUT_DIMS)
    except ImportError:
        require("umap")  # a missing package: one line saying how to install it
        require("sklearn.neighbors")
        raise


def tsne(x: np.ndarray, seed: int = 0, *, perplexity: float = TSNE_PERPLEXITY,
         n_iter: int | None = None) -> np.ndarray:
    """openTSNE's 2-D t-SNE of the rows of ``x``, float32 (``n_iter``: the
    iterations after the early-exaggeration phase; default openTSNE's)."""
    opentsne = require("openTSNE")
    n = x.shape[0]
    options = {} if n_iter is None else {"n_iter": int(n_iter)}
    model = opentsne.TSNE(
        n_components=2,
        perplexity=min(perplexity, max(1.0, (n - 1) / 3.0)),
        random_state=seed,
        n_jobs=-1,
        verbose=False,
        **options,
    )
    return np.asarray(model.fit(x), dtype=np.float32)


def _fit_tsne(x: np.ndarray, seed: int, stages: Stages, label: str) -> np.ndarray:
    out = np.zeros((x.shape[0], LAYOUT_DIMS), dtype=np.float32)
    with stages.stage(f"{label}: openTSNE on {x.shape[0]} rows"):
        out[:, :2] = tsne(x, seed)
    return out


_FITTERS: Mapping[str, Callable[[np.ndarray, int, Stages, str], np.ndarray]] = {
    "umap": _fit_umap,
    "tsne": _fit_tsne,
}


def compute_layout(
    matrix: Any,
    method: str = "umap",
    *,
    seed: int = 0,
    max_rows: int | None = DEFAULT_MAX_ROWS,
    stages: Stages | None = None,
    label: str | None = None,
) -> np.ndarray:
    """A 3-D layout of every row of ``matrix``: an ``(N, 3)`` float32 array.

    ``method`` is ``"umap"`` (umap-learn), ``"tsne"`` (openTSNE, 2-D with a
    zero third column) or ``"pca"`` (the first three principal components).
    Above ``max_rows`` rows UMAP and t-SNE are fitted on a seeded sample and
    the other rows placed by their nearest sample rows (:func:`place`).
    The same matrix and seed give the same layout. ``stages`` (a
    :class:`~projector_tools.analysis.stages.Stages`) times each stage,
    named ``<label>: <stage>`` (label: the method).

        >>> compute_layout(np.random.default_rng(0).normal(size=(500, 16)), "pca").shape
        (500, 3)
    """
    (method,) = check_methods(method)
    stages = stages or Stages()
    label = label or method
    x = _as_input(matrix)
    if method == "pca" or x.shape[0] < 4:
        with stages.stage(f"{label}: PCA"):
            return pca(x)
    if x.shape[1] > PCA_BEFORE:
        with stages.stage(f"{label}: PCA to {PCA_BEFORE} dims"):
            x = pca(x, PCA_BEFORE)
    sample = sample_rows(x.shape[0], max_rows if max_rows else x.shape[0], seed)
    fitted = _FITTERS[method](np.ascontiguousarray(x[sample]), seed, stages, label)
    if sample.size == x.shape[0]:
        return fitted
    require("sklearn.neighbors")
    with stages.stage(f"{label}: place {x.shape[0] - sample.size} rows"):
        return place(x, sample, fitted)


def cluster_labels(
    layout: np.ndarray,
    *,
    min_cluster_size: int | None = None,
    seed: int = 0,
    max_rows: int | None = DEFAULT_MAX_ROWS,
) -> list[int]:
    """A cluster id per row of ``layout`` (``-1`` for noise), by HDBSCAN on the layout.

    HDBSCAN (scikit-learn) finds clusters of any shape and number and
    leaves scattered points as noise, which suits UMAP layouts, where
    clusters are dense and well apart. ``min_cluster_size`` defaults to
    0.5% of the rows (at least 10). Above ``max_rows`` rows it runs on a
    seeded sample and every other row takes the cluster of its nearest
    sample row. Ids are ordered by cluster size (0 is the biggest).

        >>> rng = np.random.default_rng(0)
        >>> layout = np.concatenate([rng.normal(loc=10 * i, size=(n, 3))
        ...                          for i, n in enumerate((12, 30, 20))])
        >>> labels = cluster_labels(layout)
        >>> labels[:3], labels[12:15], labels[42:45]
        ([2, 2, 2], [0, 0, 0], [1, 1, 1])
    """
    cluster = require("sklearn.cluster")
    pts = np.asarray(layout, dtype=np.float32)
    n = pts.shape[0]
    if n < 2:
        return [NOISE] * n
    sample = sample_rows(n, max_rows if max_rows else n, seed)
    size = min_cluster_size or max(10, int(round(0.005 * sample.size)))
    if sample.size <= size:
        return [NOISE] * n
    found = cluster.HDBSCAN(min_cluster_size=size, copy=True).fit_predict(pts[sample])
    labels = np.full(n, NOISE, dtype=np.int64)
    labels[sample] = found
    if sample.size < n:
        neighbors = require("sklearn.neighbors")
        rest = np.setdiff1d(np.arange(n), sample, assume_unique=True)
        nb = neighbors.NearestNeighbors(n_neighbors=1).fit(pts[sample])
        labels[rest] = found[nb.kneighbors(pts[rest], return_distance=False)[:, 0]]
    # renumber by size, biggest first, so ids mean the same across runs
    ids, counts = np.unique(labels[labels != NOISE], return_counts=True)
    order = ids[np.lexsort((ids, -counts))]
    remap = {int(old): new for new, old in enumerate(order)}
    return [remap.get(int(v), NOISE) for v in labels]


def neighbor_agreement(points: np.ndarray, classes: Sequence[Any], k: int = 10) -> float:
    """Share of each row's ``k`` nearest neighbours in ``points`` that carry its class.

    The quality figure of a layout on data with known classes (1.0: every
    neighbour shares the class; about 1/C for C classes placed at random).

        >>> neighbor_agreement(np.array([[0.0], [0.1], [5.0], [5.1]]), ["a", "a", "b", "b"], k=1)
        1.0
    """
    neighbors = require("sklearn.neighbors")
    pts = np.asarray(points, dtype=np.float32)
    labels = np.asarray(classes)
    index = neighbors.NearestNeighbors(n_neighbors=k + 1).fit(pts)
    nb = index.kneighbors(pts, return_distance=False)
    # drop each row itself (not always first when points coincide)
    order = np.argsort(nb == np.arange(len(nb))[:, None], axis=1, kind="stable")
    nb = np.take_along_axis(nb, order, axis=1)[:, :k]
    return float((labels[nb] == labels[:, None]).mean())


def add_layouts(
    matrices: Mapping[str, np.ndarray],
    metas: Mapping[str, Metadata],
    methods: str | Sequence[str],
    *,
    names: Sequence[str] | None = None,
    seed: int = 0,
    max_rows: int | None = DEFAULT_MAX_ROWS,
    note: Callable[[str], None] | None = None,
    stages: Stages | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, Metadata]]:
    """``matrices``/``metas`` plus a layout tensor per tensor and method.

    For each tensor in ``names`` (default: every tensor that is not a
    layout itself) and each method, ``<tensor>/<method>`` is the
    :func:`compute_layout` of the tensor, and its metadata is the tensor's
    own with a ``cluster`` column added (:func:`cluster_labels`). The input
    tensors and their metadata are returned unchanged. ``stages`` times
    each stage (default: said through ``voice.say`` as each ends).

        >>> from projector_tools.run.metadata import Metadata
        >>> m = np.random.default_rng(0).normal(size=(100, 8))
        >>> labels = Metadata([f"w{i}" for i in range(100)])
        >>> matrices, metas = add_layouts({"embedding": m}, {"embedding": labels}, ["umap"])
        >>> list(matrices), matrices["embedding/umap"].shape, metas["embedding/umap"].names
        (['embedding', 'embedding/umap'], (100, 3), ('label', 'cluster'))
    """
    methods = check_methods(methods)
    out_m = dict(matrices)
    out_meta = dict(metas)
    if not methods:
        return out_m, out_meta
    if note is None:
        note = voice.note
    stages = stages if stages is not None else Stages(say=voice.say)
    chosen = list(names) if names is not None else [n for n in matrices if not is_layout_name(n)]
    for name in chosen:
        if name not in matrices:
            raise InputError(f"no tensor {name!r} to lay out; tensors are {list(matrices)}")
        matrix = matrices[name]
        meta = metas.get(name) or Metadata({"id": range(matrix.shape[0])})
        for method in methods:
            message = sample_note(name, matrix.shape[0], method, max_rows, seed)
            if message:
                note(message)
            target = layout_name(name, method)
            points = compute_layout(matrix, method, seed=seed, max_rows=max_rows,
                                    stages=stages, label=target)
            with stages.stage(f"{target}: clusters (HDBSCAN)"):
                clusters = cluster_labels(points, seed=seed, max_rows=max_rows)
            out_m[target] = points
            out_meta[target] = meta.with_column(CLUSTER_COLUMN, clusters)
    return out_m, out_meta
