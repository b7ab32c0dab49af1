"""Import TensorFlow without its start-up lines on stderr (the CLI's quiet mode).

TensorFlow 2.21 prints, on a machine without a GPU::

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:1795638060.062041   14204 cudart_stub.cc:31] Could not find cuda drivers ...
    E0000 00:00:1795638067.808300   14204 cuda_platform.cc:52] failed call to cuInit: ...

and on others ``oneDNN custom operations are on ...`` or ``This TensorFlow
binary is optimized to use available CPU instructions ...``. What controls
them (measured on TF 2.21):

* ``TF_CPP_MIN_LOG_LEVEL`` (0 all, 1 no INFO, 2 no WARNING, 3 no ERROR)
  filters TensorFlow's C++ log *after* absl logging is initialised: level 3
  is needed for ``failed call to cuInit`` (an ERROR logged at the first
  operation). It changes no computation. :func:`configure_environment` sets
  it to 3 unless the user has set it.
* Lines logged before ``absl::InitializeLog()`` (the ``cudart_stub.cc``
  pair, once per shared library that carries absl) ignore every variable;
  they are written to fd 2 by C++ during ``import tensorflow``.
  :func:`import_tensorflow` therefore points fd 2 at a temporary file for the
  import and replays every line that is not a known start-up line.
* Not touched: ``TF_ENABLE_ONEDNN_OPTS=0`` would silence the oneDNN line by
  switching oneDNN off, which changes numerics and speed (its INFO line is
  already filtered by the log level); ``CUDA_VISIBLE_DEVICES`` would hide a
  user's GPUs.

``--debug`` keeps everything: no variable set, nothing filtered.

    >>> configure_environment(debug=False)
    >>> tf = import_tensorflow()
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from types import ModuleType

LOG_LEVEL_VAR = "TF_CPP_MIN_LOG_LEVEL"
QUIET_LOG_LEVEL = "3"

# absl/glog line: severity, MMDD, time, thread id, file:line]
_GLOG = re.compile(r"^(?P<sev>[IWEF])\d{4} [\d:.]+\s+\d+ (?P<file>[\w.+-]+):\d+\] ")
# Sources of start-up lines that say nothing about the user's command.
_STARTUP_FILES = re.compile(
    r"^(cudart_stub|cuda_platform|cuda_executor|cuda_diagnostics|cuda_dnn|cuda_fft|cuda_blas|"
    r"cuda_driver|gpu_device|port|cpu_feature_guard|computation_placer|dso_loader|"
    r"stream_executor_util|tf_tensorrt|xla_bridge|service)\.cc$"
)
_STARTUP_TEXT = (
    "All log messages before absl::InitializeLog() is called are written to STDERR",
    "To enable the following instructions:",
    "oneDNN custom operations are on",
)


# fd of the real stderr while fd 2 is redirected by filtered_stderr().
_real_stderr_fd: int | None = None


def stderr_fd() -> int:
    """The file descriptor of the real stderr, even during a filtered import
    (the interrupt watchdog writes its line there)."""
    return _real_stderr_fd if _real_stderr_fd is not None else 2


def configure_environment(debug: bool = False) -> None:
    """Set TensorFlow's log level for a quiet CLI (before TensorFlow is imported).

    A value the user set is kept; ``debug`` sets nothing.
    """
    if not debug:
        os.environ.setdefault(LOG_LEVEL_VAR, QUIET_LOG_LEVEL)


def is_startup_line(line: str) -> bool:
    """True for TensorFlow/absl/CUDA/oneDNN start-up chatter (never for a Python error)."""
    text = line.strip()
    if not text:
        return True
    if any(marker in text for marker in _STARTUP_TEXT):
        return True
    m = _GLOG.match(text)
    if m is None:
        return False
    # INFO and WARNING lines of the import; ERROR/FATAL only from the known
    # device-probing sources (cuInit on a machine without a GPU, duplicate
    # cuDNN/cuFFT/cuBLAS factory registration).
    return m.group("sev") in "IW" or bool(_STARTUP_FILES.match(m.group("file")))


@contextlib.contextmanager
def filtered_stderr() -> Iterator[None]:
    """Send fd 2 to a temporary file; afterwards replay all but start-up lines."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield  # no usable fd 2 (embedded interpreter): nothing to filter
        return
    global _real_stderr_fd
    with tempfile.TemporaryFile() as tmp:
        _real_stderr_fd = saved
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.flush()
            os.dup2(saved, 2)
            _real_stderr_fd = None
            os.close(saved)
            tmp.seek(0)
            captured = tmp.read().decode("utf-8", "replace")
            kept = [ln for ln in captured.splitlines(keepends=True) if not is_startup_line(ln)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def import_tensorflow(quiet: bool = True) -> ModuleType | None:
    """``import tensorflow``, its start-up lines filtered when ``quiet``.

    Returns the module, or None when TensorFlow cannot be imported (the
    caller that needs it raises its own error; ``doctor`` reports it). Every
    later ``import tensorflow`` is a lookup in ``sys.modules``.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    context = filtered_stderr() if quiet else contextlib.nullcontext()
    try:
        with context:
            import tensorflow
    except ImportError:
        return None
    return tensorflow
