"""Load benchmark: how fast TensorBoard serves our run against a tensorboardX run.

    python bench/load.py                 # 200,000 x 128, writes bench/results/load.json

The same random float32 matrix (one label per row) is exported once by
projector_tools and once by tensorboardX's ``add_embedding``, each into a
logdir of its own. For each, a real ``tensorboard`` process is started
(``projector_tools.viewer.tensorboard.TensorBoardServer``) and two times are
taken: from process start until ``/data/plugins_listing`` answers (start-up,
the same for both formats), and from then until the first complete
``/tensor`` response, doing what the Projector page does first (``/runs``,
``/info``, ``/tensor``). That second time is what the export format decides.
Servers run one at a time, in rotating order, ``--repeat`` times each.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from _common import machine, median, print_table, write_json  # noqa: E402


def export_both(root: str, rows: int, dims: int) -> dict[str, dict]:
    import numpy as np
    from tensorboardX import SummaryWriter

    from projector_tools import export_embeddings

    matrix = np.random.default_rng(0).standard_normal((rows, dims), dtype=np.float32)
    labels = [f"word{i}" for i in range(rows)]
    out = {}
    t = time.perf_counter()
    export_embeddings(matrix, os.path.join(root, "ours", "embedding"), metadata=labels)
    out["ours"] = {"logdir": os.path.join(root, "ours"), "export_s": time.perf_counter() - t}
    t = time.perf_counter()
    writer = SummaryWriter(os.path.join(root, "tensorboardx"))
    writer.add_embedding(matrix, metadata=labels, tag="embedding")
    writer.close()
    out["tensorboardx"] = {"logdir": os.path.join(root, "tensorboardx"), "export_s": time.perf_counter() - t}
    return out


def measure(logdir: str, expected_bytes: int, timeout: float) -> dict[str, float]:
    from projector_tools.viewer.tensorboard import TensorBoardServer

    with TensorBoardServer(logdir, timeout=timeout) as tb:
        startup = tb.ready_at - tb.started_at
        deadline = tb.ready_at + timeout
        while True:  # poll: the run list fills once the plugin has scanned the logdir
            runs = tb.projector_runs()
            if runs or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if not runs:
            raise RuntimeError(f"no projector run in {logdir} after {timeout:.0f}s")
        info = tb.info(runs[0])
        name = info["embeddings"][0]["tensorName"]
        data = tb.get("/data/plugin/projector/tensor", {"run": runs[0], "name": name}, timeout=timeout)
        first_tensor = time.monotonic() - tb.ready_at
    if len(data) != expected_bytes:
        raise RuntimeError(f"/tensor returned {len(data)} bytes, expected {expected_bytes}")
    return {"startup_s": startup, "ready_to_tensor_s": first_tensor}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--dims", type=int, default=128)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--timeout", type=float, default=300.0)
    p.add_argument("--workdir", default=None)
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "load.json"))
    args = p.parse_args(argv)

    root = tempfile.mkdtemp(prefix="pt-bench-load-", dir=args.workdir)
    kinds = ["ours", "tensorboardx"]
    results: dict[str, list[dict]] = {k: [] for k in kinds}
    try:
        exported = export_both(root, args.rows, args.dims)
        for rep in range(args.repeat):
            for kind in (kinds if rep % 2 == 0 else kinds[::-1]):
                r = measure(exported[kind]["logdir"], args.rows * args.dims * 4, args.timeout)
                results[kind].append(r)
                print(f"  run {rep + 1}/{args.repeat} {kind}: start-up {r['startup_s']:.2f} s, "
                      f"ready -> tensor {r['ready_to_tensor_s']:.3f} s", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    summary = {}
    for kind in kinds:
        summary[kind] = {
            "startup_s": median([r["startup_s"] for r in results[kind]]),
            "ready_to_tensor_s": median([r["ready_to_tensor_s"] for r in results[kind]]),
            "all": results[kind],
            "export_s": exported[kind]["export_s"],
        }
    ratio = summary["tensorboardx"]["ready_to_tensor_s"] / summary["ours"]["ready_to_tensor_s"]
    print(f"\nTensorBoard loading {args.rows:,} x {args.dims} (median of {args.repeat} starts)")
    print_table(
        ["run written by", "start-up s", "ready -> first tensor s"],
        [[k, f"{summary[k]['startup_s']:.2f}", f"{summary[k]['ready_to_tensor_s']:.3f}"] for k in kinds],
    )
    print(f"tensorboardx_over_ours_ready_to_tensor: {ratio:.1f}")
    write_json(args.out, {
        "benchmark": "load",
        "command": "python bench/load.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "rows": args.rows, "dims": args.dims, "repeat": args.repeat, "machine": machine(),
        "runs": summary, "ratios": {"tensorboardx_over_ours_ready_to_tensor": ratio},
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
