"""The options of a training run, declared once.

:class:`TrainOptions` is the one place an option of ``projector-tools train``
is named: :func:`projector_tools.train` takes its fields as keyword
arguments, ``run.json`` records them (``"options"``), ``--resume`` reads them
back (:func:`merge_options`) and the command line is generated from them
(:func:`add_arguments`, :func:`given_from_args`).

    >>> opts, resuming = merge_options(None, {"epochs": 3})
    >>> opts.epochs, opts.dataset, resuming
    (3, 'demo', False)
    >>> merge_options(None, {"batch_size": 0})
    Traceback (most recent call last):
    ...
    projector_tools.errors.InputError: batch-size must be >= 1, got 0
"""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from projector_tools.errors import InputError

__all__ = ["TrainOptions", "merge_options", "add_arguments", "given_from_args", "option_names"]


def _opt(default: Any, help: str, *, fixed: bool = False, cli: bool = True, type: Any = str) -> Any:
    """A field with its command-line help; ``fixed``: a resumed run must keep it."""
    return field(default=default, metadata={"help": help, "fixed": fixed, "cli": cli, "type": type})


@dataclass(frozen=True)
class TrainOptions:
    """What a training run is made of (see :func:`projector_tools.train`)."""

    dataset: str = _opt(
        "demo", "demo (default, generated offline), imdb_reviews/subwords8k (needs the IMDB "
        "archive: downloaded once, or placed in --data-dir), aclimdb (--data-dir), csv (--data-csv)",
        fixed=True)
    data_dir: str | None = _opt(
        None, "tfds data dir, or an aclImdb/ directory or aclImdb_v1.tar.gz", fixed=True)
    data_csv: str | None = _opt(None, "CSV file with a text and a label column", fixed=True)
    text_column: str | None = _opt(
        None, "CSV column holding the review text (default: text/review/...)", fixed=True)
    label_column: str | None = _opt(
        None, "CSV column holding the label (default: label/sentiment/...)", fixed=True)
    embedding_dim: int = _opt(16, "embedding size (default 16)", fixed=True, type=int)
    epochs: int = _opt(10, "total epochs (default 10)", type=int)
    batch_size: int = _opt(64, "batch size (default 64)", type=int)
    target_vocab_size: int = _opt(2**13, "subword vocabulary target size", fixed=True, cli=False, type=int)
    seed: int = _opt(0, "random seed of the initial weights, batch order and review sample (default 0)",
                     type=int)
    review_points: int = _opt(
        2000, "validation reviews shown as points in the tensor 'reviews' (default 2000, "
        "balanced by label; 0: none)", type=int)

    def to_dict(self) -> dict[str, Any]:
        """The options as ``run.json`` records them."""
        return asdict(self)


def option_names() -> tuple[str, ...]:
    """Every option's name, in declaration order."""
    return tuple(f.name for f in fields(TrainOptions))


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def merge_options(saved: dict[str, Any] | None, given: dict[str, Any]) -> tuple[TrainOptions, bool]:
    """(options, resuming). Given options (``None``: not given) win; the saved
    options of a resumed run (``run.json``, or None) fill the gaps, and the
    options that define the model and its vocabulary may not change."""
    unknown = sorted(set(given) - set(option_names()))
    if unknown:
        raise InputError(f"unknown training options {unknown}; options are {list(option_names())}")
    given = dict(given)
    for key in ("data_dir", "data_csv"):
        if given.get(key) is not None:
            given[key] = os.path.abspath(os.path.expanduser(given[key]))
    opts = TrainOptions()
    if saved is not None:
        recorded = saved.get("options", saved)
        for f in fields(TrainOptions):
            want, have = given.get(f.name), recorded.get(f.name)
            if f.metadata["fixed"] and want is not None and want != have:
                raise InputError(
                    f"--resume: this run was trained with {_flag(f.name)[2:]}={have!r}, "
                    f"not {want!r}; drop the option to keep the run's value, or train into a new --logdir"
                )
        opts = replace(opts, **{k: v for k, v in recorded.items() if k in option_names()})
    opts = replace(opts, **{k: v for k, v in given.items() if v is not None})
    if given.get("dataset") is None:
        if opts.data_csv and (saved is None or not saved.get("options", saved).get("dataset")):
            opts = replace(opts, dataset="csv")
        elif opts.data_dir and saved is None:
            opts = replace(opts, dataset="aclimdb")
    for key in ("embedding_dim", "epochs", "batch_size", "target_vocab_size"):
        if int(getattr(opts, key)) < 1:
            raise InputError(f"{_flag(key)[2:]} must be >= 1, got {getattr(opts, key)}")
    if int(opts.review_points) < 0:
        raise InputError(f"review-points must be >= 0, got {opts.review_points}")
    ints = {f.name: int(getattr(opts, f.name)) for f in fields(TrainOptions) if f.metadata["type"] is int}
    return replace(opts, **ints), saved is not None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One ``--flag`` per command-line option of :class:`TrainOptions` (default None: not given)."""
    for f in fields(TrainOptions):
        if not f.metadata["cli"]:
            continue
        kwargs: dict[str, Any] = {"help": f.metadata["help"], "default": None}
        if f.metadata["type"] is int:
            kwargs["type"] = int
        if f.name == "data_csv":
            kwargs["metavar"] = "FILE"
        elif f.name == "review_points":
            kwargs["metavar"] = "N"
        parser.add_argument(_flag(f.name), **kwargs)


def given_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The options given on the command line (``None`` for those not given)."""
    return {name: getattr(args, name) for name in option_names() if hasattr(args, name)}
