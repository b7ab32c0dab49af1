"""Named views of a run: the Projector's *Bookmarks* (``bookmarks_path``).

A :class:`View` names a tensor, its projection, the metadata column that
colours the points (*Color by*) and the one that labels them (*Label by*).
The run holds, per tensor that has views, a JSON array of the Projector's
``State`` objects (vz-projector ``data.ts``), named by
``projector_config.pbtxt``'s ``bookmarks_path``; TensorBoard serves it at
``/data/plugin/projector/bookmarks`` and the Projector lists each in its
Bookmarks panel, where choosing one (the radio button left of its name)
restores it. A State restores only when it carries every field the
Projector itself writes (``getCurrentState`` and the panels'
``populateBookmarkFromUI``): :data:`STATE_FIELDS`; see docs/design.md,
"Views (bookmarks)", for what was measured.

    >>> v = View("words by positivity", "embedding", color_by="positivity")
    >>> s = states([v], rows=4, dims=16, columns=("label", "positivity"))[0]
    >>> s["label"], s["selectedColorOptionName"], s["selectedLabelOption"], s["filteredPoints"]
    ('words by positivity', 'positivity', 'label', None)
    >>> sorted(s) == sorted(STATE_FIELDS)
    True
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from projector_tools.errors import InputError

__all__ = ["View", "STATE_FIELDS", "PROJECTIONS", "NO_COLOR", "states", "bookmarks_text",
           "views_from_bookmarks", "check_views", "projector_columns"]

#: Every field of a State the Projector writes (TensorBoard 2.21): a State
#: missing one (the ``custom*`` ones, say) throws on load and restores nothing.
STATE_FIELDS = (
    "label", "isSelected", "selectedProjection", "dataSetDimensions", "pcaComponentDimensions",
    "tSNEIteration", "tSNEPerplexity", "tSNELearningRate", "tSNEis3d",
    "umapIs3d", "umapNeighbors", "umapMinDist",
    "projections", "selectedPoints", "shuffledDataIndices", "filteredPoints", "cameraDef",
    "selectedColorOptionName", "forceCategoricalColoring", "selectedLabelOption",
    "customSelectedSearchByMetadataOption",
    "customXLeftText", "customXLeftRegex", "customXRightText", "customXRightRegex",
    "customYUpText", "customYUpRegex", "customYDownText", "customYDownRegex",
)
#: The projections a view restores in TensorBoard 2.21 (t-SNE and UMAP
#: bookmarks need the browser's own layout; export the layout as a tensor).
PROJECTIONS = ("pca",)
#: The *Color by* entry that colours nothing.
NO_COLOR = "No color map"
#: The Projector's own defaults (projections panel, scatter plot) for what a view leaves alone.
_TSNE_PERPLEXITY, _TSNE_LEARNING_RATE, _UMAP_NEIGHBORS, _UMAP_MIN_DIST = 30, 10, 15, 0.1
_CAMERA_3D = {"orthographic": False, "position": [0.45, 0.9, 1.6], "target": [0, 0, 0], "zoom": 1}
_CAMERA_2D = {"orthographic": True, "position": [0, 0, 4], "target": [0, 0, 0], "zoom": 1}
#: A non-numeric column with more distinct values is not offered as a colour
#: (``tooManyUniqueValues`` in the Projector's metadata statistics).
COLOR_MAX_DISTINCT = 50
_JS_NUMBER = re.compile(r"^\s*[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|Infinity)\s*$")


@dataclass(frozen=True)
class View:
    """A named view of one tensor: how the Projector should open on it.

    ``label`` is the name shown in the Bookmarks panel; ``tensor`` the
    tensor's name in the run; ``projection`` ``"pca"`` (see
    :data:`PROJECTIONS`); ``color_by`` / ``label_by`` metadata column names
    (``None``: no colour / the first column; a one-column metadata's column
    is called ``label`` in the Projector, either name works); ``categorical``
    colours a numeric column by category (the Projector's *Categories* box).

        >>> View("reviews by correct", "reviews", color_by="correct").projection
        'pca'
    """

    label: str
    tensor: str
    projection: str = "pca"
    color_by: str | None = None
    label_by: str | None = None
    categorical: bool = False


def projector_columns(names: Sequence[str]) -> tuple[str, ...]:
    """The column names the Projector shows for a metadata file of ``names``:
    one column is written without a header and called ``label``.

        >>> projector_columns(["word"]), projector_columns(["word", "count"])
        (('label',), ('word', 'count'))
    """
    return tuple(names) if len(names) > 1 else ("label",)


def _column(name: str | None, columns: Sequence[str], names: Sequence[str]) -> str | None:
    """``name`` as the Projector calls it (the one column of a headerless file is ``label``)."""
    if name is None or name in columns:
        return name
    if len(columns) == 1 and name in names:
        return columns[0]
    return None


def states(views: Iterable[View], *, rows: int, dims: int, columns: Sequence[str],
           names: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The Projector's ``State`` objects for ``views`` of one tensor of
    ``rows`` x ``dims`` whose metadata the Projector shows as ``columns``
    (``names``: the metadata's own column names, see :func:`projector_columns`).

    ``projections`` and ``selectedPoints`` are empty and
    ``shuffledDataIndices`` and ``filteredPoints`` null: the Projector then
    keeps the PCA it computed when it loaded the tensor, its own sample
    order and every point (``[]`` for ``filteredPoints`` would hide them all).
    """
    pcs = [0, 1, 2] if dims >= 3 else [0, 1]
    out = []
    for view in views:
        color = _column(view.color_by, columns, names)
        label_by = _column(view.label_by, columns, names) or (columns[0] if columns else None)
        out.append({
            "label": view.label, "isSelected": False, "selectedProjection": view.projection,
            "dataSetDimensions": [int(rows), int(dims)], "pcaComponentDimensions": pcs,
            "tSNEIteration": 0, "tSNEPerplexity": _TSNE_PERPLEXITY,
            "tSNELearningRate": _TSNE_LEARNING_RATE, "tSNEis3d": True,
            "umapIs3d": True, "umapNeighbors": _UMAP_NEIGHBORS, "umapMinDist": _UMAP_MIN_DIST,
            "projections": [], "selectedPoints": [], "shuffledDataIndices": None,
            "filteredPoints": None, "cameraDef": dict(_CAMERA_3D if len(pcs) == 3 else _CAMERA_2D),
            "selectedColorOptionName": color if color is not None else NO_COLOR,
            "forceCategoricalColoring": bool(view.categorical),
            "selectedLabelOption": label_by,
            "customSelectedSearchByMetadataOption": label_by,
            "customXLeftText": "", "customXLeftRegex": False,
            "customXRightText": "", "customXRightRegex": False,
            "customYUpText": "", "customYUpRegex": False,
            "customYDownText": "", "customYDownRegex": False,
        })
    return out


def bookmarks_text(state_list: Sequence[Mapping[str, Any]]) -> str:
    """The bookmarks file's text: the States as a JSON array, one per line, keys in the Projector's order."""
    return "[\n" + ",\n".join(json.dumps(dict(s), ensure_ascii=False) for s in state_list) + "\n]\n"


def views_from_bookmarks(tensor: str, text: str) -> list[View]:
    """The views of ``tensor`` a bookmarks file written by :func:`bookmarks_text` holds
    (so that a rewrite of the run, like ``projector-tools layout``, keeps them).

        >>> v = View("by count", "embedding", color_by="count", label_by="word")
        >>> views_from_bookmarks("embedding", bookmarks_text(
        ...     states([v], rows=3, dims=4, columns=("word", "count")))) == [v]
        True
    """
    from projector_tools.run.budgets import json_loads

    out = []
    for s in json_loads(text, f"bookmarks of {tensor!r}"):
        color = s.get("selectedColorOptionName")
        out.append(View(str(s.get("label", "")), tensor, projection=s.get("selectedProjection", "pca"),
                        color_by=None if color in (None, NO_COLOR) else color,
                        label_by=s.get("selectedLabelOption"),
                        categorical=bool(s.get("forceCategoricalColoring"))))
    return out


def check_views(views: Sequence[Any], names: Sequence[str], columns: Mapping[str, Mapping[str, Sequence[Any]]]) -> None:
    """Raise one :class:`InputError` for the first view the Projector cannot open:
    not a :class:`View`, a projection it does not restore, a tensor not among
    ``names``, a *Color by* / *Label by* column not in the tensor's metadata
    ``columns`` (``{tensor: {column: values}}``), or a colour column the
    Projector does not offer (more than :data:`COLOR_MAX_DISTINCT` distinct
    values, not all numbers).

        >>> check_views([View("v", "emb", color_by="size")], ["emb"], {"emb": {"word": ["a"]}})
        Traceback (most recent call last):
        ...
        projector_tools.errors.InputError: view 'v': tensor 'emb' has no metadata column 'size' (its columns: word); color_by= one of them, or add the column to its metadata
    """
    for view in views:
        if not isinstance(view, View):
            raise InputError(f"views= takes View items (from projector_tools import View), got {view!r}")
        where = f"view {view.label!r}"
        if not isinstance(view.label, str) or not view.label.strip():
            raise InputError(f"{where}: a view needs a name to list in the Bookmarks panel, View('words by count', ...)")
        if view.projection not in PROJECTIONS:
            raise InputError(
                f"{where}: projection {view.projection!r} cannot be restored from a bookmark by "
                "TensorBoard's Projector (only 'pca'); export the layout as a tensor "
                f"(layouts=['umap']) and view '{view.tensor}/umap' with projection='pca'")
        if view.tensor not in names:
            raise InputError(f"{where}: the run has no tensor {view.tensor!r} (tensors: "
                             f"{', '.join(names)}); name one of them in View(..., tensor=...)")
        cols = columns.get(view.tensor, {})
        shown = projector_columns(list(cols))
        for arg, name in (("color_by", view.color_by), ("label_by", view.label_by)):
            if name is not None and _column(name, shown, list(cols)) is None:
                listed = ", ".join(cols) or "none: it is labelled by row ids only"
                raise InputError(
                    f"{where}: tensor {view.tensor!r} has no metadata column {name!r} (its columns: "
                    f"{listed}); {arg}= one of them, or add the column to its metadata")
        if view.color_by is not None:
            _check_colorable(where, view.color_by, cols.get(view.color_by) or next(iter(cols.values())))


def _check_colorable(where: str, name: str, values: Sequence[Any]) -> None:
    present = {str(v) for v in values if str(v) != ""}
    if len(present) > COLOR_MAX_DISTINCT and not all(_JS_NUMBER.match(v) for v in present):
        raise InputError(
            f"{where}: column {name!r} has {len(present)} distinct values, not all numbers; the "
            f"Projector colours only by numbers or by at most {COLOR_MAX_DISTINCT} categories, so "
            "color_by= another column")
