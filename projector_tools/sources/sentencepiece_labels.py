"""The tokens of a SentencePiece ``tokenizer.model``, in id order, for a model folder.

Read with the ``sentencepiece`` library (the ``hf`` extra), as the model's
own tokenizer reads it: one piece per id (``id_to_piece``), and a readable
``text`` for each piece whose decoded form differs (``▁the`` -> ``the``),
as ``read_tokenizer_json`` in :mod:`projector_tools.sources.huggingface_labels`
gives for ``tokenizer.json`` (which calls this module). Control, unknown and byte pieces (``<s>``,
``<unk>``, ``<0x41>``) keep their piece as text: decoding them alone gives
an empty string or a placeholder, not what the row is.

    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> read_sentencepiece(os.path.join(folder, "tokenizer.model"))
    Traceback (most recent call last):
    ...
    projector_tools.errors.SourceError: ... is not a SentencePiece model ...
"""

from __future__ import annotations

from projector_tools import fsio
from projector_tools.errors import SourceError

__all__ = ["TOKENIZER_MODEL", "read_sentencepiece"]

TOKENIZER_MODEL = "tokenizer.model"


def read_sentencepiece(path: str) -> tuple[tuple[str, ...], tuple[str, ...] | None]:
    """``(pieces by id, readable texts or None when all equal their pieces)``.

    Raises ``ImportError`` without the ``sentencepiece`` package (the caller names the extra).
    """
    import sentencepiece

    from projector_tools.run.budgets import MAX_JSON_BYTES

    processor = sentencepiece.SentencePieceProcessor()
    try:  # real SentencePiece models are a few MB: refused by size before the read
        processor.LoadFromSerializedProto(fsio.read_bytes(path, limit=MAX_JSON_BYTES))
    except SourceError:
        raise
    except Exception as exc:  # noqa: BLE001 - RuntimeError/OSError/tf NotFoundError alike
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SourceError(f"{path!r} is not a SentencePiece model the 'sentencepiece' library reads ({first})") from None
    n = processor.get_piece_size()
    tokens = tuple(processor.id_to_piece(i) for i in range(n))
    texts = tuple(
        tokens[i] if processor.is_control(i) or processor.is_unknown(i) or processor.is_byte(i)
        else processor.decode([i])
        for i in range(n)
    )
    return tokens, (texts if texts != tokens else None)
