"""Fork server for hostile-input tests: TensorFlow imported once, each
``projector-tools`` command forked from it with a wall-clock alarm and an
address-space ceiling, and its peak resident memory (``ru_maxrss`` from
``wait4``, the command's supervised child included) reported back.

Protocol, one JSON object per line: request ``{"argv": [...], "stdout": PATH,
"stderr": PATH, "seconds": N, "trace": PATH or null}``; reply ``{"status": S,
"maxrss_kb": K, "base_kb": B}`` (S as subprocess's returncode; B the server's
own peak at fork).

With ``trace``, the command runs under a Python audit hook (``sys.addaudithook``)
that records the absolute path of every ``open`` event (``builtins.open``,
``io.open``, ``io.open_code``, ``os.open``) and every directory listed
(``os.scandir``, ``os.listdir``) and writes them, one JSON list, to
that path when the command ends. Opens made in C/C++ (TensorFlow's gfile,
HDF5) raise no audit event: the tests cover those by file access times.
"""

from __future__ import annotations

import json
import os
import resource
import sys

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

from projector_tools.process.quiet_tf import configure_environment, import_tensorflow  # noqa: E402

configure_environment(debug=False)
import_tensorflow()
import keras  # noqa: E402,F401
import projector_tools.cli  # noqa: E402

# Extra address space a command may map beyond the server's own: a guard that
# keeps a memory bomb from taking the machine (the test asserts the real peak,
# resident memory). Large enough for mmap of a 12 GB sparse safetensors file.
GUARD_BYTES = 16 << 30


def _vm_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _child(req: dict) -> None:
    os.setpgid(0, 0)
    for fd, key in ((1, "stdout"), (2, "stderr")):
        out = os.open(req[key], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, fd)
        os.close(out)
    sys.stdout = open(1, "w", buffering=1, closefd=False)
    sys.stderr = open(2, "w", buffering=1, closefd=False)
    limit = _vm_bytes() + GUARD_BYTES
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import signal

    signal.alarm(int(req.get("seconds", 60)))  # SIGALRM ends a hang: status -14
    sys.argv = ["projector-tools", *req["argv"]]
    opened: list[str] = []
    if req.get("trace"):
        sys.addaudithook(lambda event, args: _record(opened, event, args))
    code = 1
    try:
        code = projector_tools.cli.main()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        if req.get("trace"):
            found = list(opened)
            opened.clear()
            with open(req["trace"], "w") as f:
                json.dump(found, f)
        os._exit(code if isinstance(code, int) else 1)


def _record(opened: list[str], event: str, args: tuple) -> None:
    """Audit hook body: the path of an ``open`` or listing event (a file descriptor is no path)."""
    if event in ("open", "os.scandir", "os.listdir") and args and isinstance(args[0], (str, bytes, os.PathLike)):
        opened.append(os.path.abspath(os.fsdecode(args[0])))


def main() -> None:
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        pid = os.fork()
        if pid == 0:
            _child(req)
        _, status, usage = os.wait4(pid, 0)
        try:
            os.killpg(pid, 9)  # anything the command left running in its group
        except OSError:
            pass
        code = os.waitstatus_to_exitcode(status)
        print(json.dumps({"status": code, "maxrss_kb": usage.ru_maxrss, "base_kb": base}), flush=True)


if __name__ == "__main__":
    main()
