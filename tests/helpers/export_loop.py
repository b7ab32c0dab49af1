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
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402,F401 - preloaded for the forked children

from projector_tools.export.embeddings import export_embeddings  # noqa: E402

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
        # A writer between exports (a training loop between epochs): without
        # this gap, the 250 ms switch grace inside every export leaves too few
        # kills landing between exports for the test's phase coverage.
        time.sleep(0.1)


def export_n_times(logdir: str, first_k: int, n: int, go, results, lock_timeout=None, stop=None,
                   pause: float = 0.0) -> None:
    """Export ``n`` self-describing exports into ``logdir`` once ``go`` is set (fewer if
    ``stop`` is set first); put one ``(k, "ok" | "refused" | "failed", message)`` per
    export on ``results``. ``pause`` seconds pass between two exports, as an epoch
    passes between a training loop's exports."""
    import traceback

    from projector_tools.errors import ProjectorToolsError

    rng = np.random.default_rng(first_k)
    go.wait()
    for k in range(first_k, first_k + n):
        if stop is not None and stop.is_set():
            break
        matrix, labels = export_number(k, int(rng.integers(50, 3_000)))
        try:
            export_embeddings(matrix, logdir, metadata=labels, lock_timeout=lock_timeout)
        except ProjectorToolsError as exc:
            results.put((k, "refused", str(exc)))
        except Exception:  # noqa: BLE001 - the test reports whatever else happened
            results.put((k, "failed", traceback.format_exc()))
        else:
            results.put((k, "ok", ""))
        if pause:
            time.sleep(pause)  # the loop's own work between exports, not a wait for anything


def hold_lock(run_dir: str, locked) -> None:
    """Take ``run_dir``'s lock and keep it until killed (a writer that dies holding it)."""
    import time

    from projector_tools.run.lock import run_lock

    run_lock(run_dir).acquire()
    locked.set()
    while True:
        time.sleep(60)
