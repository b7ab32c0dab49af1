"""Assertions about what a real TensorBoard serves for a Projector run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from projector_tools.run.metadata import escape_label, parse_projector_tsv
from projector_tools.viewer.tensorboard import TensorBoardServer


def assert_run_serves(
    tb: TensorBoardServer,
    run: str,
    expected: Mapping[str, np.ndarray],
    labels: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """The run lists exactly ``expected`` tensors, serves them bit for bit, and
    serves one metadata row per matrix row (first column == ``labels``)."""
    runs = tb.wait_for_projector_runs()
    assert run in runs, f"run {run!r} not in {runs}"
    info = tb.info(run)
    served = {e["tensorName"]: [int(x) for x in e["tensorShape"]] for e in info["embeddings"]}
    assert served == {k: list(v.shape) for k, v in expected.items()}, served
    for name, matrix in expected.items():
        data = tb.tensor(run, name)
        want = np.ascontiguousarray(matrix, dtype=np.float32).ravel()
        assert data.tobytes() == want.tobytes(), f"tensor {name!r} differs"
        if labels is not None and name in labels:
            parsed = parse_projector_tsv(tb.metadata(run, name))
            assert len(parsed.rows) == matrix.shape[0], (len(parsed.rows), matrix.shape[0])
            first = [row[0] for row in parsed.rows]
            assert first == [escape_label(x) for x in labels[name]]
