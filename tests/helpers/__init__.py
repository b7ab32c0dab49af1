"""Shared test code, imported normally: ``from tests.helpers.projector_checks import assert_run_serves``.

``cli_forkserver`` and ``gil_holder`` are also run as scripts (by path, with
the repository root on ``PYTHONPATH``; see ``cli_process.cli_env``).
"""

import os

#: The repository root: on ``PYTHONPATH`` for child interpreters, so they import ``tests.helpers``.
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HELPERS_DIR = os.path.join(REPO_ROOT, "tests", "helpers")
