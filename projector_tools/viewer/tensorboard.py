"""A real ``tensorboard`` process on 127.0.0.1, for tests and benchmarks.

Started with its own process group, ready when ``/data/plugins_listing``
answers (polled, no fixed sleeps), stopped by its process id.

    >>> import os, tempfile, numpy as np
    >>> from projector_tools import export_embeddings
    >>> logdir = tempfile.mkdtemp()
    >>> _ = export_embeddings(np.eye(3, dtype="float32"), os.path.join(logdir, "demo"))
    >>> with TensorBoardServer(logdir) as tb:
    ...     tb.wait_for_projector_runs()
    ['demo']
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from projector_tools.errors import ProjectorToolsError


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TensorBoardServer:
    """Run ``tensorboard --logdir LOGDIR --host 127.0.0.1 --port PORT``."""

    def __init__(self, logdir: str, *, timeout: float = 120.0, extra_args: list[str] | None = None):
        self.logdir = str(logdir)
        self.timeout = timeout
        self.extra_args = list(extra_args or [])
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self._log = None
        self.started_at = 0.0
        self.ready_at = 0.0

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> "TensorBoardServer":
        self.port = free_port()
        self._log = tempfile.TemporaryFile()
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
        cmd = [
            sys.executable, "-m", "tensorboard.main",
            "--logdir", self.logdir, "--host", "127.0.0.1", "--port", str(self.port),
            *self.extra_args,
        ]
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        deadline = self.started_at + self.timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise ProjectorToolsError(f"tensorboard exited early:\n{self.output()}")
            try:
                self.get("/data/plugins_listing", timeout=2)
                self.ready_at = time.monotonic()
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise ProjectorToolsError(
                    f"tensorboard did not answer within {self.timeout:.0f}s:\n{self.output()}"
                )
            time.sleep(0.1)  # poll interval of the readiness check

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

    def __enter__(self) -> "TensorBoardServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- HTTP --------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, params: dict[str, Any] | None = None, timeout: float = 60) -> bytes:
        url = self.url + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.read()

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return json.loads(self.get(path, params))

    def status(self, path: str, params: dict[str, Any] | None = None) -> int:
        try:
            self.get(path, params)
            return 200
        except urllib.error.HTTPError as exc:
            return exc.code

    # -- projector endpoints ------------------------------------------------
    def plugins(self) -> dict[str, bool]:
        return {k: bool(v.get("enabled")) for k, v in self.get_json("/data/plugins_listing").items()}

    def projector_runs(self) -> list[str]:
        return self.get_json("/data/plugin/projector/runs")

    def wait_for_projector_runs(self, expected: int = 1, timeout: float = 60) -> list[str]:
        """Poll ``/runs`` until at least ``expected`` runs are listed."""
        deadline = time.monotonic() + timeout
        while True:
            runs = self.projector_runs()
            if len(runs) >= expected or time.monotonic() > deadline:
                return runs
            time.sleep(0.2)

    def info(self, run: str) -> dict[str, Any]:
        return self.get_json("/data/plugin/projector/info", {"run": run})

    def tensor(self, run: str, name: str):
        import numpy as np

        return np.frombuffer(
            self.get("/data/plugin/projector/tensor", {"run": run, "name": name}), dtype="<f4"
        )

    def metadata(self, run: str, name: str) -> str:
        raw = self.get("/data/plugin/projector/metadata", {"run": run, "name": name})
        return raw.decode("utf-8")
