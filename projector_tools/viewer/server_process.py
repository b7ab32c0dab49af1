"""A local server in a process of its own: started on 127.0.0.1, ready when it answers, stopped by pid.

The one home of how this project runs a server beside itself (TensorBoard,
``python -m http.server``): a free port, its own process group, readiness
polled over real HTTP (no fixed sleeps), its output kept for the error, and
``stop()`` signalling that process group by the process id it started.
Subclasses name the command and the path that answers once it is ready::

    >>> import sys
    >>> class Here(ServerProcess):
    ...     name, ready_path = "http.server", "/"
    ...     def command(self):
    ...         return [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(self.port)]
    >>> with Here(timeout=60) as server:
    ...     server.get("/")[:15]
    b'<!DOCTYPE HTML>'
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from projector_tools.errors import ProjectorToolsError


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """Start :meth:`command` on a free port; ready when :attr:`ready_path` answers."""

    name = "server"
    ready_path = "/"
    poll_s = 0.1  # poll interval of the readiness check

    def __init__(self, *, timeout: float = 60.0):
        self.timeout = timeout
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self._log = None
        self.started_at = 0.0
        self.ready_at = 0.0

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str] | None:
        return None

    def start(self):
        self.port = free_port()
        self._log = tempfile.TemporaryFile()
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT,
                                     env=self.env(), start_new_session=True)
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        deadline = self.started_at + self.timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise ProjectorToolsError(f"{self.name} exited early:\n{self.output()}")
            try:
                self.get(self.ready_path, timeout=2)
                self.ready_at = time.monotonic()
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise ProjectorToolsError(
                    f"{self.name} did not answer within {self.timeout:.0f}s:\n{self.output()}")
            time.sleep(self.poll_s)

    def stop(self) -> None:
        if self.proc is None:
            return
        pid = self.proc.pid
        if self.proc.poll() is None:
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(pid, signal.SIGKILL)
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

    def get(self, path: str, params: dict[str, Any] | None = None, timeout: float = 60) -> bytes:
        url = self.url + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.read()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
