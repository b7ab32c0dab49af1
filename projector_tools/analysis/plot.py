"""A 2-D picture of a run, with labels written on the points, as PNG.

    projector-tools plot LOGDIR -o FILE.png [--method pca|tsne] [--labels N] [--token T]...
                         [--tensor NAME] [--color COLUMN]

For reports and READMEs: the run's tensor (as the Projector would show it)
is projected to 2-D with PCA or t-SNE (up to :data:`TSNE_MAX_POINTS` points),
both computed by :mod:`projector_tools.analysis.layouts`, drawn with matplotlib's Agg backend,
and the ``N`` most frequent labels (or the tokens you name) are written on
their points. ``--color COLUMN`` colours the points by a metadata column,
as the Projector's "Color by" does: a numeric column (``positivity``,
``predicted``, ``count``) on a colour scale with a bar, any other
(``label``, ``correct``, ``kind``) by category with a legend.

t-SNE is openTSNE's, of the optional extra ``projector_tools[layout]``;
without it ``--method tsne`` fails with the one line that says how to
install it (:func:`projector_tools.analysis.layouts.require`). PCA needs
only numpy.

    >>> import numpy as np
    >>> matrix = np.random.default_rng(0).normal(size=(50, 8))
    >>> xy, note = project(matrix, "pca")
    >>> xy.shape, note
    ((50, 2), 'PCA, 40.5% of variance')
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np

from projector_tools import fsio
from projector_tools.analysis.layouts import PCA_BEFORE, pca, pca_explained, tsne
from projector_tools.errors import InputError

TSNE_MAX_POINTS = 1000
_SPECIAL = re.compile(r"^(<pad>|\[UNK\]|<0x[0-9A-Fa-f]{2}>|\\empty|\d+)$")


def pca_2d(matrix: np.ndarray) -> tuple[np.ndarray, float]:
    """First two principal components of ``matrix`` and the variance they explain
    (:func:`projector_tools.analysis.layouts.pca_explained`)."""
    m = np.asarray(matrix, dtype=np.float64)
    xy, explained = pca_explained(m, 2)
    return xy, 1.0 if m.shape[1] == 1 else explained


def tsne_2d(matrix: np.ndarray, *, perplexity: float = 30.0, n_iter: int = 400,
            seed: int = 0) -> np.ndarray:
    """t-SNE to 2-D by :func:`projector_tools.analysis.layouts.tsne` (openTSNE, the
    ``layout`` extra), after PCA to :data:`~projector_tools.analysis.layouts.PCA_BEFORE`
    dimensions for wider matrices; PCA for fewer than 4 rows."""
    x = np.asarray(matrix, dtype=np.float64)
    if x.shape[0] < 4:
        return pca_2d(x)[0]
    if x.shape[1] > PCA_BEFORE:
        x = pca(x, PCA_BEFORE)
    return tsne(np.ascontiguousarray(x), seed, perplexity=perplexity, n_iter=n_iter)


def project(matrix: np.ndarray, method: str = "pca") -> tuple[np.ndarray, str]:
    """(points in 2-D, a caption) for ``method`` ``pca`` or ``tsne``."""
    if method == "pca":
        xy, explained = pca_2d(matrix)
        return xy, f"PCA, {100 * explained:.1f}% of variance"
    if method == "tsne":
        if matrix.shape[0] > TSNE_MAX_POINTS:
            raise InputError(
                f"t-SNE here is limited to {TSNE_MAX_POINTS} points, the tensor has "
                f"{matrix.shape[0]}; pass --max-points {TSNE_MAX_POINTS} or use --method pca"
            )
        return tsne_2d(matrix), "t-SNE"
    raise InputError(f"--method must be pca or tsne, not {method!r}")


def choose_labelled_rows(labels: Sequence[str], n: int, tokens: Sequence[str] = ()) -> list[int]:
    """Rows whose label is written on the plot.

    ``tokens`` given: their first rows (an unknown token is an error with
    close matches). Otherwise the ``n`` most frequent labels (one point each);
    when every label is distinct (a vocabulary, ordered by frequency), the
    first ``n`` rows, skipping padding, ``[UNK]``, byte and index labels.
    """
    if tokens:
        from projector_tools.analysis.neighbors import find_rows, unknown_token_error

        rows = []
        for tok in tokens:
            hit = find_rows(labels, tok)
            if not hit:
                raise unknown_token_error(labels, tok)
            rows.append(hit[0])
        return rows
    if n <= 0:
        return []
    counts = Counter(labels)
    first: dict[str, int] = {}
    for i, lab in enumerate(labels):
        first.setdefault(lab, i)
    if len(counts) == len(labels):
        rows = [i for i, lab in enumerate(labels) if not _SPECIAL.match(lab)]
        return (rows or list(range(len(labels))))[:n]
    common = sorted(counts, key=lambda lab: (-counts[lab], first[lab]))
    return [first[lab] for lab in common[:n]]


#: A column of at most this many distinct integers (e.g. ``cluster``, with
#: ``-1`` for noise) is coloured by category, not on a scale.
MAX_INTEGER_CATEGORIES = 20


def color_values(values: Sequence[str | None]) -> np.ndarray | None:
    """The column as floats when it is numeric (a scale), else None (categories).

    Every present value must be a number; a column of a few distinct
    integers (cluster ids) counts as categories.
    """
    out = np.full(len(values), np.nan)
    for i, v in enumerate(values):
        if v is None:
            continue
        try:
            out[i] = float(v)
        except ValueError:
            return None
    present = out[np.isfinite(out)]
    if present.size == 0:
        return None
    if np.all(present == np.round(present)) and len(np.unique(present)) <= MAX_INTEGER_CATEGORIES:
        return None
    return out


def _draw_colored(fig, ax, xy: np.ndarray, values: Sequence[str | None], name: str) -> None:
    numeric = color_values(values)
    if numeric is not None:
        ok = np.isfinite(numeric)
        if (~ok).any():
            ax.scatter(xy[~ok, 0], xy[~ok, 1], s=8, color="lightgrey", linewidths=0)
        sc = ax.scatter(xy[ok, 0], xy[ok, 1], c=numeric[ok], cmap="coolwarm_r" if
                        np.nanmin(numeric) >= 0 and np.nanmax(numeric) <= 1 else "viridis",
                        s=10, alpha=0.8, linewidths=0)
        fig.colorbar(sc, ax=ax, shrink=0.7, label=name)
        return
    counts = Counter("(missing)" if v is None else v for v in values)
    cats = sorted(counts, key=lambda c: -counts[c])
    shown = cats[:20]
    for k, cat in enumerate(shown):
        idx = [i for i, v in enumerate(values) if ("(missing)" if v is None else v) == cat]
        ax.scatter(xy[idx, 0], xy[idx, 1], s=8, alpha=0.7, color=f"C{k % 10}" if len(shown) <= 10
                   else _tab20(k), label=cat[:30], linewidths=0)
    if len(cats) > len(shown):
        rest = [i for i, v in enumerate(values) if ("(missing)" if v is None else v) not in shown]
        ax.scatter(xy[rest, 0], xy[rest, 1], s=6, color="lightgrey", label="(other)", linewidths=0)
    ax.legend(loc="best", fontsize=8, markerscale=2, title=name)


def _tab20(k: int):
    from matplotlib import colormaps

    return colormaps["tab20"](k % 20)


def render(xy: np.ndarray, labels: Sequence[str], rows: Sequence[int], path: str, *,
           title: str = "", dpi: int = 100, color: Sequence[str | None] | None = None,
           color_name: str = "") -> None:
    """Draw the scatter with ``labels[rows]`` written on their points; save PNG.

    ``color`` (one value per point, e.g. a metadata column) colours the points.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 8), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    counts = Counter(labels)
    if color is not None:
        _draw_colored(fig, ax, xy, color, color_name)
    elif len(counts) < len(labels) and len(counts) <= 10:
        for k, lab in enumerate(sorted(counts, key=lambda x: -counts[x])):
            idx = [i for i, v in enumerate(labels) if v == lab]
            ax.scatter(xy[idx, 0], xy[idx, 1], s=8, alpha=0.6, color=f"C{k}", label=lab)
        ax.legend(loc="best", fontsize=8, markerscale=2)
    else:
        ax.scatter(xy[:, 0], xy[:, 1], s=10, alpha=0.6, color="C0", linewidths=0)
    if rows:
        if color is None:
            ax.scatter(xy[rows, 0], xy[rows, 1], s=18, color="C3", zorder=3)
        else:  # keep the point's own colour visible
            ax.scatter(xy[rows, 0], xy[rows, 1], s=24, facecolors="none", edgecolors="black",
                       linewidths=0.8, zorder=3)
        for r in rows:
            ax.annotate(labels[r], (xy[r, 0], xy[r, 1]), xytext=(3, 3),
                        textcoords="offset points", fontsize=9, zorder=4)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    if path.endswith(".png") or "." not in fsio.basename(path):
        fig.savefig(path, format="png")
    else:
        fig.savefig(path)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("logdir", help="logdir or run directory")
    parser.add_argument("-o", "--output", required=True, help="PNG file to write")
    parser.add_argument("--method", choices=("pca", "tsne"), default="pca")
    parser.add_argument("--labels", type=int, default=30, metavar="N",
                        help="write the N most frequent labels on their points (default 30)")
    parser.add_argument("--token", action="append", default=[], metavar="LABEL",
                        help="write this label (repeatable; replaces --labels)")
    parser.add_argument("--max-points", type=int, default=None, metavar="N",
                        help="plot only the first N rows (t-SNE: at most %d, the first %d by default)"
                        % (TSNE_MAX_POINTS, TSNE_MAX_POINTS))
    parser.add_argument("--run", help="run name as TensorBoard lists it (default: the first)")
    parser.add_argument("--tensor", help="tensor name (default: the first with labels)")
    parser.add_argument("--color", metavar="COLUMN",
                        help="colour points by this metadata column (numbers on a scale, "
                        "anything else by category), e.g. positivity, label, correct")


def run_cli(args: argparse.Namespace) -> int:
    import os

    from projector_tools.errors import LogdirError
    from projector_tools.run.points import load_points

    points = load_points(args.logdir, args.run, args.tensor)
    matrix, labels = points.matrix, points.labels
    color = color_column(points, args.color) if args.color else None
    if args.max_points is not None:
        if args.max_points < 1:
            raise InputError("--max-points must be at least 1")
        matrix, labels = matrix[: args.max_points], labels[: args.max_points]
    if args.method == "tsne" and matrix.shape[0] > TSNE_MAX_POINTS and args.max_points is None:
        print(f"note: t-SNE of the first {TSNE_MAX_POINTS} of {matrix.shape[0]} points "
              "(in a vocabulary, the most frequent ids); --max-points N to choose")
        matrix, labels = matrix[:TSNE_MAX_POINTS], labels[:TSNE_MAX_POINTS]
    if color is not None:
        color = color[: matrix.shape[0]]
    if not np.isfinite(matrix).all():
        raise InputError(
            f"tensor {points.tensor!r} holds NaN or Inf values; run `projector-tools doctor`"
        )
    rows = choose_labelled_rows(labels, args.labels, args.token)
    xy, caption = project(matrix, args.method)
    title = f"run {points.run} / {points.tensor}: {matrix.shape[0]} points x {matrix.shape[1]} dims, {caption}"
    out_dir = fsio.dirname(fsio.absolute(args.output))
    if not os.path.isdir(out_dir):  # matplotlib writes local files only
        raise LogdirError(f"cannot write {args.output!r}: directory {out_dir!r} does not exist")
    render(xy, labels, rows, args.output, title=title, color=color, color_name=args.color or "")
    print(f"wrote {args.output} ({matrix.shape[0]} points, {len(rows)} labels, {caption})")
    return 0


def color_column(points, name: str) -> list[str | None]:
    """Values of metadata column ``name`` for every point (as the Projector reads them)."""
    parsed = points.parsed
    if parsed is None or len(parsed.rows) != points.matrix.shape[0]:
        raise InputError(
            f"--color {name}: tensor {points.tensor!r} of run {points.run!r} has no metadata "
            "with one row per point; run `projector-tools doctor` on the logdir"
        )
    if name not in parsed.columns:
        raise InputError(
            f"--color {name}: tensor {points.tensor!r} has no metadata column {name!r}; its "
            f"columns are {list(parsed.columns)}"
        )
    return parsed.column(name)
