"""One writer at a time per run: an exclusive lock file in the run directory.

Every export into a run (:func:`~projector_tools.export_embeddings`,
``write_run``, ``prune_exports``, :class:`~projector_tools.ProjectorCallback`,
``projector-tools train/export``, ``doctor --fix``) holds the run's lock
file :data:`LOCK_FILENAME` while it writes, switches and prunes:

    >>> import os, tempfile, numpy as np
    >>> from projector_tools.run.writer import write_run
    >>> run = tempfile.mkdtemp()
    >>> with run_lock(run):                  # re-entrant within a thread
    ...     print(os.path.exists(os.path.join(run, LOCK_FILENAME)))
    ...     result = write_run(run, {"embedding": np.eye(2, dtype="float32")}, {})  # takes it again: no wait
    True
    >>> result.names, os.path.exists(os.path.join(run, LOCK_FILENAME))
    (('embedding',), False)

The lock file records who holds it (JSON: host, pid, start time, a random
token). It is created atomically where the filesystem allows it:

* local and network filesystems (``/...``, NFSv3+): ``os.open`` with
  ``O_CREAT | O_EXCL``, which succeeds for exactly one process;
* other TensorFlow filesystems (``gs://``, ``s3://``, ``ram://``):
  ``tf.io.gfile`` has no exclusive create (``GFile`` has no ``"x"`` mode,
  ``mkdir`` succeeds on an existing directory, and ``rename(...,
  overwrite=False)`` checks, then renames). The lock is written only when no
  lock file exists and is read back; a second writer that finds a lock file
  waits or is refused, and a writer that finds someone else's token in the
  lock file before it switches the run over gives up. Two writers starting
  within the same instant on an object store can still both proceed.

A lock whose holder is gone is taken over: on the same machine (same boot
and PID namespace) when its process no longer exists (or is a zombie, or
its PID was reused); from another machine when it is older than
``stale_after`` (:data:`STALE_AFTER_S`, 10 minutes: nothing is refreshed
while an export runs, so an export on another machine that takes longer
can lose its lock; it then notices before switching and fails). On a local
filesystem the takeover holds an exclusive ``flock`` on the run directory
(released by the kernel if its holder dies), reads the lock file again and
removes it only if it still holds the very bytes judged stale: a takeover
can then never remove a fresh lock, nor leave a moment without one for a
third writer to slip in (renaming the file aside first, as it once did,
left such a moment when a second taker moved a lock just created and put
it back). Elsewhere the stale file is renamed to a unique name and checked
to be the one judged stale, so of two takers only one proceeds. A live lock is waited for up to
``timeout`` seconds (:data:`DEFAULT_TIMEOUT_S`, or the environment variable
:data:`TIMEOUT_ENV`), then refused with a
:class:`~projector_tools.errors.LogdirError` naming the holder.
"""

from __future__ import annotations

import json
import os
import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

try:
    import fcntl
except ImportError:  # not on POSIX: stale locks are taken over by renaming (see _take_over)
    fcntl = None

from projector_tools import fsio
from projector_tools.errors import LogdirError, SourceError

__all__ = ["LOCK_FILENAME", "RunLock", "run_lock", "read_holder"]

# Not an event file (no "tfevents"), not an export file (no "embeddings-" /
# "metadata-" prefix), not a temporary file (no fsio.TMP_MARK).
LOCK_FILENAME = ".projector-tools.lock"
DEFAULT_TIMEOUT_S = 30.0
TIMEOUT_ENV = "PROJECTOR_TOOLS_LOCK_TIMEOUT"
STALE_AFTER_S = 600.0
# A lock file that is still empty or unparseable this long after it was
# created belongs to a writer that died between creating and filling it.
_UNREADABLE_GRACE_S = 10.0


@dataclass(frozen=True)
class Holder:
    """Who holds a run's lock, as recorded in its lock file."""

    host: str
    pid: int
    since: float
    token: str
    machine: str = ""
    proc_start: int | None = None

    def describe(self) -> str:
        when = datetime.fromtimestamp(self.since, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        if self.pid < 0:
            return f"an unknown writer (unreadable lock file, since {when})"
        return f"pid {self.pid} on {self.host}, since {when}"


def lock_path(run_dir: str) -> str:
    return fsio.join(str(run_dir), LOCK_FILENAME)


def read_holder(run_dir: str) -> Holder | None:
    """The holder of ``run_dir``'s lock, or None when the run is not locked."""
    found = _read(lock_path(run_dir))
    return None if found is None else found[1]


class RunLock:
    """The lock of one run directory, held by this thread (see :func:`run_lock`)."""

    def __init__(self, run_dir: str, *, timeout: float | None = None,
                 stale_after: float = STALE_AFTER_S):
        self.run_dir = str(run_dir)
        self.path = lock_path(self.run_dir)
        self.timeout = _default_timeout() if timeout is None else float(timeout)
        self.stale_after = float(stale_after)
        self.token = uuid.uuid4().hex
        self._depth = 0
        self._thread: int | None = None
        self._outer: RunLock | None = None
        self._pid = os.getpid()  # a forked child holds nothing

    # -- context manager, re-entrant within one thread ---------------------
    def __enter__(self) -> RunLock:
        key = _key(self.run_dir)
        me = threading.get_ident()
        with _REGISTRY_LOCK:
            held = _HELD.get(key)
        if held is not None and held._thread == me and held._pid == os.getpid():
            held._depth += 1
            self._outer = held
            return held
        self._outer = None
        self.acquire()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._outer is not None:
            self._outer._depth -= 1
            return
        self.release()

    # -- the lock itself ----------------------------------------------------
    def acquire(self) -> None:
        """Create the lock file, waiting up to ``timeout`` for a live holder."""
        fsio.ensure_dir(self.run_dir)
        deadline = time.monotonic() + self.timeout
        delay = 0.002
        while True:
            if self._try_create():
                break
            found = _read(self.path)
            if found is None:
                continue  # released meanwhile: try again at once
            raw, holder = found
            if self._is_stale(holder):
                self._take_over(raw)
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                raise LogdirError(
                    f"run {self.run_dir!r} is being written by another process ({holder.describe()}); "
                    f"waited {self.timeout:g} s. Try again when it is done (or set {TIMEOUT_ENV} to "
                    f"wait longer); if that process is gone, delete {self.path!r}"
                )
            # jittered, short polls: a writer exporting in a loop leaves gaps of milliseconds
            time.sleep(min(left, delay * random.uniform(0.5, 1.5)))
            delay = min(delay * 2, 0.05)
        self._depth = 1
        self._thread = threading.get_ident()
        self._pid = os.getpid()
        with _REGISTRY_LOCK:
            _HELD[_key(self.run_dir)] = self

    def still_held(self) -> bool:
        """True while the lock file is still this lock's (nobody took it over)."""
        found = _read(self.path)
        return found is not None and found[1].token == self.token

    def check(self) -> None:
        """Raise :class:`LogdirError` if another writer has taken this lock over."""
        if not self.still_held():
            holder = read_holder(self.run_dir)
            who = holder.describe() if holder else "nobody now"
            raise LogdirError(
                f"lost the lock of run {self.run_dir!r} to another writer ({who}) while "
                "exporting; nothing was switched over. Export again when it is done"
            )

    def release(self) -> None:
        with _REGISTRY_LOCK:
            if _HELD.get(_key(self.run_dir)) is self:
                del _HELD[_key(self.run_dir)]
        self._depth = 0
        self._thread = None
        if self.still_held():
            fsio.remove(self.path)

    # -- helpers -------------------------------------------------------------
    def _payload(self) -> bytes:
        me = _this_process()
        return json.dumps({
            "tool": "projector_tools",
            "host": me["host"],
            "pid": os.getpid(),
            "since": time.time(),
            "since_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "token": self.token,
            "machine": me["machine"],
            "proc_start": me["proc_start"],
        }).encode("utf-8")

    def _try_create(self) -> bool:
        payload = self._payload()
        if not fsio.is_remote(self.path):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                return False
            except OSError as exc:
                raise LogdirError(f"cannot create the lock file {self.path!r}: {exc.strerror}") from exc
            try:
                os.write(fd, payload)
            finally:
                os.close(fd)
            return True
        # No exclusive create on these filesystems: write only when absent,
        # then read back (the later of two racing writers wins the file).
        if fsio.exists(self.path):
            return False
        fsio.atomic_write(self.path, payload)
        found = _read(self.path)
        return found is not None and found[1].token == self.token

    def _is_stale(self, holder: Holder) -> bool:
        if holder.pid < 0:  # empty or unparseable: a writer died while creating it?
            return time.time() - holder.since > _UNREADABLE_GRACE_S
        me = _this_process()
        if holder.machine and holder.machine == me["machine"]:
            return not _process_alive(holder.pid, holder.proc_start)
        return time.time() - holder.since > self.stale_after

    def _take_over(self, stale_raw: bytes) -> None:
        """Remove the stale lock file whose bytes are ``stale_raw``, never another."""
        if not fsio.is_remote(self.path) and fcntl is not None:
            fd = os.open(self.run_dir, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # takers one at a time; released on exit or death
                found = _read(self.path)
                if found is not None and found[0] == stale_raw:
                    fsio.remove(self.path)  # still the stale file: nobody else removes it now
            finally:
                os.close(fd)  # releases the flock
            return
        # No flock: move the file aside; only the process that moves the very
        # file it judged stale deletes it, a fresh lock moved by mistake goes back.
        aside = f"{self.path}{fsio.TMP_MARK}stale-{uuid.uuid4().hex}"
        try:
            fsio.gfile().rename(self.path, aside, overwrite=False)
        except fsio.errors().NotFoundError:
            return  # another process took it over first
        except fsio.errors().OpError as exc:
            raise LogdirError(f"cannot take over the stale lock {self.path!r}: {exc}") from exc
        moved = _read(aside)
        if moved is not None and moved[0] != stale_raw:
            _put_back(aside, self.path)
            return
        fsio.remove(aside)


def run_lock(run_dir: str, *, timeout: float | None = None,
             stale_after: float = STALE_AFTER_S) -> RunLock:
    """The lock of run ``run_dir``, to use as ``with run_lock(run_dir): ...``.

    Within one thread the lock is re-entrant; another thread or process waits
    up to ``timeout`` seconds (default :data:`DEFAULT_TIMEOUT_S`, or
    ``$PROJECTOR_TOOLS_LOCK_TIMEOUT``) and then gets a :class:`LogdirError`
    naming the holder.
    """
    return RunLock(run_dir, timeout=timeout, stale_after=stale_after)


# --------------------------------------------------------------------------

_HELD: dict[str, RunLock] = {}
_REGISTRY_LOCK = threading.Lock()
_PROCESS: dict[str, dict] = {}


def _key(run_dir: str) -> str:
    return run_dir.rstrip("/") if fsio.is_remote(run_dir) else os.path.realpath(run_dir)


def _default_timeout() -> float:
    raw = os.environ.get(TIMEOUT_ENV)
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        return float(raw)
    except ValueError as exc:
        raise LogdirError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds") from exc


def _read(path: str) -> tuple[bytes, Holder] | None:
    """(raw bytes, holder) of lock file ``path``; None when there is none."""
    from projector_tools.run.budgets import MAX_STATE_BYTES, json_loads

    g = fsio.gfile()
    try:  # a stranger's run may hold any lock file: 1 GiB was read whole, deep JSON a RecursionError
        raw = fsio.read_bytes(path, limit=MAX_STATE_BYTES)
    except fsio.errors().NotFoundError:
        return None
    except fsio.errors().OpError as exc:
        raise LogdirError(f"cannot read the lock file {path!r}: {exc}") from exc
    try:
        data = json_loads(raw, path)
        return raw, Holder(
            host=str(data["host"]), pid=int(data["pid"]), since=float(data["since"]),
            token=str(data["token"]), machine=str(data.get("machine") or ""),
            proc_start=data.get("proc_start"),
        )
    except (SourceError, ValueError, KeyError, TypeError):
        # Being written right now, or left empty by a writer that died.
        try:
            since = g.stat(path).mtime_nsec / 1e9
        except fsio.errors().NotFoundError:
            return None
        return raw, Holder(host="?", pid=-1, since=since, token="")


def _put_back(aside: str, path: str) -> None:
    if not fsio.is_remote(path):
        try:
            os.link(aside, path)  # atomic, never over a lock created meanwhile
        except FileExistsError:
            pass
        fsio.remove(aside)
        return
    try:
        fsio.gfile().rename(aside, path, overwrite=False)
    except fsio.errors().AlreadyExistsError:
        fsio.remove(aside)


def _this_process() -> dict:
    """Host name, a machine id valid for PID checks, and this process's start time."""
    if _PROCESS.get("pid") != os.getpid():  # recomputed after a fork
        _PROCESS.clear()
        _PROCESS.update(pid=os.getpid(), host=socket.gethostname(),
                        machine=_machine_id(), proc_start=_proc_start(os.getpid()))
    return _PROCESS


def _machine_id() -> str:
    """Boot id + PID namespace (Linux): PIDs are comparable only within both."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
        return f"{boot}/{os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return f"host:{socket.gethostname()}"


def _proc_start(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (Linux), to detect PID reuse."""
    stat = _proc_stat(pid)
    return int(stat[19]) if stat else None


def _proc_stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # fields from 3 (state) on


def _process_alive(pid: int, proc_start: int | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    stat = _proc_stat(pid)
    if stat is None:
        return True  # no /proc: trust kill()
    if stat[0] in ("Z", "X"):
        return False  # exited, not yet reaped
    return proc_start is None or int(stat[19]) == int(proc_start)
