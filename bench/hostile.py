"""The hostile-files sweep at full size (issue "Hostile files"): every case the
issue lists, built at the issue's sizes (8 GiB gzip inflations, a 5 GiB
``config.json`` entry, a 4 GiB vocabulary asset, 3,000,000 x 1,000 tensors on
sparse files, a 1 GiB one-line metadata file), each command run as a fresh
``projector-tools`` process the way a user runs it.

For each command it records the exit status, the wall time (killed past
``--limit`` seconds), the peak resident memory of the process tree (polled, and
``ru_maxrss`` from ``wait4``; killed past 6 GB), the error lines, and, under
``strace``, every file the process opened successfully. A command keeps the
promise when it ends within 60 s with exit 0 or exactly one
``projector-tools: error:`` line and a non-zero exit (``doctor`` may instead
report its findings and exit 1), no traceback and no abort, peak under 1.5 GB
beyond what it exports, nothing written on failure, and no file opened from
the ``outside/`` folder or ``/etc/shadow``.

    python bench/hostile.py                      # all cases -> bench/results/hostile.json
    python bench/hostile.py --only fifo,dtype99  # cases whose name holds one of these

The generated files (about 40 MB on disk, sparse files aside) are kept in
``--work`` between runs. ``tests/test_hostile.py`` runs the same categories at
smaller sizes in ``make test``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests.helpers
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402  (bench/_common.py)

import hostile_inputs as build  # noqa: E402  (bench/hostile_inputs.py)
from tests.helpers.hostile_checks import tree  # noqa: E402  (a folder's files: sizes, mtimes)

HERE = os.path.dirname(os.path.abspath(__file__))
CLI = [sys.executable, "-m", "projector_tools.cli"]
KILL_BYTES = 6 << 30
LIMIT_S = 120
PROMISE_S = 60
PEAK_BYTES = 1536 << 20
ERROR = "projector-tools: error:"


def _tree_rss(pgid: int) -> int:
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[2]) != pgid:  # field 5: process group
                continue
            total += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")  # field 24: rss pages
        except (OSError, IndexError, ValueError):
            continue
    return total


def run_command(argv: list[str], trace: str | None, limit: int) -> dict:
    """One command in its own process group: status, seconds, peak bytes, output."""
    prefix = ["strace", "-f", "-qq", "-e", "trace=open,openat,openat2", "-e", "status=successful",
              "-o", trace] if trace else []
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    start = time.monotonic()
    proc = subprocess.Popen(prefix + CLI + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, env=env, cwd=os.path.dirname(HERE))
    out_path, err_path = [], []
    import threading

    def drain(stream, sink):
        sink.append(stream.read())

    threads = [threading.Thread(target=drain, args=(proc.stdout, out_path)),
               threading.Thread(target=drain, args=(proc.stderr, err_path))]
    for t in threads:
        t.start()
    peak, killed = 0, None
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        peak = max(peak, _tree_rss(proc.pid))
        if peak > KILL_BYTES:
            killed = "memory"
        elif time.monotonic() - start > limit:
            killed = "time"
        if killed:
            os.killpg(proc.pid, signal.SIGKILL)
            _, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - start
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    for t in threads:
        t.join()
    code = proc.returncode
    return {"status": code, "seconds": round(seconds, 1), "killed": killed,
            "peak_mb": max(peak, usage.ru_maxrss * 1024) >> 20,
            "stdout": out_path[0].decode(errors="replace"), "stderr": err_path[0].decode(errors="replace")}


def opened_outside(trace: str, forbidden: list[str]) -> list[str]:
    found = set()
    with open(trace, errors="replace") as f:
        for line in f:
            if '"' not in line:
                continue
            path = line.split('"')[1]
            real = os.path.realpath(path) if os.path.isabs(path) else path
            if any(real == p or real.startswith(p.rstrip("/") + "/") for p in forbidden):
                found.add(path)
    return sorted(found)


def judge(case: build.Case, cmd: build.Command, r: dict, wrote: list[str], outside: list[str]) -> list[str]:
    broken = []
    errors = [ln for ln in r["stderr"].splitlines() if ln.startswith(ERROR)]
    if r["killed"]:
        broken.append(f"killed ({r['killed']})")
    elif r["seconds"] > PROMISE_S:
        broken.append(f"took {r['seconds']} s")
    if r["status"] in (134, -6, -11) or "F0000" in r["stderr"] or "Fatal Python" in r["stderr"]:
        broken.append(f"aborted ({r['status']})")
    if "Traceback" in r["stderr"]:
        broken.append("traceback")
    if r["status"] != 0 and not r["killed"]:
        reports = cmd.argv[0] == "doctor" and r["status"] == 1 and not errors
        if len(errors) != 1 and not reports:
            broken.append(f"{len(errors)} error lines")
    if r["peak_mb"] > (PEAK_BYTES >> 20) + cmd.exported_mb:
        broken.append(f"peak {r['peak_mb']} MB")
    if wrote:
        broken.append(f"wrote on failure: {wrote[:3]}")
    if outside:
        broken.append(f"opened outside: {outside[:3]}")
    if cmd.expect == "ok" and r["status"] != 0:
        broken.append("expected success")
    return broken


def sweep(work: str, only: list[str], limit: int) -> list[dict]:
    results = []
    forbidden = [os.path.join(work, "outside"), "/etc/shadow"]
    for case in build.cases(work):
        if only and not any(o in case.name for o in only):
            continue
        t0 = time.monotonic()
        made = subprocess.run([sys.executable, os.path.join(HERE, "hostile_inputs.py"), work, case.name],
                              env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES=""),
                              capture_output=True, text=True)
        if made.returncode != 0:
            print(f"{case.name}: could not build it:\n{made.stderr[-2000:]}", flush=True)
            continue
        built_s = time.monotonic() - t0
        for i, cmd in enumerate(case.commands):
            out = os.path.join(work, "out", f"{case.name}-{i}")
            shutil.rmtree(os.path.join(work, "out"), ignore_errors=True)
            os.makedirs(os.path.join(work, "out"))
            argv = [a.format(out=out, work=work) for a in cmd.argv]
            watched = [p.format(work=work) for p in cmd.watch]
            before = {p: tree(p) for p in watched}
            trace = os.path.join(work, "trace.txt")
            r = run_command(argv, trace, limit)
            wrote = []
            refused = any(ln.startswith(ERROR) for ln in r["stderr"].splitlines())
            if r["status"] != 0 and (refused or argv[0] != "doctor"):  # doctor's report may follow repairs
                if os.path.exists(out):
                    wrote.append(out)
                wrote += [p for p in watched if tree(p) != before[p]]
            outside = opened_outside(trace, forbidden)
            broken = judge(case, cmd, r, wrote, outside)
            errors = [ln for ln in r["stderr"].splitlines() if ln.startswith(ERROR)]
            row = {"case": case.name, "argv": [a.replace(work, "$W") for a in argv], "status": r["status"],
                   "seconds": r["seconds"], "peak_mb": r["peak_mb"], "broken": broken,
                   "error": errors[0].replace(work, "$W") if errors else None, "built_s": round(built_s, 1)}
            if broken:
                row["stderr_tail"] = r["stderr"][-1500:].replace(work, "$W")
            results.append(row)
            mark = "BROKEN " + "; ".join(broken) if broken else "ok"
            print(f"{case.name:34} {' '.join(row['argv'][:4])[:60]:60} {r['status']:>4} {r['seconds']:6.1f}s "
                  f"{r['peak_mb']:5d}MB {mark}", flush=True)
            if row["error"]:
                print(f"    {row['error'][:220]}", flush=True)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), "projector-tools-hostile"))
    ap.add_argument("--only", default="", help="comma-separated parts of case names")
    ap.add_argument("--limit", type=int, default=LIMIT_S)
    ap.add_argument("--out", default=os.path.join(HERE, "results", "hostile.json"))
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    only = [o for o in args.only.split(",") if o]
    results = sweep(os.path.abspath(args.work), only, args.limit)
    broken = [r for r in results if r["broken"]]
    print(f"\n{len(results)} commands, {len(broken)} broke a promise")
    if not only:
        _common.write_json(args.out, {"machine": _common.machine(), "load": os.getloadavg(),
                                      "commands": len(results), "broken": len(broken), "results": results})


if __name__ == "__main__":
    main()
