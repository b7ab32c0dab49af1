"""Published sites of runs, cached by the run's content, for :func:`projector_tools.show`.

A run is published (:func:`projector_tools.viewer.publish.publish`) once
per content: the folder is ``<cache>/sites/<key>``, where ``key`` hashes what
the Projector would show (the config files and ``checkpoint`` state file
read whole; every other file of the run directory, of its plugin-assets
directory and each file the config names, by name, size and mtime; the
checkpoint's path), plus the tensor and view asked for and the versions of
projector_tools and TensorBoard (whose Projector JS a site copies). A new
epoch exported changes the checkpoint and the state file, so it gets a new
key; an unchanged run gets its folder back without any copying. Event files
are left out: new training scalars do not change what the Projector shows.

``<cache>`` is ``$PROJECTOR_TOOLS_CACHE_DIR``, else ``$XDG_CACHE_HOME/projector_tools``,
else ``~/.cache/projector_tools``.

    >>> import os, tempfile, numpy as np
    >>> from projector_tools import export_embeddings
    >>> run = export_embeddings(np.eye(3, dtype="float32"), tempfile.mkdtemp()).logdir
    >>> resolve_run(run).name, len(site_key(resolve_run(run)))
    ('.', 20)

Publishing goes to a temporary folder renamed into place, so a folder under
its key is always a complete site (two kernels publishing the same run at
once both end with the same, whole, folder).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from typing import Any

from projector_tools import fsio
from projector_tools.errors import InputError
from projector_tools.run.budgets import MAX_CONFIG_BYTES, MAX_JSON_BYTES, json_loads
from projector_tools.run.config import CONFIG_FILENAME
from projector_tools.run.files import PLUGIN_ASSETS, STATE_FILENAME, is_event_file
from projector_tools.run.reader import some_listed_runs
from projector_tools.run.view import RunView, resolve_asset

__all__ = ["CACHE_ENV", "Site", "cache_root", "resolve_run", "site_for", "site_key"]

#: Where cached sites go instead of the user's cache directory (tests, shared machines).
CACHE_ENV = "PROJECTOR_TOOLS_CACHE_DIR"
INDEX = "index.html"
SITE_CONFIG = "config.json"


@dataclass(frozen=True)
class Site:
    """A run's published site in the cache."""

    key: str
    folder: str
    run_dir: str
    tensor: str | None
    view: str | None
    published: bool  # False: the cached folder was reused as it was

    @property
    def index(self) -> str:
        return os.path.join(self.folder, INDEX)


def cache_root() -> str:
    """The folder that holds the cached sites (``<cache>/sites``)."""
    base = os.environ.get(CACHE_ENV)
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(xdg, "projector_tools")
    return os.path.join(base, "sites")


def run_dir_of(source: Any) -> str:
    """The directory ``source`` names: a path, an ``ExportResult`` or a
    ``ProjectorCallback`` after ``fit`` (duck-typed: no Keras import here)."""
    if hasattr(source, "last_result") and hasattr(source, "model"):
        result = source.last_result
        if result is None:
            raise InputError("the ProjectorCallback has exported nothing yet: call show() after "
                             "model.fit(..., callbacks=[callback]) has run at least one epoch")
        return str(result.logdir)
    if hasattr(source, "tensors") and hasattr(source, "logdir"):
        return str(source.logdir)
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    raise InputError(f"show() takes a run directory, a logdir, an ExportResult or a "
                     f"ProjectorCallback, not {type(source).__name__}")


def resolve_run(source: Any) -> RunView:
    """The one run ``source`` holds, as the Projector sees it: the directory
    itself when it is a run, else its only run; one clear error otherwise."""
    path = run_dir_of(source)
    if not fsio.exists(path) or not fsio.isdir(path):
        raise InputError(f"no run directory {path!r}: pass the folder an export or "
                         f"ProjectorCallback wrote")
    views = some_listed_runs(path)
    own = [v for v in views if v.name == "."]
    if own:
        return own[0]
    if len(views) == 1:
        return views[0]
    names = ", ".join(v.name for v in views)
    raise InputError(f"{path!r} holds {len(views)} runs ({names}); show() opens one: pass "
                     f"its directory")


def _config_paths(view: RunView) -> list[str]:
    """Every file the run's config names (metadata, tensor, sprite, bookmarks)."""
    paths = []
    for e in getattr(view.config, "embeddings", []):
        sprite = e.sprite.image_path if e.HasField("sprite") else ""
        for p in (e.metadata_path, e.tensor_path, sprite, e.bookmarks_path):
            if p:
                paths.append(resolve_asset(view, p))
    return paths


def _fingerprint(view: RunView) -> list[Any]:
    folders = [view.dir, fsio.join(view.dir, *PLUGIN_ASSETS)]
    whole = [fsio.join(f, n) for f in folders for n in (CONFIG_FILENAME, STATE_FILENAME)]
    out: list[Any] = [fsio.absolute(view.dir), view.checkpoint]
    for path in whole:
        out.append([path, fsio.read_bytes(path, limit=MAX_CONFIG_BYTES).decode("utf-8", "replace")
                    if fsio.exists(path) else None])
    listed = [fsio.join(f, n) for f in folders for n in sorted(fsio.listdir(f, missing_ok=True))
              if not is_event_file(n) and n not in (CONFIG_FILENAME, STATE_FILENAME)]
    if view.checkpoint:
        listed.append(view.checkpoint + ".index")
    for path in listed + _config_paths(view):
        out.append([path, fsio.stat(path)])
    return out


def site_key(view: RunView, tensor: str | None = None, site_view: str | None = None) -> str:
    """20 hex digits naming the site of ``view``'s current content (see module doc)."""
    from importlib.metadata import version

    from projector_tools import __version__

    parts = [__version__, version("tensorboard"), tensor, site_view, _fingerprint(view)]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:20]


def view_tensor(view: RunView, label: str) -> str:
    """The tensor whose bookmarks hold the view ``label``; one clear error
    naming the views there are otherwise."""
    found: dict[str, str] = {}
    for e in getattr(view.config, "embeddings", []):
        if not e.bookmarks_path:
            continue
        path = resolve_asset(view, e.bookmarks_path)
        if view.stays_inside(path) and fsio.exists(path):
            for state in _saved_views(path):
                found.setdefault(str(state.get("label")), e.tensor_name)
    if label not in found:
        names = ", ".join(repr(n) for n in found) or "none"
        raise InputError(f"run {view.dir!r} has no view {label!r}; its views: {names}")
    return found[label]


def _saved_views(path: str) -> list[dict]:
    """The states of a run's bookmarks file, read within the JSON budgets
    (``run.budgets``: size by ``stat`` first, nesting depth); one line otherwise."""
    from projector_tools.errors import SourceError

    states = json_loads(fsio.read_bytes(path, limit=MAX_JSON_BYTES), path)
    if not isinstance(states, list) or not all(isinstance(s, dict) for s in states):
        raise SourceError(f"bookmarks file {path!r} is not a list of saved views; re-export the run's views")
    return states


def _view_first(folder: str, label: str) -> None:
    """Lists bookmark ``label`` first in the published site's Bookmarks panel."""
    with open(os.path.join(folder, SITE_CONFIG), encoding="utf-8") as f:
        config = json.load(f)
    for entry in config.get("embeddings", []):
        rel = entry.get("bookmarksPath")
        path = os.path.join(folder, rel) if rel and "://" not in rel else None
        if not path or not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8") as f:
            states = json.load(f)
        if any(s.get("label") == label for s in states):
            states.sort(key=lambda s: s.get("label") != label)  # stable: the rest keep their order
            fsio.atomic_write(path, json.dumps(states))


def site_for(source: Any, *, tensor: str | None = None, view: str | None = None) -> Site:
    """The cached site of ``source``'s run, published now unless its content's
    folder is already there."""
    run = resolve_run(source)
    if view is not None and tensor is None:
        tensor = view_tensor(run, view)
    key = site_key(run, tensor, view)
    root = cache_root()
    folder = os.path.join(root, key)
    if os.path.isfile(os.path.join(folder, INDEX)):
        return Site(key, folder, run.dir, tensor, view, published=False)
    os.makedirs(root, exist_ok=True)
    tmp = os.path.join(root, f".tmp-{key}-{uuid.uuid4().hex}")
    from projector_tools.viewer.publish import publish

    try:
        publish(run.dir, tmp, tensor=tensor)
        if view is not None:
            _view_first(tmp, view)
        try:
            os.rename(tmp, folder)
        except OSError:
            if not os.path.isfile(os.path.join(folder, INDEX)):
                raise  # not another kernel's finished copy of the same site
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Site(key, folder, run.dir, tensor, view, published=True)
