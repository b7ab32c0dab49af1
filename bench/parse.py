"""Word-vector parsing: the whole `projector-tools export` against gensim's load alone.

    python bench/parse.py                     # 100,000 x 300, writes bench/results/parse.json
    python bench/parse.py --rows 20000 --repeat 1 --out /tmp/parse.json

The files are written by gensim (``KeyedVectors.save_word2vec_format``): the
text form, with a space then added at the end of every vector line the way
word2vec.c and fastText write their ``.vec`` files (gensim's writer ends a line
with the last number), and the binary form as gensim writes it.

For each form, each method runs in a fresh process, as bench/export.py does:
imports and a warm-up on a two-row file first, then the baseline RSS is read,
the peak-RSS mark is reset, and only the work is timed:

* ``gensim``: ``KeyedVectors.load_word2vec_format(path, binary=...)``, which
  only parses the file into memory;
* ``ours``: ``projector_tools.cli.main(["export", path, "--logdir", DIR])``,
  i.e. parse, validate, and write the whole Projector run (checkpoint,
  labels, config, event file).

Reported: wall and CPU time (median over ``--repeat`` runs, methods in rotating
order), peak RSS above the baseline divided by the matrix's bytes, and the
ratio ours / gensim. The target: ratio <= 1 and ours' peak <= 1.5x the matrix.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _common import (  # noqa: E402
    machine,
    median,
    print_table,
    reset_peak,
    run_child,
    status_bytes,
    write_json,
)

FORMS = ("text", "binary")
METHODS = ("gensim", "ours")
LABELS = {
    "gensim": "gensim KeyedVectors.load_word2vec_format (parse only)",
    "ours": "projector-tools export (parse + write the run)",
}


def make_files(workdir: str, rows: int, dims: int, seed: int = 0) -> dict[str, str]:
    """Text (trailing spaces) and binary word2vec files, written by gensim."""
    import numpy as np
    from gensim.models import KeyedVectors

    kv = KeyedVectors(dims)
    kv.add_vectors([f"w{i}" for i in range(rows)],
                   np.random.default_rng(seed).standard_normal((rows, dims), dtype=np.float32))
    plain = os.path.join(workdir, "gensim.txt")
    kv.save_word2vec_format(plain)
    text = os.path.join(workdir, "vectors.vec")
    with open(plain, "rb") as src, open(text, "wb") as out:
        out.write(src.readline())
        for line in src:  # "token v1 ... vd \n", as word2vec.c and fastText write it
            out.write(line[:-1] + b" \n")
    os.remove(plain)
    binary = os.path.join(workdir, "vectors.bin")
    kv.save_word2vec_format(binary, binary=True)
    small = KeyedVectors(2)
    small.add_vectors(["a", "b"], np.ones((2, 2), np.float32))
    for form, path in (("text", text), ("binary", binary)):
        small.save_word2vec_format(path + ".warm", binary=form == "binary")
    return {"text": text, "binary": binary}


def _gensim(path: str, form: str, out: str) -> None:
    from gensim.models import KeyedVectors

    KeyedVectors.load_word2vec_format(path, binary=form == "binary")


def _ours(path: str, form: str, out: str) -> None:
    import contextlib
    import io

    from projector_tools.cli import main

    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["export", path, "--logdir", out])
    if code != 0:
        raise SystemExit(f"export of {path} failed with status {code}")


FUNCS = {"gensim": _gensim, "ours": _ours}


def child(method: str, form: str, path: str, workdir: str, array_bytes: int) -> dict:
    if method == "ours":
        import tensorflow  # noqa: F401  (imported by every export; not what is measured)
    func = FUNCS[method]
    func(path + ".warm", form, os.path.join(workdir, "warmup"))
    baseline = status_bytes("VmRSS")
    os.sync()
    reset_ok = reset_peak()
    cpu0 = time.process_time()
    start = time.perf_counter()
    func(path, form, os.path.join(workdir, "out"))
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    peak = status_bytes("VmHWM")
    result = {"wall_s": wall, "cpu_s": cpu, "peak_above_baseline_bytes": peak - baseline,
              "peak_reset": reset_ok, "array_bytes": array_bytes}
    print(json.dumps(result))
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--dims", type=int, default=300)
    p.add_argument("--repeat", type=int, default=3, help="runs per method and form (median)")
    p.add_argument("--forms", default=",".join(FORMS))
    p.add_argument("--workdir", default=None, help="directory on the disk to measure")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "results", "parse.json"))
    p.add_argument("--child", choices=METHODS, help=argparse.SUPPRESS)
    p.add_argument("--form", choices=FORMS, help=argparse.SUPPRESS)
    p.add_argument("--path", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    array_bytes = args.rows * args.dims * 4
    if args.child:
        child(args.child, args.form, args.path, args.workdir, array_bytes)
        return 0

    forms = [f.strip() for f in args.forms.split(",") if f.strip()]
    root = tempfile.mkdtemp(prefix="pt-bench-parse-", dir=args.workdir)
    runs: dict[tuple[str, str], list[dict]] = {(f, m): [] for f in forms for m in METHODS}
    try:
        print(f"writing {args.rows:,} x {args.dims} files with gensim ...", flush=True)
        files = make_files(root, args.rows, args.dims)
        sizes = {f: os.path.getsize(files[f]) for f in forms}
        for rep in range(args.repeat):
            order = list(METHODS[rep % 2:] + METHODS[: rep % 2])
            for form in forms:
                for method in order:
                    work = os.path.join(root, f"{form}-{method}-{rep}")
                    os.makedirs(work)
                    res = run_child([os.path.abspath(__file__), "--child", method, "--form", form,
                                     "--path", files[form], "--workdir", work,
                                     "--rows", str(args.rows), "--dims", str(args.dims)])
                    runs[(form, method)].append(res)
                    print(f"  run {rep + 1}/{args.repeat} {form} {method}: {res['wall_s']:.3f} s "
                          f"(cpu {res['cpu_s']:.3f} s)", flush=True)
                    shutil.rmtree(work, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    summary: dict[str, dict] = {}
    ratios: dict[str, float] = {}
    table = []
    for form in forms:
        summary[form] = {"file_bytes": sizes[form]}
        for method in METHODS:
            rs = runs[(form, method)]
            peaks = [r["peak_above_baseline_bytes"] for r in rs]
            summary[form][method] = {
                "label": LABELS[method],
                "wall_s": median([r["wall_s"] for r in rs]),
                "wall_s_all": [r["wall_s"] for r in rs],
                "cpu_s": median([r["cpu_s"] for r in rs]),
                "peak_above_baseline_bytes": int(median(peaks)),
                "peak_over_array": median(peaks) / array_bytes,
            }
        g, o = summary[form]["gensim"], summary[form]["ours"]
        ratios[f"{form}_ours_over_gensim_wall"] = o["wall_s"] / g["wall_s"]
        ratios[f"{form}_ours_over_gensim_cpu"] = o["cpu_s"] / g["cpu_s"]
        ratios[f"{form}_ours_peak_over_array"] = o["peak_over_array"]
        for method in METHODS:
            s = summary[form][method]
            table.append([form, s["label"], f"{s['wall_s']:.3f}", f"{s['cpu_s']:.3f}",
                          f"{s['peak_above_baseline_bytes'] / 1e6:.0f}", f"{s['peak_over_array']:.2f}"])
    print(f"\n{args.rows:,} x {args.dims} word vectors ({array_bytes / 1e6:.0f} MB as float32); "
          f"median of {args.repeat} runs")
    print_table(["form", "method", "wall s", "cpu s", "peak RSS MB", "peak / array"], table)
    for k, v in ratios.items():
        print(f"{k}: {v:.2f}")
    meets = all(ratios[f"{f}_ours_over_gensim_wall"] <= 1 and ratios[f"{f}_ours_peak_over_array"] <= 1.5
                for f in forms)
    print(f"target (export <= gensim's load, peak <= 1.5x the matrix): {'met' if meets else 'NOT met'}")
    import gensim

    info = machine()
    info["gensim"] = gensim.__version__
    write_json(args.out, {
        "benchmark": "parse",
        "command": "python bench/parse.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "rows": args.rows, "dims": args.dims, "array_bytes": array_bytes, "repeat": args.repeat,
        "machine": info, "forms": summary, "ratios": ratios, "target_met": meets,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
