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

import sys

from projector_tools.viewer.server_process import ServerProcess
from projector_tools.viewer.site_config import CONFIG_JSON


class StaticServer(ServerProcess):
    """Run ``python -m http.server -d DIR --bind 127.0.0.1 PORT``."""

    name = "http.server"
    ready_path = "/" + CONFIG_JSON
    poll_s = 0.05

    def __init__(self, directory: str, *, timeout: float = 60.0):
        super().__init__(timeout=timeout)
        self.directory = str(directory)

    def command(self) -> list[str]:
        return [sys.executable, "-m", "http.server", "-d", self.directory, "--bind", "127.0.0.1", str(self.port)]
