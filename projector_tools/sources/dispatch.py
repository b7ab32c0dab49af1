"""Reading what the CLI is pointed at: models, checkpoints, arrays, vocabularies.

Each loader returns plain data (``{tensor name: array}``, labels) for the
exporter, or raises :class:`~projector_tools.errors.SourceError` naming the
file and what would work instead.

    >>> import os, tempfile, keras
    >>> model = keras.Sequential([keras.Input((4,), dtype="int32"),
    ...                           keras.layers.Embedding(30, 8, name="embedding")])
    >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
    >>> model.save(path)
    >>> load_source(path).tensors.keys()
    dict_keys(['embedding'])
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from projector_tools import fsio
from projector_tools.run.containment import require_inside_source
from projector_tools.run.budgets import MAX_LINE_BYTES, label_lines, require_regular

from projector_tools.sources import fasttext_bin, word_vectors
from projector_tools.sources.base import LoadedSource
from projector_tools.sources.inputs import read_npy
from projector_tools.run.checkpoint import checkpoint_shapes, latest_checkpoint, read_tensor
from projector_tools.sources.checkpoint_graph import (  # noqa: F401 - readable_name is imported from here
    CheckpointVariable,
    checkpoint_variables,
    readable_name,
    saved_model_checkpoint,
    tensor_names,
    unique_variables,
)
from projector_tools.errors import InputError, SourceError
from projector_tools.run.metadata import (
    Metadata,
    subword_metadata_from_list,
)
from projector_tools.run.vocab_labels import vocabulary_metadata

SUBWORD_HEADER = "### SubwordTextEncoder"


@dataclass(frozen=True)
class SourceKind:
    """One kind of file ``projector-tools export`` reads, with a one-line example."""

    what: str
    example: str


#: Every source kind, in the order ``load_source`` tries them. The CLI's
#: ``export --help`` and the "cannot tell what ... is" error list these.
SOURCE_KINDS: tuple[SourceKind, ...] = (
    SourceKind("a Hugging Face model (model.safetensors or its index, with tokenizer.json or vocab.txt)",
               "projector-tools export bert-base-uncased/ --logdir runs/bert"),
    SourceKind("a Keras .keras archive (its own TextVectorization/StringLookup labels it)",
               "projector-tools export model.keras --logdir runs/keras"),
    SourceKind("a legacy Keras HDF5 model or weights file (model.save('m.h5'), Keras 2 save_weights)",
               "projector-tools export model.h5 --logdir runs/h5 --vocab words.txt"),
    SourceKind("a Keras 3 .weights.h5 file",
               "projector-tools export model.weights.h5 --logdir runs/w --vocab words.txt"),
    SourceKind("a .npy array",
               "projector-tools export vectors.npy --logdir runs/npy --vocab words.txt"),
    SourceKind("a SavedModel directory (model.export(), tf.saved_model.save)",
               "projector-tools export saved_model/ --logdir runs/sm --vocab words.txt"),
    SourceKind("a TensorFlow checkpoint (prefix or directory; tf.train.Checkpoint, Keras)",
               "projector-tools export ckpts/ckpt-3 --logdir runs/ckpt --vocab words.txt"),
    SourceKind("a fastText model .bin (train_unsupervised/save_model, cc.<lang>.300.bin; not .ftz)",
               "projector-tools export cc.en.300.bin --logdir runs/ft --max-rows 200000"),
    SourceKind("word vectors: " + word_vectors.describe_kinds(),
               "projector-tools export cc.en.300.vec.gz --logdir runs/ft --max-rows 200000"),
)


def describe_source_kinds() -> str:
    """One line naming every kind of source (for error messages)."""
    return "; ".join(k.what for k in SOURCE_KINDS)


def source_kinds_help() -> str:
    """The kinds with their example lines (for ``export --help``)."""
    return "\n".join(f"  {k.what}:\n    {k.example}" for k in SOURCE_KINDS)


def load_source(path: str, layers: Sequence[str] | None = None, vocab_size: int | None = None,
                max_rows: int | None = None, fasttext_vectors: str | None = None,
                allow_outside: bool = False) -> LoadedSource:
    """Detect what ``path`` is, by content where the name does not say, and load it.

    The kinds are tried in the order of :data:`SOURCE_KINDS`. ``max_rows``
    makes loaders read only the first rows (see ``budgets``: a huge source
    stays cheap); ``fasttext_vectors`` (``composed``, the default, or ``input``)
    applies to fastText models only. A file inside a source folder that names a
    file outside it (a safetensors index, a ``checkpoint`` state file) is refused
    unless ``allow_outside``.
    """
    from projector_tools.sources import keras_legacy_h5
    from projector_tools.sources.huggingface import is_huggingface_source, load_huggingface

    if not fsio.exists(path) and not fsio.exists(path + ".index"):
        raise SourceError(f"{path!r} does not exist; a source is {describe_source_kinds()}")
    require_regular(path, "source")
    lower = path.lower()
    if is_huggingface_source(path):
        return load_huggingface(path, layers, vocab_size, max_rows, allow_outside)
    if lower.endswith(".keras"):
        return _load_keras(path, layers)
    if keras_legacy_h5.is_legacy_h5(path):
        tensors, notes = keras_legacy_h5.read_legacy_h5(path, layers, max_rows)
        return LoadedSource(kind="keras-h5", tensors=tensors, notes=notes)
    if lower.endswith(".h5"):
        return _load_weights_h5(path, layers, max_rows)
    if lower.endswith(".npy"):
        return _only_layers(_load_npy(path), layers)
    if fsio.isdir(path) or fsio.exists(path + ".index") or lower.endswith(".index"):
        return _load_checkpoint(path, layers, vocab_size, allow_outside, max_rows)
    if fasttext_bin.is_fasttext_bin(path):
        return _only_layers(_load_fasttext(path, max_rows, fasttext_vectors or "composed"), layers)
    if fasttext_vectors is not None:
        raise InputError(f"--fasttext-vectors applies to fastText model .bin files only, not {path!r}")
    if word_vectors.sniff(path):
        return _only_layers(_load_word_vectors(path, max_rows), layers)
    raise SourceError(
        f"cannot tell what {path!r} is{word_vectors.not_word_vectors_hint(path)}; "
        f"a source is {describe_source_kinds()}"
    )


def _only_layers(src: LoadedSource, layers: Sequence[str] | None) -> LoadedSource:
    if layers:
        raise InputError(f"--layer does not apply to a {src.kind} source (it holds one matrix)")
    return src


def _load_keras(path: str, layers: Sequence[str] | None) -> LoadedSource:
    from projector_tools.sources.keras_archive import read_keras_archive
    from projector_tools.sources.lookup_labels import archive_lookup_metadata

    archive = read_keras_archive(path, layers)
    metadata, notes = archive_lookup_metadata(archive)
    return LoadedSource(kind="keras", tensors=archive.tensors, metadata=metadata,
                        notes=archive.notes + notes)


def _load_weights_h5(path: str, layers: Sequence[str] | None, max_rows: int | None = None) -> LoadedSource:
    """Keras 3 ``.weights.h5``: see :func:`keras_archive.weights_h5_embeddings`."""
    from projector_tools.sources.keras_archive import weights_h5_embeddings

    stored = weights_h5_embeddings(path, max_rows)
    recorded = [e.layer_name for e in stored]
    found = {
        e.layer_name if e.layer_name and recorded.count(e.layer_name) == 1 else e.group: e.matrix
        for e in stored
    }
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


def _load_npy(path: str) -> LoadedSource:
    return LoadedSource(kind="npy", tensors={"embedding": read_npy(path)})


def _load_word_vectors(path: str, max_rows: int | None) -> LoadedSource:
    """word2vec / fastText / GloVe text or word2vec binary: labels from the file."""
    vectors = word_vectors.load_word_vectors(path, max_rows=max_rows)
    return LoadedSource(
        kind=f"word vectors ({vectors.kind})",
        tensors={"embedding": vectors.matrix},
        metadata={"embedding": Metadata.from_labels(vectors.tokens)},
        notes=vectors.notes,
    )


def _load_fasttext(path: str, max_rows: int | None, vectors: str) -> LoadedSource:
    """A fastText model's words and vectors (see :mod:`~projector_tools.sources.fasttext_bin`)."""
    model = fasttext_bin.read_fasttext_bin(path, vectors=vectors, max_rows=max_rows)
    note = word_vectors.duplicates_note(model.words)
    return LoadedSource(
        kind=f"fastText model ({vectors} vectors)",
        tensors={"embedding": model.matrix},
        metadata={"embedding": Metadata.from_labels(model.words)},
        notes=model.notes + ([note] if note else []),
    )


def resolve_checkpoint_prefix(path: str, allow_outside: bool = False) -> str:
    """A checkpoint prefix from a prefix, an ``.index`` file, a directory or a SavedModel
    (a directory's ``checkpoint`` state file may not lead outside it unless ``allow_outside``)."""
    if path.endswith(".index"):
        path = path[: -len(".index")]
    if fsio.exists(path + ".index"):
        return path
    saved_model = saved_model_checkpoint(path)
    if saved_model is not None:
        if not fsio.exists(saved_model + ".index"):
            raise SourceError(f"SavedModel {path!r} has no variables (no {saved_model}.index)")
        return saved_model
    if fsio.isdir(path):
        latest = latest_checkpoint(path)
        if latest:
            return require_inside_source(latest, path, f"checkpoint named by the state file of {path!r}",
                                         allow_outside)
        indexes = [n for n in fsio.listdir(path) if n.endswith(".index")]
        if len(indexes) == 1:
            return fsio.join(path, indexes[0][: -len(".index")])
        raise SourceError(
            f"directory {path!r} is not a SavedModel (no saved_model.pb) and has no "
            "'checkpoint' state file"
            + (f" and several checkpoints ({', '.join(sorted(indexes))})" if indexes else " and no checkpoint")
            + "; pass the checkpoint prefix, e.g. DIR/ckpt-3"
        )
    raise SourceError(f"{path!r} is not a TensorFlow checkpoint (no {path}.index)")


def _load_checkpoint(path: str, layers: Sequence[str] | None, vocab_size: int | None,
                     allow_outside: bool = False, max_rows: int | None = None) -> LoadedSource:
    """Tensors of a TF checkpoint or SavedModel, named by layer (see ``checkpoint_graph``)."""
    prefix = resolve_checkpoint_prefix(path, allow_outside)
    shapes = checkpoint_shapes(prefix)
    variables = checkpoint_variables(prefix, shapes)
    candidates = unique_variables(
        v for k, v in variables.items() if len(shapes[k]) == 2 and v.is_model_variable
    )
    two_d = {v.key: shapes[v.key] for v in candidates}
    if not two_d:
        raise SourceError(f"checkpoint {prefix!r} holds no 2-D tensor to show")
    if layers:
        chosen, reason = _named_variables(candidates, two_d, layers, prefix), "named with --layer"
    else:
        chosen, reason = _embedding_variables(candidates, two_d, vocab_size, prefix)
    names = tensor_names(chosen)
    if len(chosen) == 1 and chosen[0].layer is None and readable_name(chosen[0].key).startswith("variable_"):
        names[chosen[0].key] = "embedding"  # a Keras 3 variable whose layer nobody recorded
    tensors: dict[str, Any] = {}
    notes = []
    for v in sorted(chosen, key=lambda v: v.key):
        name = names[v.key]
        tensors[name] = read_tensor(prefix, v.key, max_rows)
        recorded = f" (variable {v.full_name})" if v.full_name else ""
        notes.append(f"picked {v.key}{recorded} {list(two_d[v.key])} ({reason}) as {name!r}")
    kind = "saved_model" if prefix != path and saved_model_checkpoint(path) else "checkpoint"
    return LoadedSource(kind=kind, tensors=tensors, notes=notes)


def _listing(candidates: Sequence[CheckpointVariable], two_d: dict[str, Any]) -> str:
    return ", ".join(f"{v.full_name or v.key} {two_d[v.key]}" for v in candidates)


def _named_variables(candidates: Sequence[CheckpointVariable], two_d: dict[str, Any],
                     layers: Sequence[str], prefix: str) -> list[CheckpointVariable]:
    """The one candidate each ``--layer`` name matches (key, layer, variable name or a key part)."""
    chosen: list[CheckpointVariable] = []
    for want in layers:
        hits = [
            v for v in candidates
            if want in (v.key, v.layer, v.full_name, "/".join(v.parts), readable_name(v.key))
            or want in re.split(r"[/.]", v.key)
        ]
        if len(hits) != 1:
            raise InputError(
                f"--layer {want!r} matches {len(hits)} tensors in {prefix!r}; "
                f"2-D tensors: {_listing(candidates, two_d)}"
            )
        chosen.append(hits[0])
    return chosen


def _embedding_variables(candidates: Sequence[CheckpointVariable], two_d: dict[str, Any],
                         vocab_size: int | None, prefix: str) -> tuple[list[CheckpointVariable], str]:
    """``(variables, why)``: the embeddings among ``candidates``, by variable name,
    key, ``vocab_size`` rows, or as the one tensor with clearly the most rows."""
    chosen = [v for v in candidates if v.is_embedding]
    reason = "the 'embeddings' variable of a layer"
    if not chosen:
        chosen = [v for v in candidates if "embedding" in v.key.lower()]
        reason = "named like embeddings"
    if vocab_size is not None and len(chosen) > 1:
        fits = [v for v in chosen if two_d[v.key][0] == vocab_size]
        if fits:
            chosen, reason = fits, reason + f", with {vocab_size} rows like --vocab"
    if not chosen and vocab_size is not None:
        chosen = [v for v in candidates if two_d[v.key][0] == vocab_size]
        reason = f"with {vocab_size} rows, the vocabulary size"
    if not chosen:
        by_rows = sorted(candidates, key=lambda v: -two_d[v.key][0])
        top = two_d[by_rows[0].key]
        runner_up = two_d[by_rows[1].key][0] if len(by_rows) > 1 else -1
        if top[0] > runner_up and top[0] > top[1]:
            chosen = [by_rows[0]]
            reason = "the 2-D model tensor with the most rows; choose another with --layer"
    if not chosen:
        raise InputError(
            f"no tensor in {prefix!r} looks like an embedding; pick one with --layer. "
            f"2-D tensors: {_listing(candidates, two_d)}"
        )
    return chosen, reason


def load_vocab(path: str) -> Metadata:
    """Labels from a ``SubwordTextEncoder`` vocab file or a token-per-line list."""
    if not fsio.exists(path):
        raise SourceError(f"vocab file {path!r} does not exist")
    require_regular(path, "vocab file")
    raw = fsio.read_bytes(path, max_line=MAX_LINE_BYTES, max_lines=label_lines())
    if raw.startswith(SUBWORD_HEADER.encode()):
        from tensorflow_datasets.core.deprecated.text import text_encoder

        try:
            lines, _ = text_encoder.read_lines_from_file("SubwordTextEncoder", path)
        except Exception as exc:  # noqa: BLE001
            raise SourceError(f"{path!r} is not a SubwordTextEncoder vocab file ({exc})") from None
        # each line is a quoted subword; the encoder keeps the non-empty ones
        subwords = [s for s in (ln[1:-1] for ln in lines) if s]
        return subword_metadata_from_list(subwords)
    text = raw.decode("utf-8", "surrogateescape")
    tokens = fsio.split_lines(text, strip_cr=True)
    if not tokens:
        raise SourceError(f"vocab file {path!r} is empty")
    return vocabulary_metadata(tokens)
