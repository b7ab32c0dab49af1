"""Labels for a plain token list: one row per id, padding and OOV rows kept.

The label builder for vocabularies that are lists of tokens (Keras'
``TextVectorization.get_vocabulary()``, ``StringLookup``, a vocab file); a
``SubwordTextEncoder``'s layout is :func:`projector_tools.run.metadata.subword_metadata`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from projector_tools.errors import InputError
from projector_tools.run.metadata import PAD_LABEL, Metadata

__all__ = ["vocabulary_metadata"]


def vocabulary_metadata(tokens: Iterable[Any]) -> Metadata:
    """Metadata for a plain token list, one row per id, nothing dropped.

    Made for ``keras.layers.TextVectorization.get_vocabulary()``, whose first
    entries are ``''`` (padding) and ``'[UNK]'``: id 0 ``''`` is labelled
    ``<pad>``, other empty tokens ``\\empty``. Columns ``label``, ``id``,
    ``kind`` (``pad``/``oov``/``token``).

        >>> vocabulary_metadata(["", "[UNK]", "the"]).column("label")
        ['<pad>', '[UNK]', 'the']
    """
    if isinstance(tokens, (str, bytes)):
        raise InputError("vocabulary_metadata() needs a list of tokens, not one string")
    items = [t.decode("utf-8", "surrogateescape") if isinstance(t, bytes) else str(t)
             for t in tokens]
    labels: list[str] = []
    kinds: list[str] = []
    for i, tok in enumerate(items):
        if i == 0 and tok == "":
            labels.append(PAD_LABEL)
            kinds.append("pad")
        elif tok == "[UNK]":
            labels.append(tok)
            kinds.append("oov")
        else:
            labels.append(tok)
            kinds.append("token")
    return Metadata({"label": labels, "id": range(len(items)), "kind": kinds})
