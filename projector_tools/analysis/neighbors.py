"""Cosine nearest neighbours of a token, as the Projector's inspector lists them.

    projector-tools neighbors LOGDIR TOKEN [-k 10] [--run R] [--tensor T] [--json]

For people on a remote machine without a browser. The token is looked up
by label (the first metadata column, what the Projector shows); the
neighbours are the other points by cosine similarity on the full vectors,
most similar first.

    >>> import numpy as np
    >>> labels = ["good_", "great_", "bad_", "the_"]
    >>> matrix = np.array([[1, 0.1], [0.9, 0.2], [-1, -0.3], [0, 1]])
    >>> [(n.rank, n.row, n.label, round(n.similarity, 2)) for n in nearest(matrix, labels, "good_", k=3)]
    [(1, 1, 'great_', 0.99), (2, 3, 'the_', 0.1), (3, 2, 'bad_', -0.98)]
"""

from __future__ import annotations

import argparse
import difflib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from projector_tools.errors import InputError


@dataclass(frozen=True)
class Neighbor:
    rank: int
    row: int
    label: str
    similarity: float


def find_rows(labels: Sequence[str], token: str) -> list[int]:
    """Rows labelled ``token``, else ``escape_label(token)``, else ``token + "_"``."""
    from projector_tools.run.metadata import escape_label

    for wanted in (token, escape_label(token), token + "_"):
        # token + "_": a SubwordTextEncoder marks a word's last subword with "_",
        # so "good" is the label "good_" when there is no label "good"
        rows = [i for i, lab in enumerate(labels) if lab == wanted]
        if rows:
            return rows
    return []


def unknown_token_error(labels: Sequence[str], token: str, where: str = "") -> InputError:
    """An error naming the token and the closest labels (difflib)."""
    distinct = list(dict.fromkeys(labels))
    close = difflib.get_close_matches(token, distinct, n=5, cutoff=0.6)
    if not close:
        low = token.lower()
        close = [lab for lab in distinct if low and low in lab.lower()][:5]
    hint = (
        "close matches: " + ", ".join(repr(c) for c in close)
        if close
        else "no close match; labels look like: " + ", ".join(repr(x) for x in distinct[:5])
    )
    return InputError(f"no point is labelled {token!r}{where}; {hint}")


def cosine_similarities(matrix: np.ndarray, row: int) -> np.ndarray:
    """Cosine similarity of every row of ``matrix`` with row ``row`` (0 for zero vectors)."""
    m = np.asarray(matrix, dtype=np.float64)
    norms = np.linalg.norm(m, axis=1)
    q = m[row]
    qn = norms[row]
    with np.errstate(invalid="ignore", divide="ignore"):
        sims = (m @ q) / (norms * qn)
    return np.where(np.isfinite(sims), sims, 0.0)


def nearest(matrix: np.ndarray, labels: Sequence[str], token: str, k: int = 10) -> list[Neighbor]:
    """The ``k`` rows most cosine-similar to the first row labelled ``token``.

    Raises :class:`InputError` (with close matches) when no row has that label.
    """
    if k < 1:
        raise InputError(f"-k must be at least 1, got {k}")
    rows = find_rows(labels, token)
    if not rows:
        raise unknown_token_error(labels, token)
    row = rows[0]
    sims = cosine_similarities(matrix, row)
    sims[row] = -np.inf
    k = min(k, len(labels) - 1)
    if k <= 0:
        return []
    top = np.argpartition(-sims, k - 1)[:k]
    top = top[np.lexsort((top, -sims[top]))]
    return [
        Neighbor(rank=i + 1, row=int(r), label=labels[r], similarity=float(sims[r]))
        for i, r in enumerate(top)
    ]


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("logdir", help="logdir or run directory")
    parser.add_argument("token", help="label of the point (first metadata column)")
    parser.add_argument("-k", type=int, default=10, help="number of neighbours (default 10)")
    parser.add_argument("--run", help="run name as TensorBoard lists it (default: the first)")
    parser.add_argument("--tensor", help="tensor name (default: the first with labels)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run_cli(args: argparse.Namespace) -> int:
    from projector_tools.run.points import load_points

    points = load_points(args.logdir, args.run, args.tensor)
    where = f" in run {points.run!r}, tensor {points.tensor!r}"
    rows = find_rows(points.labels, args.token)
    if not rows:
        raise unknown_token_error(points.labels, args.token, where)
    result = nearest(points.matrix, points.labels, args.token, args.k)
    if args.json:
        print(json.dumps({
            "run": points.run, "tensor": points.tensor, "token": args.token, "row": rows[0],
            "neighbors": [asdict(n) for n in result],
        }, indent=2))
        return 0
    n, d = points.matrix.shape
    extra = f" (label on {len(rows)} rows, using row {rows[0]})" if len(rows) > 1 else ""
    if points.labels[rows[0]] != args.token:
        extra += f" (label {points.labels[rows[0]]!r})"
    print(f"nearest neighbours of {args.token!r}{extra}{where}, {n} points x {d} dims")
    width = max((len(nb.label) for nb in result), default=5)
    print(f"{'rank':>4}  {'cosine':>7}  {'label':<{width}}  distance (as the Projector shows it)")
    for nb in result:
        print(f"{nb.rank:>4}  {nb.similarity:+.4f}  {nb.label:<{width}}  "
              f"{1.0 - nb.similarity:.3f}  (row {nb.row})")
    return 0

