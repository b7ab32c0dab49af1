"""A thin supervisor process, so that Ctrl-C is honoured within 2 s at any moment.

Inside one process no Python code runs while a C extension holds the GIL,
and one does for seconds: ``dlopen`` of TensorFlow's main library during
``import tensorflow`` (1-4 s on a loaded machine), so neither the SIGINT
handler nor the watchdog of :mod:`projector_tools.process.interrupts` can end the
command in time. The console script therefore forks at once, before numpy or
TensorFlow is imported (no thread exists yet, so the fork is safe):

* the **child** runs the command exactly as before (interrupt guard,
  watchdog, ``os._exit(130)``), except that it does not print the interrupt
  line itself: it sends it, hints included, to the supervisor through a pipe
  (:class:`Link`), and keeps the supervisor told of its current hints
  (``--resume ...``) while it runs, so that they are known even if it can
  no longer speak;
* the **supervisor** (the original pid, stdlib only, one thread, never
  holding anything heavy) waits for the child, forwards SIGINT, SIGTERM,
  SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to it, and leaves as the child left:
  the same exit status, or death by the same signal (so a caller sees what it
  saw without a supervisor: ``-15`` from ``subprocess``, ``143`` in a shell).
  After a SIGINT it waits :data:`DEADLINE_S` for the child; a child still
  alive then is ``SIGKILL``-ed. Either way the supervisor, and only it,
  prints the interrupt line (the child's report, or the hints it last
  published plus ``projector-tools: interrupted``), after the child is gone,
  so the line is the last one, printed once, and the status is 130.

Killing the child is safe because every file the package writes is
crash-consistent (see :mod:`projector_tools.process.interrupts`): a SIGKILL leaves
what the watchdog's ``os._exit`` leaves.

A terminal's Ctrl-C signals the whole foreground process group, so the child
gets SIGINT twice (from the terminal and forwarded); the guard treats the
second as "leave at once", which is what the interruption asks for anyway.
The child stays in the supervisor's process group (it reads and writes the
terminal as before) and, on Linux, dies with the supervisor
(``PR_SET_PDEATHSIG``), so killing the pid a job manager knows kills the
work too. Without ``fork`` (Windows), or when the process already runs other
threads, there is no supervisor and the command runs in-process as before.

Example, as :func:`projector_tools.cli.main` does it before anything heavy is
imported (not a doctest: it forks the calling process, and the supervisor
never returns)::

    link = supervise()   # None: no supervisor; the supervisor process never returns from here
    link.publish("projector-tools: continue with: ... --resume")
    link.report("projector-tools: interrupted\\n")   # then os._exit(130)
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time

from projector_tools.process.voice import EXIT_STATUS, INTERRUPTED_LINE

#: Seconds from the supervisor's first SIGINT to its SIGKILL of a child that
#: has not left. The child normally leaves within milliseconds; its own
#: watchdog gives up after 0.5 s unless the GIL is held. What is left of the
#: 2 s promise (0.8 s) covers the kill, the reaping of a large process and a
#: loaded machine's scheduling.
DEADLINE_S = 1.2
#: Signals passed on to the command.
FORWARDED = tuple(
    getattr(signal, name)
    for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")
    if hasattr(signal, name)
)
# Records on the pipe: one kind byte, UTF-8 text, a NUL.
_HINTS = b"H"  # what to print if the command is cut off now (hint lines)
_REPORT = b"I"  # the command was interrupted: print this and leave with 130
_END = b"\0"


class Link:
    """The command's end of the pipe to its supervisor."""

    def __init__(self, fd: int, saved_mask: set[int]):
        self._fd = fd
        self._saved_mask = saved_mask
        self._published: str | None = None

    def release_signals(self) -> None:
        """Unblock the forwarded signals (blocked since before the fork); call
        once the command's own SIGINT handler is in place."""
        signal.pthread_sigmask(signal.SIG_SETMASK, self._saved_mask)

    def publish(self, hints: str) -> None:
        """Tell the supervisor what to print before the interrupt line if it
        has to cut the command off (the hint lines, or "")."""
        if hints != self._published and self._send(_HINTS, hints):
            self._published = hints

    def report(self, message: str) -> bool:
        """Hand the whole interrupt message to the supervisor, which prints it
        once the command has left. False if the supervisor is gone (then the
        caller prints it)."""
        return self._send(_REPORT, message)

    def _send(self, kind: bytes, text: str) -> bool:
        data = kind + text.encode("utf-8", "replace").replace(_END, b"") + _END
        try:
            while data:
                data = data[os.write(self._fd, data):]
        except OSError:
            return False
        return True


def supervise() -> Link | None:
    """Fork the command off; the calling (supervisor) process never returns.

    Returns the child's :class:`Link`, or None where there is no supervisor
    (no ``fork``, other threads already running, fork failed): the command
    then runs in this process as it always did.
    """
    if not hasattr(os, "fork") or not _single_threaded():
        return None
    saved_mask = signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    supervisor = os.getpid()
    r, w = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        signal.pthread_sigmask(signal.SIG_SETMASK, saved_mask)
        return None
    if pid == 0:
        os.close(r)
        _die_with(supervisor)
        return Link(w, saved_mask)  # signals stay blocked until the guard is installed
    os.close(w)
    _Supervisor(pid, r, saved_mask).run()
    raise AssertionError("unreachable")  # pragma: no cover - run() leaves the process


def _single_threaded() -> bool:
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        import threading

        return threading.active_count() == 1


def _die_with(parent: int) -> None:
    """Linux: SIGKILL this process when the supervisor dies (it may be killed
    by a job manager that only knows its pid)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the supervisor died before prctl took effect
        os.kill(os.getpid(), signal.SIGKILL)


class _Supervisor:
    def __init__(self, pid: int, fd: int, saved_mask: set[int]):
        self.pid = pid
        self.fd = fd
        self.saved_mask = saved_mask
        self.buffer = b""
        self.hints = ""
        self.report: str | None = None
        self.interrupted_at: float | None = None
        self.killed = False
        self.reaped = False  # then self.pid may name another process: send nothing

    # -- the loop --------------------------------------------------------
    def run(self) -> None:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        os.set_blocking(self.fd, False)
        for signum in FORWARDED + (signal.SIGCHLD,):
            signal.signal(signum, self._on_signal)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        signal.pthread_sigmask(signal.SIG_SETMASK, self.saved_mask)
        watched = [self.fd, wake_r]
        while True:
            status = self._reap(block=False)
            if status is not None:
                self._leave(status)
            timeout = None
            if self.interrupted_at is not None:
                timeout = self.interrupted_at + DEADLINE_S - time.monotonic()
                if timeout <= 0:
                    self._kill_child()
                    self._leave(self._reap(block=True))
            ready, _, _ = select.select(watched, [], [], timeout)
            if wake_r in ready:
                _drain(wake_r)
            if self.fd in ready and not self._read_messages():
                watched.remove(self.fd)  # the child closed its end: SIGCHLD follows

    def _on_signal(self, signum: int, frame: object) -> None:
        if signum == signal.SIGCHLD:
            return  # only wakes the loop (through the wakeup fd)
        if signum == signal.SIGINT and self.interrupted_at is None:
            self.interrupted_at = time.monotonic()
        if self.reaped:
            return
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            pass

    # -- the child -------------------------------------------------------
    def _read_messages(self) -> bool:
        """Read what the child sent; False at end of file."""
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not data:
                return False
            self.buffer += data
            *records, self.buffer = self.buffer.split(_END)
            for rec in records:
                text = rec[1:].decode("utf-8", "replace")
                if rec[:1] == _HINTS:
                    self.hints = text
                elif rec[:1] == _REPORT:
                    self.report = text

    def _reap(self, block: bool) -> int | None:
        while True:
            try:
                pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
            except ChildProcessError:
                return 0  # cannot happen: nobody else reaps our child
            if pid == 0:
                return None
            if os.WIFEXITED(status) or os.WIFSIGNALED(status):
                self.reaped = True
                return status

    def _kill_child(self) -> None:
        self.killed = True
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    # -- leaving ---------------------------------------------------------
    def _leave(self, status: int) -> None:
        self._read_messages()  # what the child wrote before it left
        died_of = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        interrupted = self.report is not None or died_of == signal.SIGINT or (
            self.killed and died_of == signal.SIGKILL
        )
        if interrupted:
            message = self.report
            if message is None:
                lines = [ln for ln in self.hints.splitlines() if ln] + [INTERRUPTED_LINE]
                message = "\n".join(lines) + "\n"
            _write(2, message)
            os._exit(EXIT_STATUS)
        if died_of is None:
            os._exit(os.WEXITSTATUS(status))
        # Die of the same signal, so that the caller sees what it would have
        # seen without a supervisor (without a core dump of the supervisor).
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        except (ImportError, ValueError, OSError):
            pass
        signal.set_wakeup_fd(-1)
        signal.signal(died_of, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {died_of})
        os.kill(os.getpid(), died_of)
        os._exit(128 + died_of)  # a signal whose default is not to terminate


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except OSError:
        pass


def _write(fd: int, message: str) -> None:
    data = message.encode("utf-8", "replace")
    try:
        while data:
            data = data[os.write(fd, data):]
    except OSError:
        pass
