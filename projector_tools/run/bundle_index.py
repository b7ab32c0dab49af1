"""Check a checkpoint's ``.index`` before TensorFlow reads it.

TensorFlow's checkpoint reader trusts the index: an entry whose dtype is no
``DataType`` (99, with the block checksum fixed) makes it abort the whole
process (``F0000 ... Unrecognized DataType``, exit 134), so no ``except``
can turn it into a message. :func:`validate_index` parses the index the
way TensorFlow does (a table of ``BundleHeaderProto`` under the key ``""``
and one ``BundleEntryProto`` per tensor, see ``tensor_bundle.proto`` and
``tensorflow/core/lib/io/table*``) and refuses, with one line, an entry
whose dtype is unknown, whose shape is not a shape, whose shard does not
exist or whose bytes lie past its data file's end. A parse costs ~1 ms per
thousand tensors (docs/design.md, *Hostile files*); the alternative, reading
in a child process, would pay a TensorFlow import per read.

    >>> import os, tempfile, numpy as np
    >>> from projector_tools.run.checkpoint import write_checkpoint
    >>> prefix = os.path.join(tempfile.mkdtemp(), "emb")
    >>> _ = write_checkpoint(prefix, {"embedding": np.eye(3, dtype="float32")})
    >>> validate_index(prefix)
"""

from __future__ import annotations

import struct

from projector_tools import fsio
from projector_tools.errors import SourceError

#: Table magic (``kTableMagicNumber``) in the last 8 bytes of an ``.index``.
TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_BYTES = 48
#: Largest ``.index`` parsed (a few hundred bytes per tensor in real ones).
MAX_INDEX_BYTES = 256 << 20
#: Bytes per element of the fixed-size ``DataType`` values (others: no size check).
_ITEM_BYTES = {1: 4, 2: 8, 3: 4, 4: 1, 5: 2, 6: 1, 8: 8, 9: 8, 10: 1, 14: 2, 17: 2, 18: 16,
               19: 2, 22: 4, 23: 8}


class _Damaged(Exception):
    """The index is not a table TensorFlow wrote."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise _Damaged("a varint runs past its block")
        byte = buf[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        shift += 7
        if not byte & 0x80:
            return value, pos


def _block(data: bytes, handle: bytes) -> bytes:
    offset, pos = _varint(handle, 0)
    size, _ = _varint(handle, pos)
    if offset + size + 5 > len(data):
        raise _Damaged("a block lies past the end of the file")
    if data[offset + size] != 0:
        raise _Damaged("a compressed block (TensorFlow writes none)")
    return data[offset : offset + size]


def _entries(block: bytes):
    """``(key, value)`` of each entry of a table block."""
    if len(block) < 4:
        raise _Damaged("a block too short for its restart count")
    (restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    end = len(block) - 4 * (restarts + 1)
    if end < 0:
        raise _Damaged("a block's restart array is longer than the block")
    pos, key = 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        fresh, pos = _varint(block, pos)
        size, pos = _varint(block, pos)
        if shared > len(key) or pos + fresh + size > end:
            raise _Damaged("an entry runs past its block")
        key = key[:shared] + block[pos : pos + fresh]
        pos += fresh
        yield key, block[pos : pos + size]
        pos += size


def _table(data: bytes):
    if len(data) < FOOTER_BYTES or struct.unpack_from("<Q", data, len(data) - 8)[0] != TABLE_MAGIC:
        raise _Damaged("no table footer")
    footer = data[-FOOTER_BYTES:]
    _, pos = _varint(footer, _varint(footer, 0)[1])  # skip the metaindex handle
    index = _block(data, footer[pos:])
    for _, handle in _entries(index):
        yield from _entries(_block(data, handle))


def _check_entry(prefix: str, name: str, entry, num_shards: int, sizes: dict[int, int]) -> None:
    from tensorflow.core.framework import types_pb2

    if entry.dtype not in types_pb2.DataType.values() or entry.dtype == 0:
        raise SourceError(f"checkpoint {prefix!r} is damaged: tensor {name!r} has dtype {entry.dtype}, "
                          "which is no TensorFlow type (TensorFlow would abort reading it)")
    if entry.shape.unknown_rank or any(d.size < 0 for d in entry.shape.dim):
        raise SourceError(f"checkpoint {prefix!r} is damaged: tensor {name!r} has no valid shape")
    if entry.slices:
        return  # a partitioned tensor: its slices are entries of their own
    if not 0 <= entry.shard_id < max(1, num_shards):
        raise SourceError(f"checkpoint {prefix!r} is damaged: tensor {name!r} names shard "
                          f"{entry.shard_id} of {num_shards}")
    if entry.shard_id not in sizes:
        path = f"{prefix}.data-{entry.shard_id:05d}-of-{max(1, num_shards):05d}"
        try:
            sizes[entry.shard_id] = fsio.gfile().stat(path).length
        except fsio.errors().OpError:
            raise SourceError(f"checkpoint {prefix!r} is incomplete: its data file {path!r} is missing") from None
    count = 1
    for d in entry.shape.dim:
        count *= d.size
    item = _ITEM_BYTES.get(entry.dtype)
    if entry.offset < 0 or entry.offset + entry.size > sizes[entry.shard_id] or (
            item is not None and count * item != entry.size):
        raise SourceError(f"checkpoint {prefix!r} is damaged: tensor {name!r} ({entry.size} bytes at "
                          f"{entry.offset}) does not fit its shape or its data file "
                          f"({sizes[entry.shard_id]} bytes)")


def validate_index(prefix: str) -> None:
    """Raise :class:`SourceError` unless ``prefix.index`` is a table of bundle entries
    that TensorFlow can read without aborting (see the module docstring)."""
    from tensorflow.core.protobuf import tensor_bundle_pb2
    from google.protobuf.message import DecodeError

    path = prefix + ".index"
    try:
        if fsio.gfile().stat(path).length > MAX_INDEX_BYTES:
            raise SourceError(f"checkpoint index {path!r} is over {MAX_INDEX_BYTES >> 20} MiB; refused")
        data = fsio.read_bytes(path)
    except fsio.errors().OpError:
        return  # missing or unreadable: TensorFlow's reader says so, without aborting
    num_shards, sizes = 1, {}
    try:
        for key, value in _table(data):
            if key == b"":
                header = tensor_bundle_pb2.BundleHeaderProto.FromString(value)
                num_shards = header.num_shards
                continue
            entry = tensor_bundle_pb2.BundleEntryProto.FromString(value)
            _check_entry(prefix, key.decode("utf-8", "replace"), entry, num_shards, sizes)
    except (_Damaged, DecodeError) as exc:
        raise SourceError(f"cannot read TensorFlow checkpoint {prefix!r} (its index is damaged: {exc}); "
                          "pass the checkpoint prefix (the path without .index / .data-*) of an intact "
                          "checkpoint") from None


__all__ = ["validate_index"]
