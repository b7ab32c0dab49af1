"""What TensorBoard's Projector shows of a tensor: at most its first 100,000 rows.

TensorBoard 2.21's Projector asks its server for ``/tensor?...&num_rows=100000``
and ``/metadata?...&num_rows=100000``: ``num_rows=${1e5}`` in
``tensorboard/plugins/projector/tf_projector_plugin/projector_binary.js`` (minified
there as ``num_rows=${IO}`` with ``var IO=1e5``); the
server slices ``tensor[:num_rows]``. A tensor of more rows loads, silently cut.
Every export path says so once (:func:`row_limit_line`, printed by
:func:`~projector_tools.export.embeddings.prepare`), ``doctor`` reports it, and
``projector-tools publish`` shows every row (the standalone Projector has no cap).

    >>> rows_dropped(150_000), rows_dropped(99_999)
    (50000, 0)
    >>> row_limit_line("embedding", 99_999) is None
    True
    >>> print(row_limit_line("embedding", 150_000))
    tensor 'embedding' has 150,000 rows; TensorBoard's Projector shows only the first 100,000 (in your row order) and drops 50,000: choose which with rows=/max_rows= (--max-rows), or see them all with `projector-tools publish RUN --out DIR`
"""

from __future__ import annotations

from projector_tools.process.voice import PROG

#: Rows TensorBoard's Projector asks for (``num_rows=${1e5}`` in its
#: ``projector_binary.js``, TensorBoard 2.21): the first ones are shown, the rest dropped.
TENSORBOARD_NUM_ROWS = 100_000


def rows_dropped(rows: int) -> int:
    """How many of ``rows`` TensorBoard's Projector leaves out (0 when all fit)."""
    return max(0, int(rows) - TENSORBOARD_NUM_ROWS)


def row_limit_line(tensor: str, rows: int) -> str | None:
    """The one line telling the user TensorBoard cuts ``tensor`` (None when it does not)."""
    dropped = rows_dropped(rows)
    if not dropped:
        return None
    return (
        f"tensor {tensor!r} has {int(rows):,} rows; TensorBoard's Projector shows only the "
        f"first {TENSORBOARD_NUM_ROWS:,} (in your row order) and drops {dropped:,}: choose which "
        f"with rows=/max_rows= (--max-rows), or see them all with `{PROG} publish RUN --out DIR`"
    )
