"""Sprite images: one thumbnail per point, the picture the Projector draws.

The Projector reads a sprite as one PNG holding every row's image in a
square grid, row-major, each cell ``single_image_dim`` pixels (width,
height). Its documentation limits the sprite to 8,192 x 8,192 px (the
browser's texture limit), so thumbnails are scaled down when
``ceil(sqrt(N))`` cells of the original size would not fit, and the
:class:`Sprite` says so in :attr:`Sprite.note`.

Images are ``(N, H, W)`` (grey) or ``(N, H, W, C)`` with C = 1, 3 or 4,
``uint8`` (0-255) or float in [0, 1]. Pillow encodes the PNG.

    >>> sprite = build_sprite(np.zeros((10, 8, 8), "uint8"))
    >>> sprite.thumb_size, sprite.png[:4]
    ((8, 8), b'\\x89PNG')
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass

import numpy as np

from projector_tools.errors import InputError

__all__ = ["MAX_SPRITE_PX", "Sprite", "build_sprite"]

#: The largest sprite side the Projector accepts (its documented limit).
MAX_SPRITE_PX = 8192


@dataclass(frozen=True)
class Sprite:
    """A sprite PNG and the size of each thumbnail in it (width, height)."""

    png: bytes
    thumb_size: tuple[int, int]
    rows: int
    note: str | None = None  # set when the thumbnails were shrunk


def _as_uint8(images: object, what: str) -> np.ndarray:
    arr = np.asarray(images)
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[-1] not in (3, 4)):
        raise InputError(
            f"{what} has shape {arr.shape}; pass one image per row as (N, H, W) or "
            "(N, H, W, C) with C = 1, 3 or 4"
        )
    if min(arr.shape) == 0:
        raise InputError(f"{what} is empty (shape {arr.shape})")
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
            raise InputError(
                f"{what} holds floats outside [0, 1] (from {np.nanmin(arr):g} to "
                f"{np.nanmax(arr):g}); scale them to [0, 1] or pass uint8 0-255"
            )
        return np.round(arr * 255).astype(np.uint8)
    if arr.dtype.kind in "iub" and arr.size and arr.min() >= 0 and arr.max() <= 255:
        return arr.astype(np.uint8)
    raise InputError(
        f"{what} has dtype {arr.dtype}; pass uint8 (0-255) or floats in [0, 1]"
    )


def build_sprite(images: object, *, rows: int | None = None, what: str = "images",
                 max_px: int = MAX_SPRITE_PX) -> Sprite:
    """The sprite of ``images`` (one per row; ``rows`` checks their number)."""
    arr = _as_uint8(images, what)
    n, h, w = arr.shape[:3]
    if rows is not None and n != rows:
        raise InputError(
            f"{what} holds {n} images but the tensor has {rows} rows; the Projector "
            "needs exactly one image per row"
        )
    from PIL import Image

    side = math.ceil(math.sqrt(n))
    scale = min(1.0, max_px / (side * w), max_px / (side * h))
    tw, th = max(1, int(w * scale)), max(1, int(h * scale))
    note = None
    if (tw, th) != (w, h):
        note = (f"{what}: {n} images of {w}x{h} px would make a sprite wider than "
                f"{max_px} px; thumbnails shrunk to {tw}x{th} px")
    mode = "L" if arr.ndim == 3 else ("RGB" if arr.shape[-1] == 3 else "RGBA")
    sheet = Image.new(mode, (side * tw, side * th), 255 if mode == "L" else (255,) * len(mode))
    for i in range(n):
        thumb = Image.fromarray(arr[i])
        if (tw, th) != (w, h):
            thumb = thumb.resize((tw, th), Image.Resampling.LANCZOS)
        sheet.paste(thumb, ((i % side) * tw, (i // side) * th))
    buf = io.BytesIO()
    sheet.save(buf, format="PNG", optimize=False)
    return Sprite(png=buf.getvalue(), thumb_size=(tw, th), rows=n, note=note)


def build_sprites(images: object, rows: dict[str, int]) -> dict[str, Sprite]:
    """``{tensor name: Sprite}`` for ``images`` as ``export_embeddings`` takes them.

    ``images`` is one image array (when one tensor is exported) or a mapping
    ``{tensor name: images}``; ``rows`` holds each exported tensor's row count.
    Shrunk thumbnails are reported with a ``UserWarning`` (:attr:`Sprite.note`).
    """
    from collections.abc import Mapping

    if images is None:
        return {}
    if isinstance(images, Mapping):
        unknown = [k for k in images if k not in rows]
        if unknown:
            raise InputError(
                f"images given for {unknown}, which is not an exported tensor; tensors "
                f"are {list(rows)}"
            )
        given = {k: v for k, v in images.items() if v is not None}
    elif len(rows) == 1:
        given = {next(iter(rows)): images}
    else:
        raise InputError(
            f"{len(rows)} tensors are exported ({', '.join(rows)}); pass images as a "
            "mapping {tensor_name: images}"
        )
    sprites = {name: build_sprite(arr, rows=rows[name], what=f"images of {name!r}")
               for name, arr in given.items()}
    for sprite in sprites.values():
        if sprite.note:
            warnings.warn(sprite.note, stacklevel=3)
    return sprites
