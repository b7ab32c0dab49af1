"""``projector-tools publish RUN --out DIR``: a run as a static Projector anyone can open.

The site is TensorBoard's own standalone Projector (``vz-projector-app`` in
``serving-mode="demo"``, from the installed ``tensorboard`` package, with its
Apache-2.0 notice) reading ``config.json`` (see
:mod:`projector_tools.viewer.site_config`): every tensor of the run as a
``.bytes`` file with all its rows (TensorBoard shows the first 100,000, see
:mod:`projector_tools.run.limits`), its labels, sprite and bookmarks as the
run has them. Nothing is fetched from elsewhere: serve the folder from any
static host (``python -m http.server -d DIR``, GitHub Pages, a bucket).

    >>> import os, tempfile, numpy as np
    >>> from projector_tools import export_embeddings
    >>> tmp = tempfile.mkdtemp()
    >>> _ = export_embeddings(np.eye(3, dtype="float32"), os.path.join(tmp, "run"), metadata=["a", "b", "c"])
    >>> site = publish(os.path.join(tmp, "run"), os.path.join(tmp, "site"))
    >>> [(t.name, t.rows, t.dims) for t in site.tensors], os.path.basename(site.index)
    ([('embedding', 3, 3)], 'index.html')

A run that does not load (an unreadable tensor, a missing labels file) is
refused before anything is written; the site is built in a temporary folder
beside ``out`` and renamed into place, so ``out`` is never half-written.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field

from projector_tools import fsio
from projector_tools.errors import InputError, LogdirError
from projector_tools.viewer import site_config as sc
from projector_tools.viewer.site_plan import PlannedTensor, plan_run, tensorboard_assets

__all__ = ["PublishResult", "PublishedTensor", "publish"]


@dataclass(frozen=True)
class PublishedTensor:
    """One tensor of a published site; paths are relative to the site."""

    name: str
    rows: int
    dims: int
    tensor_path: str
    metadata_path: str | None = None
    sprite_path: str | None = None
    bookmarks_path: str | None = None
    tsv_dir: str | None = None


@dataclass(frozen=True)
class PublishResult:
    """What :func:`publish` wrote: the site folder, its page and config, its tensors."""

    out: str
    index: str
    config: str
    tensors: tuple[PublishedTensor, ...] = field(default_factory=tuple)
    base_url: str | None = None

    def to_dict(self) -> dict:
        from dataclasses import asdict

        return asdict(self)


def publish(run: str, out: str, *, base_url: str | None = None, tsv: bool = False,
            tensor: str | None = None) -> PublishResult:
    """Write the run ``run`` (a run directory, or a logdir holding exactly one
    run) as a self-contained static Projector in the folder ``out``.

    ``base_url`` writes absolute URLs (``base_url/<file>``) in
    ``config.json``, so ``https://projector.tensorflow.org/?config=<base_url>/config.json``
    opens the site hosted there; ``tsv`` also writes ``vectors.tsv`` +
    ``metadata.tsv`` per tensor, for the Projector's *Load* dialog;
    ``tensor`` is listed first, so the page opens on it.

        Example::

            publish("runs/demo", "site")   # then: python -m http.server -d site

    Raises :class:`~projector_tools.errors.InputError` or
    :class:`~projector_tools.errors.LogdirError` (one line) before anything
    is written.
    """
    base_url = _check_base_url(base_url)
    out = str(out)
    existing = _check_out(out)
    planned = plan_run(str(run), tensor)  # every file read and checked; nothing written yet
    tmp = fsio.join(fsio.parent_dir(fsio.absolute(out)),
                    f".{os.path.basename(os.path.normpath(out))}{fsio.TMP_MARK}publish-{os.getpid()}")
    try:
        tensors = _write_site(tmp, planned, base_url=base_url, tsv=tsv, run=str(run))
        _swap(tmp, out, existing)
    except BaseException:
        if fsio.exists(tmp):
            fsio.rmtree(tmp)
        raise
    return PublishResult(out=out, index=fsio.join(out, sc.INDEX_HTML), config=fsio.join(out, sc.CONFIG_JSON),
                         tensors=tuple(tensors), base_url=base_url)


def _check_base_url(base_url: str | None) -> str | None:
    if base_url is None:
        return None
    if not base_url.startswith(("https://", "http://")):
        raise InputError(f"--base-url {base_url!r} is not an http(s) URL; give the address the "
                         "site will be served from, e.g. https://example.org/my-run")
    return base_url.rstrip("/")


def _check_out(out: str) -> str:
    """``"new"``, ``"empty"`` or ``"publish"`` (a previous site, replaced); anything else is refused."""
    if fsio.is_remote(out):
        raise InputError(f"--out {out!r}: publish writes a local folder; upload it afterwards "
                         "(e.g. gsutil rsync -r DIR gs://bucket/path)")
    if not fsio.exists(out):
        return "new"
    if not fsio.isdir(out):
        raise LogdirError(f"--out {out!r} is a file; name a folder for the site")
    names = fsio.listdir(out)
    if not names:
        return "empty"
    try:
        manifest = json.loads(fsio.read_text(fsio.join(out, sc.MANIFEST_JSON)))
    except Exception:  # noqa: BLE001 - absent or not JSON: not ours
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("generator") != sc.GENERATOR:
        raise LogdirError(f"--out {out!r} is not empty and is not a site publish wrote; "
                          "choose a new or empty folder")
    return "publish"


def _swap(tmp: str, out: str, existing: str) -> None:
    """Put the finished site ``tmp`` at ``out`` (a previous publish there goes)."""
    if existing == "empty":
        fsio.rmtree(out)
    if existing != "publish":
        fsio.rename(tmp, out)
        return
    old = f"{tmp}-old"
    fsio.rename(out, old)
    fsio.rename(tmp, out)
    fsio.rmtree(old)


def _write_site(site: str, planned: list[PlannedTensor], *, base_url: str | None, tsv: bool,
                run: str) -> list[PublishedTensor]:
    js, license_bytes, version = tensorboard_assets()
    fsio.makedirs(fsio.join(site, "data"))
    fsio.write_bytes(fsio.join(site, sc.PROJECTOR_JS), js)
    fsio.write_bytes(fsio.join(site, sc.LICENSE_FILE), license_bytes)
    fsio.write_bytes(fsio.join(site, sc.INDEX_HTML),
                     sc.index_html(title=f"Embedding Projector: {os.path.basename(os.path.normpath(run))}",
                                   version=version))
    entries, published = [], []
    for k, p in enumerate(planned):
        files = sc.site_files(k, p.name, labelled=p.metadata is not None, sprite=p.sprite_file is not None,
                              bookmarks=p.bookmarks_file is not None)
        _write_tensor_files(site, p, files)
        if tsv:
            _write_tsv(site, p, files.tsv_dir)
        entries.append(sc.config_entry(p.name, p.matrix.shape, files, p.sprite_dim))
        published.append(PublishedTensor(
            name=p.name, rows=int(p.matrix.shape[0]), dims=int(p.matrix.shape[1]), tensor_path=files.tensor,
            metadata_path=files.metadata, sprite_path=files.sprite, bookmarks_path=files.bookmarks,
            tsv_dir=files.tsv_dir if tsv else None))
    config = sc.site_config(entries)
    if base_url:
        config = sc.absolute_paths(config, base_url)
    fsio.write_bytes(fsio.join(site, sc.CONFIG_JSON), json.dumps(config, indent=2) + "\n")
    manifest = {"generator": sc.GENERATOR, "tensorboard": version,
                "tensors": [{"name": t.name, "rows": t.rows, "dims": t.dims} for t in published]}
    fsio.write_bytes(fsio.join(site, sc.MANIFEST_JSON), json.dumps(manifest, indent=2) + "\n")
    return published


def _write_tensor_files(site: str, p: PlannedTensor, files: sc.SiteFiles) -> None:
    from projector_tools.viewer.site_plan import float32_chunks

    with fsio.open_stream(fsio.join(site, files.tensor)) as f:
        for chunk in float32_chunks(p.matrix):
            f.write(chunk)
    if files.metadata is not None:
        fsio.write_bytes(fsio.join(site, files.metadata), p.metadata)
    for path, source in ((files.sprite, p.sprite_file), (files.bookmarks, p.bookmarks_file)):
        if path is not None:
            fsio.copy_stream(source, fsio.join(site, path))


def _write_tsv(site: str, p: PlannedTensor, folder: str) -> None:
    from projector_tools.viewer.site_plan import tsv_labels, vector_tsv_chunks

    fsio.makedirs(fsio.join(site, folder))
    with fsio.open_stream(fsio.join(site, folder, sc.TSV_VECTORS)) as f:
        for chunk in vector_tsv_chunks(p.matrix):
            f.write(chunk)
    fsio.write_bytes(fsio.join(site, folder, sc.TSV_METADATA), tsv_labels(p).to_bytes())


# --------------------------------------------------------------------------
# Command line


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", help="a run directory, or a logdir holding exactly one run")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="the site's folder (new, empty, or a previous publish, which is replaced)")
    parser.add_argument("--base-url", metavar="URL",
                        help="the address the site will be served from: config.json gets absolute URLs, "
                        "for https://projector.tensorflow.org/?config=URL/config.json")
    parser.add_argument("--tsv", action="store_true",
                        help="also write vectors.tsv + metadata.tsv per tensor (the Projector's Load dialog)")
    parser.add_argument("--tensor", metavar="NAME", help="the tensor the page opens on")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run_cli(args: argparse.Namespace) -> int:
    result = publish(args.run, args.out, base_url=args.base_url, tsv=args.tsv, tensor=args.tensor)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    for t in result.tensors:
        labels = "labelled" if t.metadata_path else "no labels"
        print(f"published {t.name} {t.rows}x{t.dims}, {labels}")
    print(f"site: {result.out}")
    if result.base_url:
        print(f"open: https://projector.tensorflow.org/?config={result.base_url}/{sc.CONFIG_JSON} "
              "(the host must send Access-Control-Allow-Origin)")
    else:
        print(f"view: python -m http.server -d {result.out} --bind 127.0.0.1 8000, then open http://127.0.0.1:8000/")
    return 0
