"""``projector-tools``: the command line.

    projector-tools export SOURCE --logdir DIR [--vocab FILE] [--layer NAME]...
    projector-tools train --logdir runs/NAME [--dataset demo|imdb_reviews/subwords8k]
    projector-tools doctor LOGDIR [--fix] [--vocab FILE] [--json]
    projector-tools neighbors LOGDIR TOKEN [-k 10]
    projector-tools plot LOGDIR -o FILE.png [--color COLUMN]
    projector-tools export-activations MODEL INPUTS --layer NAME --logdir DIR
    projector-tools layout RUN [--method umap|tsne|pca] [--tensor NAME]
    projector-tools publish RUN --out DIR [--base-url URL] [--tsv] [--tensor NAME]

Errors are one line on stderr and a non-zero exit status; ``--debug``
shows the traceback too. Ctrl-C ends any command with status 130 and the
one line ``projector-tools: interrupted`` (see
:mod:`projector_tools.process.interrupts`). TensorFlow's start-up lines are kept
off stderr unless ``--debug`` (see :mod:`projector_tools.process.quiet_tf`).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence

from projector_tools.process.voice import PROG

# Subcommands living in their own modules: (name, module, help). Each module
# has ``configure_parser(parser)`` and ``run_cli(args) -> int`` and imports
# TensorFlow lazily, so that building the parser stays fast.
EXTERNAL_COMMANDS = [
    ("train", "projector_tools.training.trainer", "train the seed's model and export its embedding"),
    ("doctor", "projector_tools.doctor", "explain (and --fix) why a logdir shows nothing"),
    ("neighbors", "projector_tools.analysis.neighbors", "cosine nearest neighbours of a token"),
    ("plot", "projector_tools.analysis.plot", "a 2-D picture of a run, labelled, as PNG"),
    ("export-activations", "projector_tools.export.activations",
     "export a layer's outputs for given inputs (one point per input)"),
    ("layout", "projector_tools.export.layouts", "add full-data UMAP/t-SNE/PCA layouts and clusters to a run"),
    ("publish", "projector_tools.viewer.publish", "a run as a static Projector site, every row, no TensorBoard needed"),
]
# The optional extra (setup.cfg [options.extras_require]) a subcommand needs.
COMMAND_EXTRAS = {"layout": "layout"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Get trained embeddings into TensorBoard's Embedding Projector, labelled.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    from projector_tools.sources.dispatch import source_kinds_help

    p = sub.add_parser(
        "export",
        help="write a Projector-ready run from a model, checkpoint, array or word-vector file",
        description=(
            "Write SOURCE as a Projector-ready run in --logdir. SOURCE is recognised by "
            "its content where its name does not say; tensors are named by their layer, "
            "labels come from the source (tokens, a model's own vocabulary) or --vocab."
        ),
        epilog="sources:\n" + source_kinds_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", help="a model, checkpoint, array or word-vector file (see below)")
    p.add_argument("--logdir", required=True, help="run directory to write")
    p.add_argument("--vocab", help="SubwordTextEncoder vocab file or one token per line")
    p.add_argument("--layer", action="append", dest="layers", metavar="NAME",
                   help="export only this layer/tensor (repeatable)")
    p.add_argument("--max-rows", type=int, help="export only the first N rows (only they are read)")
    p.add_argument("--allow-outside", action="store_true",
                   help="follow a file inside SOURCE that names a file outside its folder")
    p.add_argument("--allow-nonfinite", action="store_true", help="export NaN/Inf values too")
    p.add_argument("--fasttext-vectors", choices=("composed", "input"),
                   help="fastText .bin: each word's row plus its n-gram rows averaged, as "
                        "print-word-vectors prints (composed, the default), or its own input row")
    p.add_argument("--step", type=int, help="step number of this export")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    from projector_tools.analysis.layouts import DEFAULT_MAX_ROWS, METHODS

    p.add_argument("--layout", action="append", dest="layouts", choices=METHODS,
                   help="also write a full-data layout <tensor>/METHOD with clusters (repeatable)")
    p.add_argument("--layout-max-rows", type=int, metavar="N",
                   help=f"layouts: fit on a sample of N rows and place the rest (default {DEFAULT_MAX_ROWS})")
    p.set_defaults(func=run_export)

    for name, module, help_text in EXTERNAL_COMMANDS:
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:  # still listed; using it says what to install
            _add_unavailable(sub, name, help_text, exc)
            continue
        sp = sub.add_parser(name, help=help_text, description=(mod.__doc__ or "").split("\n\n")[0])
        mod.configure_parser(sp)
        sp.set_defaults(func=mod.run_cli)
    return parser


def _add_unavailable(sub, name: str, help_text: str, exc: ImportError) -> None:
    """A subcommand whose module cannot be imported: it fails with what to install."""
    extra = COMMAND_EXTRAS.get(name)
    fix = (f"pip install 'projector_tools[{extra}]'" if extra
           else "reinstall projector_tools with its dependencies (pip install projector_tools)")
    reason = f"{exc.name} is not installed" if exc.name else str(exc)

    def unavailable(args: argparse.Namespace) -> int:
        from projector_tools.errors import InputError

        raise InputError(f"{PROG} {name} is unavailable: {reason}; {fix}")

    sp = sub.add_parser(name, help=f"{help_text} (unavailable: {reason})", add_help=False)
    sp.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    sp.set_defaults(func=unavailable)


def run_export(args: argparse.Namespace) -> int:
    """``projector-tools export``: read the source, then the library's :func:`export_embeddings`."""
    from projector_tools.errors import ShapeMismatchError
    from projector_tools.export.embeddings import export_embeddings
    from projector_tools.process.voice import note
    from projector_tools.sources.dispatch import load_source, load_vocab

    vocab = load_vocab(args.vocab) if args.vocab else None
    src = load_source(args.source, args.layers, vocab_size=len(vocab) if vocab is not None else None,
                      max_rows=args.max_rows, fasttext_vectors=args.fasttext_vectors,
                         allow_outside=args.allow_outside)
    for line in src.notes:
        note(line)
    labels = dict(src.metadata)
    if vocab is not None:
        labels.update({name: vocab for name in src.tensors})
        if args.max_rows is not None:  # a reader that read only the first rows: their labels
            labels.update({name: vocab.take(list(range(len(v)))) for name, v in src.tensors.items()
                           if len(v) == args.max_rows < len(vocab)})
    try:
        result = export_embeddings(
            src.tensors, args.logdir, metadata=labels or None, step=args.step,
            max_rows=args.max_rows, allow_nonfinite=args.allow_nonfinite,
            layouts=tuple(args.layouts or ()), layout_max_rows=args.layout_max_rows,
        )
    except ShapeMismatchError:
        wrong = [(n, int(v.shape[0])) for n, v in src.tensors.items() if vocab is not None and v.shape[0] != len(vocab)]
        if not wrong:
            raise
        name, rows = wrong[0]
        raise ShapeMismatchError(
            f"--vocab {args.vocab!r} has {len(vocab)} entries but tensor {name!r} has "
            f"{rows} rows; use the vocabulary the model was trained with "
            "(for a SubwordTextEncoder: its .subwords file, vocab_size rows)"
        ) from None
    for name in src.tensors:
        if name not in labels:
            note(f"{name}: no labels in the source and no --vocab; points are labelled by row id")
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        for t in result.tensors:
            rows = f", {t.metadata_rows} label rows" if t.metadata_rows is not None else ", no labels"
            print(f"exported {t.name} {t.shape[0]}x{t.shape[1]}{rows}")
        from projector_tools import fsio

        parent = result.logdir if fsio.is_remote(result.logdir) else fsio.dirname(fsio.absolute(result.logdir))
        print(f"run: {result.logdir}")
        print(f"view: tensorboard --logdir {parent}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; ``argv=None`` means this process is the command.

    Then the command runs in a child of a supervisor process and a Ctrl-C
    ends it with status 130 within 2 s (see :mod:`projector_tools.process.supervisor`
    and :mod:`projector_tools.process.interrupts`); called with a list (tests, a
    notebook) it returns 130 instead.
    """
    from projector_tools.process.interrupts import InterruptGuard
    from projector_tools.process.quiet_tf import configure_environment, import_tensorflow
    from projector_tools.process.supervisor import supervise

    owns_process = argv is None
    # The process becomes a supervisor that never returns from here; the
    # command goes on in its child (see projector_tools.process.supervisor).
    link = supervise() if owns_process else None
    guard = InterruptGuard(owns_process=owns_process, link=link)
    try:
        guard.install()
        parser = build_parser()
        args = parser.parse_args(argv)
        configure_environment(debug=args.debug)
        rc = run_command(args, guard, import_tensorflow)
    except BaseException as exc:  # before the command ran (parsing, imports)
        if not (guard.interrupted or isinstance(exc, KeyboardInterrupt)):
            raise  # argparse's SystemExit (--help, usage errors) among others
        rc = guard.finish()
    finally:
        guard.command_done()
        if not owns_process:
            guard.uninstall()
    # The CLI process keeps the guard until it exits: a Ctrl-C during the
    # interpreter's shutdown still ends with 130 and the one line.
    return rc


def run_command(args: argparse.Namespace, guard, import_tensorflow) -> int:
    """Run the parsed subcommand ``args.func`` under ``guard``; return the exit status.

    Every way out is one line and a status: an error (1: ours, or an
    unexpected one whose traceback only ``--debug`` shows) or an
    interruption (130, also when it surfaces as another exception type).
    ``import_tensorflow(quiet=...)`` runs first.
    """
    from projector_tools.errors import ProjectorToolsError
    from projector_tools.process.voice import error_line

    try:
        import_tensorflow(quiet=not args.debug)  # the one import, its start-up lines filtered
        rc = int(args.func(args) or 0)
        if guard.interrupted:  # the interruption was swallowed on the way
            return guard.finish()
        return rc
    except BaseException as exc:
        # After a Ctrl-C, whatever surfaces is the interruption: a
        # KeyboardInterrupt raised inside a C extension can come out as a
        # SystemError, or wrapped by code that catches Exception.
        if guard.interrupted or isinstance(exc, KeyboardInterrupt):
            return guard.finish()
        if isinstance(exc, (SystemExit, GeneratorExit)) or not isinstance(exc, Exception):
            raise
        if args.debug:
            raise
        if isinstance(exc, ProjectorToolsError):
            print(error_line(str(exc)), file=sys.stderr)
            return 1
        first = (str(exc).strip().splitlines() or [""])[0]
        print(
            error_line(f"unexpected {type(exc).__name__}: {first} (rerun with --debug for the traceback)"),
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
