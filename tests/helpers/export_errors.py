"""``projector-tools export`` checked in process: a success (:func:`export`)
and the one-line refusal (:func:`one_line_error`)."""

from __future__ import annotations

import contextlib
import io

from projector_tools.cli import main


def export(*argv: str) -> str:
    """Run `projector-tools export` through cli.main; it must exit 0; return its stderr."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["export", *argv])
    assert code == 0, err.getvalue()
    return err.getvalue()


def one_line_error(tmp_path, capsys, path: str, *extra: str) -> str:
    """Run ``export PATH --logdir <new dir> EXTRA...``: it must exit 1 with exactly one
    ``projector-tools: error:`` line and write nothing; returns that line."""
    logdir = tmp_path / "never"
    code = main(["export", path, "--logdir", str(logdir), *extra])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("projector-tools: error: ") and err.count("\n") == 1, err
    assert not logdir.exists()
    return err
