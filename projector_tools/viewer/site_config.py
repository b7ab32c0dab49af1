"""A published site's files and ``config.json``: the standalone Projector's format.

The standalone Projector (``<vz-projector-app serving-mode="demo">`` of
TensorBoard's ``projector_binary.js``) reads a JSON config: the camelCase
form of ``projector_config.proto``. One entry per tensor; a ``tensorPath``
ending in ``.bytes`` is raw little-endian float32, rows x dims, no header,
and is loaded whole (no row cap). A tensor without ``tensorShape``, or of
one column, is left out of the list by the page. The first entry opens first.

Every file of a site is named here (:func:`site_files`): a tensor's files
share the stem ``data/<k>-<slug>`` (``k`` its position, so tensors whose
names slug alike, ``embedding@epoch1``/``embedding@epoch2``, never collide).

    >>> files = site_files(0, "embedding/umap", labelled=True, sprite=False, bookmarks=False)
    >>> files.tensor, files.metadata, files.tsv_dir
    ('data/0-embedding_umap.bytes', 'data/0-embedding_umap.metadata.tsv', 'tsv/0-embedding_umap')
    >>> entry = config_entry("embedding/umap", (5, 3), files)
    >>> entry["tensorShape"], entry["tensorPath"]
    ([5, 3], 'data/0-embedding_umap.bytes')
    >>> absolute_paths(site_config([entry]), "https://example.org/x/")["embeddings"][0]["tensorPath"]
    'https://example.org/x/data/0-embedding_umap.bytes'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: What the site's pages and manifest are called.
INDEX_HTML = "index.html"
CONFIG_JSON = "config.json"
#: The manifest that marks a directory as a publish (a later publish may replace it).
MANIFEST_JSON = "publish.json"
GENERATOR = "projector_tools publish"
#: The Projector's code, copied from the installed ``tensorboard`` package, and its notice.
PROJECTOR_JS = "projector_binary.js"
LICENSE_FILE = "TENSORBOARD_LICENSE.txt"
#: ``--tsv``: one folder per tensor, holding the tutorial's two file names.
TSV_VECTORS = "vectors.tsv"
TSV_METADATA = "metadata.tsv"

#: The page: TensorBoard's own standalone element, reading ``config.json``.
#: No fonts, scripts or analytics from elsewhere (``ga`` is undefined, so
#: the Projector's logging stays off).
INDEX_TEMPLATE = """<!doctype html>
<!-- The Embedding Projector of TensorBoard {version} (projector_binary.js), Apache License 2.0:
     see {license}. Published by projector_tools; every file it loads is beside this page. -->
<html><head><meta charset="utf-8"><title>{title}</title>
<style>html, body {{ height: 100%; margin: 0; width: 100%; font-family: Roboto, sans-serif; }}</style>
</head><body>
<vz-projector-app serving-mode="demo" projector-config-json-path="{config}"
  documentation-link="" bug-report-link=""></vz-projector-app>
<script src="{js}"></script>
</body></html>
"""


@dataclass(frozen=True)
class SiteFiles:
    """The paths (relative to the site) of one tensor's files."""

    tensor: str
    metadata: str | None
    sprite: str | None
    bookmarks: str | None
    tsv_dir: str


def slug(name: str) -> str:
    """``name`` as a file-name part: anything but ``A-Za-z0-9._-`` becomes ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_.")[:60] or "tensor"


def site_files(k: int, name: str, *, labelled: bool, sprite: bool, bookmarks: bool) -> SiteFiles:
    """The files of the ``k``-th tensor ``name`` of a site."""
    stem = f"data/{k}-{slug(name)}"
    return SiteFiles(
        tensor=f"{stem}.bytes",
        metadata=f"{stem}.metadata.tsv" if labelled else None,
        sprite=f"{stem}.sprite.png" if sprite else None,
        bookmarks=f"{stem}.bookmarks.json" if bookmarks else None,
        tsv_dir=f"tsv/{k}-{slug(name)}",
    )


def config_entry(name: str, shape: tuple[int, int], files: SiteFiles,
                 sprite_dim: tuple[int, int] | None = None) -> dict[str, Any]:
    """One ``embeddings[]`` entry of ``config.json``."""
    entry: dict[str, Any] = {
        "tensorName": name,
        "tensorShape": [int(shape[0]), int(shape[1])],
        "tensorPath": files.tensor,
    }
    if files.metadata:
        entry["metadataPath"] = files.metadata
    if files.sprite and sprite_dim:
        entry["sprite"] = {"imagePath": files.sprite, "singleImageDim": [int(sprite_dim[0]), int(sprite_dim[1])]}
    if files.bookmarks:
        entry["bookmarksPath"] = files.bookmarks
    return entry


def site_config(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The whole ``config.json``: the entries in the order given (the first opens first)."""
    return {"embeddings": entries}


def absolute_paths(config: dict[str, Any], base_url: str) -> dict[str, Any]:
    """``config`` with every path made ``base_url + '/' + path`` (for ``?config=URL``)."""
    base = base_url.rstrip("/")

    def url(path: str) -> str:
        return f"{base}/{path}"

    out = []
    for entry in config["embeddings"]:
        e = dict(entry)
        for key in ("tensorPath", "metadataPath", "bookmarksPath"):
            if key in e:
                e[key] = url(e[key])
        if "sprite" in e:
            e["sprite"] = {**e["sprite"], "imagePath": url(e["sprite"]["imagePath"])}
        out.append(e)
    return {**config, "embeddings": out}


def index_html(*, title: str, version: str) -> str:
    """The site's ``index.html``."""
    import html

    return INDEX_TEMPLATE.format(title=html.escape(title), version=html.escape(version),
                                 license=LICENSE_FILE, config=CONFIG_JSON, js=PROJECTOR_JS)
