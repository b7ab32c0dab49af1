"""projector_tools: trained embeddings into TensorBoard's Embedding Projector.

Every point loads, with the right label, every time::

    from projector_tools import export_embeddings, subword_metadata
    export_embeddings(model, "runs/imdb", metadata=subword_metadata(encoder))
    # tensorboard --logdir runs

The public API is small: :func:`export_embeddings`, :class:`Metadata`,
:func:`subword_metadata`, :func:`vocabulary_metadata`, the label escape
functions, :class:`ProjectorCallback`, :func:`export_activations` with
:class:`ActivationSpec`, and :func:`train`.
"""

from __future__ import annotations

from typing import Any

from projector_tools.errors import (
    DatasetUnavailableError,
    InputError,
    LogdirError,
    ProjectorToolsError,
    ShapeMismatchError,
    SourceError,
)
from projector_tools.export import ExportedTensor, ExportResult, export_embeddings
from projector_tools.metadata import (
    Metadata,
    escape_label,
    parse_projector_tsv,
    subword_metadata,
    unescape_label,
    vocabulary_metadata,
)

__version__ = "0.1.0"

__all__ = [
    "DatasetUnavailableError",
    "ExportResult",
    "ExportedTensor",
    "InputError",
    "LogdirError",
    "Metadata",
    "ActivationSpec",
    "ProjectorCallback",
    "ProjectorToolsError",
    "ShapeMismatchError",
    "SourceError",
    "escape_label",
    "export_activations",
    "export_embeddings",
    "parse_projector_tsv",
    "subword_metadata",
    "train",
    "unescape_label",
    "vocabulary_metadata",
]


def __getattr__(name: str) -> Any:
    # The callback and trainer import Keras/TensorFlow; load them on first use.
    if name == "ProjectorCallback":
        from projector_tools.callback import ProjectorCallback

        return ProjectorCallback
    if name in ("export_activations", "ActivationSpec"):
        from projector_tools import activations

        return getattr(activations, name)
    if name == "train":
        from projector_tools.trainer import train

        return train
    raise AttributeError(f"module 'projector_tools' has no attribute {name!r}")
