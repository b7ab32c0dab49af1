"""The one-line refusal of ``projector-tools export``, checked in process."""

from __future__ import annotations

from projector_tools.cli import main


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
