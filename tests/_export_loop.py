"""A process that exports into one run forever (the kill test's victim).

Imported by the multiprocessing forkserver before it forks the children,
so that every child starts with TensorFlow already imported.
Every export ``k`` is self-describing: column 0 of the matrix holds ``k``,
column 1 the row number, and label ``i`` is ``e<k>:<i>``; row count and
labels change on every export, so a checkpoint paired with another
export's metadata is always detected.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402,F401 - preloaded for the forked children

from projector_tools.export import export_embeddings  # noqa: E402

DIMS = 24


def export_number(k: int, rows: int) -> tuple[np.ndarray, list[str]]:
    matrix = np.random.default_rng(k).standard_normal((rows, DIMS), dtype=np.float32)
    matrix[:, 0] = k
    matrix[:, 1] = np.arange(rows)
    return matrix, [f"e{k}:{i}" for i in range(rows)]


def export_forever(logdir: str, first_k: int, started) -> None:
    rng = np.random.default_rng(first_k)
    k = first_k
    started.set()
    while True:
        rows = int(rng.integers(100, 30_000))
        matrix, labels = export_number(k, rows)
        export_embeddings(matrix, logdir, metadata=labels)
        k += 1
