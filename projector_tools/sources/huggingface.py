"""Hugging Face models: the input token embedding, labelled by the tokenizer.

A Hugging Face model directory (as ``save_pretrained`` writes it and the Hub
serves it) holds its weights as ``model.safetensors``, or as shards listed in
``model.safetensors.index.json``, and its tokenizer as ``tokenizer.json``
(the ``tokenizers`` library) and/or ``vocab.txt`` (one WordPiece token per
line, line number = id). This module finds the input token-embedding matrix
among the weights by its key (``bert.embeddings.word_embeddings.weight``,
``transformer.wte.weight``, ``model.embed_tokens.weight``, ``shared.weight``,
...) and labels each row with the token of that id, added tokens included.

    >>> import os, tempfile, numpy as np
    >>> from safetensors.numpy import save_file
    >>> folder = tempfile.mkdtemp()   # a miniature bert-base-uncased/
    >>> with open(os.path.join(folder, "vocab.txt"), "w") as f:
    ...     _ = f.write("[PAD]\\n[UNK]\\n[CLS]\\n[SEP]\\nthe\\nmovie\\n##s\\n")
    >>> save_file({"bert.embeddings.word_embeddings.weight": np.ones((8, 4), "float32"),
    ...            "bert.embeddings.position_embeddings.weight": np.ones((16, 4), "float32")},
    ...           os.path.join(folder, "model.safetensors"))
    >>> src = load_huggingface(folder)
    >>> src.tensors["word_embeddings"].shape
    (8, 4)
    >>> src.metadata["word_embeddings"].column("label")
    ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'the', 'movie', '##s', '<unused:7>']

Weights are read with the ``safetensors`` package's numpy API (no PyTorch),
one tensor at a time; ``bfloat16`` and ``float8`` tensors come back as
``ml_dtypes`` arrays (``ml_dtypes`` ships with TensorFlow) and are converted
to float32. Both packages are the optional extra ``projector_tools[hf]``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from projector_tools import fsio
from projector_tools.run.containment import require_inside_source
from projector_tools.run.budgets import MAX_JSON_BYTES, json_loads, require_regular
from projector_tools.errors import InputError, SourceError
from projector_tools.run.metadata import Metadata
from projector_tools.sources.base import LoadedSource
from projector_tools.sources.huggingface_labels import (
    HF_EXTRA_HINT,
    UNUSED_LABEL,
    TokenizerVocab,
    read_tokenizer,
    tensor_label_metadata,
)

__all__ = [
    "HF_EXTRA_HINT",
    "INDEX_FILE",
    "WEIGHTS_FILE",
    "UNUSED_LABEL",
    "TokenizerVocab",
    "is_huggingface_source",
    "load_huggingface",
    "pick_token_embedding",
    "tensor_label_metadata",
    "tensor_name_for_key",
]

WEIGHTS_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"

# Key suffixes of input token embeddings, most specific first. ``shared``
# (T5, BART, Pegasus, Marian) is the one matrix that encoder and decoder
# share, so it wins over their ``embed_tokens`` (old saves keep all three).
TOKEN_EMBEDDING_SUFFIXES = (
    "shared.weight",              # T5, BART, mBART, Pegasus, Marian
    "word_embeddings.weight",     # BERT, RoBERTa, DistilBERT, ALBERT, ELECTRA, XLM-R, DeBERTa, BLOOM, Falcon
    "wte.weight",                 # GPT-2, GPT-J, CodeGen, MPT, Phi-1
    "embed_tokens.weight",        # LLaMA, Mistral, Qwen, Gemma, OPT, encoder/decoder of T5 and BART
    "tok_embeddings.weight",      # original LLaMA layout, InternLM2, ModernBERT
    "embed_in.weight",            # GPT-NeoX, Pythia
    "token_embedding.weight",     # CLIP text model
    "word_emb.weight",
)

def is_huggingface_source(path: str) -> bool:
    """True for a ``.safetensors`` file, a ``model.safetensors.index.json``,
    or a directory holding either ``model.safetensors`` or that index."""
    lower = path.lower().rstrip("/")
    if lower.endswith(".safetensors") or lower.endswith(".safetensors.index.json"):
        return True
    return fsio.isdir(path) and (
        fsio.exists(fsio.join(path, WEIGHTS_FILE)) or fsio.exists(fsio.join(path, INDEX_FILE))
    )


# --------------------------------------------------------------------------
# Pure core: choosing the tensor, naming it, labelling its rows


def tensor_name_for_key(key: str) -> str:
    """The Projector name of a weight: its last module name.

        >>> tensor_name_for_key("bert.embeddings.word_embeddings.weight")
        'word_embeddings'
        >>> tensor_name_for_key("transformer.wte.weight")
        'wte'
    """
    bare = key[: -len(".weight")] if key.endswith(".weight") else key
    return bare.rsplit(".", 1)[-1].replace(":", "_") or key


def _has_suffix(key: str, suffix: str) -> bool:
    return key == suffix or key.endswith("." + suffix)


def pick_token_embedding(
    shapes: Mapping[str, Sequence[int]], vocab_size: int | None = None
) -> tuple[str, str]:
    """``(key, reason)`` of the input token embedding among ``shapes``.

    Known key suffixes first (:data:`TOKEN_EMBEDDING_SUFFIXES`, in order),
    then a 2-D tensor with one row per token id (``vocab_size``). Raises
    :class:`InputError` listing the candidates when it cannot decide.

        >>> pick_token_embedding({"wte.weight": (50257, 768), "wpe.weight": (1024, 768)})
        ('wte.weight', 'the input token embedding: key ends with wte.weight')
    """
    two_d = {k: tuple(s) for k, s in shapes.items() if len(s) == 2}
    if not two_d:
        raise InputError("the weights hold no 2-D tensor to show")
    for suffix in TOKEN_EMBEDDING_SUFFIXES:
        hits = sorted(k for k in two_d if _has_suffix(k, suffix))
        if len(hits) == 1:
            return hits[0], f"the input token embedding: key ends with {suffix}"
        if len(hits) > 1:
            raise InputError(
                f"several tensors look like the token embedding ({_listing(two_d, hits)}); "
                "pick one with --layer KEY"
            )
    if vocab_size is not None:
        # one row per token id, or padded up to the next multiple of 128
        padded = -(-vocab_size // 128) * 128
        for fits in (lambda r: r == vocab_size, lambda r: vocab_size < r <= padded):
            hits = sorted(k for k, s in two_d.items() if fits(s[0]) and not k.endswith("lm_head.weight"))
            if len(hits) == 1:
                return hits[0], f"the 2-D tensor with {two_d[hits[0]][0]} rows: one per token id ({vocab_size})"
            if len(hits) > 1:
                raise InputError(
                    f"several tensors have one row per token id ({_listing(two_d, hits)}); "
                    "pick one with --layer KEY"
                )
    raise InputError(
        "no tensor has a known token-embedding key"
        + (f" or {vocab_size} rows (one per token)" if vocab_size is not None else "")
        + f"; pick one with --layer KEY. 2-D tensors: {_listing(two_d, sorted(two_d))}"
    )


def _listing(shapes: Mapping[str, Sequence[int]], keys: Sequence[str], most: int = 12) -> str:
    shown = ", ".join(f"{k} {list(shapes[k])}" for k in keys[:most])
    return shown + (f", ... ({len(keys) - most} more)" if len(keys) > most else "")


def select_keys(shapes: Mapping[str, Sequence[int]], wanted: Sequence[str]) -> list[str]:
    """Keys named by ``--layer``: the full key, the key without ``.weight``,
    or the module name (``word_embeddings``) when only one tensor has it."""
    chosen = []
    for want in wanted:
        if want in shapes:
            hits = [want]
        elif want + ".weight" in shapes:
            hits = [want + ".weight"]
        else:
            hits = sorted(k for k in shapes if tensor_name_for_key(k) == want)
        if len(hits) != 1:
            two_d = sorted(k for k, s in shapes.items() if len(s) == 2)
            raise InputError(
                f"--layer {want!r} matches {len(hits)} tensors"
                + (f" ({', '.join(hits)}); give the full key" if hits else "")
                + f". 2-D tensors: {_listing(shapes, two_d)}"
            )
        if len(shapes[hits[0]]) != 2:
            raise InputError(
                f"--layer {want!r} is {hits[0]} with shape {list(shapes[hits[0]])}; "
                "the Projector needs a 2-D tensor"
            )
        chosen.append(hits[0])
    return chosen


# --------------------------------------------------------------------------
# Weights (safetensors, read one tensor at a time)


def _safetensors():
    """``(safe_open, SafetensorError)``, or the one-line install hint."""
    try:
        from safetensors import SafetensorError, safe_open
    except ImportError as exc:
        raise SourceError(
            f"reading Hugging Face safetensors needs the 'safetensors' package: {HF_EXTRA_HINT}"
        ) from exc
    try:
        import ml_dtypes  # noqa: F401 - registers bfloat16/float8 with numpy for safetensors
    except ImportError:  # pragma: no cover - ml_dtypes ships with TensorFlow
        pass
    return safe_open, SafetensorError


@contextlib.contextmanager
def _local(path: str) -> Iterator[str]:
    """``path`` itself, or a local copy of a remote (``gs://``...) file:
    ``safe_open`` maps a local file."""
    if not fsio.is_remote(path):
        yield path
        return
    tmp = tempfile.mkdtemp(prefix="pt-hf-")
    local = fsio.join(tmp, fsio.basename(path))
    try:
        fsio.gfile().copy(path, local, overwrite=True)
        yield local
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _shards(path: str, allow_outside: bool = False) -> tuple[str, dict[str, str]]:
    """``(folder, {key: weights file})`` for a directory, a ``.safetensors``
    file or a ``model.safetensors.index.json`` (whose shards must stay in its
    folder unless ``allow_outside``)."""
    if not path.lower().endswith((".safetensors", ".json")) and fsio.isdir(path):
        index = fsio.join(path, INDEX_FILE)
        if not fsio.exists(index):
            return path, {"": fsio.join(path, WEIGHTS_FILE)}
        path = index
    folder = fsio.dirname(path) or "."
    if not path.lower().endswith(".json"):
        return folder, {"": path}
    try:
        weight_map = json_loads(fsio.read_bytes(path, limit=MAX_JSON_BYTES), path)["weight_map"]
        shards = {str(k): fsio.join(folder, v) for k, v in weight_map.items()}
    except (KeyError, TypeError, AttributeError) as exc:
        raise SourceError(
            f"{path!r} is not a safetensors index (a JSON object with a 'weight_map' of key -> shard file)"
        ) from exc
    for file in set(shards.values()):
        require_inside_source(file, folder, f"shard named by {path!r}", allow_outside)
    return folder, shards


def _read_shapes(files: Sequence[str]) -> dict[str, tuple[tuple[int, ...], str]]:
    """``{key: (shape, file)}`` from the headers only."""
    safe_open, safetensor_error = _safetensors()
    out: dict[str, tuple[tuple[int, ...], str]] = {}
    for file in files:
        if not fsio.exists(file):
            raise SourceError(f"weights file {file!r} does not exist (named by the index beside it)")
        require_regular(file, "weights file")
        try:
            with _local(file) as local, safe_open(local, framework="np") as f:
                for key in f.keys():
                    out[key] = (tuple(f.get_slice(key).get_shape()), file)
        except (OSError, safetensor_error) as exc:
            raise SourceError(f"{file!r} is not a readable safetensors file ({exc})") from exc
    return out


def _read_tensor(file: str, key: str, max_rows: int | None = None) -> np.ndarray:
    """Tensor ``key`` of ``file``; only its first ``max_rows`` rows are read, and
    what is read is checked against the 2 GB limit before it is."""
    from projector_tools.run.matrix import check_size

    safe_open, _ = _safetensors()
    with _local(file) as local, safe_open(local, framework="np") as f:
        try:
            part = f.get_slice(key)
            shape = tuple(part.get_shape())
            if shape and max_rows is not None and max_rows < shape[0]:
                shape = (max(1, max_rows),) + shape[1:]
            check_size(shape, key)
            arr = part[: shape[0]] if shape else f.get_tensor(key)
        except TypeError as exc:  # a dtype numpy does not know (bfloat16 without ml_dtypes)
            dtype = f.get_slice(key).get_dtype()
            raise SourceError(
                f"{key} in {file!r} is {dtype}, which numpy reads only with the "
                f"'ml_dtypes' package: {HF_EXTRA_HINT}"
            ) from exc
    if arr.dtype.kind in "iub":
        raise InputError(
            f"{key} in {file!r} holds {arr.dtype} values (a quantized model?); "
            "the Projector needs float weights"
        )
    return np.asarray(arr, dtype=np.float32)


# --------------------------------------------------------------------------
# The loader


def load_huggingface(path: str, layers: Sequence[str] | None = None,
                     vocab_size: int | None = None, max_rows: int | None = None,
                     allow_outside: bool = False) -> LoadedSource:
    """The token embedding (or the ``layers`` keys) of a Hugging Face model
    at ``path``, labelled by its tokenizer, as a ``LoadedSource``. With
    ``max_rows`` only the first rows are read; shards an index names outside
    its folder are refused unless ``allow_outside``."""
    folder, key_files = _shards(path, allow_outside)
    files = sorted(set(key_files.values()))
    shapes_files = _read_shapes(files)
    shapes = {k: s for k, (s, _) in shapes_files.items()}
    most = max((s[0] for s in shapes.values() if s), default=None)
    vocab, notes = read_tokenizer(folder, most)
    n_ids = len(vocab.tokens) if vocab is not None else vocab_size
    if layers:
        keys = select_keys(shapes, layers)
        reason = "named with --layer"
    else:
        key, reason = pick_token_embedding(shapes, n_ids)
        keys = [key]
    names = [tensor_name_for_key(k) for k in keys]
    if len(set(names)) != len(names):  # two modules of one name: use the keys
        names = [(k[: -len(".weight")] if k.endswith(".weight") else k).replace(":", "_") for k in keys]
    tensors: dict[str, Any] = {}
    metadata: dict[str, Metadata] = {}
    out_notes = []
    for key, name in zip(keys, names):
        out_notes.append(f"picked {key} {list(shapes[key])} ({reason}) as {name!r}")
        tensors[name] = _read_tensor(shapes_files[key][1], key, max_rows)
        rows = tensors[name].shape[0] if tensors[name].ndim else 0
        if vocab is not None:
            cut = vocab if rows == shapes[key][0] else dataclasses.replace(  # --max-rows: the first ids
                vocab, tokens=vocab.tokens[:rows], texts=vocab.texts[:rows] if vocab.texts else None)
            meta, label_notes = tensor_label_metadata(cut, rows)
            if meta is not None:
                metadata[name] = meta
                out_notes.append(f"{name}: labelled by the {len(vocab.tokens)} token ids of {vocab.origin}")
            out_notes.extend(f"{name}: {n}" for n in label_notes)
    return LoadedSource(kind="huggingface", tensors=tensors, metadata=metadata, notes=out_notes + notes)

