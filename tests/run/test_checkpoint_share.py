"""Slices handed to SaveV2 without a copy (DLPack), and the arrays that cannot be.

Whatever the array's alignment, layout or writability, the checkpoint reads
back equal to it, through TensorFlow's own reader and RestoreV2.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from projector_tools.run import checkpoint
from projector_tools.run.checkpoint import read_tensor, write_checkpoint

BASE = np.random.default_rng(3).standard_normal((1003, 37), dtype=np.float32)


def restored(prefix: str, name: str) -> np.ndarray:
    return tf.raw_ops.RestoreV2(
        prefix=prefix, tensor_names=[name], shape_and_slices=[""], dtypes=[tf.float32]
    )[0].numpy()


@pytest.mark.parametrize("offset", [0, 1, 2, 3, 5])
def test_sliced_checkpoint_of_any_start_reads_back(tmp_path, monkeypatch, offset):
    # 37 float32 = 148 bytes a row: rows start 64-byte aligned only every 16 rows
    monkeypatch.setattr(checkpoint, "SLICE_BYTES", 148 * 100)
    monkeypatch.setattr(checkpoint, "SHARED_SLICE_BYTES", 148 * 100)
    arr = BASE[offset:]
    slices = checkpoint._slices(arr)
    assert slices[0][0] == 0 and slices[-1][1] == len(arr)
    assert all(a[1] == b[0] for a, b in zip(slices, slices[1:]))
    aligned = [start for start, _ in slices if arr[start:].ctypes.data % 64 == 0]
    assert len(aligned) >= len(slices) - 1  # all but a short head are shared
    shared = [s for s in slices if not isinstance(checkpoint._tensor(arr[s[0]:s[1]]), np.ndarray)]
    assert len(shared) == len(aligned)
    prefix = str(tmp_path / "ckpt")
    write_checkpoint(prefix, {"embedding": arr})
    assert np.array_equal(read_tensor(prefix, "embedding"), arr)
    assert np.array_equal(restored(prefix, "embedding"), arr)


def test_shared_tensor_is_the_arrays_memory():
    arr = np.zeros((64, 37), dtype=np.float32)
    start = next(k for k in range(16) if arr[k:].ctypes.data % 64 == 0)
    tensor = checkpoint._tensor(arr[start:])
    assert not isinstance(tensor, np.ndarray)
    arr[start, 0] = 7.0
    assert float(tensor[0, 0]) == 7.0  # no copy was made


@pytest.mark.parametrize("kind", ["readonly", "fortran", "float64"])
def test_arrays_that_cannot_be_shared_are_copied(tmp_path, monkeypatch, kind):
    monkeypatch.setattr(checkpoint, "SLICE_BYTES", 148 * 100)
    monkeypatch.setattr(checkpoint, "SHARED_SLICE_BYTES", 148 * 100)
    arr = BASE.copy()
    if kind == "readonly":
        arr.flags.writeable = False
    elif kind == "fortran":
        arr = np.asfortranarray(arr)
    else:
        arr = arr.astype(np.float64)
    assert all(isinstance(checkpoint._tensor(arr[a:b]), np.ndarray) for a, b in checkpoint._slices(arr))
    prefix = str(tmp_path / "ckpt")
    write_checkpoint(prefix, {"embedding": arr})
    assert np.array_equal(read_tensor(prefix, "embedding"), arr)
