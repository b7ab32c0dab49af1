"""``projector_tools.show()`` in a real Jupyter kernel (jupyter_client +
ipykernel), the tutorial notebook executed top to bottom (nbclient), its
Projector opened in a real headless Chromium; the content-keyed cache and
the one server per process over real HTTP."""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import types
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import projector_tools
from projector_tools import export_embeddings
from projector_tools.errors import InputError
from projector_tools.viewer.browser import TIMEOUT_MS, wait_for_points
from projector_tools.viewer.notebook import serve
from projector_tools.viewer.site_cache import CACHE_ENV
from tests.helpers.browser import DEEP_TEXT_JS, save_screenshot

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "word_embeddings.ipynb"
IFRAME = re.compile(r'<iframe src="(http://127\.0\.0\.1:(\d+)/([0-9a-f]+)/index\.html)"')


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    """Sites go to the test's folder (the kernels started here inherit it)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(folder))
    return folder / "sites"


def export(run: Path, seed: int, rows: int = 50) -> None:
    labels = [f"w{i}" for i in range(rows)]
    matrix = np.random.default_rng(seed).normal(size=(rows, 4)).astype("float32")
    export_embeddings(matrix, str(run), metadata=labels)


def fetch(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return resp.status, resp.read()


def iframe_urls(outputs: list[dict]) -> list[re.Match]:
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    return list(IFRAME.finditer(html))


def in_kernel(kc, code: str) -> list[dict]:
    """Runs ``code`` in the kernel; its outputs (display data, streams)."""
    outputs: list[dict] = []

    def keep(msg):
        if msg["msg_type"] in ("display_data", "execute_result", "stream", "error"):
            outputs.append(msg["content"])

    reply = kc.execute_interactive(code, output_hook=keep, timeout=300)
    assert reply["content"]["status"] == "ok", outputs
    return outputs


def test_same_run_reuses_server_and_folder_new_epoch_publishes_afresh(tmp_path, cache):
    run = tmp_path / "run"
    export(run, seed=1)
    first = serve(str(run))
    assert first.site.published and first.site.folder.startswith(str(cache))
    stamp = os.stat(first.site.folder).st_mtime_ns, os.stat(first.site.index).st_mtime_ns
    assert projector_tools.show(str(run)) == first.url  # outside a kernel: the URL
    again = serve(str(run))
    assert (again.url, again.port, again.site.published) == (first.url, first.port, False)
    assert (os.stat(first.site.folder).st_mtime_ns, os.stat(first.site.index).st_mtime_ns) == stamp
    assert fetch(first.url)[0] == 200

    export(run, seed=2)  # the next epoch
    changed = serve(str(run))
    assert changed.port == first.port and changed.site.published
    assert changed.site.key != first.site.key and changed.url != first.url
    assert sorted(os.listdir(cache)) == sorted([first.site.key, changed.site.key])
    # both sites stay served: a page still open on the old epoch keeps working
    assert fetch(first.url)[0] == 200 and fetch(changed.url)[0] == 200


def test_sources_and_bad_ones(tmp_path):
    logdir = tmp_path / "logs"
    export(logdir / "a", seed=1)
    result = export_embeddings(np.eye(3, dtype="float32"), str(tmp_path / "single"))
    assert serve(result).site.run_dir == serve(str(tmp_path / "single")).site.run_dir
    assert serve(str(logdir)).site.run_dir == str(logdir / "a")  # a logdir holding one run
    export(logdir / "b", seed=2)
    with pytest.raises(InputError, match=r"holds 2 runs \(a, b\)"):
        serve(str(logdir))
    with pytest.raises(InputError, match="no run directory"):
        serve(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="lists no run"):
        serve(str(tmp_path / "empty"))
    with pytest.raises(InputError, match="not int"):
        serve(3)


def test_colab_uses_the_kernel_port_proxy(tmp_path, monkeypatch):
    """Colab itself cannot run here: a stand-in ``google.colab.output`` records
    the call, and the port and path it got must serve the published page."""
    calls = []
    output = types.ModuleType("google.colab.output")
    output.serve_kernel_port_as_iframe = lambda port, path="/", height=400: calls.append(
        (port, path, height))
    colab = types.ModuleType("google.colab")
    colab.output = output
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab.output", output)
    from projector_tools.viewer.site_server import shared_server

    # the Colab branch lets any Host through; this process's server checks it again afterwards
    monkeypatch.setattr(shared_server()._server, "any_host", False)
    run = tmp_path / "run"
    export(run, seed=3)
    assert projector_tools.show(str(run), height=500) is None
    [(port, path, height)] = calls
    assert height == 500 and re.fullmatch(r"/[0-9a-f]+/index\.html", path)
    status, body = fetch(f"http://127.0.0.1:{port}{path}")
    assert status == 200 and b"vz-projector-app" in body


@pytest.mark.slow
def test_show_in_a_real_kernel_reuses_its_server_and_dies_with_it(tmp_path, cache):
    from jupyter_client.manager import start_new_kernel

    run = tmp_path / "run"
    export(run, seed=4)
    km, kc = start_new_kernel(kernel_name="python3", startup_timeout=120, cwd=str(tmp_path))
    try:
        in_kernel(kc, "import projector_tools")
        shows = [iframe_urls(in_kernel(kc, f"projector_tools.show({str(run)!r})")) for _ in range(2)]
        [[first], [second]] = shows
        assert first.group(1) == second.group(1)  # same server (port), same site (key)
        folder = cache / first.group(3)
        stamp = os.stat(folder / "index.html").st_mtime_ns
        status, body = fetch(first.group(1))  # served by the kernel process
        assert status == 200 and b"vz-projector-app" in body
        assert os.stat(folder / "index.html").st_mtime_ns == stamp

        export(run, seed=5)  # a new epoch
        [third] = iframe_urls(in_kernel(kc, f"projector_tools.show({str(run)!r})"))
        assert third.group(2) == first.group(2) and third.group(3) != first.group(3)
        assert (cache / third.group(3) / "index.html").is_file()
        outside = fetch(first.group(1).replace(f"/{first.group(3)}/index.html", "/../run/checkpoint"))
    except urllib.error.HTTPError as e:
        outside = (e.code, b"")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=False)
    assert outside[0] == 404
    assert not km.is_alive()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(first.group(2))), timeout=5).close()


@pytest.mark.slow
@pytest.mark.browser
def test_tutorial_notebook_runs_and_its_projector_shows_every_point(tmp_path, browser):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(EXAMPLE, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "saved with outputs"
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)  # raises CellExecutionError on any error
        shown = [m for c in nb.cells if c.cell_type == "code" and "show(" in c.source
                 for m in iframe_urls(c.outputs)]
        assert len(shown) == 1, [c.outputs for c in nb.cells if "show(" in c.get("source", "")]
        url = shown[0].group(1)
        from projector_tools.run.points import load_points

        n = load_points(str(tmp_path / "runs" / "word_embeddings")).matrix.shape[0]
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url, timeout=TIMEOUT_MS)  # while the kernel (and its server) is alive
        wait_for_points(page.main_frame, n)
        text = page.main_frame.evaluate(DEEP_TEXT_JS)
        assert re.search(rf"Points: \| {n} \| Dimension: \| 16 \|", text), text[:2000]
        save_screenshot(page.screenshot(), "notebook-show.png")
        page.close()


def test_view_is_listed_first_in_the_bookmarks_panel(tmp_path):
    """The standalone Projector takes no bookmark from its URL: ``view=``
    opens the view's tensor with the view first among its bookmarks."""
    from google.protobuf import text_format
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    run = tmp_path / "run"
    export(run, seed=6)
    views = [{"label": "all points", "selectedColorOptionName": "label"},
             {"label": "by label", "selectedColorOptionName": "label"}]
    (run / "views.json").write_text(json.dumps(views))
    config_path = run / "projector_config.pbtxt"
    config = text_format.Parse(config_path.read_text(), ProjectorConfig())
    config.embeddings[0].bookmarks_path = "views.json"  # as a person adds views to a run
    config_path.write_text(text_format.MessageToString(config))

    shown = serve(str(run), view="by label")
    assert shown.site.tensor == "embedding" and shown.site.published
    site_config = json.loads(Path(shown.site.folder, "config.json").read_text())
    [entry] = site_config["embeddings"]
    listed = json.loads(Path(shown.site.folder, entry["bookmarksPath"]).read_text())
    assert [v["label"] for v in listed] == ["by label", "all points"]
    assert json.loads((run / "views.json").read_text()) == views  # the run itself is untouched
    plain = serve(str(run))
    assert plain.site.key != shown.site.key  # the view is part of the site's key
    with pytest.raises(InputError, match=r"no view 'nope'; its views: 'all points', 'by label'"):
        serve(str(run), view="nope")
