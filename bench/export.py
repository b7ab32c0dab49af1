"""Export benchmark: projector_tools against np.save, tensorboardX and the tutorial.

    python bench/export.py                          # 200,000 x 128, writes bench/results/export.json
    python bench/export.py --rows 1000000 --dims 300 --methods ours,npsave,tutorial \
        --out bench/results/export_1m.json

Each method runs in a fresh process: imports and a one-row warm-up first
(TensorFlow's start-up is paid once per process, by training), then the
baseline RSS is read, the random float32 matrix (seeded) and one label per
row are made, dirty pages are flushed (``os.sync``) and the peak-RSS mark is
reset, and only the export itself is timed. Reported: wall time (median over
``--repeat`` runs, methods in rotating order), peak RSS above the baseline
(the matrix itself included; divided by the matrix's bytes) and bytes on
disk. Every run writes into a fresh directory on the same disk.

A fresh process meets memory no process has touched for a while; on a
virtual machine whose host reclaims free guest memory (this project's
machines) that memory faults in slowly, and ``np.save``'s page-cache writes
from one thread pay for it more than the export's two writers do.
``--warm`` measures the other extreme: every method in one process, after
one untimed full-size round of each, so the page cache reuses memory just
freed (wall time only; peak memory is not meaningful there):

    python bench/export.py --rows 1000000 --dims 300 --methods ours,npsave --repeat 5 --warm \
        --out bench/results/export_1m_warm.json
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import (  # noqa: E402
    dir_bytes,
    machine,
    median,
    print_table,
    reset_peak,
    run_child,
    status_bytes,
    write_json,
)

METHODS = ("ours", "npsave", "tensorboardx", "tutorial")
LABELS = {
    "ours": "projector_tools.export_embeddings",
    "npsave": "np.save (array only, the floor)",
    "tensorboardx": "tensorboardX add_embedding",
    "tutorial": "tutorial: tf.train.Checkpoint + metadata.tsv",
}


# -- the methods, each given (matrix, labels, out_dir) ------------------------


def _ours(matrix, labels, out):
    from projector_tools import export_embeddings

    export_embeddings(matrix, out, metadata=labels)


def _npsave(matrix, labels, out):
    import numpy as np

    os.makedirs(out, exist_ok=True)
    np.save(os.path.join(out, "embedding.npy"), matrix)


def _tensorboardx(matrix, labels, out):
    from tensorboardX import SummaryWriter

    writer = SummaryWriter(out)
    writer.add_embedding(matrix, metadata=labels, tag="embedding")
    writer.close()


def _tutorial(matrix, labels, out):
    # https://www.tensorflow.org/tensorboard/tensorboard_projector_plugin
    import tensorflow as tf
    from tensorboard.plugins import projector

    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "metadata.tsv"), "w", encoding="utf-8") as f:
        for label in labels:
            f.write(f"{label}\n")
    weights = tf.Variable(matrix)
    checkpoint = tf.train.Checkpoint(embedding=weights)
    checkpoint.save(os.path.join(out, "embedding.ckpt"))
    config = projector.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = "embedding/.ATTRIBUTES/VARIABLE_VALUE"
    embedding.metadata_path = "metadata.tsv"
    projector.visualize_embeddings(out, config)


FUNCS = {"ours": _ours, "npsave": _npsave, "tensorboardx": _tensorboardx, "tutorial": _tutorial}


def make_data(rows: int, dims: int, seed: int = 0):
    import numpy as np

    matrix = np.random.default_rng(seed).standard_normal((rows, dims), dtype=np.float32)
    labels = [f"word{i}" for i in range(rows)]
    return matrix, labels


def child(method: str, rows: int, dims: int, workdir: str) -> dict:
    if method in ("ours", "tutorial"):
        import tensorflow  # noqa: F401
    func = FUNCS[method]
    warm_m, warm_l = make_data(2, 2)
    func(warm_m, warm_l, os.path.join(workdir, "warmup"))
    baseline = status_bytes("VmRSS")
    matrix, labels = make_data(rows, dims)
    out = os.path.join(workdir, "out")
    os.sync()
    reset_ok = reset_peak()
    start = time.perf_counter()
    func(matrix, labels, out)
    wall = time.perf_counter() - start
    peak = status_bytes("VmHWM")
    import json

    result = {
        "wall_s": wall,
        "peak_above_baseline_bytes": peak - baseline,
        "peak_reset": reset_ok,
        "bytes_on_disk": dir_bytes(out),
        "array_bytes": int(matrix.nbytes),
    }
    print(json.dumps(result))
    return result


def warm_child(methods: list[str], rows: int, dims: int, repeat: int, workdir: str) -> dict:
    """Every method in this process: one untimed full-size round, then ``repeat`` timed ones."""
    import json

    if {"ours", "tutorial"} & set(methods):
        import tensorflow  # noqa: F401
    matrix, labels = make_data(rows, dims)
    walls: dict[str, list[float]] = {m: [] for m in methods}
    for rep in range(repeat + 1):
        order = methods[rep % len(methods):] + methods[: rep % len(methods)]
        for method in order:
            out = os.path.join(workdir, f"{method}-{rep}")
            os.sync()
            start = time.perf_counter()
            FUNCS[method](matrix, labels, out)
            wall = time.perf_counter() - start
            shutil.rmtree(out, ignore_errors=True)
            if rep:
                walls[method].append(wall)
                print(f"  run {rep}/{repeat} {method}: {wall:.3f} s", file=sys.stderr, flush=True)
    print(json.dumps(walls))
    return walls


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--dims", type=int, default=128)
    p.add_argument("--repeat", type=int, default=3, help="runs per method (median)")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--workdir", default=None, help="directory on the disk to measure")
    p.add_argument("--out", default=None, help="JSON results path")
    p.add_argument("--warm", action="store_true",
                   help="all methods in one process after an untimed full-size round (wall time only)")
    p.add_argument("--child", choices=METHODS, help=argparse.SUPPRESS)
    p.add_argument("--warm-child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args.child, args.rows, args.dims, args.workdir)
        return 0
    if args.warm_child:
        warm_child(args.warm_child.split(","), args.rows, args.dims, args.repeat, args.workdir)
        return 0

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        p.error(f"unknown methods {unknown}; choose from {METHODS}")
    if args.warm:
        return warm_main(args, methods, argv)
    if args.out is None:
        args.out = default_out(args, "")
    load_before = [round(x, 2) for x in os.getloadavg()]
    root = tempfile.mkdtemp(prefix="pt-bench-export-", dir=args.workdir)
    runs: dict[str, list[dict]] = {m: [] for m in methods}
    try:
        for rep in range(args.repeat):
            order = methods[rep % len(methods):] + methods[: rep % len(methods)]
            for method in order:
                work = os.path.join(root, f"{method}-{rep}")
                os.makedirs(work)
                res = run_child(
                    [os.path.abspath(__file__), "--child", method, "--rows", str(args.rows),
                     "--dims", str(args.dims), "--workdir", work]
                )
                runs[method].append(res)
                print(f"  run {rep + 1}/{args.repeat} {method}: {res['wall_s']:.3f} s", flush=True)
                shutil.rmtree(work, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    array_bytes = args.rows * args.dims * 4
    summary = {}
    for m in methods:
        walls = [r["wall_s"] for r in runs[m]]
        peaks = [r["peak_above_baseline_bytes"] for r in runs[m]]
        summary[m] = {
            "label": LABELS[m],
            "wall_s": median(walls),
            "wall_s_all": walls,
            "peak_above_baseline_bytes": int(median(peaks)),
            "peak_over_array": median(peaks) / array_bytes,
            "bytes_on_disk": runs[m][0]["bytes_on_disk"],
        }
    ratios = {}
    if "ours" in summary:
        ours = summary["ours"]["wall_s"]
        if "npsave" in summary:
            ratios["ours_over_npsave_wall"] = ours / summary["npsave"]["wall_s"]
        if "tensorboardx" in summary:
            ratios["tensorboardx_over_ours_wall"] = summary["tensorboardx"]["wall_s"] / ours
        if "tutorial" in summary:
            ratios["tutorial_over_ours_wall"] = summary["tutorial"]["wall_s"] / ours
        ratios["ours_peak_over_array"] = summary["ours"]["peak_over_array"]

    headers = ["method", "wall s", "x np.save", "peak RSS MB", "peak / array", "disk MB"]
    base = summary.get("npsave", {}).get("wall_s")
    rows = []
    for m in methods:
        s = summary[m]
        rows.append([
            s["label"], f"{s['wall_s']:.3f}",
            f"{s['wall_s'] / base:.2f}" if base else "-",
            f"{s['peak_above_baseline_bytes'] / 1e6:.0f}", f"{s['peak_over_array']:.2f}",
            f"{s['bytes_on_disk'] / 1e6:.1f}",
        ])
    print(f"\nexport of {args.rows:,} x {args.dims} float32 ({array_bytes / 1e6:.0f} MB) "
          f"with one label per row; median of {args.repeat} runs")
    print_table(headers, rows)
    for k, v in ratios.items():
        print(f"{k}: {v:.2f}")
    write_json(args.out, {
        "benchmark": "export",
        "command": "python bench/export.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "rows": args.rows, "dims": args.dims, "array_bytes": array_bytes,
        "repeat": args.repeat, "machine": machine(), "methods": summary, "ratios": ratios,
        "load_average_before": load_before,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })
    return 0


def default_out(args, suffix: str) -> str:
    """bench/results/export[_1m]<suffix>.json: ``_1m`` for 100M values or more."""
    big = args.rows * args.dims >= 100_000_000
    name = f"export{'_1m' if big else ''}{suffix}.json"
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", name)


def warm_main(args, methods: list[str], argv) -> int:
    """``--warm``: one child process runs every method; medians and ratios of wall time."""
    if args.out is None:
        args.out = default_out(args, "_warm")
    load_before = [round(x, 2) for x in os.getloadavg()]
    root = tempfile.mkdtemp(prefix="pt-bench-export-", dir=args.workdir)
    try:
        walls = run_child(
            [os.path.abspath(__file__), "--warm-child", ",".join(methods), "--rows", str(args.rows),
             "--dims", str(args.dims), "--repeat", str(args.repeat), "--workdir", root]
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    summary = {m: {"label": LABELS[m], "wall_s": median(walls[m]), "wall_s_all": walls[m]} for m in methods}
    base = summary.get("npsave", {}).get("wall_s")
    ratios = {}
    if base and "ours" in summary:
        ratios["ours_over_npsave_wall"] = summary["ours"]["wall_s"] / base
    print(f"\nexport of {args.rows:,} x {args.dims} float32 with one label per row, all methods in one "
          f"process after a full-size warm-up round; median of {args.repeat} runs")
    print_table(["method", "wall s", "x np.save"],
                [[s["label"], f"{s['wall_s']:.3f}", f"{s['wall_s'] / base:.2f}" if base else "-"]
                 for s in summary.values()])
    for k, v in ratios.items():
        print(f"{k}: {v:.2f}")
    write_json(args.out, {
        "benchmark": "export, warm (one process, after an untimed full-size round of each method)",
        "command": "python bench/export.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "rows": args.rows, "dims": args.dims, "repeat": args.repeat, "machine": machine(),
        "methods": summary, "ratios": ratios, "load_average_before": load_before,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
