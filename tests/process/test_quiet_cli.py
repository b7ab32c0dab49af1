"""A quiet CLI: on success a command writes no stderr line but the tool's own
``projector-tools: ...`` notes; TensorFlow/absl/CUDA/oneDNN start-up lines
appear only with ``--debug``. Real processes of the console script (or
``python -m projector_tools.cli``), in the environment a user has: no
TF_CPP_MIN_LOG_LEVEL, no CUDA_VISIBLE_DEVICES."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from projector_tools.process.quiet_tf import filtered_stderr, is_startup_line
from tests.helpers.cli_process import cli_env

pytestmark = pytest.mark.slow


def cli(*args: str) -> subprocess.CompletedProcess:
    script = os.path.join(os.path.dirname(sys.executable), "projector-tools")
    cmd = [script] if os.path.exists(script) else [sys.executable, "-m", "projector_tools.cli"]
    env = cli_env()
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return subprocess.run(cmd + list(args), env=env, capture_output=True, text=True, timeout=300)


def foreign_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if not ln.startswith("projector-tools: ")]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("quiet")
    vectors = tmp / "vectors.npy"
    np.save(vectors, np.random.default_rng(0).normal(size=(50, 8)).astype("float32"))
    logdir = tmp / "runs" / "npy"
    res = cli("export", str(vectors), "--logdir", str(logdir))
    return vectors, logdir, res


def test_export_writes_only_its_own_notes(exported):
    _vectors, logdir, res = exported
    assert res.returncode == 0, res.stderr
    assert "exported embedding 50x8" in res.stdout
    assert foreign_lines(res.stderr) == [], res.stderr
    assert "no labels in the source" in res.stderr  # the tool's own note stays


def test_doctor_writes_nothing_on_stderr(exported):
    _vectors, logdir, _ = exported
    res = cli("doctor", str(logdir.parent))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "OK: every run loads" in res.stdout
    assert foreign_lines(res.stderr) == [], res.stderr


def test_debug_shows_what_the_filter_hides_and_nothing_else(exported, tmp_path):
    vectors, _, _ = exported
    res = cli("--debug", "export", str(vectors), "--logdir", str(tmp_path / "run"))
    assert res.returncode == 0, res.stderr
    # --debug sets no log level and filters nothing: whatever TensorFlow prints
    # at start-up on this machine is there, and it is exactly what quiet mode drops.
    assert all(is_startup_line(ln) for ln in foreign_lines(res.stderr)), res.stderr


def test_filter_drops_startup_lines_written_by_c_code_and_replays_the_rest(capfd):
    startup = (
        b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        b"I0000 00:00:1795638060.062041   14204 cudart_stub.cc:31] Could not find cuda drivers "
        b"on your machine, GPU will not be used.\n"
        b"E0000 00:00:1795638067.808300   14204 cuda_platform.cc:52] failed call to cuInit: "
        b"INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n"
    )
    with filtered_stderr():
        os.write(2, startup)  # as C++ writes it: to fd 2, below sys.stderr
        os.write(2, b"E0000 00:00:1.0   1 checkpoint_reader.cc:9] a real failure\n")
        print("a Python warning", file=sys.stderr)
    err = capfd.readouterr().err
    assert "cuda" not in err.lower() and "absl" not in err
    assert "a real failure" in err and "a Python warning" in err


def test_a_subcommand_that_cannot_be_imported_is_listed_and_says_what_to_install(tmp_path):
    """`layout`'s module made unimportable (sys.modules entry None, as Python
    does for a blocked import): `layout` is still in --help, and using it is
    one line naming the command and the extra to install, exit 1."""
    boot = ("import sys; sys.modules['projector_tools.export.layouts'] = None; "
            "from projector_tools.cli import main; sys.exit(main(sys.argv[1:]))")
    env = cli_env()
    helped = subprocess.run([sys.executable, "-c", boot, "--help"], env=env, capture_output=True,
                            text=True, timeout=300)
    assert helped.returncode == 0 and "layout" in helped.stdout, helped.stdout
    used = subprocess.run([sys.executable, "-c", boot, "layout", str(tmp_path), "--method", "pca"],
                          env=env, capture_output=True, text=True, timeout=300)
    lines = [ln for ln in used.stderr.splitlines() if ln.strip() and not is_startup_line(ln)]
    assert used.returncode == 1, (used.returncode, used.stderr)
    assert len(lines) == 1 and "projector-tools layout is unavailable" in lines[0], used.stderr
    assert "pip install 'projector_tools[layout]'" in lines[0], lines
