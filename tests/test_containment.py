"""A logdir from someone else is data, not instructions: doctor, --fix,
neighbors and plot never read or copy a file outside the logdir that a run
names (absolute path, ``../``, a symlink inside the run), unless the user
names it on the command line (``--vocab FILE``)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from projector_tools.cli import main
from projector_tools.export.embeddings import export_embeddings
from projector_tools.run.containment import inside_logdir
from tests.helpers.doctor_cli import codes, doctor, doctor_json

ROWS = 6
# Something private beside the logdir, one line per row so that the old
# --fix would have taken it as labels and copied it into the run.
SECRET = "".join(f"secret-{i}-do-not-copy\n" for i in range(ROWS))


def _setup(tmp_path):
    m = np.arange(ROWS * 3, dtype="float32").reshape(ROWS, 3) + 1
    logdir = tmp_path / "received"
    run = logdir / "run"
    export_embeddings(m, str(run), metadata=[f"w{i}" for i in range(ROWS)])
    secret = tmp_path / "private" / "secret.tsv"
    secret.parent.mkdir()
    secret.write_text(SECRET)
    return logdir, run, secret


def _point_metadata_at(run, target: str) -> None:
    path = run / "projector_config.pbtxt"
    text = path.read_text()
    old = next(line for line in text.splitlines() if "metadata_path" in line)
    path.write_text(text.replace(old, f'  metadata_path: "{target}"'))


def _files_holding_secret(logdir) -> list[str]:
    found = []
    for root, _dirs, files in os.walk(logdir):  # symlinks are not followed
        for name in files:
            p = os.path.join(root, name)
            if os.path.islink(p):
                continue
            with open(p, "rb") as f:
                data = f.read()
            if b"secret-" in data:
                found.append(p)
    return found


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
def test_fix_reports_and_copies_nothing_from_outside(tmp_path, capsys, how):
    logdir, run, secret = _setup(tmp_path)
    if how == "absolute":
        _point_metadata_at(run, str(secret))
    elif how == "dotdot":
        _point_metadata_at(run, "../../private/secret.tsv")
    else:
        (run / "labels.tsv").symlink_to(secret)
        _point_metadata_at(run, "labels.tsv")

    rc, report = doctor_json(capsys, logdir)
    assert rc == 1 and "outside_logdir" in codes(report), report
    finding = next(f for f in report["findings"] if f["code"] == "outside_logdir")
    assert "metadata_path" in finding["message"] and "--vocab" in finding["fix"]
    assert "secret-" not in str(report)  # the content was not read into the report

    rc, out = doctor(capsys, logdir, "--fix")
    assert "outside the logdir" in out and "secret-" not in out
    assert _files_holding_secret(logdir) == []
    assert "outside_logdir" in codes(doctor_json(capsys, logdir)[1])

    # neighbors and plot refuse the labels with the same rule, in one line
    capsys.readouterr()
    assert main(["neighbors", str(logdir), "w1"]) == 1
    err = capsys.readouterr().err
    assert "outside the logdir" in err and "secret-" not in err
    assert main(["plot", str(logdir), "-o", str(tmp_path / "p.png")]) == 1
    assert "outside the logdir" in capsys.readouterr().err

    # Named on the command line, the same file is the user's choice.
    rc, out = doctor(capsys, logdir, "--fix", "--vocab", secret)
    assert rc == 0, out
    assert _files_holding_secret(logdir)


def test_state_file_and_config_links_out_of_the_logdir_are_not_followed(tmp_path, capsys):
    logdir, run, secret = _setup(tmp_path)
    # A second run whose state file names a checkpoint outside the logdir.
    elsewhere = tmp_path / "private" / "ckpt"
    export_embeddings(np.ones((ROWS, 3), "float32"), str(elsewhere))
    prefix = next(elsewhere.glob("embeddings-*.index")).with_suffix("")
    other = logdir / "other"
    other.mkdir()
    (other / "events.out.tfevents.0.x").write_bytes(b"")
    (other / "checkpoint").write_text(
        f'model_checkpoint_path: "{prefix}"\nall_model_checkpoint_paths: "{prefix}"\n')
    # A third run whose config is a symlink to a file outside.
    linked = logdir / "linked"
    export_embeddings(np.ones((ROWS, 3), "float32"), str(linked))
    outside_cfg = tmp_path / "private" / "projector_config.pbtxt"
    (linked / "projector_config.pbtxt").rename(outside_cfg)
    (linked / "projector_config.pbtxt").symlink_to(outside_cfg)

    rc, report = doctor_json(capsys, logdir)
    outside = [f for f in report["findings"] if f["code"] == "outside_logdir"]
    assert {f["run"] for f in outside} >= {"other", "linked"}, report
    before = (other / "checkpoint").read_text()
    rc, out = doctor(capsys, logdir, "--fix")
    assert (other / "checkpoint").read_text() == before  # not rewritten to follow it
    assert not list(other.glob("embeddings-*"))  # nothing copied in
    assert "run" in doctor_json(capsys, logdir)[1]["runs"]  # the sound run still loads


def test_inside_logdir_resolves_dotdot_and_symlinks(tmp_path):
    logdir = tmp_path / "logs"
    (logdir / "run").mkdir(parents=True)
    (tmp_path / "x").write_text("x")
    (logdir / "run" / "link").symlink_to(tmp_path / "x")
    assert inside_logdir(str(logdir / "run" / "a.tsv"), str(logdir))
    assert not inside_logdir(str(logdir / "run" / ".." / ".." / "x"), str(logdir))
    assert not inside_logdir(str(logdir / "run" / "link"), str(logdir))
    assert not inside_logdir("/etc/passwd", str(logdir))
    assert not inside_logdir(str(tmp_path / "logs-sibling" / "a"), str(logdir))
    assert inside_logdir("ram://l/run/a", "ram://l") and not inside_logdir("ram://l/../b", "ram://l")
