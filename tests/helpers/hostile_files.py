"""Hostile files built by the tests: sparse files declaring huge tensors, a
checkpoint index patched to dtype 99 with its block CRC fixed, zip and gzip
bombs streamed from zeros, deep JSON. Nothing here is read by the tool's code."""

from __future__ import annotations

import gzip
import json
import struct
import zipfile

_POLY = 0x82F63B78  # CRC-32C (Castagnoli), reflected
_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ _POLY if _c & 1 else _c >> 1
    _TABLE.append(_c)


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    """TensorFlow's ``crc32c::Mask``: rotate right 15, add a constant."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = buf[pos]
        value |= (b & 0x7F) << shift
        pos += 1
        shift += 7
        if not b & 0x80:
            return value, pos


def patch_dtype(index_path: str, new_dtype: int = 99) -> None:
    """Set the dtype of every tensor entry of a TF-written ``.index`` to
    ``new_dtype`` (DT_FLOAT ``08 01`` -> ``08 <new>``) and fix each data block's CRC."""
    data = bytearray(open(index_path, "rb").read())
    footer = bytes(data[-48:])
    _, pos = _varint(footer, _varint(footer, 0)[1])
    index_off, pos = _varint(footer, pos)
    index_size, _ = _varint(footer, pos)
    index = bytes(data[index_off: index_off + index_size])
    # the index block's entries: key, BlockHandle of a data block
    (restarts,) = struct.unpack_from("<I", index, len(index) - 4)
    end = len(index) - 4 * (restarts + 1)
    p, patched = 0, 0
    while p < end:
        _, p = _varint(index, p)
        fresh, p = _varint(index, p)
        vlen, p = _varint(index, p)
        p += fresh
        off, q = _varint(index, p)
        size, _ = _varint(index, q)
        p += vlen
        block = data[off: off + size]
        n = block.count(b"\x08\x01\x12")
        block = block.replace(b"\x08\x01\x12", b"\x08" + bytes([new_dtype]) + b"\x12")
        patched += n
        data[off: off + size] = block
        crc = masked_crc(bytes(block) + bytes([data[off + size]]))
        data[off + size + 1: off + size + 5] = struct.pack("<I", crc)
    assert patched, "no DT_FLOAT entry found to patch"
    open(index_path, "wb").write(bytes(data))


def deep_legacy_h5(path: str, depth: int = 30_000) -> None:
    """A legacy Keras ``.h5`` (one 4 x 2 embedding) whose ``model_config`` JSON nests ``depth`` deep."""
    import h5py
    import numpy as np

    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = "[" * depth + "]" * depth
        g = f.create_group("model_weights/embedding")
        g.attrs["weight_names"] = [b"embedding/embeddings:0"]
        g.create_dataset("embedding/embeddings:0", data=np.ones((4, 2), "float32"))
        f["model_weights"].attrs["layer_names"] = [b"embedding"]


def sparse_safetensors(path: str, rows: int, dims: int) -> None:
    """A safetensors file declaring a ``rows x dims`` float32 tensor, sparse on disk."""
    nbytes = rows * dims * 4
    header = json.dumps({"embeddings.word_embeddings.weight": {"dtype": "F32", "shape": [rows, dims],
                                              "data_offsets": [0, nbytes]}}).encode()
    header += b" " * (-len(header) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        f.truncate(8 + len(header) + nbytes)


def gzip_stream(path: str, head: bytes, body: bytes, repeat: int, tail: bytes = b"") -> None:
    """``head + body * repeat + tail`` gzipped, written as a stream (never held whole)."""
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(head)
        for _ in range(repeat):
            f.write(body)
        f.write(tail)


def zip_with(path: str, entries: dict[str, bytes | tuple[bytes, int]]) -> None:
    """A zip whose entry ``name`` is ``data`` or ``data * repeat`` (streamed, deflated)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, value in entries.items():
            data, repeat = value if isinstance(value, tuple) else (value, 1)
            with zf.open(name, "w", force_zip64=True) as out:
                for _ in range(repeat):
                    out.write(data)


def zip_replacing(src: str, dst: str, entries: dict[str, tuple[bytes, int]]) -> None:
    """A copy of zip ``src`` at ``dst`` whose entries named in ``entries`` hold
    ``data * repeat`` instead (streamed, deflated; the others copied as they are)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zout:
        for info in zin.infolist():
            with zout.open(info.filename, "w", force_zip64=True) as out:
                if info.filename in entries:
                    data, repeat = entries[info.filename]
                    for _ in range(repeat):
                        out.write(data)
                else:
                    out.write(zin.read(info.filename))
