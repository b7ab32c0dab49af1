"""A published site served as a person serves it: ``python -m http.server`` on 127.0.0.1.

Started in its own process group, ready when the site's ``config.json``
answers (polled, no fixed sleeps), stopped by its process id. For tests,
benchmarks and a quick look at a site::

    >>> import os, tempfile, urllib.request, numpy as np
    >>> from projector_tools import export_embeddings, publish
    >>> tmp = tempfile.mkdtemp()
    >>> _ = export_embeddings(np.eye(3, dtype="float32"), os.path.join(tmp, "run"))
    >>> site = publish(os.path.join(tmp, "run"), os.path.join(tmp, "site"))
    >>> with StaticServer(site.out) as server:
    ...     urllib.request.urlopen(server.url + "/config.json").status
    200
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from typing import Any

from projector_tools.errors import ProjectorToolsError
from projector_tools.viewer.site_config import CONFIG_JSON
from projector_tools.viewer.tensorboard import free_port


class StaticServer:
    """Run ``python -m http.server -d DIR --bind 127.0.0.1 PORT``."""

    def __init__(self, directory: str, *, timeout: float = 60.0):
        self.directory = str(directory)
        self.timeout = timeout
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self) -> "StaticServer":
        self.port = free_port()
        self._log = tempfile.TemporaryFile()
        cmd = [sys.executable, "-m", "http.server", "-d", self.directory, "--bind", "127.0.0.1", str(self.port)]
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + self.timeout
        while True:
            if self.proc.poll() is not None:
                raise ProjectorToolsError(f"http.server exited early:\n{self.output()}")
            try:
                with urllib.request.urlopen(f"{self.url}/{CONFIG_JSON}", timeout=2):
                    return self
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise ProjectorToolsError(f"http.server did not answer within {self.timeout:.0f}s")
            time.sleep(0.05)  # poll interval of the readiness check

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=15)
        self.proc = None

    def output(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-4000:]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "StaticServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
