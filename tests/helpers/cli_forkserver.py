"""Fork server for CLI processes: TensorFlow and Keras imported once, then each
``projector-tools`` command runs in a forked child, as the console script
runs it (``sys.exit(main())`` with ``sys.argv`` set, so the child owns its
process: supervisor, interrupt guard, watchdog, ``os._exit``), in its own
process group.

Protocol on stdin/stdout, one JSON object per line:
  request  {"argv": [...], "stdout": PATH, "stderr": PATH, "cwd": PATH (optional)}
  replies  {"pid": N}, later {"pid": N, "status": S} (S as subprocess's
           returncode: the exit code, or -signal)

A hung child gets its Python stack dumped into its stderr file on SIGUSR1
(faulthandler) before the test kills it.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import faulthandler  # noqa: E402
import signal  # noqa: E402

from projector_tools.process.quiet_tf import configure_environment, import_tensorflow  # noqa: E402

# What main() does before a command, once for every child.
configure_environment(debug=False)
import_tensorflow()

import keras  # noqa: E402,F401  - an import every child would pay for

import projector_tools.cli  # noqa: E402
import projector_tools.training.trainer  # noqa: E402,F401


def _child(req: dict) -> None:
    os.setpgid(0, 0)  # its own process group, as a shell runs a job (Ctrl-C to the group)
    if req.get("cwd"):
        os.chdir(req["cwd"])  # relative paths in argv, as typed in that directory
    out = os.open(req["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    err = os.open(req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.close(out)
    os.close(err)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    sys.stdin = open(0, closefd=False)
    sys.stdout = open(1, "w", buffering=1, closefd=False)
    sys.stderr = open(2, "w", buffering=1, closefd=False)
    faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.argv = ["projector-tools", *req["argv"]]
    code = 1
    try:
        code = projector_tools.cli.main()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code if isinstance(code, int) else 1)


def main() -> None:
    for line in sys.stdin:
        req = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(req)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        print(json.dumps({"pid": pid, "status": code}), flush=True)


if __name__ == "__main__":
    main()
