"""Labels ``doctor --fix`` writes: aligned to the tensor's rows, or not at all.

Nothing is guessed: labels come from the vocabulary the user names
(``--vocab``) or from a file that already has one raw line per row.

    >>> content, how = aligned_metadata(b"a\\n\\nb\\n", rows=3)
    >>> how
    'one label per raw line, escaped so that the browser keeps every row'
"""

from __future__ import annotations

import hashlib

from projector_tools import fsio
from projector_tools.run.metadata import PAD_LABEL, Metadata, parse_projector_tsv
from projector_tools.run.files import metadata_filename


def aligned_metadata(
    raw: bytes | None, rows: int, vocab: Metadata | None = None
) -> tuple[bytes | Metadata | None, str]:
    """Labels for ``rows`` rows, from the vocabulary or the raw file, or (None, why).

    Returns bytes (the file is fine as it is), a :class:`Metadata`, or None.
    Nothing is guessed: the vocabulary must have ``rows`` entries (or one
    more, with padding first, for a matrix exported without its padding row
    as TensorBoard's demo does), and a raw file must have one line per row.
    """
    if vocab is not None:
        return _from_vocab(vocab, rows)
    if raw is None:
        return None, "no metadata file"
    parsed = parse_projector_tsv(raw)
    text = raw.decode("utf-8", "surrogateescape")
    lines = fsio.split_lines(text)
    one_column = parsed.header is None or all(len(r) == 1 for r in parsed.rows)
    if len(parsed.rows) == rows and not (parsed.header is not None and one_column):
        return bytes(raw), "kept as it is"
    if len(lines) == rows:
        return Metadata.from_labels(fsio.split_lines(text, strip_cr=True)), (
            "one label per raw line, escaped so that the browser keeps every row"
        )
    if parsed.header is not None and len(lines) == rows + 1 and not one_column:
        header = lines[0].split("\t")
        cols = [ln.split("\t") for ln in lines[1:]]
        if all(len(c) == len(header) for c in cols):
            return Metadata({h: [c[i] for c in cols] for i, h in enumerate(header)}), (
                "header and one row per raw line, escaped"
            )
    return None, (
        f"the file has {len(lines)} lines ({len(parsed.rows)} as the browser counts them) for "
        f"{rows} rows; pass --vocab FILE with the model's vocabulary"
    )


def _from_vocab(vocab: Metadata, rows: int) -> tuple[Metadata | None, str]:
    if len(vocab) == rows:
        return vocab, f"{rows} labels from --vocab"
    if len(vocab) == rows + 1 and vocab.column(vocab.names[0])[0] == PAD_LABEL:
        return vocab.take(list(range(1, rows + 1))), (
            f"--vocab without its padding row 0 ({rows} labels; the matrix was saved "
            "without row 0, as TensorBoard's demo does)"
        )
    return None, (
        f"--vocab has {len(vocab)} entries but the tensor has {rows} rows; pass the "
        "vocabulary the model was trained with"
    )


def as_table(content: bytes) -> Metadata:
    """A metadata file's bytes as the browser reads them, as :class:`Metadata`."""
    parsed = parse_projector_tsv(content)
    return Metadata({c: [r[i] if i < len(r) else "" for r in parsed.rows]
                     for i, c in enumerate(parsed.columns)})


def write_metadata_file(config_dir: str, tensor: str, content: bytes | Metadata) -> str:
    """Write ``content`` as ``tensor``'s content-addressed metadata file in
    ``config_dir`` (kept when it exists); return its name, relative to the config."""
    data = content if isinstance(content, bytes) else content.to_bytes()
    name = metadata_filename(tensor, hashlib.sha1(data).hexdigest()[:12])
    path = fsio.join(config_dir, name)
    if not fsio.exists(path):
        fsio.atomic_write(path, data)
    return name
