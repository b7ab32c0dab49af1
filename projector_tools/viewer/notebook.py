"""``projector_tools.show()``: one run's Projector inside the notebook cell that trained it.

In Jupyter (Notebook 7, JupyterLab, VS Code notebooks)::

    callback = projector_tools.ProjectorCallback("runs/imdb", metadata=...)
    model.fit(..., callbacks=[callback])
    projector_tools.show(callback)                     # or a run directory, an ExportResult

What happens: the run is published as a static Projector
(:func:`projector_tools.viewer.publish.publish`) into a folder of the user's
cache keyed by the run's content (:mod:`projector_tools.viewer.site_cache`:
an unchanged run reuses its folder, a new epoch gets a new one); that folder
is served by the kernel's one background server on ``127.0.0.1``
(:mod:`projector_tools.viewer.site_server`: published files only, closed
when the kernel exits), and the cell shows it in an iframe, with a link
that opens it in a browser tab.

* ``tensor``: the tensor the Projector opens on (the site lists it first).
* ``view``: a saved view (bookmark) of the run. The standalone Projector
  opens no bookmark from its URL (its only URL parameter is ``config``), so
  the view's tensor opens and the view is listed *first* in the Bookmarks
  panel, which opens expanded: one click on it restores the view.
* Outside a kernel (a script, a terminal IPython) it prints the URL and
  returns it; the server runs until the process exits.
* In Google Colab the page goes through Colab's kernel-port proxy
  (``google.colab.output.serve_kernel_port_as_iframe``).
"""

from __future__ import annotations

import html
import sys
from dataclasses import dataclass
from typing import Any

from projector_tools.viewer.site_cache import Site, site_for
from projector_tools.viewer.site_server import INDEX, shared_server

__all__ = ["Served", "serve", "show"]


@dataclass(frozen=True)
class Served:
    """A run's site as the kernel's server serves it."""

    url: str
    port: int
    path: str  # the URL's path: /<key>/index.html
    site: Site


def serve(source: Any, *, tensor: str | None = None, view: str | None = None) -> Served:
    """Publishes ``source``'s run into the cache (unless its content is there
    already) and serves it; what :func:`show` displays.

        >>> import tempfile, numpy as np, urllib.request
        >>> from projector_tools import export_embeddings
        >>> result = export_embeddings(np.eye(3, dtype="float32"), tempfile.mkdtemp())
        >>> served = serve(result)                                   # doctest: +SKIP
        >>> urllib.request.urlopen(served.url).status                # doctest: +SKIP
        200
    """
    site = site_for(source, tensor=tensor, view=view)
    server = shared_server()
    url = server.mount(site.key, site.folder)
    return Served(url=url, port=server.port, path=f"/{site.key}/{INDEX}", site=site)


def _kernel() -> Any:
    """The running IPython kernel's shell, or None (a script, a terminal IPython)."""
    ipython = sys.modules.get("IPython")  # a kernel always has it imported
    shell = ipython.get_ipython() if ipython is not None else None
    return shell if getattr(shell, "kernel", None) is not None else None


def iframe_html(url: str, height: int, caption: str) -> str:
    """The cell's HTML: the Projector in an iframe, and a link to a tab.

        >>> "src=\\"http://127.0.0.1:1/k/index.html\\"" in iframe_html("http://127.0.0.1:1/k/index.html", 700, "run")
        True
    """
    src = html.escape(url, quote=True)
    return (f'<iframe src="{src}" width="100%" height="{int(height)}" '
            f'style="border:1px solid #ddd" title="Embedding Projector"></iframe>'
            f'<div style="font-size:smaller"><a href="{src}" target="_blank" rel="noopener">'
            f'Open the Projector in a new tab</a> &middot; {html.escape(caption)}</div>')


def _caption(site: Site) -> str:
    parts = [f"run {site.run_dir}"]
    if site.tensor:
        parts.append(f"tensor {site.tensor}")
    if site.view:
        parts.append(f"view {site.view!r}: first in the Bookmarks panel, click it to restore it")
    return ", ".join(parts)


def show(source: Any, *, tensor: str | None = None, view: str | None = None,
         height: int = 700) -> str | None:
    """Shows a run's Embedding Projector in the notebook (see the module doc).

    ``source``: a run directory, a logdir holding one run, the
    ``ExportResult`` of :func:`~projector_tools.export_embeddings`, or a
    :class:`~projector_tools.ProjectorCallback` after ``fit``. Returns None in
    a notebook (the cell shows the Projector) and the URL elsewhere (printed).

        Example::

            projector_tools.show("runs/imdb", tensor="embedding", view="words by positivity")
    """
    served = serve(source, tensor=tensor, view=view)
    if "google.colab" in sys.modules:
        from google.colab import output  # type: ignore[import-not-found]

        shared_server().allow_any_host()  # the proxy forwards its own Host header
        output.serve_kernel_port_as_iframe(served.port, path=served.path, height=int(height))
        return None
    if _kernel() is not None:
        from IPython.display import HTML, display

        display(HTML(iframe_html(served.url, height, _caption(served.site))))
        return None
    print(f"Embedding Projector of {served.site.run_dir}: {served.url}")
    return served.url
