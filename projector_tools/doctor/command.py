"""``projector-tools doctor``: the command line and the printed report.

    projector-tools doctor LOGDIR [--json]
    projector-tools doctor LOGDIR --fix [--vocab FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TextIO

from projector_tools import fsio
from projector_tools.doctor.checks import diagnose, tensorflow_problem
from projector_tools.doctor.repairs import fix
from projector_tools.doctor.report import INFO, Report
from projector_tools.errors import LogdirError
from projector_tools.process import voice


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("logdir", help="the directory you pass to tensorboard --logdir")
    parser.add_argument("--fix", action="store_true",
                        help="repair what can be repaired without guessing (backups kept)")
    parser.add_argument("--vocab", metavar="FILE", help="with --fix: the vocabulary the model was trained with "
                        "(SubwordTextEncoder .subwords file or one token per line)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def print_report(report: Report, out: TextIO | None = None) -> None:
    """``report`` as lines a person reads: runs, tensors, findings with their fixes."""
    out = out if out is not None else sys.stdout
    print(f"logdir: {report.logdir}", file=out)
    print("Projector runs: " + (", ".join(report.runs) if report.runs else "none"), file=out)
    for t in report.tensors:
        shape = "x".join(str(x) for x in t.shape) if t.shape else "?"
        labels = f", {t.metadata_rows} label rows" if t.metadata_rows is not None else ", no labels"
        state = "" if t.loads else "  (does not load)"
        print(f"  run {t.run!r}: tensor {t.name} {shape}{labels}{state}", file=out)
    for f in report.findings:
        print(f"{f.severity.upper()} [{f.code}] {f.message}", file=out)
        if f.fix and f.severity != INFO:
            print(f"    fix: {f.fix}", file=out)
    problems = [f for f in report.findings if f.is_problem]
    if problems:
        print(f"{len(problems)} problem(s); TensorBoard will not show everything correctly.",
              file=out)
    else:
        print("OK: every run loads with its labels.", file=out)


def _logdir_exists(logdir: str) -> bool:
    if fsio.is_remote(logdir):
        return fsio.exists(logdir) and fsio.isdir(logdir)
    return os.path.isdir(logdir)  # without TensorFlow too (doctor reports its absence)


def run_cli(args: argparse.Namespace) -> int:
    logdir = args.logdir
    if not _logdir_exists(logdir):
        if args.json:
            print(json.dumps({"logdir": logdir, "ok": False,
                              "error": f"logdir {logdir!r} does not exist"}))
        print(voice.error_line(f"logdir {logdir!r} does not exist"), file=sys.stderr)
        return 2
    if args.vocab and not args.fix:
        voice.note("note: --vocab is used with --fix only")
    actions: list[str] = []
    notes: list[str] = []
    try:
        if args.fix and tensorflow_problem() is None:
            actions, notes = fix(logdir, args.vocab)
        report = diagnose(logdir)
    except LogdirError as exc:
        print(voice.error_line(str(exc)), file=sys.stderr)
        return 2
    report.fixed = actions
    if args.json:
        data = report.to_dict()
        data["not_fixed"] = notes
        print(json.dumps(data, indent=2))
    else:
        for a in actions:
            print(f"fixed: {a}")
        for n in notes:
            print(f"not fixed: {n}")
        print_report(report)
    return 0 if report.ok else 1
