"""A supervised command that holds the GIL until it is killed, as TensorFlow's
``dlopen`` does for seconds during ``import tensorflow`` (then no SIGINT
handler or watchdog thread of the command can run).

    python gil_holder.py READY_FILE

Set up as ``cli.main`` sets up a command (supervisor, interrupt guard, a
registered hint), it creates READY_FILE, prints its pid, then blocks in a C
call made through ``ctypes.PyDLL`` (which keeps the GIL): a second
``pthread_mutex_lock`` of a mutex it holds, which no signal interrupts.
"""

from __future__ import annotations

import ctypes
import os
import sys

from projector_tools.process.interrupts import InterruptGuard, resume_hint
from projector_tools.process.supervisor import supervise

HINT = "continue with: gil_holder.py --resume"


def main() -> None:
    link = supervise()
    assert link is not None, "no supervisor: this process runs threads or cannot fork"
    guard = InterruptGuard(owns_process=True, link=link)
    try:
        guard.install()
        with resume_hint(lambda: HINT):
            libc = ctypes.PyDLL(None)
            mutex = ctypes.create_string_buffer(64)  # zeroed: PTHREAD_MUTEX_INITIALIZER
            libc.pthread_mutex_lock(mutex)
            print(os.getpid(), flush=True)
            open(sys.argv[1], "w").close()
            libc.pthread_mutex_lock(mutex)  # never returns, GIL held
    except BaseException:
        guard.finish()


if __name__ == "__main__":
    main()
