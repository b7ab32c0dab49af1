"""A run (or candidate run) as the Projector plugin sees it, and its config's paths.

:class:`RunView` is what :mod:`projector_tools.run.pair` finds for one
(run, directory) pair; :class:`EmbeddingView` is one entry of its tensor
drop-down. Config paths resolve against the config's directory
(:func:`resolve_asset`), as the plugin resolves them.

    >>> view = RunView(name="imdb", dir="gs://b/logdir/imdb", logdir="gs://b/logdir")
    >>> resolve_asset(view, "metadata.tsv"), view.stays_inside("gs://b/other")
    ('gs://b/logdir/imdb/metadata.tsv', False)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from projector_tools import fsio
from projector_tools.run.containment import inside_logdir

OPTIMIZER_SLOT = ".OPTIMIZER_SLOT"


@dataclass
class EmbeddingView:
    """One entry of a run's tensor drop-down."""

    name: str
    shape: tuple[int, ...] | None = None
    from_config: bool = False
    in_checkpoint: bool = False
    metadata_path: str | None = None  # as written in the config
    tensor_path: str | None = None

    @property
    def rows(self) -> int | None:
        return int(self.shape[0]) if self.shape else None


@dataclass
class RunView:
    """A run (or candidate run) and what the Projector makes of it."""

    name: str
    dir: str
    config_path: str | None = None
    config: Any = None
    config_error: str | None = None
    checkpoint: str | None = None
    checkpoint_source: str | None = None  # "config", "run", "parent"
    checkpoint_error: str | None = None
    shapes: dict[str, list[int]] = field(default_factory=dict)
    embeddings: list[EmbeddingView] = field(default_factory=list)
    listed: bool = False
    has_events: bool = False
    logdir: str | None = None  # the logdir being inspected: reads stay inside it
    outside: list[tuple[str, str]] = field(default_factory=list)  # (what, path) not followed

    @property
    def config_dir(self) -> str:
        return fsio.dirname(self.config_path) if self.config_path else self.dir

    def stays_inside(self, path: str) -> bool:
        """True when ``path`` (already resolved) may be read: inside the logdir."""
        return self.logdir is None or inside_logdir(path, self.logdir)

    def note_outside(self, what: str, path: str) -> None:
        if (what, path) not in self.outside:
            self.outside.append((what, path))


def canonical_tensor_name(name: str) -> str:
    """``name`` as the plugin compares tensor names: with its ``:0`` output index."""
    return name if ":" in name else name + ":0"


def resolve_asset(view: RunView, path: str) -> str:
    """A config path resolved the way the plugin does: against the config's dir."""
    expanded = os.path.expanduser(path) if not fsio.is_remote(path) else path
    if fsio.is_absolute(expanded):
        return expanded
    return fsio.normpath(fsio.join(view.config_dir, expanded))


def asset_outside_config_dir(view: RunView, path: str) -> bool:
    """True when the plugin refuses ``path`` (it resolves outside the config dir)."""
    resolved = resolve_asset(view, path)
    if fsio.is_remote(resolved):
        base = fsio.normpath(view.config_dir).rstrip("/") + "/"
        return not resolved.startswith(base)
    base = os.path.realpath(view.config_dir)
    try:
        return os.path.commonpath([base, os.path.realpath(resolved)]) != base
    except ValueError:
        return True
