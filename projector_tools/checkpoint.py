"""Minimal TensorFlow checkpoints: only the tensors you name, readable names.

A checkpoint keyed by plain names (``embedding``) is listed by the Projector
as it is, instead of the object paths
(``layer_with_weights-0/embeddings/.ATTRIBUTES/VARIABLE_VALUE``) of
``tf.train.Checkpoint``. Reading uses the checkpoint reader on the prefix,
which works on every TensorFlow filesystem (``ram://`` included, where
``tf.train.load_checkpoint`` mistakes a prefix for a directory).

Writing streams the matrix straight from the caller's array into the
``.data`` file (TensorFlow's tensor-bundle format: raw little-endian bytes,
plus an ``.index`` table of offsets and CRC32C checksums). ``tf.raw_ops.SaveV2``
would first copy the whole matrix into a TensorFlow tensor (the numpy
buffer is rarely aligned enough to be shared), which doubles peak memory and
costs seconds for a large vocabulary. When the C implementation of
``google-crc32c`` is missing, ``SaveV2`` is used instead.

    >>> write_checkpoint("/tmp/ckpt/emb", {"embedding": np.eye(3, dtype="float32")})
    ['/tmp/ckpt/emb.data-00000-of-00001', '/tmp/ckpt/emb.index']
    >>> checkpoint_shapes("/tmp/ckpt/emb")
    {'embedding': [3, 3]}
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping

import numpy as np

from projector_tools.errors import SourceError

DATA_SUFFIX = ".data-00000-of-00001"
INDEX_SUFFIX = ".index"
# Bytes handed to the filesystem (and the checksum) per call.
CHUNK_BYTES = 1 << 22
_TABLE_MAGIC = 0xDB4775248B80FB57  # leveldb's table magic, used by TensorFlow
_CRC_MASK_DELTA = 0xA282EAD8


def _fast_crc32c():
    """``google_crc32c.extend`` when its C implementation is installed, else None."""
    try:
        import google_crc32c
    except ImportError:
        return None
    if getattr(google_crc32c, "implementation", "") != "c":
        return None
    return google_crc32c.extend


def write_checkpoint(prefix: str, tensors: Mapping[str, np.ndarray]) -> list[str]:
    """Write ``tensors`` (float32 2-D arrays) as a V2 checkpoint at ``prefix``.

    Returns the checkpoint's files. The arrays are not copied: each one is
    written and checksummed in chunks of :data:`CHUNK_BYTES`.
    """
    extend = _fast_crc32c()
    arrays = {n: np.asarray(v) for n, v in tensors.items()}
    if extend is None or any(
        a.dtype != np.float32 or not a.flags.c_contiguous for a in arrays.values()
    ):
        return _write_with_savev2(prefix, arrays)
    return _write_bundle(prefix, arrays, extend)


def _write_with_savev2(prefix: str, tensors: Mapping[str, np.ndarray]) -> list[str]:
    import tensorflow as tf

    names = list(tensors)
    values = [tf.convert_to_tensor(tensors[n]) for n in names]
    tf.raw_ops.SaveV2(
        prefix=prefix,
        tensor_names=names,
        shape_and_slices=[""] * len(names),
        tensors=values,
    )
    return checkpoint_files(prefix)


# -- tensor bundle writer ---------------------------------------------------
# Format (tensorflow/core/util/tensor_bundle): ``<prefix>.data-00000-of-00001``
# holds the tensors' raw bytes back to back; ``<prefix>.index`` is a leveldb
# table (tensorflow/core/lib/io/table) mapping "" to a BundleHeaderProto and
# each tensor name to a BundleEntryProto (dtype, shape, offset, size, masked
# CRC32C of the bytes). Readers verify both the block and the tensor checksums.


def _mask(crc: int) -> int:
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _CRC_MASK_DELTA) & 0xFFFFFFFF


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _block(entries: list[tuple[bytes, bytes]]) -> bytes:
    """A table block, every entry a restart point (no key prefix sharing)."""
    buf = bytearray()
    restarts = []
    for key, value in entries:
        restarts.append(len(buf))
        buf += _varint(0) + _varint(len(key)) + _varint(len(value)) + key + value
    if not restarts:
        restarts = [0]
    for r in restarts:
        buf += struct.pack("<I", r)
    buf += struct.pack("<I", len(restarts))
    return bytes(buf)


def _handle(offset: int, size: int) -> bytes:
    return _varint(offset) + _varint(size)


def _index_table(entries: list[tuple[bytes, bytes]], extend) -> bytes:
    out = bytearray()
    handles = []
    for block in (_block(sorted(entries)), _block([])):  # data block, meta-index block
        handles.append(_handle(len(out), len(block)))
        out += block + b"\x00" + struct.pack("<I", _mask(extend(0, block + b"\x00")))
    last_key = max(k for k, _ in entries)
    index = _block([(last_key, handles[0])])
    index_handle = _handle(len(out), len(index))
    out += index + b"\x00" + struct.pack("<I", _mask(extend(0, index + b"\x00")))
    footer = handles[1] + index_handle
    out += footer + b"\x00" * (40 - len(footer)) + struct.pack("<Q", _TABLE_MAGIC)
    return bytes(out)


def _write_bundle(prefix: str, arrays: Mapping[str, np.ndarray], extend) -> list[str]:
    from tensorflow.core.framework import types_pb2
    from tensorflow.core.protobuf import tensor_bundle_pb2

    from projector_tools import fsio

    header = tensor_bundle_pb2.BundleHeaderProto(
        num_shards=1, endianness=tensor_bundle_pb2.BundleHeaderProto.LITTLE
    )
    header.version.producer = 1
    entries = [(b"", header.SerializeToString())]
    offset = 0
    data_path = prefix + DATA_SUFFIX
    if not fsio.is_remote(prefix):  # SaveV2 creates the directory too
        parent = os.path.dirname(prefix)
        if parent and not os.path.isdir(parent):
            os.makedirs(parent, exist_ok=True)
    with fsio.open_stream(data_path) as out:
        for name, arr in arrays.items():
            flat = arr.reshape(-1).view(np.uint8)
            if flat.flags.writeable:  # the checksum wants a read-only buffer
                flat = flat.view()
                flat.flags.writeable = False
            crc = 0
            for start in range(0, flat.size, CHUNK_BYTES):
                chunk = flat[start : start + CHUNK_BYTES]
                crc = extend(crc, chunk)
                out.write(chunk)
            entry = tensor_bundle_pb2.BundleEntryProto(
                dtype=types_pb2.DT_FLOAT, shard_id=0, offset=offset, size=flat.size,
                crc32c=_mask(crc),
            )
            for dim in arr.shape:
                entry.shape.dim.add(size=int(dim))
            entries.append((name.encode("utf-8"), entry.SerializeToString()))
            offset += flat.size
    index = _index_table(entries, extend)
    with fsio.open_stream(prefix + INDEX_SUFFIX) as out:
        out.write(index)
    return [data_path, prefix + INDEX_SUFFIX]


def checkpoint_files(prefix: str) -> list[str]:
    """The ``.index`` and ``.data-*`` files that make up checkpoint ``prefix``."""
    import tensorflow as tf

    return sorted(tf.io.gfile.glob(prefix + ".index") + tf.io.gfile.glob(prefix + ".data-*"))


def _reader(prefix: str):
    from tensorflow.python.training import py_checkpoint_reader

    try:
        return py_checkpoint_reader.NewCheckpointReader(prefix)
    except Exception as exc:  # noqa: BLE001 - DataLossError, NotFoundError, ...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SourceError(
            f"cannot read TensorFlow checkpoint {prefix!r} ({first}); pass the "
            "checkpoint prefix (the path without .index / .data-*) of an intact checkpoint"
        ) from None


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
    except Exception as exc:  # noqa: BLE001 - truncated data file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SourceError(
            f"checkpoint {prefix!r} is damaged: reading {name!r} failed ({first})"
        ) from None


def latest_checkpoint(directory: str) -> str | None:
    """The latest checkpoint prefix in ``directory`` (its ``checkpoint`` file)."""
    import tensorflow as tf

    try:
        return tf.train.latest_checkpoint(directory)
    except Exception:  # noqa: BLE001
        return None


def state_file_text(relative_prefix: str, all_prefixes: list[str] | None = None) -> str:
    """Text of a ``checkpoint`` state file pointing at ``relative_prefix``.

    Relative paths make the run relocatable: TensorFlow resolves them
    against the state file's directory.
    """
    lines = [f'model_checkpoint_path: "{_quote(relative_prefix)}"']
    for p in all_prefixes or [relative_prefix]:
        lines.append(f'all_model_checkpoint_paths: "{_quote(p)}"')
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    from google.protobuf import text_encoding

    return text_encoding.CEscape(text, as_utf8=True)
