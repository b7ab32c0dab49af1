"""Minimal TensorFlow checkpoints: only the tensors you name, readable names.

A checkpoint written with ``tf.raw_ops.SaveV2`` keys tensors by plain names
(``embedding``), which the Projector lists as they are, instead of the
object paths (``layer_with_weights-0/embeddings/.ATTRIBUTES/VARIABLE_VALUE``)
of ``tf.train.Checkpoint``. Reading uses ``RestoreV2``/the checkpoint reader
on the prefix, which works on every TensorFlow filesystem (``ram://``
included, where ``tf.train.load_checkpoint`` mistakes a prefix for a
directory).

    >>> write_checkpoint("/tmp/ckpt/emb", {"embedding": np.eye(3, dtype="float32")})
    >>> checkpoint_shapes("/tmp/ckpt/emb")
    {'embedding': [3, 3]}
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from projector_tools.errors import SourceError


def write_checkpoint(prefix: str, tensors: Mapping[str, np.ndarray]) -> list[str]:
    """Write ``tensors`` as a V2 checkpoint at ``prefix``; return its files."""
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
