"""The labels of a Hugging Face model's rows: its tokenizer's tokens, in id order.

A model folder holds its tokenizer as ``tokenizer.json`` (read with the
``tokenizers`` library: every id, added tokens included, and the readable
text of byte-level BPE / SentencePiece tokens) and/or ``vocab.txt`` (one
WordPiece token per line, line number = id, plus ``added_tokens.json``).
:func:`tensor_label_metadata` labels a matrix's rows with them; ids without
a token and rows beyond the tokenizer (vocabulary padding) get
:data:`UNUSED_LABEL`. :mod:`projector_tools.sources.huggingface` reads the
weights.

    >>> meta, notes = tensor_label_metadata(TokenizerVocab(("[PAD]", "the"), None, "vocab.txt"), 3)
    >>> meta.column("label"), notes
    (['[PAD]', 'the', '<unused:2>'], ['rows 2..2 lie beyond the 2 ids of vocab.txt (vocabulary padding): labelled <unused:ID>'])
"""

from __future__ import annotations

from dataclasses import dataclass

from projector_tools import fsio
from projector_tools.run.budgets import MAX_JSON_BYTES, MAX_LINE_BYTES, check_token_ids, label_lines, json_loads
from projector_tools.errors import SourceError
from projector_tools.run.metadata import Metadata

__all__ = [
    "HF_EXTRA_HINT",
    "UNUSED_LABEL",
    "TokenizerVocab",
    "read_tokenizer",
    "read_tokenizer_json",
    "read_vocab_txt",
    "tensor_label_metadata",
]

TOKENIZER_JSON = "tokenizer.json"
VOCAB_TXT = "vocab.txt"
ADDED_TOKENS_JSON = "added_tokens.json"
HF_EXTRA_HINT = "pip install 'projector_tools[hf]'"

# A row beyond the tokenizer's ids (models pad the vocabulary to a multiple
# of 64 or 128) or an id that no token has.
UNUSED_LABEL = "<unused:{id}>"


@dataclass(frozen=True)
class TokenizerVocab:
    """The tokens of a tokenizer in id order (``None`` where an id has no
    token), an optional readable form of each, and where they came from."""

    tokens: tuple[str | None, ...]
    texts: tuple[str | None, ...] | None
    origin: str


def tensor_label_metadata(vocab: TokenizerVocab, rows: int) -> tuple[Metadata | None, list[str]]:
    """Labels for a matrix of ``rows`` rows: the token of each id, with
    :data:`UNUSED_LABEL` for ids that have no token and for rows beyond the
    tokenizer (padding). ``None`` when the matrix has fewer rows than the
    tokenizer has ids: then rows are not token ids.

        >>> meta, notes = tensor_label_metadata(TokenizerVocab(("a", None, "c"), None, "v"), 4)
        >>> meta.column("label")
        ['a', '<unused:1>', 'c', '<unused:3>']
    """
    n = len(vocab.tokens)
    if rows < n:
        return None, [f"it has {rows} rows but {vocab.origin} has {n} token ids, "
                      "so its rows are not token ids"]
    notes = []
    gaps = [i for i, t in enumerate(vocab.tokens) if t is None]
    if gaps:
        notes.append(f"{len(gaps)} ids have no token in {vocab.origin} "
                     f"(first {gaps[:5]}): labelled {UNUSED_LABEL.format(id='ID')}")
    if rows > n:
        notes.append(f"rows {n}..{rows - 1} lie beyond the {n} ids of {vocab.origin} "
                     f"(vocabulary padding): labelled {UNUSED_LABEL.format(id='ID')}")
    labels = [t if t is not None else UNUSED_LABEL.format(id=i) for i, t in enumerate(vocab.tokens)]
    labels += [UNUSED_LABEL.format(id=i) for i in range(n, rows)]
    if vocab.texts is None:
        return Metadata.from_labels(labels), notes
    texts = [t if t is not None else labels[i] for i, t in enumerate(vocab.texts)]
    texts += labels[n:]
    return Metadata({"token": labels, "text": texts}), notes


def read_vocab_txt(path: str, id_limit: int | None = None) -> list[str | None]:
    """``vocab.txt``: one token per line, the line number is the id, as
    ``transformers``' ``load_vocab`` reads it (only the ``\\n`` is removed).
    Ids of ``added_tokens.json`` must be below ``id_limit`` (the most rows a tensor has)."""
    text = fsio.read_bytes(path, max_line=MAX_LINE_BYTES, max_lines=label_lines(id_limit)).decode(
        "utf-8", "surrogateescape")
    tokens: list[str | None] = list(fsio.split_lines(text))
    added_path = fsio.join(fsio.dirname(path) or ".", ADDED_TOKENS_JSON)
    if fsio.exists(added_path):  # what slow tokenizers' save_pretrained adds
        try:
            added = {str(k): int(v) for k, v in json_loads(fsio.read_bytes(added_path, limit=MAX_JSON_BYTES), added_path).items()}
        except (ValueError, TypeError, AttributeError, OverflowError) as exc:
            if isinstance(exc, SourceError):
                raise
            raise SourceError(f"{added_path!r} is not a JSON object of token -> id ({exc})") from exc
        check_token_ids(list(added.values()), id_limit, added_path)
        for token, idx in sorted(added.items(), key=lambda kv: kv[1]):
            tokens.extend([None] * (idx + 1 - len(tokens)))
            tokens[idx] = token
    return tokens


def read_tokenizer_json(path: str, id_limit: int | None = None) -> TokenizerVocab:
    """Tokens of a ``tokenizer.json`` via the ``tokenizers`` library: every id
    up to the largest (added tokens included) through ``id_to_token``, and,
    when decoding an id alone changes its text (byte-level BPE ``Ġthe`` ->
    `` the``, SentencePiece ``▁the``), that readable text as well. An id at
    or past ``id_limit`` (the most rows a tensor has) is refused before ids are enumerated."""
    try:
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise SourceError(
            f"reading {TOKENIZER_JSON} needs the 'tokenizers' package: {HF_EXTRA_HINT}"
        ) from exc
    try:
        tok = Tokenizer.from_str(fsio.read_bytes(path, limit=MAX_JSON_BYTES).decode("utf-8"))
    except SourceError:
        raise
    except Exception as exc:  # noqa: BLE001 - tokenizers raises plain Exception on bad files
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SourceError(f"{path!r} is not a tokenizer.json the 'tokenizers' library reads ({first})") from exc
    ids = tok.get_vocab(with_added_tokens=True).values()
    check_token_ids(list(ids), id_limit, path)
    n = max(ids) + 1 if ids else 0
    tokens = tuple(tok.id_to_token(i) for i in range(n))
    texts: tuple[str | None, ...] | None = None
    if tok.decoder is not None:
        present = [i for i in range(n) if tokens[i] is not None]
        decoded = tok.decode_batch([[i] for i in present], skip_special_tokens=False)
        if any(d != tokens[i] for i, d in zip(present, decoded)):
            by_id: list[str | None] = [None] * n
            for i, d in zip(present, decoded):
                by_id[i] = d
            texts = tuple(by_id)
    return TokenizerVocab(tokens, texts, TOKENIZER_JSON)


def read_tokenizer(folder: str, id_limit: int | None = None) -> tuple[TokenizerVocab | None, list[str]]:
    """The tokenizer beside the weights: ``tokenizer.json`` (with the
    ``tokenizers`` library), else ``vocab.txt``, else a SentencePiece
    ``tokenizer.model``; ``None`` when none is there."""
    tj, vt = fsio.join(folder, TOKENIZER_JSON), fsio.join(folder, VOCAB_TXT)
    has_tj, has_vt = fsio.exists(tj), fsio.exists(vt)
    if has_tj:
        try:
            return read_tokenizer_json(tj, id_limit), []
        except SourceError as exc:
            if not (has_vt and isinstance(exc.__cause__, ImportError)):
                raise
            return TokenizerVocab(tuple(read_vocab_txt(vt, id_limit)), None, VOCAB_TXT), [
                f"labels from {VOCAB_TXT}, not {TOKENIZER_JSON}: {exc}"
            ]
    if has_vt:
        return TokenizerVocab(tuple(read_vocab_txt(vt, id_limit)), None, VOCAB_TXT), []
    from projector_tools.sources.sentencepiece_labels import TOKENIZER_MODEL, read_sentencepiece

    sp = fsio.join(folder, TOKENIZER_MODEL)
    if fsio.exists(sp):
        try:
            tokens, texts = read_sentencepiece(sp)
        except ImportError as exc:
            raise SourceError(f"reading {TOKENIZER_MODEL} needs the 'sentencepiece' package: {HF_EXTRA_HINT}") from exc
        return TokenizerVocab(tokens, texts, TOKENIZER_MODEL), []
    return None, [f"no {TOKENIZER_JSON}, {VOCAB_TXT} or {TOKENIZER_MODEL} beside the weights in "
                  f"{folder!r}; rows are labelled by id"]
