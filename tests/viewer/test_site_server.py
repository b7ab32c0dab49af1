"""The notebook's site server over real HTTP on 127.0.0.1: published files
only, never a listing, nothing outside a mounted folder, gone once closed."""

from __future__ import annotations

import http.client
import os
import socket

import pytest

from projector_tools.viewer.site_server import SiteServer

SECRET = b"secret-outside-the-site"


@pytest.fixture
def site(tmp_path):
    """A mounted folder (``k1``) beside a secret file and an unmounted folder,
    with a symlink out, a symlink in, and a subfolder without an index."""
    (tmp_path / "secret.txt").write_bytes(SECRET)
    other = tmp_path / "other"
    other.mkdir()
    (other / "index.html").write_bytes(SECRET)
    folder = tmp_path / "k1"
    (folder / "sub").mkdir(parents=True)
    (folder / "index.html").write_bytes(b"<p>projector</p>")
    (folder / "tensor.bytes").write_bytes(b"\0\0\x80?")
    (folder / "sub" / "data.tsv").write_bytes(b"a\tb\n")
    os.symlink(tmp_path / "secret.txt", folder / "out.txt")
    os.symlink(tmp_path, folder / "up")
    os.symlink(folder / "tensor.bytes", folder / "in.bytes")
    server = SiteServer().start()
    url = server.mount("k1", str(folder))
    yield server, url
    server.close()


def get(port: int, path: str, host: str | None = None, method: str = "GET") -> tuple[int, bytes]:
    """The raw ``path`` sent as is (no client-side normalisation)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", host or f"127.0.0.1:{port}")
    conn.endheaders()
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, body


def test_serves_the_published_files(site):
    server, url = site
    assert url == f"http://127.0.0.1:{server.port}/k1/index.html"
    assert get(server.port, "/k1/index.html") == (200, b"<p>projector</p>")
    assert get(server.port, "/k1/") == (200, b"<p>projector</p>")
    assert get(server.port, "/k1/tensor.bytes") == (200, b"\0\0\x80?")
    assert get(server.port, "/k1/sub/data.tsv") == (200, b"a\tb\n")
    assert get(server.port, "/k1/in.bytes") == (200, b"\0\0\x80?")  # a link that stays inside
    assert get(server.port, "/k1/index.html?config=config.json") == (200, b"<p>projector</p>")
    assert get(server.port, "/k1/index.html", host=f"localhost:{server.port}")[0] == 200


@pytest.mark.parametrize("path", [
    "/k1/../secret.txt", "/../secret.txt", "/k1/%2e%2e/secret.txt", "/k1/%2E%2E/secret.txt",
    "/%2e%2e/secret.txt", "/k1/..%2fsecret.txt", "/k1/%2e%2e%2fsecret.txt",
    "/k1/sub/../../secret.txt", "/k1/%5c..%5csecret.txt", "/k1/..\\secret.txt",
    "/k1/%2f" + "%2f".join(["etc", "passwd"]), "//etc/passwd", "/k1//etc/passwd", "/etc/passwd",
    "/k1/" + os.path.abspath(os.sep) + "etc/passwd", "/k1/out.txt", "/k1/up/secret.txt",
    "/k1/up/other/index.html", "/other/index.html", "/k1/%00index.html", "/k1/./index.html",
    "/", "/k1", "/k1/sub", "/k1/sub/", "/k1/missing.json", "/k1/%ff",
])
def test_nothing_outside_the_folder_and_no_listing(site, path):
    server, _ = site
    status, body = get(server.port, path)
    assert status == 404, (path, status)
    assert SECRET not in body and b"data.tsv" not in body and b"Directory listing" not in body


def test_other_hosts_and_methods_are_refused(site):
    server, _ = site
    # DNS rebinding: a page of another site resolving its name to 127.0.0.1.
    assert get(server.port, "/k1/index.html", host=f"evil.example:{server.port}")[0] == 404
    assert get(server.port, "/k1/index.html", method="POST")[0] == 501
    server.allow_any_host()  # behind a proxy that names its own host (Colab)
    assert get(server.port, "/k1/index.html", host="proxy.example")[0] == 200


def test_one_port_for_every_mount_and_gone_when_closed(site, tmp_path):
    server, _ = site
    port = server.port
    second = tmp_path / "k2"
    second.mkdir()
    (second / "index.html").write_bytes(b"two")
    assert server.mount("k2", str(second)) == f"http://127.0.0.1:{port}/k2/index.html"
    assert get(port, "/k2/") == (200, b"two")
    server.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
