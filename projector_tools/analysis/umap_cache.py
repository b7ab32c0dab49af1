"""umap-learn with its numba kernels compiled once per machine, not once per process.

umap-learn compiles its kernels with numba the first time each runs, in
every process, and marks almost none of them ``cache=True``: about 20 s of
every fresh ``layout`` went to that (docs/design.md, "Layout speed").
:func:`load_umap` imports umap-learn and turns on numba's on-disk cache for
every kernel of its modules that has not compiled yet, in a directory this
project owns (:func:`cache_dir`), so the first layout on a machine compiles
and saves them and every later process loads them (~1 s).

numba keys each cached kernel by its source file, its line and the
argument types, and rejects an entry whose source file changed, so an
upgrade of umap-learn recompiles instead of loading stale code. Kernels
numba cannot cache (closures) stay compiled per process, as before.

    >>> cache = load_umap()
    >>> cache.directory == cache_dir()
    True
    >>> cache.kernels > 0
    True
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Any

__all__ = ["CACHE_ENV", "UmapCache", "cache_dir", "load_umap"]

# where the compiled kernels go; unset: the user's cache directory
CACHE_ENV = "PROJECTOR_TOOLS_CACHE_DIR"
_MODULES = ("umap", "pynndescent")


def cache_dir() -> str:
    """The directory of this project's numba cache: ``$PROJECTOR_TOOLS_CACHE_DIR/numba``,
    else ``$XDG_CACHE_HOME/projector_tools/numba``, else ``~/.cache/projector_tools/numba``."""
    root = os.environ.get(CACHE_ENV)
    if not root:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(base, "projector_tools")
    return os.path.join(root, "numba")


@dataclasses.dataclass
class UmapCache:
    """The umap-learn module and the kernels whose compiled code goes to ``directory``."""

    module: Any
    directory: str
    dispatchers: list = dataclasses.field(default_factory=list)

    @property
    def kernels(self) -> int:
        """How many kernels are cached on disk."""
        return len(self.dispatchers)

    def counts(self) -> tuple[int, int]:
        """``(loaded, compiled)``: kernel signatures loaded from the cache and
        compiled (and saved) in this process so far."""
        hits = sum(sum(getattr(d, "_cache_hits", {}).values()) for d in self.dispatchers)
        misses = sum(sum(getattr(d, "_cache_misses", {}).values()) for d in self.dispatchers)
        return hits, misses

    def state(self, before: tuple[int, int] = (0, 0)) -> str:
        """``"warm"`` (every kernel since ``before`` loaded from disk),
        ``"cold"`` (every one compiled), ``"partly warm"``, or ``"in memory"``
        (nothing loaded or compiled: this process had them already), or
        ``"off"`` (the cache directory could not be used)."""
        if not self.dispatchers:
            return "off"
        hits, misses = (a - b for a, b in zip(self.counts(), before))
        if hits == misses == 0:
            return "in memory"
        if misses == 0:
            return "warm"
        return "cold" if hits == 0 else "partly warm"


_LOADED: UmapCache | None = None


def load_umap() -> UmapCache:
    """umap-learn, its kernels cached under :func:`cache_dir` (once per process).

    A directory already set by ``NUMBA_CACHE_DIR`` is used as it is.
    Raises ImportError when umap-learn is missing (callers turn that into
    the one-line install hint).
    """
    global _LOADED
    if _LOADED is not None:
        return _LOADED
    import umap  # noqa: F401  (imports pynndescent and numba)
    from numba import config
    from numba.core.dispatcher import Dispatcher

    directory = config.CACHE_DIR or cache_dir()
    previous = config.CACHE_DIR
    try:
        os.makedirs(directory, exist_ok=True)
        config.CACHE_DIR = directory  # read when each kernel's cache is made, below
        dispatchers = _enable(_kernels(Dispatcher))
    except OSError:
        dispatchers = []  # an unwritable cache: compile per process, as umap-learn does
    finally:
        config.CACHE_DIR = previous
    _LOADED = UmapCache(sys.modules["umap"], directory, dispatchers)
    return _LOADED


def _kernels(dispatcher_type: type) -> list:
    """Every numba kernel at the top level of umap-learn's and pynndescent's modules."""
    found: dict[int, Any] = {}
    for name, mod in list(sys.modules.items()):
        if mod is None or name.split(".")[0] not in _MODULES:
            continue
        for value in vars(mod).values():
            if isinstance(value, dispatcher_type):
                found[id(value)] = value
    return list(found.values())


def _enable(dispatchers: list) -> list:
    """Turn on caching for ``dispatchers`` not compiled yet. numba names a
    cache entry by the Python function, so of a function wrapped twice
    (umap-learn's serial and parallel epoch) only the serial one, which a
    seeded layout runs, is cached: the two must not share entries."""
    by_func: dict[Any, list] = {}
    for d in dispatchers:
        by_func.setdefault(d.py_func, []).append(d)
    enabled = []
    for group in by_func.values():
        if len(group) > 1:
            group = [d for d in group if not d.targetoptions.get("parallel")]
        if len(group) != 1 or group[0].overloads:
            continue
        try:
            group[0].enable_caching()
        except (OSError, RuntimeError):  # numba found no usable place for it
            continue
        enabled.append(group[0])
    return enabled
