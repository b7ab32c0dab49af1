"""Minimal TensorFlow checkpoints: only the tensors you name, readable names.

A checkpoint keyed by plain names (``embedding``) is listed by the Projector
as it is, instead of the object paths
(``layer_with_weights-0/embeddings/.ATTRIBUTES/VARIABLE_VALUE``) of
``tf.train.Checkpoint``. Reading uses the checkpoint reader on the prefix,
which works on every TensorFlow filesystem (``ram://`` included, where
``tf.train.load_checkpoint`` mistakes a prefix for a directory).

Writing uses TensorFlow's own ops. ``tf.raw_ops.SaveV2`` given a numpy
array copies it into a fresh tensor first, which for one large matrix means
a second full copy in memory and seconds of work. A large matrix is
therefore saved in row slices of :data:`SLICE_BYTES`, each slice into a
temporary checkpoint of its own (:data:`SHARED_SLICE_BYTES` when shared,
below), and ``tf.raw_ops.MergeV2Checkpoints`` joins
them into one checkpoint (one ``.data`` shard per slice; the merge renames
the shards and writes one index, it copies no data). Each slice is handed
over through DLPack (``tf.experimental.dlpack``), which shares the array's
memory instead of copying it; slice boundaries are placed so that TensorFlow
accepts the slices as aligned (see :func:`_slices`, :func:`_tensor`). Peak
memory grows by at most one slice, not one matrix. Two slices are saved at
once (:func:`_save_all`): SaveV2's checksum and buffer copy release the GIL,
so the two threads use two cores.
Readers see one tensor with its full shape.

    >>> import os, tempfile
    >>> prefix = os.path.join(tempfile.mkdtemp(), "emb")
    >>> [os.path.basename(f) for f in write_checkpoint(prefix, {"embedding": np.eye(3, dtype="float32")})]
    ['emb.data-00000-of-00001', 'emb.index']
    >>> checkpoint_shapes(prefix)
    {'embedding': [3, 3]}
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from projector_tools import fsio
from projector_tools.errors import SourceError

# A tensor larger than this is saved in row slices of about this size when
# its slices must be copied for TensorFlow (see _tensor): one slice per
# writer in flight is the memory it costs, and below glibc's 32 MB mmap
# ceiling each copy reuses heap memory instead of faulting in a fresh map.
# 200,000 x 128 with unaligned rows (bench/export.py, median of 5, twice):
# 0.18-0.24 s and 2.0x the array at 16 MB vs 0.27-0.32 s and 3.4x at 64 MB.
SLICE_BYTES = 16 << 20
# Slices that TensorFlow shares (see _tensor) cost no memory, so they are
# larger: each SaveV2 call allocates (and frees) its own 8 MB output buffer
# and files, fresh memory whose page faults show on a machine whose free
# memory is cold (see docs/design.md). Still small enough that Ctrl-C waits
# for at most one slice per writer.
SHARED_SLICE_BYTES = 256 << 20
# Slices saved at once (see _save_all); more than two measured no faster on
# two cores, and no machine with more was measured.
MAX_WRITERS = 2
# TensorFlow's tensor alignment (EIGEN_MAX_ALIGN_BYTES); see _tensor.
_ALIGN = 64
_SHARED_DTYPES = (np.dtype(np.float32),)
# Temporary slice checkpoints carry this mark (see fsio.TMP_MARK) so that an
# interrupted export's leftovers are recognised and cleaned up.
_PART_MARK = ".tmp-pt-part-"


def write_checkpoint(prefix: str, tensors: Mapping[str, np.ndarray]) -> list[str]:
    """Write 2-D ``tensors`` as a V2 checkpoint at ``prefix``; return its files."""
    import tensorflow as tf

    fsio.makedirs(fsio.dirname(fsio.absolute(prefix)))
    arrays = {name: np.asarray(value) for name, value in tensors.items()}
    big = {n: a for n, a in arrays.items() if a.nbytes > SLICE_BYTES and a.shape[0] > 1}
    if not big:
        _save(prefix, [(n, "", a) for n, a in arrays.items()])
        return checkpoint_files(prefix)

    token = uuid.uuid4().hex[:8]
    jobs: list[list[tuple[str, str, np.ndarray]]] = []
    small = [(n, "", a) for n, a in arrays.items() if n not in big]
    if small:
        jobs.append(small)
    for name, arr in big.items():
        rows, dims = arr.shape
        for start, stop in _slices(arr, _slice_bytes(arr)):
            jobs.append([(name, f"{rows} {dims} {start},{stop - start}:-", arr[start:stop])])
    parts = [f"{prefix}{_PART_MARK}{token}-{i}" for i in range(len(jobs))]
    merged = False
    try:
        _save_all(parts, jobs)
        tf.raw_ops.MergeV2Checkpoints(
            checkpoint_prefixes=parts, destination_prefix=prefix, delete_old_dirs=False
        )
        merged = True  # the merge removed the parts
    finally:
        if not merged:  # a failed try: clear its parts (two globs per part)
            for part in parts:
                for f in checkpoint_files(part):
                    fsio.remove(f)
    return checkpoint_files(prefix)


def _writers() -> int:
    """How many slices are saved at once: :data:`MAX_WRITERS`, at most one per core."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_WRITERS, cores))


def _save_all(parts: list[str], jobs: list[list[tuple[str, str, np.ndarray]]]) -> None:
    """Save ``jobs[i]`` into ``parts[i]``, from up to :func:`_writers` threads.

    SaveV2 spends its time checksumming and copying into its write buffer
    with the GIL released, so two slices saved at once use two cores. The
    first failure stops slices not yet started and is raised once every
    running one has returned (so that the caller's cleanup sees all parts).
    """
    workers = min(_writers(), len(jobs))
    if workers <= 1:
        for part, items in zip(parts, jobs):
            _save(part, items)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pt-save")
    try:
        futures = [pool.submit(_save, part, items) for part, items in zip(parts, jobs)]
        for future in futures:
            future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _slice_bytes(arr: np.ndarray) -> int:
    """Bytes per slice of ``arr``: at most :data:`SHARED_SLICE_BYTES` (shared) or
    :data:`SLICE_BYTES` (copied), in a multiple of :func:`_writers` equal slices so
    that the writers finish together."""
    shared = _shareable(arr) and _aligned_rows(arr) is not None
    limit = SHARED_SLICE_BYTES if shared else SLICE_BYTES
    writers = _writers()
    count = writers * math.ceil(arr.nbytes / (writers * limit))
    return math.ceil(arr.nbytes / count)


def _slices(arr: np.ndarray, slice_bytes: int | None = None) -> list[tuple[int, int]]:
    """Row ranges ``[start, stop)`` of about ``slice_bytes`` (:data:`SLICE_BYTES`) each.

    Where the rows allow it, every range but a short first one starts on a
    :data:`_ALIGN`-byte boundary, so that :func:`_save` can hand it to
    TensorFlow without a copy.
    """
    rows = arr.shape[0]
    row_bytes = max(1, arr.itemsize * int(np.prod(arr.shape[1:])))
    head, unit = _aligned_rows(arr) or (0, 1)
    step = max(unit, math.ceil((slice_bytes or SLICE_BYTES) / row_bytes / unit) * unit)
    bounds = [0] + list(range(head, rows, step)) + [rows]
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


def _aligned_rows(arr: np.ndarray) -> tuple[int, int] | None:
    """``(first, every)``: row ``first`` and every ``every``-th row after it start on an
    :data:`_ALIGN`-byte boundary; None when no row of ``arr`` does (or it is not C-contiguous).

    A numpy buffer usually starts 16 bytes past a boundary; with rows of a
    multiple of 64 bytes every row then shares that offset, and no slice can
    be shared (each is copied, see :func:`_tensor`).
    """
    if not arr.flags.c_contiguous:
        return None
    row_bytes = max(1, arr.itemsize * int(np.prod(arr.shape[1:])))
    every = _ALIGN // math.gcd(row_bytes, _ALIGN)  # rows after which the alignment repeats
    base = arr.ctypes.data
    first = next((k for k in range(every) if (base + k * row_bytes) % _ALIGN == 0), None)
    return None if first is None else (first, every)


def _tensor(arr: np.ndarray):
    """``arr`` as SaveV2 takes it: shared through DLPack when TensorFlow allows.

    TensorFlow copies a numpy array it is given into a fresh buffer (a full
    second copy of every slice, and the page faults of a new allocation each
    time). ``tf.experimental.dlpack.from_dlpack`` wraps the array's memory
    instead; TensorFlow requires a tensor's data to be :data:`_ALIGN`-byte
    aligned, so only such C-contiguous, writable (DLPack cannot mark read-only
    memory) arrays are shared; others are passed as they are.
    """
    if not (_shareable(arr) and arr.ctypes.data % _ALIGN == 0):
        return arr
    import tensorflow as tf

    try:
        return tf.experimental.dlpack.from_dlpack(arr.__dlpack__())
    except (BufferError, TypeError, ValueError, tf.errors.InvalidArgumentError):
        return arr


def _shareable(arr: np.ndarray) -> bool:
    """Whether TensorFlow can share ``arr``'s memory (given an aligned start, see :func:`_tensor`)."""
    return bool(arr.flags.c_contiguous and arr.flags.writeable and arr.dtype in _SHARED_DTYPES)


def _save(prefix: str, items: list[tuple[str, str, np.ndarray]]) -> None:
    import tensorflow as tf

    tf.raw_ops.SaveV2(
        prefix=prefix,
        tensor_names=[n for n, _, _ in items],
        shape_and_slices=[spec for _, spec, _ in items],
        tensors=[_tensor(a) for _, _, a in items],
    )


def checkpoint_files(prefix: str) -> list[str]:
    """The ``.index`` and ``.data-*`` files that make up checkpoint ``prefix``."""
    import tensorflow as tf

    return sorted(tf.io.gfile.glob(prefix + ".index") + tf.io.gfile.glob(prefix + ".data-*"))


def _reader(prefix: str):
    from tensorflow.python.training import py_checkpoint_reader

    from projector_tools.run.bundle_index import validate_index

    validate_index(prefix)  # an index TensorFlow would abort on is refused first
    try:
        return py_checkpoint_reader.NewCheckpointReader(prefix)
    # DataLossError, NotFoundError...; ValueError for a filesystem it cannot list
    except (fsio.errors().OpError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SourceError(
            f"cannot read TensorFlow checkpoint {prefix!r} ({first}); pass the "
            "checkpoint prefix (the path without .index / .data-*) of an intact checkpoint"
        ) from exc


def checkpoint_shapes(prefix: str) -> dict[str, list[int]]:
    """``{tensor name: shape}`` for every tensor in checkpoint ``prefix``."""
    return {k: list(v) for k, v in _reader(prefix).get_variable_to_shape_map().items()}


def read_tensor(prefix: str, name: str, max_rows: int | None = None) -> np.ndarray:
    """The value of tensor ``name`` in checkpoint ``prefix``; its first ``max_rows`` rows only
    when given (a slice restored by TensorFlow, so a huge declared tensor stays cheap).

    A tensor whose declared size (its first ``max_rows`` rows) exceeds the
    Projector's 2 GB is refused before a byte of it is read.
    """
    from projector_tools.run.matrix import MAX_TENSOR_BYTES

    reader = _reader(prefix)
    if not reader.has_tensor(name):
        raise SourceError(
            f"checkpoint {prefix!r} has no tensor {name!r}; it holds "
            f"{sorted(reader.get_variable_to_shape_map())}"
        )
    shape = list(reader.get_variable_to_shape_map()[name])
    dtype = reader.get_variable_to_dtype_map()[name]
    rows = shape[0] if shape and (max_rows is None or max_rows >= shape[0]) else max_rows
    if shape and rows * math.prod(shape[1:]) * max(dtype.size, 4) > MAX_TENSOR_BYTES:
        raise SourceError(
            f"tensor {name!r} of checkpoint {prefix!r} declares {shape} ({dtype.name}), over the "
            f"Projector's 2 GB once read; pass --max-rows N (max_rows=) to read its first N rows only"
        )
    try:
        if shape and rows < shape[0]:
            return _read_rows(prefix, name, shape, dtype, rows)
        return reader.get_tensor(name)
    # a truncated data file: DataLossError, or IndexError ("Read less bytes than requested")
    except (fsio.errors().OpError, ValueError, IndexError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SourceError(
            f"checkpoint {prefix!r} is damaged: reading {name!r} failed ({first})"
        ) from exc


def _read_rows(prefix: str, name: str, shape: list[int], dtype, rows: int) -> np.ndarray:
    """Rows ``0..rows-1`` of tensor ``name``, restored as a slice (``RestoreV2``'s slice spec)."""
    import tensorflow as tf

    spec = " ".join(str(d) for d in shape) + " " + ":".join([f"0,{rows}"] + ["-"] * (len(shape) - 1))
    (value,) = tf.raw_ops.RestoreV2(prefix=prefix, tensor_names=[name], shape_and_slices=[spec],
                                    dtypes=[dtype])
    return value.numpy()


def latest_checkpoint(directory: str) -> str | None:
    """The latest checkpoint prefix in ``directory`` (its ``checkpoint`` file)."""
    import tensorflow as tf

    from projector_tools.run.files import read_state_file

    try:
        read_state_file(directory)  # a FIFO or an oversized state file is refused before TF reads it
        return tf.train.latest_checkpoint(directory)
    except (tf.errors.OpError, ValueError):  # ValueError: a state file naming no path
        return None
