"""The harness of the hostile-input tests (tests/test_hostile.py,
tests/test_hostile_formats.py): the ``cli`` fixture (a :class:`Server` that
forks each real CLI command from a process that imported TensorFlow once,
tests/helpers/hostile_server.py), the checks every case ends with
(:func:`refused`, :func:`succeeded`), what a run held before (:func:`tree`,
:func:`holds_secret`), small runs to damage, and the tracing of what a
command opened (:func:`stale`, :func:`not_opened`).

Tracing is done two ways (acceptance 2: nothing outside the folder the user named is
opened because a file inside it said so). (1) Python's audit hook records
every path the command opens through Python (open, io.open, os.open):
``not_opened`` asserts none resolves inside an outside folder or names
/etc/passwd or /etc/shadow. (2) TensorFlow's gfile and HDF5 open files in
C++, where no audit event is raised; for those, every file of the outside
folder gets an access time a year older than its modification time
(``stale``), which the kernel updates on any read under ``relatime`` (and
``strictatime``), and ``not_opened`` asserts it unchanged. stat/lstat/realpath
(how containment is decided) leave access times alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from projector_tools.export.embeddings import export_embeddings
from tests.helpers import REPO_ROOT
from tests.helpers.cli_process import cli_env

PEAK_MB = 1536  # acceptance: under 1.5 GB beyond what the process held before
SECONDS = 60
SECRET = "".join(f"secret-{i}-do-not-copy\n" for i in range(6))


class Server:
    def __init__(self, workdir):
        self.workdir, self.count = str(workdir), 0
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(REPO_ROOT, "tests", "helpers", "hostile_server.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=cli_env(), cwd=REPO_ROOT)
        assert json.loads(self.proc.stdout.readline())["ready"]

    def run(self, *argv: str, trace: bool = False):
        """The command's reply; with ``trace``, ``reply["opened"]`` lists every path
        it opened through Python (tests/helpers/hostile_server.py)."""
        self.count += 1
        out = os.path.join(self.workdir, f"{self.count}.out")
        err = os.path.join(self.workdir, f"{self.count}.err")
        opened = os.path.join(self.workdir, f"{self.count}.trace") if trace else None
        self.proc.stdin.write(json.dumps({"argv": [str(a) for a in argv], "stdout": out, "stderr": err,
                                          "seconds": SECONDS, "trace": opened}) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        with open(out) as f, open(err) as g:
            reply["stdout"], reply["stderr"] = f.read(), g.read()
        if opened:
            with open(opened) as f:
                reply["opened"] = json.load(f)
        reply["peak_mb"] = max(0, reply["maxrss_kb"] - reply["base_kb"]) // 1024
        return reply

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp("hostile-io"))
    yield server
    server.close()


def _bounded(r) -> None:
    assert r["status"] != -14, f"hung past {SECONDS} s:\n{r['stderr'][-2000:]}"
    assert r["status"] not in (134, -6), f"aborted:\n{r['stderr'][-2000:]}"
    assert "Traceback" not in r["stderr"], r["stderr"][-3000:]
    assert r["peak_mb"] < PEAK_MB, f"peak {r['peak_mb']} MB"


def refused(r, *words: str) -> str:
    """Exactly one error line, non-zero exit; the line, which must hold ``words``."""
    _bounded(r)
    errors = [ln for ln in r["stderr"].splitlines() if ln.startswith("projector-tools: error:")]
    assert r["status"] not in (0,) and len(errors) == 1, r
    for w in words:
        assert w in errors[0], errors[0]
    return errors[0]


def succeeded(r) -> None:
    _bounded(r)
    assert r["status"] == 0, r["stderr"][-2000:]


def tree(path) -> dict[str, tuple[int, int]]:
    out = {}
    for root, dirs, files in os.walk(path):
        for name in files + dirs:
            p = os.path.join(root, name)
            st = os.lstat(p)
            out[os.path.relpath(p, path)] = (st.st_size, st.st_mtime_ns)
    return out


def holds_secret(path) -> list[str]:
    found = []
    for root, _dirs, files in os.walk(path):
        for name in files:
            p = os.path.join(root, name)
            if not os.path.islink(p) and b"secret-" in open(p, "rb").read():
                found.append(p)
    return found


def _run(tmp_path, name="run", rows=6):
    run = tmp_path / name
    export_embeddings(np.arange(rows * 3, dtype="float32").reshape(rows, 3) + 1, str(run),
                      metadata=[f"w{i}" for i in range(rows)])
    return run


def _metadata_file(run) -> str:
    text = (run / "projector_config.pbtxt").read_text()
    return next(ln.split('"')[1] for ln in text.splitlines() if "metadata_path" in ln)


def _point_metadata_at(run, target: str) -> None:
    path = run / "projector_config.pbtxt"
    text = path.read_text()
    old = next(ln for ln in text.splitlines() if "metadata_path" in ln)
    path.write_text(text.replace(old, f'  metadata_path: "{target}"'))


FORBIDDEN = ("/etc/passwd", "/etc/shadow")


def _atime_tracks_reads(folder) -> bool:
    probe = os.path.join(folder, ".atime-probe")
    with open(probe, "w") as f:
        f.write("x")
    st = os.stat(probe)
    os.utime(probe, ns=(st.st_mtime_ns - YEAR_NS, st.st_mtime_ns))
    with open(probe) as f:
        f.read()
    moved = os.stat(probe).st_atime_ns != st.st_mtime_ns - YEAR_NS
    os.unlink(probe)
    return moved


YEAR_NS = 365 * 86400 * 10**9


def stale(*roots) -> dict[str, int]:
    """Give every regular file under ``roots`` an access time a year before its
    modification time; ``{path: access time}`` to compare after the command."""
    if not _atime_tracks_reads(os.path.dirname(str(roots[0]))):
        import warnings

        warnings.warn("this filesystem does not update access times: C++ reads go untraced")
        return {}
    times = {}
    for root in roots:
        for folder, _dirs, files in os.walk(root):
            for name in files:
                p = os.path.join(folder, name)
                if os.path.islink(p):
                    continue
                st = os.stat(p)
                os.utime(p, ns=(st.st_mtime_ns - YEAR_NS, st.st_mtime_ns))
                times[p] = st.st_mtime_ns - YEAR_NS
    return times


def not_opened(r, times: dict[str, int], *roots) -> None:
    """No path the command opened (audit hook) lies under ``roots`` or is in
    FORBIDDEN, and no file of ``times`` was read (its access time is unchanged)."""
    inside = [os.path.realpath(str(root)) for root in roots]
    for path in map(os.path.realpath, r["opened"]):
        assert path not in FORBIDDEN, path
        assert not any(path == f or path.startswith(f + os.sep) for f in inside), path
    read = [p for p, t in times.items() if os.stat(p).st_atime_ns != t]
    assert not read, f"read outside the folder named: {read}"
