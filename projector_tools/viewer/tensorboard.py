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
import sys
import time
import urllib.error
from typing import Any

from projector_tools.viewer.server_process import ServerProcess


class TensorBoardServer(ServerProcess):
    """Run ``tensorboard --logdir LOGDIR --host 127.0.0.1 --port PORT``."""

    name = "tensorboard"
    ready_path = "/data/plugins_listing"

    def __init__(self, logdir: str, *, timeout: float = 120.0, extra_args: list[str] | None = None):
        super().__init__(timeout=timeout)
        self.logdir = str(logdir)
        self.extra_args = list(extra_args or [])

    def command(self) -> list[str]:
        return [sys.executable, "-m", "tensorboard.main", "--logdir", self.logdir,
                "--host", "127.0.0.1", "--port", str(self.port), *self.extra_args]

    def env(self) -> dict[str, str]:
        return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")

    # -- HTTP --------------------------------------------------------------
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
