"""What every source reader returns: :class:`LoadedSource`.

It lives here, apart from :mod:`~projector_tools.sources.dispatch` (which
picks the reader), so that readers import it without importing the
dispatcher that imports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from projector_tools.run.metadata import Metadata

__all__ = ["LoadedSource"]


@dataclass
class LoadedSource:
    """Tensors read from a source, with labels when the source carries them."""

    kind: str
    tensors: dict[str, Any]
    metadata: dict[str, Metadata] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    model: Any = None
