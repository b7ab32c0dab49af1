"""Ctrl-C at any moment of a ``projector-tools`` command: exit 130, one line.

The command line installs an :class:`InterruptGuard` around the command it
runs. From the first SIGINT on:

* the interruption is recorded, and the main thread gets a
  ``KeyboardInterrupt`` (as with Python's own handler);
* **any** exception that then reaches the CLI counts as the interruption: a
  ``KeyboardInterrupt`` raised inside a C extension often surfaces as
  another type (``SystemError: ... bad argument to internal function``), or
  is wrapped by code that catches ``Exception``;
* the CLI prints the registered hints (``--resume`` for ``train``) and the
  one line ``projector-tools: interrupted``, flushes stdio and leaves with
  ``os._exit(130)``: worker threads (``tf.data``, prefetching, summary
  writers, executors) and exit handlers cannot keep the process alive;
* a watchdog thread, woken by the signal through ``signal.set_wakeup_fd``
  (written by the C-level handler even while the main thread is busy in C
  code), does the same after :data:`GRACE_S` seconds if the main thread has
  not got there, and at once on a second Ctrl-C;
* when a C extension holds the GIL for longer (TensorFlow's library loading
  during ``import tensorflow``), neither can run: then the console script's
  supervisor process (:mod:`projector_tools.process.supervisor`) ends the command.
  Under a supervisor the guard hands its message to it instead of printing
  it, and the supervisor prints it once the command has left.

Leaving with ``os._exit`` is safe because every file the package writes is
crash-consistent on its own: exports switch over with atomic renames (tested
with SIGKILL at random moments), ``run.json`` and the vocabulary are written
under temporary names and renamed, and TensorFlow's ``CheckpointManager``
writes a checkpoint before it updates its state file. An interruption
therefore leaves what a ``kill -9`` would: the previous state or the new
one, never a half-written file a reader or ``--resume`` would take.

Library code registers what the user should be told on an interruption with
:func:`resume_hint`; outside the CLI (a notebook) that context manager prints
the hint itself and lets the ``KeyboardInterrupt`` go on.

    >>> import contextlib, io
    >>> said = io.StringIO()
    >>> with contextlib.redirect_stderr(said):
    ...     try:
    ...         with resume_hint(lambda: "continue with: projector-tools train --logdir L --resume"):
    ...             raise KeyboardInterrupt   # Ctrl-C during the long-running work
    ...     except KeyboardInterrupt:
    ...         pass
    >>> said.getvalue()
    'continue with: projector-tools train --logdir L --resume\\n'
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from projector_tools.process.voice import EXIT_STATUS, INTERRUPTED_LINE, prefixed, say

if TYPE_CHECKING:
    from projector_tools.process.supervisor import Link

#: Seconds between the first SIGINT and the watchdog's forced exit. Short on
#: purpose: nothing on disk depends on the main thread's cleanup (see above),
#: and the watchdog itself may wait for the GIL while a C extension holds it
#: (measured: up to 1.4 s while TensorFlow's shared library loads on a 2-core
#: machine at load 8); beyond that the supervisor's deadline takes over.
GRACE_S = 0.5

_hints: list[Callable[[], str]] = []
_active: InterruptGuard | None = None


@contextlib.contextmanager
def resume_hint(make_hint: Callable[[], str]) -> Iterator[None]:
    """Register a line telling how to continue after an interruption.

    ``make_hint`` is called when the interruption is reported (possibly from
    the watchdog thread, so it must only read plain Python values). Under the
    CLI the guard prints it; without one, this prints it on a
    ``KeyboardInterrupt`` before re-raising.
    """
    _hints.append(make_hint)
    hints_changed()
    try:
        yield
    except BaseException as exc:
        guard = _active
        if guard is not None and guard.interrupted:
            guard.keep_hint(make_hint)
        elif isinstance(exc, KeyboardInterrupt):
            say(make_hint())
        raise
    finally:
        with contextlib.suppress(ValueError):
            _hints.remove(make_hint)
        hints_changed()


def hints_changed() -> None:
    """Call when what a registered hint would say has changed (the trainer
    after saving an epoch): a supervisor (:mod:`projector_tools.process.supervisor`)
    that must cut the command off prints the latest hints."""
    guard = _active
    if guard is not None and guard.link is not None:
        hints = guard._hint_lines()
        guard.link.publish("".join(line + "\n" for line in hints))


class InterruptGuard:
    """SIGINT handling for one CLI command (see the module docstring).

    ``owns_process`` (the console script, ``python -m``): leave with
    ``os._exit(130)`` and run the watchdog. Called in-process (tests, a
    notebook calling ``main([...])``) the guard only records the interruption
    and :meth:`finish` returns 130. Under a supervisor
    (:func:`projector_tools.process.supervisor.supervise`), ``link`` is the pipe to
    it: the report goes there and the supervisor prints it.
    """

    def __init__(self, owns_process: bool, grace_s: float = GRACE_S, link: Link | None = None):
        self.owns_process = owns_process
        self.link = link
        self.grace_s = grace_s
        self.first_at: float | None = None
        self.count = 0
        self._kept: list[Callable[[], str]] = []
        self._finish_lock = threading.Lock()
        self._old_handler = None
        self._old_wakeup_fd = -1
        self._pipe: tuple[int, int] | None = None
        self._installed = False
        self._done = False

    @property
    def interrupted(self) -> bool:
        return self.count > 0

    # -- installation ------------------------------------------------------
    def install(self) -> InterruptGuard:
        global _active
        if threading.current_thread() is not threading.main_thread():
            return self  # signal handlers can only be set from the main thread
        self._old_handler = signal.signal(signal.SIGINT, self._on_sigint)
        if self.owns_process:
            r, w = os.pipe()
            os.set_blocking(w, False)
            self._pipe = (r, w)
            self._old_wakeup_fd = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
            threading.Thread(target=self._watchdog, name="projector-tools-interrupt-watchdog",
                             daemon=True).start()
            # A KeyboardInterrupt raised where Python cannot propagate it (a
            # weakref callback of the import machinery, a __del__) is printed
            # as "Exception ignored in ..." and swallowed: report it instead.
            self._old_unraisablehook = sys.unraisablehook
            sys.unraisablehook = self._unraisable
        self._installed = True
        _active = self
        if self.link is not None:
            # Blocked since the fork: a Ctrl-C that came meanwhile is delivered
            # now, to the handler above. Last, as it may raise KeyboardInterrupt.
            self.link.release_signals()
        return self

    def uninstall(self) -> None:
        """Restore the previous handler (in-process use only: the CLI process
        keeps the guard until it exits, so a late Ctrl-C still ends cleanly)."""
        global _active
        if not self._installed:
            return
        signal.signal(signal.SIGINT, self._old_handler or signal.default_int_handler)
        if self._pipe is not None:
            signal.set_wakeup_fd(self._old_wakeup_fd)
            sys.unraisablehook = self._old_unraisablehook
        self._installed = False
        if _active is self:
            _active = None

    def _unraisable(self, unraisable) -> None:
        if self.interrupted and isinstance(unraisable.exc_value, KeyboardInterrupt):
            self.finish()
        self._old_unraisablehook(unraisable)

    def command_done(self) -> None:
        """The command has returned: a later Ctrl-C (during the interpreter's
        shutdown) is reported and ends the process at once."""
        self._done = True

    def _on_sigint(self, signum: int, frame: object) -> None:
        self.count += 1
        if self._done and self.owns_process:
            self.finish()
        if self.count == 1:
            self.first_at = time.monotonic()
            raise KeyboardInterrupt
        if not self.owns_process:
            raise KeyboardInterrupt
        # A second Ctrl-C in the CLI process: do not raise inside cleanup
        # code; the watchdog, woken by the same signal, ends the process.

    def _watchdog(self) -> None:
        assert self._pipe is not None
        r = self._pipe[0]
        seen = 0
        first: float | None = None
        while True:
            try:
                data = os.read(r, 64)
            except InterruptedError:
                continue
            signals = [b for b in data if b == signal.SIGINT]
            if not signals:
                continue
            seen += len(signals)
            if first is None:
                first = time.monotonic()
            if seen >= 2:
                self.finish()
            break
        remaining = first + self.grace_s - time.monotonic()
        # Wait for the main thread to report (it normally does within ms);
        # a second SIGINT during the wait ends the process at once.
        import select

        while remaining > 0:
            ready, _, _ = select.select([r], [], [], remaining)
            if ready:
                data = os.read(r, 64)
                if any(b == signal.SIGINT for b in data):
                    break
            remaining = first + self.grace_s - time.monotonic()
        self.finish()

    # -- reporting ---------------------------------------------------------
    def keep_hint(self, make_hint: Callable[[], str]) -> None:
        if make_hint not in self._kept:
            self._kept.append(make_hint)

    def _hint_lines(self) -> list[str]:
        lines = []
        for make in list(dict.fromkeys(self._kept + _hints)):
            try:
                text = make()
            except Exception as exc:  # noqa: BLE001 - a hint must never block the exit
                text = f"(hint unavailable: {type(exc).__name__})"
            if text:
                lines.append(prefixed(text))
        return lines

    def finish(self) -> int:
        """Report the interruption once; in the CLI process, leave with 130."""
        self._finish_lock.acquire()
        # The lock is never released: whoever reports first also exits; the
        # other thread blocks here until the process is gone.
        try:
            message = "\n".join(self._hint_lines() + [INTERRUPTED_LINE]) + "\n"
            if not (self.owns_process and self.link is not None and self.link.report(message)):
                _write_stderr(message)
        finally:
            if self.owns_process:
                for stream in (sys.stdout, sys.stderr):
                    with contextlib.suppress(Exception):
                        stream.flush()
                os._exit(EXIT_STATUS)
        self._finish_lock.release()
        return EXIT_STATUS


def _write_stderr(message: str) -> None:
    """Write to fd 2 directly: sys.stderr may be mid-write in the main thread."""
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    from projector_tools.process.quiet_tf import stderr_fd

    fd = stderr_fd()  # fd 2 may point at the filter of TensorFlow's import
    data = message.encode("utf-8", "replace")
    try:
        while data:
            n = os.write(fd, data)
            data = data[n:]
    except OSError:
        pass
