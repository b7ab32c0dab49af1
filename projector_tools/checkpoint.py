"""Minimal TensorFlow checkpoints: only the tensors you name, readable names.

A checkpoint keyed by plain names (``embedding``) is listed by the Projector
as it is, instead of the object paths
(``layer_with_weights-0/embeddings/.ATTRIBUTES/VARIABLE_VALUE``) of
``tf.train.Checkpoint``. Reading uses the checkpoint reader on the prefix,
which works on every TensorFlow filesystem (``ram://`` included, where
``tf.train.load_checkpoint`` mistakes a prefix for a directory).

Writing uses TensorFlow's own ops. ``tf.raw_ops.SaveV2`` copies each tensor
it is given (a numpy buffer is rarely aligned enough to be shared), which
for one large matrix means a second full copy in memory and seconds of
work. A large matrix is therefore saved in row slices of
:data:`SLICE_BYTES`, each slice into a temporary checkpoint of its own, and
``tf.raw_ops.MergeV2Checkpoints`` joins them into one checkpoint (one
``.data`` shard per slice): peak memory grows by one slice, not one matrix.
Readers see one tensor with its full shape.

    >>> write_checkpoint("/tmp/ckpt/emb", {"embedding": np.eye(3, dtype="float32")})
    ['/tmp/ckpt/emb.data-00000-of-00001', '/tmp/ckpt/emb.index']
    >>> checkpoint_shapes("/tmp/ckpt/emb")
    {'embedding': [3, 3]}
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import numpy as np

from projector_tools import fsio
from projector_tools.errors import SourceError

# A tensor larger than this is saved in row slices of about this size.
SLICE_BYTES = 16 << 20
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

    parts: list[str] = []
    token = uuid.uuid4().hex[:8]

    def part_prefix() -> str:
        return f"{prefix}{_PART_MARK}{token}-{len(parts)}"

    try:
        small = [(n, "", a) for n, a in arrays.items() if n not in big]
        if small:
            parts.append(part_prefix())
            _save(parts[-1], small)
        for name, arr in big.items():
            rows, dims = arr.shape
            step = max(1, SLICE_BYTES // max(1, arr.itemsize * dims))
            for start in range(0, rows, step):
                block = arr[start : start + step]
                spec = f"{rows} {dims} {start},{len(block)}:-"
                parts.append(part_prefix())
                _save(parts[-1], [(name, spec, block)])
        tf.raw_ops.MergeV2Checkpoints(
            checkpoint_prefixes=parts, destination_prefix=prefix, delete_old_dirs=False
        )
    finally:
        for part in parts:  # merged parts are gone already; this clears a failed try
            for f in checkpoint_files(part):
                fsio.remove(f)
    return checkpoint_files(prefix)


def _save(prefix: str, items: list[tuple[str, str, np.ndarray]]) -> None:
    import tensorflow as tf

    tf.raw_ops.SaveV2(
        prefix=prefix,
        tensor_names=[n for n, _, _ in items],
        shape_and_slices=[spec for _, spec, _ in items],
        tensors=[a for _, _, a in items],
    )


def checkpoint_files(prefix: str) -> list[str]:
    """The ``.index`` and ``.data-*`` files that make up checkpoint ``prefix``."""
    import tensorflow as tf

    return sorted(tf.io.gfile.glob(prefix + ".index") + tf.io.gfile.glob(prefix + ".data-*"))


def _reader(prefix: str):
    from tensorflow.python.training import py_checkpoint_reader

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


def read_tensor(prefix: str, name: str) -> np.ndarray:
    """The value of tensor ``name`` in checkpoint ``prefix``."""
    reader = _reader(prefix)
    if not reader.has_tensor(name):
        raise SourceError(
            f"checkpoint {prefix!r} has no tensor {name!r}; it holds "
            f"{sorted(reader.get_variable_to_shape_map())}"
        )
    try:
        return reader.get_tensor(name)
    # a truncated data file: DataLossError, or IndexError ("Read less bytes than requested")
    except (fsio.errors().OpError, ValueError, IndexError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SourceError(
            f"checkpoint {prefix!r} is damaged: reading {name!r} failed ({first})"
        ) from exc


def latest_checkpoint(directory: str) -> str | None:
    """The latest checkpoint prefix in ``directory`` (its ``checkpoint`` file)."""
    import tensorflow as tf

    try:
        return tf.train.latest_checkpoint(directory)
    except (tf.errors.OpError, ValueError):  # ValueError: a state file naming no path
        return None
