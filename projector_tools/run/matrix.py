"""Turning what users pass as an embedding into a float32 2-D matrix.

Pure checks over arrays, each refusal naming the tensor and the fix.

    >>> as_matrix([[1, 2], [3, 4]], "embedding")   # ints are refused
    Traceback (most recent call last):
    ...
    projector_tools.errors.InputError: ...
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from projector_tools.errors import InputError

# The Projector serves a tensor through one protobuf/HTTP response; TensorBoard
# issue #1214: tensors over 2 GB fail to load. Checked before writing.
MAX_TENSOR_BYTES = 2**31 - 1
# Values checked for NaN/Inf at a time: no full-size boolean temporary.
FINITE_BLOCK_VALUES = 1 << 24


def _to_numpy(value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    for attr in ("numpy",):  # tf.Tensor, tf.Variable, Keras variables
        fn = getattr(value, attr, None)
        if callable(fn):
            try:
                return np.asarray(fn())
            except Exception:  # noqa: BLE001
                break
    try:
        return np.asarray(value)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"cannot read the value as an array: {exc}") from None


def as_matrix(
    value: Any,
    name: str,
    *,
    allow_nonfinite: bool = False,
    max_rows: int | None = None,
    rows: Any = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate ``value`` as an embedding matrix and return it as float32.

    Refuses (with :class:`InputError`) arrays that are not 2-D, are empty,
    hold integers/bools/strings, or hold NaN/Inf (unless ``allow_nonfinite``).
    float16, bfloat16 and float64 are converted to float32. No copy is made
    when the input already is a C-contiguous float32 array. ``max_rows`` (the
    first N ids) or ``rows`` (chosen ids) select rows first; the chosen ids
    come back as the second value (``None`` when all rows are kept).
    """
    arr = _to_numpy(value)
    if arr.dtype == object or arr.dtype.kind in "USO":
        raise InputError(
            f"tensor {name!r} holds {arr.dtype} values, not numbers; pass a float matrix"
        )
    if arr.ndim != 2:
        raise InputError(
            f"tensor {name!r} has shape {tuple(arr.shape)}; the Projector needs a 2-D "
            "matrix (rows = points, columns = dimensions); reshape it, e.g. "
            "array.reshape(len(array), -1)"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(
            f"tensor {name!r} is empty (shape {tuple(arr.shape)}); it needs at least "
            "one row and one column"
        )
    kind = arr.dtype.kind
    if kind in "iub":
        raise InputError(
            f"tensor {name!r} has integer/bool dtype {arr.dtype}; embeddings are "
            "floats - did you pass token ids instead of the embedding weights? "
            "(convert with array.astype('float32') if this is intended)"
        )
    if kind == "c":
        raise InputError(f"tensor {name!r} is complex ({arr.dtype}); pass real floats")
    arr, ids = select_rows(arr, max_rows=max_rows, rows=rows, name=name)
    check_size(arr.shape, name)  # before any conversion allocates the float32 copy
    if arr.dtype != np.float32:
        try:
            arr = arr.astype(np.float32)
        except (TypeError, ValueError):
            raise InputError(
                f"tensor {name!r} has dtype {arr.dtype}, which cannot be converted to "
                "float32"
            ) from None
    arr = np.ascontiguousarray(arr)
    if not allow_nonfinite:
        check_finite(arr, name)
    return arr, ids


def check_size(shape: tuple[int, ...], name: str = "embedding") -> None:
    """Refuse a matrix whose float32 form exceeds 2 GB (TensorBoard issue #1214).

    Works on the shape alone, so nothing is allocated to find out.

        >>> check_size((600_000, 1000))
        Traceback (most recent call last):
        ...
        projector_tools.errors.InputError: tensor 'embedding' is 2.2 GiB ...
    """
    nbytes = 4
    for dim in shape:
        nbytes *= int(dim)
    if nbytes > MAX_TENSOR_BYTES:
        rows = int(shape[0])
        fit = max(1, MAX_TENSOR_BYTES // max(1, nbytes // max(1, rows)))
        raise InputError(
            f"tensor {name!r} is {nbytes / 2**30:.1f} GiB as float32 (shape "
            f"{tuple(int(d) for d in shape)}); TensorBoard cannot serve a tensor over "
            "2 GB (TensorBoard issue #1214: the Projector gets nothing) and a browser "
            f"could not draw it; export a subset with max_rows= (the first N ids, at most "
            f"{fit:,} here; CLI --max-rows) or rows= (chosen ids, e.g. the most frequent)"
        )


def select_rows(
    arr: np.ndarray, *, max_rows: int | None = None, rows: Any = None, name: str = "embedding"
) -> tuple[np.ndarray, np.ndarray | None]:
    """Apply ``max_rows``/``rows``; return the matrix and the chosen ids (or None)."""
    if max_rows is not None and rows is not None:
        raise InputError("pass either max_rows= or rows=, not both")
    if max_rows is not None:
        if int(max_rows) < 1:
            raise InputError(f"max_rows must be at least 1, got {max_rows}")
        n = min(int(max_rows), arr.shape[0])
        return arr[:n], np.arange(n)
    if rows is not None:
        ids = np.asarray(rows)
        if ids.ndim != 1 or ids.size == 0 or ids.dtype.kind not in "iu":
            raise InputError("rows= must be a non-empty list of integer row ids")
        if ids.min() < 0 or ids.max() >= arr.shape[0]:
            raise InputError(
                f"rows= holds ids outside 0..{arr.shape[0] - 1} for tensor {name!r}"
            )
        return arr[ids], ids
    return arr, None


def check_finite(arr: np.ndarray, name: str = "embedding") -> None:
    """Refuse a 2-D ``arr`` holding NaN or Inf, naming the first such row and column.

    Each block of :data:`FINITE_BLOCK_VALUES` is summed: NaN and Inf make the
    sum NaN or Inf, so a finite sum proves the block finite without the
    block-sized boolean temporary of ``np.isfinite`` (fresh memory, whose
    page faults cost more than the pass itself). A block whose sum is not
    finite (a NaN, an Inf, or finite values summing past float32's range)
    is then checked value by value. Blocks are checked from two threads
    (numpy's reductions release the GIL), so both cores share the pass.

        >>> check_finite(np.array([[0.0, 1.0], [np.nan, 2.0]], "float32"), "emb")
        Traceback (most recent call last):
        ...
        projector_tools.errors.InputError: tensor 'emb' holds NaN or Inf (first at row 1, column 0); the Projector cannot place such points. Fix the training, or pass allow_nonfinite=True to export anyway
        >>> check_finite(np.full((2, 2), 3e38, "float32"))   # the sum overflows; every value is finite
    """
    step = max(1, FINITE_BLOCK_VALUES // max(1, arr.shape[1]))
    starts = range(0, arr.shape[0], step)

    def finite(start: int) -> bool:
        block = arr[start : start + step]
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(np.add.reduce(block, axis=None)):
                return True
        return bool(np.isfinite(block).all())

    workers = min(2, os.cpu_count() or 1, len(starts))
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pt-finite") as pool:
            results = list(pool.map(finite, starts))
    else:
        results = [finite(start) for start in starts]
    for start, ok in zip(starts, results):
        if not ok:
            bad = np.argwhere(~np.isfinite(arr[start : start + step]))[0]
            raise InputError(
                f"tensor {name!r} holds NaN or Inf (first at row {int(start + bad[0])}, column "
                f"{int(bad[1])}); the Projector cannot place such points. Fix the "
                "training, or pass allow_nonfinite=True to export anyway"
            )
