"""Readable names for the tensors of a TensorFlow checkpoint, from its object graph.

A TF2 checkpoint (``tf.train.Checkpoint``, Keras ``save_weights`` in the TF
format, a SavedModel's ``variables/variables``) stores each tensor under the
*object path* through which it was first reached, which is rarely what the
user called it: Keras 3 models are reached through their optimizer
(``optimizer/_trainable_variables/0/.ATTRIBUTES/VARIABLE_VALUE``), exported
SavedModels through a flat list (``variables/0/...``). The checkpoint also
stores its object graph (the ``_CHECKPOINTABLE_OBJECT_GRAPH`` tensor, a
``TrackableObjectGraph`` proto) in which every variable's attribute carries
the variable's own ``full_name`` (``sequential/word_emb/embeddings``). This
module maps each checkpoint key to that name and to its layer (``word_emb``),
and tells model variables from optimizer slots. Checkpoints without an
object graph (TF1 name-based ones) fall back to :func:`readable_name`, their
optimizer slots told by their names (:func:`is_name_based_slot`).

    >>> import os, tempfile, keras, numpy as np, tensorflow as tf
    >>> model = keras.Sequential([keras.Input((4,), dtype="int32"),
    ...                           keras.layers.Embedding(20, 3, name="word_emb"),
    ...                           keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)],
    ...                          name="sequential")
    >>> model.compile("adam", "mse")
    >>> _ = model.fit(np.arange(40).reshape(10, 4) % 20, np.ones((10, 1)), epochs=1, verbose=0)
    >>> ckpt = tf.train.Checkpoint(model=model, optimizer=model.optimizer)
    >>> prefix = ckpt.save(os.path.join(tempfile.mkdtemp(), "c"))   # .../c-1
    >>> variables = checkpoint_variables(prefix)
    >>> v = variables["optimizer/_trainable_variables/0/.ATTRIBUTES/VARIABLE_VALUE"]
    >>> v.full_name, v.layer, v.is_embedding, v.is_model_variable
    ('sequential/word_emb/embeddings', 'word_emb', True, True)
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from projector_tools import fsio
from projector_tools.run.checkpoint import checkpoint_shapes, read_tensor

OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
# The variable a Keras ``Embedding`` layer (Keras 2 and 3) keeps its matrix in.
EMBEDDING_VARIABLE = "embeddings"
# A Keras 3 (and tf_keras >= 2.11) optimizer: its model variables sit under
# ``_trainable_variables``; every other list it tracks (``_variables``,
# ``_momentums``, ``_velocities``, ...) holds its own state and slots.
_KERAS_OPTIMIZER_CHILD = "_iterations"
_OPTIMIZER_MODEL_VARIABLES = "_trainable_variables"

_KERAS3_VAR = re.compile(r"(?:^|/)optimizer/_trainable_variables/(\d+)$")
_SLOT = re.compile(r"OPTIMIZER_SLOT|(?:^|/)optimizer/_variables/|^_CHECKPOINTABLE|(?:^|/)save_counter")


@dataclass(frozen=True)
class CheckpointVariable:
    """One tensor of a checkpoint and what its object graph says about it."""

    key: str
    full_name: str = ""  # the variable's own name; "" when the checkpoint records none
    is_model_variable: bool = True  # False for optimizer slots and bookkeeping

    @property
    def parts(self) -> list[str]:
        name = self.full_name[:-2] if self.full_name.endswith(":0") else self.full_name
        return [p for p in name.split("/") if p]

    @property
    def layer(self) -> str | None:
        """The owning layer (``word_emb`` for ``sequential/word_emb/embeddings``), if recorded."""
        parts = self.parts
        return parts[-2] if len(parts) >= 2 else None

    @property
    def is_embedding(self) -> bool:
        """True for the ``embeddings`` variable of a layer (what Keras' ``Embedding`` holds)."""
        return self.layer is not None and self.parts[-1] == EMBEDDING_VARIABLE

    def tensor_name(self) -> str:
        """The name to export under: the layer, else the object path (:func:`readable_name`)."""
        return self.layer or readable_name(self.key)


def readable_name(key: str) -> str:
    """A Projector-friendly name for a checkpoint key, from the key alone.

    ``layer_with_weights-0/embeddings/.ATTRIBUTES/VARIABLE_VALUE`` becomes
    ``layer_with_weights-0``; Keras 3 models, whose variables a TF checkpoint
    only reaches through the optimizer, give ``variable_<N>``. Used where the
    checkpoint has no object graph or the graph records no layer.
    """
    name = key.replace(VALUE_SUFFIX, "")
    m = _KERAS3_VAR.search(name)
    if m:
        return f"variable_{m.group(1)}"
    for suffix in ("/embeddings", "/embedding"):
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
    return name.replace(":", "_")


def is_model_key(key: str) -> bool:
    """False for keys that are optimizer slots or bookkeeping by their path alone."""
    if _SLOT.search(key):
        return False
    bare = key.replace(VALUE_SUFFIX, "")
    if "optimizer/" in bare and not _KERAS3_VAR.search(bare):
        return False
    return True


def variables_from_graph(graph_bytes: bytes) -> dict[str, CheckpointVariable]:
    """``{checkpoint key: CheckpointVariable}`` from a serialized ``TrackableObjectGraph``.

    A variable is a model variable when it is reachable from the root without
    entering an optimizer's own state: optimizer slots of ``tf.keras``
    OptimizerV2 are listed only under ``slot_variables`` (never as children),
    and a Keras optimizer's slots only under lists other than
    ``_trainable_variables``. Raises ``google.protobuf.message.DecodeError``
    on bytes that are not such a proto.
    """
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(graph_bytes)
    nodes = graph.nodes
    slots = {s.slot_variable_node_id for n in nodes for s in n.slot_variables}
    reachable: set[int] = set()
    queue = deque([0] if nodes else [])
    while queue:
        node_id = queue.popleft()
        if node_id in reachable or node_id in slots or node_id >= len(nodes):
            continue
        reachable.add(node_id)
        children = nodes[node_id].children
        names = {c.local_name for c in children}
        if _KERAS_OPTIMIZER_CHILD in names:
            children = [c for c in children if c.local_name == _OPTIMIZER_MODEL_VARIABLES]
        queue.extend(c.node_id for c in children)
    found: dict[str, CheckpointVariable] = {}
    for node_id, node in enumerate(nodes):
        for attr in node.attributes:
            if not attr.checkpoint_key:
                continue
            found[attr.checkpoint_key] = CheckpointVariable(
                key=attr.checkpoint_key,
                full_name=attr.full_name,
                is_model_variable=node_id in reachable and is_model_key(attr.checkpoint_key),
            )
    return found


def checkpoint_variables(
    prefix: str, shapes: Mapping[str, object] | None = None
) -> dict[str, CheckpointVariable]:
    """Every tensor of checkpoint ``prefix`` with its recorded name (see the module docstring).

    Keys the object graph does not describe (or every key, in a checkpoint
    without one) are judged by their path alone.
    """
    shapes = shapes if shapes is not None else checkpoint_shapes(prefix)
    keys = list(shapes)
    recorded: dict[str, CheckpointVariable] = {}
    if OBJECT_GRAPH_KEY in keys:
        from google.protobuf.message import DecodeError

        try:
            recorded = variables_from_graph(read_tensor(prefix, OBJECT_GRAPH_KEY))
        except DecodeError:
            recorded = {}
    return {
        k: recorded.get(k) or CheckpointVariable(
            key=k, is_model_variable=is_model_key(k) and not is_name_based_slot(k, shapes))
        for k in keys
        if k != OBJECT_GRAPH_KEY
    }


def is_name_based_slot(key: str, shapes: Mapping[str, object]) -> bool:
    """True for a TF1 optimizer slot: ``tf.compat.v1.train`` optimizers name each
    slot ``<variable>/<Optimizer>[_N]`` (``emb/Adam``, ``emb/Adam_1``,
    ``emb/Momentum``), the variable's own shape, beside the variable itself.

        >>> is_name_based_slot("emb/Adam_1", {"emb": [9, 4], "emb/Adam_1": [9, 4]})
        True
        >>> is_name_based_slot("dense/kernel", {"dense/kernel": [4, 2]})
        False
    """
    owner = key.rpartition("/")[0]
    return bool(owner) and owner in shapes and list(shapes[owner]) == list(shapes[key])


def unique_variables(variables: Iterable[CheckpointVariable]) -> list[CheckpointVariable]:
    """Drop second copies of one variable saved under two keys.

    A Keras 3 ``model.export()`` SavedModel tracks each variable twice
    (``variables/0/...`` and ``_all_variables/0/...``, same ``full_name``);
    the key without a private (``_``) path part is kept.
    """
    def rank(v: CheckpointVariable) -> tuple[int, str]:
        return (sum(p.startswith("_") for p in v.key.split("/")), v.key)

    kept: dict[str, CheckpointVariable] = {}
    out = []
    for v in sorted(variables, key=rank):
        if v.full_name and len(v.parts) >= 2:
            if v.full_name in kept:
                continue
            kept[v.full_name] = v
        out.append(v)
    return sorted(out, key=lambda v: v.key)


def tensor_names(variables: Iterable[CheckpointVariable]) -> dict[str, str]:
    """``{checkpoint key: export name}``: the layer name, made unique where layers share one."""
    chosen = list(variables)
    first = {v.key: v.tensor_name() for v in chosen}
    counts: dict[str, int] = {}
    for name in first.values():
        counts[name] = counts.get(name, 0) + 1
    names: dict[str, str] = {}
    for v in chosen:
        name = first[v.key]
        if counts[name] > 1:
            name = "/".join(v.parts) if v.parts else v.key.replace(VALUE_SUFFIX, "")
        names[v.key] = name.replace(":", "_")
    return names


def saved_model_checkpoint(path: str) -> str | None:
    """The variables checkpoint prefix of a SavedModel directory, or None if ``path`` is not one.

    ``model.export(dir)`` (Keras 3), ``tf.saved_model.save(obj, dir)`` and
    tf_keras ``model.save(dir)`` all keep the variables as a checkpoint at
    ``dir/variables/variables``.
    """
    import tensorflow as tf

    if fsio.basename(path) in ("saved_model.pb", "saved_model.pbtxt"):
        path = path[: -len(fsio.basename(path))].rstrip("/") or "."
    if not fsio.isdir(path) or not tf.saved_model.contains_saved_model(path):
        return None
    return fsio.join(path, tf.saved_model.VARIABLES_DIRECTORY, tf.saved_model.VARIABLES_FILENAME)
