"""Labels from the model itself: a lookup layer's vocabulary for its Embedding.

When a ``TextVectorization``, ``StringLookup`` or ``IntegerLookup`` layer
(``output_mode="int"``) feeds an ``Embedding`` - directly, or through
layers that keep ids (``Reshape``, ``Flatten``, ...), in Sequential order or
along the functional graph's inbound nodes, across nested models - id ``i``
of the embedding is token ``get_vocabulary()[i]``, so that list labels it.
Padding and OOV rows keep their place (see
:func:`~projector_tools.run.vocab_labels.vocabulary_metadata`): a ``kind`` column
says ``pad``, ``oov`` or ``token``. An embedding with more rows than the
vocabulary (``Embedding(vocab_size + 1, ...)``) gets ``<unused id N>``
placeholders for the extra rows; one with fewer rows is labelled by id.
Where the link is not certain (two lookups, a subclassed model whose config
records no graph) nothing is guessed: a note says so and ids label the rows.

    >>> import keras
    >>> vectorize = keras.layers.TextVectorization(max_tokens=6)
    >>> vectorize.adapt(["the movie", "the film", "the end"])
    >>> model = keras.Sequential([keras.Input((1,), dtype="string"), vectorize,
    ...                           keras.layers.Embedding(6, 4, name="embedding")])
    >>> metas, notes = model_lookup_metadata(model, ["embedding"])
    >>> metas["embedding"].column("label"), metas["embedding"].column("kind")[:3]
    (['<pad>', '[UNK]', 'the', 'movie', 'film', 'end'], ['pad', 'oov', 'token'])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from projector_tools.errors import SourceError
from projector_tools.sources.keras_archive import KerasArchive
from projector_tools.sources.keras_config import ConfigLayer, is_embedding, model_layers
from projector_tools.run.metadata import Metadata
from projector_tools.run.vocab_labels import vocabulary_metadata

__all__ = ["archive_lookup_metadata", "lookup_layer_metadata", "model_lookup_metadata"]

LOOKUP_CLASSES = ("TextVectorization", "StringLookup", "IntegerLookup")
# Layers whose output holds the very ids they were given (rearranged).
ID_KEEPING_CLASSES = frozenset({
    "InputLayer", "Reshape", "Flatten", "Permute", "RepeatVector", "Cropping1D",
    "Cropping2D", "Identity", "Activation",
})
UNUSED_KIND = "unused"


def _unused_label(i: int) -> str:
    return f"<unused id {i}>"


def is_id_lookup(layer: ConfigLayer) -> bool:
    """A Keras lookup layer that maps tokens to integer ids."""
    cfg = layer.config
    return (layer.class_name in LOOKUP_CLASSES and layer.builtin
            and cfg.get("output_mode", "int") == "int" and not cfg.get("invert", False))


@dataclass(frozen=True)
class _Links:
    links: dict[str, ConfigLayer]
    notes: list[str]


def link_lookups(layers: Sequence[ConfigLayer], embeddings: dict[str, ConfigLayer]) -> _Links:
    """Which lookup layer feeds which embedding (``{tensor name: lookup}``)."""
    by_path = {layer.path: layer for layer in layers}
    lookups = [layer for layer in layers if is_id_lookup(layer)]
    if not lookups:
        return _Links({}, [])
    links: dict[str, ConfigLayer] = {}
    notes: list[str] = []
    noted: set[str] = set()
    involved: set[tuple[str, ...]] = set()
    for name, emb in embeddings.items():
        reached = _feeders(emb, by_path)
        fed_by = sorted({p for p in reached if p in by_path and is_id_lookup(by_path[p])})
        involved.update(fed_by)
        if len(fed_by) == 1 and len(reached) == 1:
            links[name] = by_path[fed_by[0]]
        elif fed_by:
            noted.add(name)
            notes.append(
                f"{name}: ids come from {_describe([by_path[p] for p in fed_by])}"
                + (" and other layers" if len(reached) > len(fed_by) else "")
                + "; cannot tell which vocabulary labels it, labelled by id"
            )
    spare = [lk for lk in lookups if lk.path not in involved]
    unlinked = [n for n in embeddings if n not in links and n not in noted]
    if spare and unlinked:
        notes.append(
            f"{_describe(spare)} feed{'s' if len(spare) == 1 else ''} no Embedding layer "
            "through layers that keep ids, so it is ambiguous which vocabulary labels "
            f"{', '.join(repr(n) for n in unlinked)}; labelled by id (pass the labels "
            "explicitly: metadata= in Python, --vocab in the CLI)"
        )
    return _Links(links, notes)


def _feeders(layer: ConfigLayer, by_path: dict[tuple[str, ...], ConfigLayer]) -> set[tuple[str, ...]]:
    """The paths where the ids ``layer`` is called on come from."""
    reached: set[tuple[str, ...]] = set()
    seen: set[tuple[str, ...]] = set()
    stack = list(layer.sources)
    while stack:
        path = stack.pop()
        if path in seen:
            continue
        seen.add(path)
        node = by_path.get(path)
        if (node is not None and node.class_name in ID_KEEPING_CLASSES and node.builtin
                and node.sources):
            stack.extend(node.sources)
        else:
            reached.add(path)
    return reached


def _describe(lookups: Sequence[ConfigLayer]) -> str:
    return ", ".join(f"{lk.class_name} {'/'.join(lk.path)!r}" for lk in lookups)


def lookup_layer_metadata(vocabulary: Sequence[Any], rows: int, lookup: ConfigLayer,
                          tensor: str) -> tuple[Metadata | None, list[str]]:
    """Labels for ``rows`` embedding rows from a lookup layer's ``get_vocabulary()``.

        >>> lookup = ConfigLayer(("vectorize",), "TextVectorization", "keras.layers", {},
        ...                      "layers/text_vectorization")
        >>> meta, notes = lookup_layer_metadata(["", "[UNK]", "the"], 4, lookup, "embedding")
        >>> meta.column("label"), meta.column("kind")
        (['<pad>', '[UNK]', 'the', '<unused id 3>'], ['pad', 'oov', 'token', 'unused'])
    """
    source = f"{lookup.class_name} {'/'.join(lookup.path)!r}"
    tokens = list(vocabulary)
    if rows < len(tokens):
        return None, [
            f"{tensor}: {rows} rows but {source} has {len(tokens)} tokens; its ids "
            "do not fit the matrix, labelled by id"
        ]
    base = vocabulary_metadata(tokens)
    labels = base.column("label")
    kinds = _kinds(lookup, len(tokens)) or base.column("kind")
    notes = [f"labels for {tensor!r} from {source} ({len(tokens)} tokens)"]
    if rows > len(tokens):
        extra = range(len(tokens), rows)
        labels += [_unused_label(i) for i in extra]
        kinds += [UNUSED_KIND] * len(extra)
        notes.append(
            f"{tensor}: {rows} rows but {len(tokens)} tokens; rows {len(tokens)}..{rows - 1} "
            f"are labelled {_unused_label(len(tokens))!r} ... (no token maps to them)"
        )
    return Metadata({"label": labels, "id": range(rows), "kind": kinds}), notes


def _kinds(lookup: ConfigLayer, n_tokens: int) -> list[str] | None:
    """``pad``/``oov``/``token`` per id from the layer's mask and OOV settings."""
    cfg = lookup.config
    if lookup.class_name == "TextVectorization":
        mask, n_oov = True, 1  # '' then '[UNK]', always
    else:
        mask = cfg.get("mask_token") is not None
        n_oov = cfg.get("num_oov_indices", 1)
        if not isinstance(n_oov, int):
            return None
    special = int(mask) + n_oov
    if special > n_tokens:
        return None
    return ["pad"] * int(mask) + ["oov"] * n_oov + ["token"] * (n_tokens - special)


# -- an in-memory model ------------------------------------------------------

def model_lookup_metadata(model: Any, names: Sequence[str]) -> tuple[dict[str, Metadata], list[str]]:
    """Labels for the tensors ``names`` of ``model`` (named as
    :func:`~projector_tools.sources.keras_layers.embedding_layers` names them) from
    the lookup layers that feed them, and notes to print."""
    import keras

    from projector_tools.sources.keras_layers import embedding_layers, layer_weights

    wanted = set(names)
    lookups = [la for la in _all_layers(model) if _live_is_lookup(la, keras)]
    if not wanted or not lookups:
        return {}, []  # the common case: nothing to link, get_config() not needed
    live_embeddings = embedding_layers(model)
    try:
        layers = model_layers({"class_name": type(model).__name__, "config": model.get_config()})
    except (NotImplementedError, TypeError, ValueError) as exc:
        layers = []
        reason = f"its get_config() failed: {exc}"
    else:
        reason = "its config records no layer graph (a subclassed model)"
    if not layers:
        return {}, [
            f"model {model.name!r} has {', '.join(repr(la.name) for la in lookups)} but "
            f"{reason}; cannot tell which Embedding it feeds, labelled by id (pass metadata=)"
        ]
    name_of = {id(layer): name for name, layer in live_embeddings.items()}
    embeddings: dict[str, ConfigLayer] = {}
    for cl in layers:
        if not is_embedding(cl):
            continue
        live = _live_layer(model, cl.path)
        name = name_of.get(id(live)) if live is not None else None
        if name in wanted:
            embeddings[name] = cl
    found = link_lookups(layers, embeddings)
    metas: dict[str, Metadata] = {}
    notes = list(found.notes)
    for name, lookup in found.links.items():
        live = _live_layer(model, lookup.path)
        if live is None:
            continue
        rows = int(layer_weights(live_embeddings[name]).shape[0])
        meta, more = lookup_layer_metadata(live.get_vocabulary(), rows, lookup, name)
        notes += more
        if meta is not None:
            metas[name] = meta
    return metas, notes


def _all_layers(model: Any) -> list[Any]:
    fn = getattr(model, "_flatten_layers", None)
    if callable(fn):
        return list(fn(include_self=False, recursive=True))
    return list(getattr(model, "layers", []))


def _live_is_lookup(layer: Any, keras: Any) -> bool:
    kinds = tuple(getattr(keras.layers, c) for c in LOOKUP_CLASSES)
    return isinstance(layer, kinds) and getattr(layer, "output_mode", "int") == "int"


def _live_layer(model: Any, path: tuple[str, ...]) -> Any:
    obj = model
    for part in path:
        try:
            obj = obj.get_layer(part)
        except (ValueError, AttributeError):
            return None
    return obj


# -- a .keras archive --------------------------------------------------------

def archive_lookup_metadata(archive: KerasArchive) -> tuple[dict[str, Metadata], list[str]]:
    """Labels for the archive's exported tensors from the lookup layers that
    feed them. The vocabulary is read by restoring only the lookup layer
    (a Keras built-in class, ``safe_mode=True``) from its config and its
    ``assets/`` files; the model itself is never built."""
    found = link_lookups(archive.layers, archive.embeddings)
    metas: dict[str, Metadata] = {}
    notes = list(found.notes)
    for name, lookup in found.links.items():
        try:
            vocabulary = _archive_vocabulary(archive, lookup)
        except SourceError:  # an asset over its ceiling, a damaged zip: the archive is refused
            raise
        except (ValueError, TypeError, OSError, ImportError) as exc:
            notes.append(
                f"{name}: cannot read the vocabulary of {lookup.class_name} "
                f"{'/'.join(lookup.path)!r} ({exc}); labelled by id"
            )
            continue
        rows = int(archive.tensors[name].shape[0])
        meta, more = lookup_layer_metadata(vocabulary, rows, lookup, name)
        notes += more
        if meta is not None:
            metas[name] = meta
    return metas, notes


def _archive_vocabulary(archive: KerasArchive, lookup: ConfigLayer) -> list[Any]:
    import keras

    config = dict(lookup.config)
    # The vocabulary does not depend on how text is standardized or split; a
    # custom function there would need the user's code, so it is left out.
    for key in ("standardize", "split"):
        if config.get(key) is not None and not isinstance(config.get(key), str):
            config[key] = None
    entry = {"module": lookup.module, "class_name": lookup.class_name, "config": config,
             "registered_name": lookup.entry.get("registered_name")}
    layer = keras.saving.deserialize_keras_object(entry, safe_mode=True)
    with archive.assets(lookup) as assets_dir:
        if assets_dir is not None:
            layer.load_assets(assets_dir)
    return list(layer.get_vocabulary())
