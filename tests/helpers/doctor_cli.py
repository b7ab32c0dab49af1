"""``projector-tools doctor`` run in-process, as the doctor tests call it."""

from __future__ import annotations

import json

from projector_tools.cli import main


def doctor(capsys, *args: str) -> tuple[int, str]:
    capsys.readouterr()
    rc = main(["doctor", *map(str, args)])
    out = capsys.readouterr()
    return rc, out.out + out.err


def doctor_json(capsys, logdir) -> tuple[int, dict]:
    rc, out = doctor(capsys, logdir, "--json")
    return rc, json.loads(out[out.index("{"):])


def codes(report: dict) -> set[str]:
    return {f["code"] for f in report["findings"] if f["severity"] in ("error", "warning")}
