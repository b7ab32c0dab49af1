"""``projector-tools`` processes for tests: started fresh or forked from a
server that imported TensorFlow once, waited on by their own output (never a
fixed sleep), interrupted with SIGINT, and, when one hangs, made to dump
every thread's Python stack (faulthandler on SIGUSR1) before it is killed.

Each is a supervisor (the pid we start or the server forks) running the
command in its child (see ``projector_tools.process.supervisor``); signals sent to
the pid reach the command, and killing the pid kills the command too.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest

from tests.helpers import HELPERS_DIR, REPO_ROOT

POLL_S = 0.01  # poll interval of readiness checks on a child's output files

# A fresh process that runs the CLI exactly as the console script does
# (``sys.exit(main())``), with faulthandler listening on SIGUSR1.
BOOTSTRAP = (
    "import faulthandler, signal, sys; "
    "faulthandler.register(signal.SIGUSR1, all_threads=True); "
    "from projector_tools.cli import main; sys.argv[0] = 'projector-tools'; sys.exit(main())"
)


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", PYTHONPATH=os.pathsep.join(
        [REPO_ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the CLI's own quiet mode
    env.update(extra)
    return env


@dataclass
class Outcome:
    status: int
    seconds: float  # from SIGINT to exit
    stdout: str
    stderr: str


class CliRun:
    """One CLI command whose stdout/stderr go to files in ``workdir``."""

    def __init__(self, workdir, name: str):
        self.out_path = os.path.join(str(workdir), f"{name}.out")
        self.err_path = os.path.join(str(workdir), f"{name}.err")
        self.pid = 0
        self.started = 0.0
        self.command_pid_at_signal: int | None = None

    def stdout(self) -> str:
        return _read(self.out_path)

    def stderr(self) -> str:
        return _read(self.err_path)

    def wait_for(self, pattern: str, timeout: float = 120, count: int = 1) -> float:
        """Poll stdout+stderr until ``pattern`` (regex) shows ``count`` times;
        return the time it did."""
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(rx.findall(self.stderr())) + len(rx.findall(self.stdout())) >= count:
                return time.monotonic()
            if self.finished():
                pytest.fail(f"exited before {pattern!r} was printed:\n{self.stderr()[-3000:]}")
            time.sleep(POLL_S)
        self.dump_and_kill(f"{pattern!r} was not printed within {timeout:.0f} s")

    def command_pid(self, timeout: float = 60) -> int:
        """The pid of the process running the command: the child of the
        ``projector-tools`` supervisor (``self.pid``), found through /proc."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            child = child_of(self.pid)
            if child is not None:
                return child
            if self.finished():
                pytest.fail(f"exited before its command started:\n{self.stderr()[-3000:]}")
            time.sleep(POLL_S)
        self.dump_and_kill(f"no command process under the supervisor within {timeout:.0f} s")

    def wait_for_main(self, timeout: float = 60) -> float:
        """Poll until the CLI's ``main()`` runs the command: the command
        process's interrupt watchdog thread exists (before that the
        interpreter itself is starting, a window no Python program can cover)."""
        deadline = time.monotonic() + timeout
        pid = self.command_pid(timeout)
        while time.monotonic() < deadline:
            try:
                if len(os.listdir(f"/proc/{pid}/task")) >= 2:
                    return time.monotonic()
            except FileNotFoundError:
                pass
            if self.finished():
                pytest.fail(f"exited before main() ran:\n{self.stderr()[-3000:]}")
            time.sleep(POLL_S)
        self.dump_and_kill(f"main() did not start within {timeout:.0f} s")

    def wait_for_tensorflow_loading(self, timeout: float = 120) -> float:
        """Poll until TensorFlow's main shared library is mapped into the
        command process: ``import tensorflow`` is loading it (the dynamic
        loader holds the GIL for the rest of the load, up to seconds)."""
        deadline = time.monotonic() + timeout
        pid = self.command_pid(timeout)
        while time.monotonic() < deadline:
            try:
                with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as f:
                    if "libtensorflow_cc" in f.read():
                        return time.monotonic()
            except (FileNotFoundError, ProcessLookupError):
                pass
            if self.finished():
                pytest.fail(f"exited before TensorFlow loaded:\n{self.stderr()[-3000:]}")
            time.sleep(POLL_S / 2)
        self.dump_and_kill(f"TensorFlow did not start loading within {timeout:.0f} s")

    def interrupt(self, limit: float = 2.0, hang: float = 15.0, group: bool = False) -> Outcome:
        """SIGINT to the ``projector-tools`` pid, or with ``group`` to its whole
        process group (what a terminal's Ctrl-C does); wait up to ``hang`` s
        for the exit (the test asserts ``limit``)."""
        self.command_pid_at_signal = child_of(self.pid)
        t0 = time.monotonic()
        try:
            if group:
                os.killpg(self.pid, signal.SIGINT)
            else:
                os.kill(self.pid, signal.SIGINT)
        except ProcessLookupError:
            pass  # it ended (and was reaped) just before the signal: its status tells how
        status = self.wait_exit(hang)
        if status is None:
            self.dump_and_kill(f"still alive {hang:.0f} s after SIGINT")
        return Outcome(status, time.monotonic() - t0, self.stdout(), self.stderr())

    def dump_and_kill(self, why: str) -> None:
        """Dump the child's Python stacks into its stderr, kill it, fail the test."""
        size = len(self.stderr())
        try:
            os.kill(self.pid, signal.SIGUSR1)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and len(self.stderr()) == size:
            time.sleep(POLL_S)  # wait for faulthandler's dump to land
        time.sleep(0.2)  # let the rest of a multi-thread dump follow
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.wait_exit(10)
        pytest.fail(f"{why}; its stacks and stderr:\n{self.stderr()[-8000:]}")

    # implemented by subclasses
    def finished(self) -> bool:
        raise NotImplementedError

    def wait_exit(self, timeout: float) -> int | None:
        raise NotImplementedError


class FreshRun(CliRun):
    """``projector-tools ARGS`` in a new interpreter (imports included)."""

    def __init__(self, workdir, name: str, argv: list[str], env: dict[str, str] | None = None):
        super().__init__(workdir, name)
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.started = time.monotonic()
            # Its own process group, as a shell runs a job: interrupt(group=True).
            self.proc = subprocess.Popen([sys.executable, "-c", BOOTSTRAP, *map(str, argv)],
                                         env=env or cli_env(), stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL, process_group=0)
        self.pid = self.proc.pid

    def finished(self) -> bool:
        return self.proc.poll() is not None

    def wait_exit(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None


def run_cli(workdir, name: str, argv: list[str], timeout: float = 300,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``projector-tools ARGV`` to completion; a hang shows the stacks, then fails."""
    run = FreshRun(workdir, name, argv, env)
    status = run.wait_exit(timeout)
    if status is None:
        run.dump_and_kill(f"projector-tools {' '.join(map(str, argv))} still running after {timeout:.0f} s")
    return subprocess.CompletedProcess(argv, status, run.stdout(), run.stderr())


class ForkServer:
    """A server process that imported TensorFlow, Keras and the CLI once."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HELPERS_DIR, "cli_forkserver.py")], env=cli_env(),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )

    def start(self, workdir, name: str, argv: list[str], cwd=None) -> ForkedRun:
        """``projector-tools ARGV`` forked; output files in ``workdir``, run in ``cwd``."""
        return ForkedRun(self, workdir, name, argv, cwd)

    def reply(self, timeout: float) -> dict | None:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the fork server exited")
        return json.loads(line)

    def close(self) -> None:
        """Stop the server (our own process, by its pid)."""
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.kill()
        self.proc.wait()


class ForkedRun(CliRun):
    """A command forked from a :class:`ForkServer` (TensorFlow already imported)."""

    def __init__(self, server: ForkServer, workdir, name: str, argv: list[str], cwd=None):
        super().__init__(workdir, name)
        self.server = server
        self.status: int | None = None
        req = {"argv": [str(a) for a in argv], "stdout": self.out_path, "stderr": self.err_path}
        if cwd is not None:
            req["cwd"] = str(cwd)
        self.started = time.monotonic()
        server.proc.stdin.write((json.dumps(req) + "\n").encode())
        server.proc.stdin.flush()
        first = server.reply(120)
        if first is None:
            pytest.fail("the fork server did not start the command within 120 s")
        self.pid = first["pid"]

    def finished(self) -> bool:
        if self.status is None:
            msg = self.server.reply(0)
            if msg is not None:
                self.status = msg["status"]
        return self.status is not None

    def wait_exit(self, timeout: float) -> int | None:
        if self.status is None:
            msg = self.server.reply(timeout)
            if msg is not None:
                self.status = msg["status"]
        return self.status


def child_of(pid: int) -> int | None:
    """A child process of ``pid`` (from /proc/*/stat), or None."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            return int(entry)
    return None


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""
