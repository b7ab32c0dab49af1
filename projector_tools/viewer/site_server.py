"""One small HTTP server per process that serves published Projector sites, and nothing else.

:func:`projector_tools.show` publishes a run to a folder and mounts that
folder here under a URL prefix (the folder's cache key). The server is a
``http.server.ThreadingHTTPServer`` on ``127.0.0.1`` and a free port, run by
a daemon thread, started on the first mount, reused by every later one, and
closed at interpreter exit (``atexit``): in a notebook it lives and dies
with the kernel.

What it answers (everything else is 404, and nothing but GET/HEAD):

* ``/<prefix>/<file>`` for a *regular file* inside a mounted folder, after
  resolving symlinks (a link inside the folder that points out is 404);
* ``/<prefix>/`` as that folder's ``index.html``; never a directory listing;
* no ``..`` or ``.`` segment, no backslash, no NUL, before or after
  percent-decoding;
* only requests whose ``Host`` is this server's own address (``127.0.0.1`` or
  ``localhost`` and its port), so that a web page elsewhere cannot reach it
  through DNS rebinding; :meth:`SiteServer.allow_any_host` lifts that for a
  proxy that forwards other Host headers (Colab's kernel-port proxy).

    >>> import tempfile, os, urllib.request
    >>> site = tempfile.mkdtemp()
    >>> with open(os.path.join(site, "index.html"), "w") as f:
    ...     _ = f.write("<p>hi</p>")
    >>> server = SiteServer().start()
    >>> url = server.mount("k1", site)
    >>> urllib.request.urlopen(url).read()
    b'<p>hi</p>'
    >>> server.close()

Local files only: the server resolves symlinks with ``os.path.realpath`` to
keep every answer inside a mounted folder, which ``tf.io.gfile`` cannot do.
"""

from __future__ import annotations

import atexit
import mimetypes
import os
import shutil
import threading
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["SiteServer", "shared_server"]

HOST = "127.0.0.1"
INDEX = "index.html"
#: Types the Projector's files need; the rest from ``mimetypes``.
TYPES = {".bytes": "application/octet-stream", ".tsv": "text/tab-separated-values",
         ".json": "application/json", ".js": "text/javascript", ".html": "text/html"}


def _segments(raw_path: str) -> list[str] | None:
    """The path's segments, percent-decoded, or None where any segment could
    leave its folder (``..``, ``.``, a backslash, NUL, an empty segment
    inside the path)."""
    path = urllib.parse.urlsplit(raw_path).path
    if not path.startswith("/"):
        return None
    parts = path[1:].split("/")
    decoded = []
    for i, raw in enumerate(parts):
        part = urllib.parse.unquote(raw, errors="strict") if "%" in raw else raw
        if part == "" and i == len(parts) - 1 and i > 0:
            decoded.append(INDEX)  # "/prefix/" is the folder's index page
            continue
        if part in ("", ".", "..") or "/" in part or "\\" in part or "\0" in part:
            return None
        decoded.append(part)
    return decoded


def resolve(root: str, segments: list[str]) -> str | None:
    """The regular file ``segments`` names inside folder ``root``, symlinks
    resolved, or None when it is missing, not a regular file, or outside."""
    real_root = os.path.realpath(root)
    target = os.path.realpath(os.path.join(real_root, *segments))
    if os.path.commonpath([real_root, target]) != real_root or target == real_root:
        return None
    return target if os.path.isfile(target) else None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "projector-site"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self._answer(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(body=False)

    def _answer(self, *, body: bool) -> None:
        path = self._file()
        if path is None:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        try:
            f = open(path, "rb")
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        with f:
            size = os.fstat(f.fileno()).st_size
            ext = os.path.splitext(path)[1].lower()
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", TYPES.get(ext) or mimetypes.guess_type(path)[0]
                             or "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            if body:
                shutil.copyfileobj(f, self.wfile)

    def _file(self) -> str | None:
        if not self.server.host_allowed(self.headers.get("Host", "")):
            return None
        try:
            segments = _segments(self.path)
        except UnicodeDecodeError:
            return None
        if not segments or len(segments) < 2:
            return None
        root = self.server.mounts.get(segments[0])
        return None if root is None else resolve(root, segments[1:])

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass  # a notebook cell is no place for an access log


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    mounts: dict[str, str]
    any_host = False

    def host_allowed(self, host: str) -> bool:
        port = self.server_address[1]
        return self.any_host or host in (f"{HOST}:{port}", f"localhost:{port}")


class SiteServer:
    """A background HTTP server on ``127.0.0.1`` serving mounted folders only."""

    def __init__(self) -> None:
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> SiteServer:
        """Binds a free port and serves from a daemon thread (idempotent)."""
        with self._lock:
            if self._server is None:
                server = _Server((HOST, 0), _Handler)
                server.mounts = {}
                self._thread = threading.Thread(target=server.serve_forever, name="projector-site",
                                                daemon=True)
                self._server = server
                self._thread.start()
        return self

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the site server is not running")
        return int(self._server.server_address[1])

    @property
    def running(self) -> bool:
        return self._server is not None

    def mount(self, prefix: str, folder: str) -> str:
        """Serves ``folder`` under ``/<prefix>/``; returns its index page's URL."""
        if not prefix or "/" in prefix or prefix in (".", ".."):
            raise ValueError(f"bad mount prefix {prefix!r}")
        self.start()
        assert self._server is not None
        self._server.mounts[prefix] = os.path.realpath(folder)
        return f"http://{HOST}:{self.port}/{prefix}/{INDEX}"

    def allow_any_host(self) -> None:
        """Answers whatever ``Host`` a request names (behind Colab's proxy)."""
        self.start()
        assert self._server is not None
        self._server.any_host = True

    def close(self) -> None:
        """Stops serving and frees the port (idempotent)."""
        with self._lock:
            server, self._server = self._server, None
            if server is not None:
                server.shutdown()
                server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
                self._thread = None


_SHARED: SiteServer | None = None
_SHARED_LOCK = threading.Lock()


def shared_server() -> SiteServer:
    """The process's one server (started on first use, closed at exit)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = SiteServer()
            atexit.register(_SHARED.close)
        return _SHARED.start()
