"""Explain why a logdir shows an empty Projector or shifted labels, and fix it.

    projector-tools doctor LOGDIR [--json]
    projector-tools doctor LOGDIR --fix [--vocab FILE]

Every run is inspected as TensorBoard 2.21's Projector inspects it (see
:mod:`projector_tools.run.reader`), and each problem is reported per run
and tensor, in plain words, with its fix. Exit status: 0 when everything
loads with its labels, 1 when something is wrong, 2 when LOGDIR does not
exist.

``--fix`` repairs what can be repaired without guessing, and never deletes
a user's file: what it replaces is kept beside it as ``NAME.bak-<time>``.

    >>> import os, tempfile, numpy as np
    >>> from projector_tools import export_embeddings
    >>> logdir = tempfile.mkdtemp()
    >>> result = export_embeddings(np.eye(3, dtype="float32"), os.path.join(logdir, "run"),
    ...                            metadata=["a", "b", "c"])
    >>> with open(result["embedding"].metadata_path, "a") as f:   # a label too many
    ...     _ = f.write("d\\n")
    >>> report = diagnose(logdir)
    >>> report.ok, [f.code for f in report.findings]
    (False, ['metadata_rows'])
    >>> vocab = os.path.join(logdir, "vocab.txt")
    >>> with open(vocab, "w") as f:
    ...     _ = f.write("x\\ny\\nz\\n")
    >>> actions, notes = fix(logdir, vocab_path=vocab)   # labels from vocab.txt, one per row
    >>> diagnose(logdir).ok
    True

The package, one idea per module:

* :mod:`~projector_tools.doctor.report`: the findings (``Finding``, ``Report``);
* :mod:`~projector_tools.doctor.checks`: the checks of a logdir's runs, and
  :mod:`~projector_tools.doctor.tensor_checks` those of a run's tensors;
* :mod:`~projector_tools.doctor.repairs`: ``--fix``, with
  :mod:`~projector_tools.doctor.labels` (aligned labels) and
  :mod:`~projector_tools.doctor.backups` (nothing is deleted);
* :mod:`~projector_tools.doctor.keras_files`: Keras 3's ``.weights.h5``
  embeddings and model graph, converted into a Projector run;
* :mod:`~projector_tools.doctor.command`: the command line and the printed report.
"""

from __future__ import annotations

from projector_tools.doctor.backups import backup
from projector_tools.doctor.checks import diagnose, tensorflow_problem
from projector_tools.doctor.command import configure_parser, print_report, run_cli
from projector_tools.doctor.keras_files import convert_keras_h5, find_keras_h5, keras_model_embeddings
from projector_tools.doctor.labels import aligned_metadata
from projector_tools.doctor.repairs import fix
from projector_tools.doctor.report import ERROR, INFO, WARNING, Finding, Report, TensorSummary

__all__ = [
    "ERROR", "INFO", "WARNING", "Finding", "Report", "TensorSummary",
    "aligned_metadata", "backup", "configure_parser", "convert_keras_h5", "diagnose",
    "find_keras_h5", "fix", "keras_model_embeddings", "print_report", "run_cli",
    "tensorflow_problem",
]
