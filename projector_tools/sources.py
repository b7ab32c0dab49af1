"""Reading what the CLI is pointed at: models, checkpoints, arrays, vocabularies.

Each loader returns plain data (``{tensor name: array}``, labels) for the
exporter, or raises :class:`~projector_tools.errors.SourceError` naming the
file and what would work instead.

    >>> load_source("model.keras").tensors.keys()
    dict_keys(['embedding'])
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from projector_tools import fsio, word_vectors
from projector_tools.checkpoint import checkpoint_shapes, latest_checkpoint, read_tensor
from projector_tools.errors import InputError, SourceError
from projector_tools.metadata import (
    Metadata,
    subword_metadata,
    vocabulary_metadata,
)

SUBWORD_HEADER = "### SubwordTextEncoder"


@dataclass
class LoadedSource:
    """Tensors read from a source, with labels when the source carries them."""

    kind: str
    tensors: dict[str, Any]
    metadata: dict[str, Metadata] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    model: Any = None


def load_source(path: str, layers: Sequence[str] | None = None, vocab_size: int | None = None,
                max_rows: int | None = None) -> LoadedSource:
    """Detect what ``path`` is and load it (see the module docstring).

    ``max_rows`` lets a loader that streams (word vectors) stop early.
    """
    if not fsio.exists(path) and not fsio.exists(path + ".index"):
        raise SourceError(
            f"{path!r} does not exist; pass a .keras model, a TensorFlow checkpoint "
            f"(prefix or directory), a .npy file or word vectors ({word_vectors.describe_kinds()})"
        )
    lower = path.lower()
    if lower.endswith(".keras"):
        return _load_keras(path, layers)
    if lower.endswith(".weights.h5") or lower.endswith(".h5"):
        return _load_weights_h5(path, layers)
    if lower.endswith(".npy"):
        return _only_layers(_load_npy(path), layers)
    if fsio.isdir(path) or fsio.exists(path + ".index") or lower.endswith(".index"):
        return _load_checkpoint(path, layers, vocab_size)
    if word_vectors.sniff(path):
        return _only_layers(_load_word_vectors(path, max_rows), layers)
    raise SourceError(
        f"cannot tell what {path!r} is{word_vectors.not_word_vectors_hint(path)}; supported: "
        "a .keras model, a TensorFlow checkpoint (prefix or directory), a .npy array, "
        f"a Keras .weights.h5 file, or word vectors: {word_vectors.describe_kinds()}"
    )


def _only_layers(src: LoadedSource, layers: Sequence[str] | None) -> LoadedSource:
    if layers:
        raise InputError(f"--layer does not apply to a {src.kind} source (it holds one matrix)")
    return src


def _load_keras(path: str, layers: Sequence[str] | None) -> LoadedSource:
    import keras

    from projector_tools.keras_layers import layer_weights, select_embedding_layers

    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # noqa: BLE001
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SourceError(
            f"cannot load Keras model {path!r} ({first}); a model with custom layers "
            "needs them importable, or export from Python with export_embeddings(model, ...)"
        ) from None
    chosen = select_embedding_layers(model, layers)
    return LoadedSource(
        kind="keras",
        tensors={n: layer_weights(layer) for n, layer in chosen.items()},
        model=model,
        notes=[f"Embedding layers: {', '.join(chosen)}"],
    )


def _load_weights_h5(path: str, layers: Sequence[str] | None) -> LoadedSource:
    """Keras 3 ``.weights.h5``: ``layers/<name>/vars/0`` of Embedding layers."""
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py ships with keras
        raise SourceError("reading .weights.h5 needs h5py (pip install h5py)") from None
    found: dict[str, np.ndarray] = {}
    try:
        local = _local_copy(path)
        with h5py.File(local, "r") as f:
            def visit(name: str, obj: Any) -> None:
                if isinstance(obj, h5py.Dataset) and obj.ndim == 2 and "optimizer" not in name:
                    parts = name.split("/")
                    if "vars" in parts:
                        owner = parts[parts.index("vars") - 1]
                        if "embedding" in owner.lower():
                            found[owner] = np.asarray(obj)
            f.visititems(visit)
    except OSError as exc:
        raise SourceError(f"{path!r} is not a readable HDF5 weights file ({exc})") from None
    if layers:
        missing = [n for n in layers if n not in found]
        if missing:
            raise InputError(
                f"{path!r} has no embedding layer {missing}; it holds {sorted(found)}"
            )
        found = {n: found[n] for n in layers}
    if not found:
        raise SourceError(f"{path!r} holds no embedding layer weights")
    return LoadedSource(kind="weights.h5", tensors=found, notes=[f"layers: {', '.join(found)}"])


def _local_copy(path: str) -> str:
    if not fsio.is_remote(path):
        return path
    import tempfile

    tmp = tempfile.NamedTemporaryFile(suffix=".h5", delete=False)
    tmp.write(fsio.read_bytes(path))
    tmp.close()
    return tmp.name


def _load_npy(path: str) -> LoadedSource:
    try:
        if fsio.is_remote(path):
            import io

            arr = np.load(io.BytesIO(fsio.read_bytes(path)), allow_pickle=False)
        else:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:  # noqa: BLE001
        raise SourceError(f"{path!r} is not a readable .npy array ({exc})") from None
    return LoadedSource(kind="npy", tensors={"embedding": arr})


def _load_word_vectors(path: str, max_rows: int | None) -> LoadedSource:
    """word2vec / fastText / GloVe text or word2vec binary: labels from the file."""
    vectors = word_vectors.load_word_vectors(path, max_rows=max_rows)
    return LoadedSource(
        kind=f"word vectors ({vectors.kind})",
        tensors={"embedding": vectors.matrix},
        metadata={"embedding": Metadata.from_labels(vectors.tokens)},
        notes=vectors.notes,
    )


_KERAS3_VAR = re.compile(r"(?:^|/)optimizer/_trainable_variables/(\d+)$")
_SLOT = re.compile(r"OPTIMIZER_SLOT|(?:^|/)optimizer/_variables/|^_CHECKPOINTABLE|(?:^|/)save_counter")


def readable_name(key: str) -> str:
    """A Projector-friendly name for a checkpoint key.

    ``layer_with_weights-0/embeddings/.ATTRIBUTES/VARIABLE_VALUE`` becomes
    ``layer_with_weights-0``; Keras 3 models, whose variables a TF checkpoint
    only reaches through the optimizer, give ``variable_<N>``.
    """
    name = key.replace("/.ATTRIBUTES/VARIABLE_VALUE", "")
    m = _KERAS3_VAR.search(name)
    if m:
        return f"variable_{m.group(1)}"
    for suffix in ("/embeddings", "/embedding"):
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    return name.replace(":", "_")


def _is_model_tensor(key: str) -> bool:
    """True for model variables; False for optimizer slots and bookkeeping."""
    if _SLOT.search(key):
        return False
    bare = key.replace("/.ATTRIBUTES/VARIABLE_VALUE", "")
    if "optimizer/" in bare and not _KERAS3_VAR.search(bare):
        return False
    return True


def resolve_checkpoint_prefix(path: str) -> str:
    """A checkpoint prefix from a prefix, an ``.index`` file or a directory."""
    if path.endswith(".index"):
        path = path[: -len(".index")]
    if fsio.exists(path + ".index"):
        return path
    if fsio.isdir(path):
        latest = latest_checkpoint(path)
        if latest:
            return latest
        indexes = [n for n in fsio.listdir(path) if n.endswith(".index")]
        if len(indexes) == 1:
            return fsio.join(path, indexes[0][: -len(".index")])
        raise SourceError(
            f"directory {path!r} has no 'checkpoint' state file"
            + (f" and several checkpoints ({', '.join(sorted(indexes))})" if indexes else " and no checkpoint")
            + "; pass the checkpoint prefix, e.g. DIR/ckpt-3"
        )
    raise SourceError(f"{path!r} is not a TensorFlow checkpoint (no {path}.index)")


def _load_checkpoint(path: str, layers: Sequence[str] | None, vocab_size: int | None) -> LoadedSource:
    prefix = resolve_checkpoint_prefix(path)
    shapes = checkpoint_shapes(prefix)
    two_d = {k: s for k, s in shapes.items() if len(s) == 2 and _is_model_tensor(k)}
    if not two_d:
        raise SourceError(f"checkpoint {prefix!r} holds no 2-D tensor to show")
    if layers:
        chosen = {}
        for want in layers:
            hits = [k for k in two_d if want == k or want in re.split(r"[/.]", k) or want == readable_name(k)]
            if len(hits) != 1:
                raise InputError(
                    f"--layer {want!r} matches {len(hits)} tensors in {prefix!r}; 2-D tensors: "
                    + ", ".join(f"{k} {two_d[k]}" for k in sorted(two_d))
                )
            chosen[hits[0]] = two_d[hits[0]]
        reason = "named with --layer"
    else:
        chosen = {k: s for k, s in two_d.items() if "embedding" in k.lower()}
        reason = "named like embeddings"
        if not chosen and vocab_size is not None:
            chosen = {k: s for k, s in two_d.items() if s[0] == vocab_size}
            reason = f"with {vocab_size} rows, the vocabulary size"
        if not chosen:
            by_rows = sorted(two_d.items(), key=lambda kv: -kv[1][0])
            top = by_rows[0]
            runner_up = by_rows[1][1][0] if len(by_rows) > 1 else -1
            if top[1][0] > runner_up and top[1][0] > top[1][1]:
                chosen = {top[0]: top[1]}
                reason = "the 2-D model tensor with the most rows; choose another with --layer"
        if not chosen:
            raise InputError(
                f"no tensor in {prefix!r} looks like an embedding; pick one with --layer. "
                "2-D tensors: " + ", ".join(f"{k} {two_d[k]}" for k in sorted(two_d))
            )
    tensors: dict[str, Any] = {}
    notes = []
    for key in sorted(chosen):
        name = readable_name(key)
        if len(chosen) == 1 and _KERAS3_VAR.search(key.replace("/.ATTRIBUTES/VARIABLE_VALUE", "")):
            name = "embedding"
        if name in tensors:
            name = key.replace(":", "_")
        tensors[name] = read_tensor(prefix, key)
        notes.append(f"picked {key} {list(chosen[key])} ({reason}) as {name!r}")
    return LoadedSource(kind="checkpoint", tensors=tensors, notes=notes)


def load_vocab(path: str) -> Metadata:
    """Labels from a ``SubwordTextEncoder`` vocab file or a token-per-line list."""
    if not fsio.exists(path):
        raise SourceError(f"vocab file {path!r} does not exist")
    raw = fsio.read_bytes(path)
    if raw.startswith(SUBWORD_HEADER.encode()):
        import tensorflow_datasets as tfds
        from tensorflow_datasets.core.deprecated.text import text_encoder

        try:
            lines, _ = text_encoder.read_lines_from_file("SubwordTextEncoder", path)
        except Exception as exc:  # noqa: BLE001
            raise SourceError(f"{path!r} is not a SubwordTextEncoder vocab file ({exc})") from None
        encoder = tfds.deprecated.text.SubwordTextEncoder(vocab_list=[ln[1:-1] for ln in lines])
        return subword_metadata(encoder)
    text = raw.decode("utf-8", "surrogateescape")
    tokens = text.split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    tokens = [t[:-1] if t.endswith("\r") else t for t in tokens]
    if not tokens:
        raise SourceError(f"vocab file {path!r} is empty")
    return vocabulary_metadata(tokens)


def note(message: str) -> None:
    print(f"projector-tools: {message}", file=sys.stderr)
