"""projector_tools: trained embeddings into TensorBoard's Embedding Projector.

Every point loads, with the right label, every time::

    from projector_tools import export_embeddings, subword_metadata
    export_embeddings(model, "runs/imdb", metadata=subword_metadata(encoder))
    # tensorboard --logdir runs

The public API is small: :func:`export_embeddings`, :class:`Metadata`,
:func:`subword_metadata`, :func:`vocabulary_metadata`, :class:`View`, the label escape
functions, :class:`ProjectorCallback`, :func:`export_activations` with
:class:`ActivationSpec`, :func:`train` with :class:`TrainOptions`, :func:`build_subword_encoder`,
:func:`publish` (a run as a static Projector site) with :class:`PublishResult`, and
:func:`show` (a run's Projector in a notebook cell).
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

# The rest of the API is imported on first use (PEP 562 ``__getattr__``):
# ``import projector_tools`` stays cheap, so that the CLI installs its Ctrl-C
# handling before any heavy import (numpy, TensorFlow) starts.
_LAZY = {
    "ExportedTensor": "projector_tools.run.writer",
    "ExportResult": "projector_tools.run.writer",
    "export_embeddings": "projector_tools.export.embeddings",
    "Metadata": "projector_tools.run.metadata",
    "View": "projector_tools.run.views",
    "escape_label": "projector_tools.run.metadata",
    "parse_projector_tsv": "projector_tools.run.metadata",
    "subword_metadata": "projector_tools.run.metadata",
    "unescape_label": "projector_tools.run.metadata",
    "vocabulary_metadata": "projector_tools.run.vocab_labels",
    "ProjectorCallback": "projector_tools.export.callback",  # imports Keras/TensorFlow
    "export_activations": "projector_tools.export.activations",  # imports Keras/TensorFlow
    "ActivationSpec": "projector_tools.export.activations",
    "train": "projector_tools.training.trainer",  # imports Keras/TensorFlow
    "TrainOptions": "projector_tools.training.options",
    "build_subword_encoder": "projector_tools.training.subword_builder",  # imports tfds
    "publish": "projector_tools.viewer.publish",
    "PublishResult": "projector_tools.viewer.publish",
    "show": "projector_tools.viewer.notebook",  # the Projector in a notebook cell
}

__version__ = "0.1.0"

__all__ = [
    "ActivationSpec",
    "DatasetUnavailableError",
    "ExportResult",
    "ExportedTensor",
    "InputError",
    "LogdirError",
    "Metadata",
    "ProjectorCallback",
    "ProjectorToolsError",
    "PublishResult",
    "ShapeMismatchError",
    "TrainOptions",
    "SourceError",
    "View",
    "build_subword_encoder",
    "escape_label",
    "export_activations",
    "export_embeddings",
    "parse_projector_tsv",
    "publish",
    "show",
    "subword_metadata",
    "train",
    "unescape_label",
    "vocabulary_metadata",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'projector_tools' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
