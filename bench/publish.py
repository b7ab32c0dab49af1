"""How large a published page headless Chromium copes with.

    python bench/publish.py                                   # 150k x 4, 1M x 16, 2M x 16
    python bench/publish.py --sizes 1000000x64 --timeout 600  # one size of your own

For each size ROWSxDIMS: a random float32 matrix with one label per row is
exported (``export_embeddings``), published (``projector_tools.publish``),
served by ``python -m http.server`` on 127.0.0.1 and opened in a fresh
headless Chromium (the one the browser tests drive, WebGL through
SwiftShader). Recorded: the site's size, the seconds from ``page.goto`` until
the toolbar reads ``Points: ROWS`` (or why it never did: a timeout, a
crashed tab), and the browser's JS heap after load. Writes
``bench/results/publish.json``; the machine's load average is in it.
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

from _common import dir_bytes, machine, print_table, write_json  # noqa: E402


def build_site(root: str, rows: int, dims: int) -> str:
    import numpy as np

    from projector_tools import export_embeddings, publish

    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((rows, dims), dtype=np.float32)
    run = os.path.join(root, "run")
    export_embeddings(matrix, run, metadata=[f"w{i}" for i in range(rows)])
    return publish(run, os.path.join(root, "site")).out


def open_in_chromium(site: str, rows: int, timeout_s: float) -> dict:
    from projector_tools.viewer.browser import launch_chromium, start_playwright, wait_for_points
    from projector_tools.viewer.static_site import StaticServer

    with StaticServer(site) as server, start_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        crashed: list[bool] = []
        page.on("crash", lambda _page: crashed.append(True))
        t = time.perf_counter()
        try:
            page.goto(server.url + "/")
            wait_for_points(page.main_frame, rows, timeout_ms=int(timeout_s * 1000))
            seconds = round(time.perf_counter() - t, 1)
            heap = page.evaluate("() => performance.memory ? performance.memory.usedJSHeapSize : null")
            return {"shown": True, "seconds_to_points": seconds,
                    "js_heap_mib": round(heap / 2**20) if heap else None}
        except Exception as exc:  # noqa: BLE001 - what the browser did instead is the result
            why = "tab crashed" if crashed else f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
            return {"shown": False, "after_s": round(time.perf_counter() - t, 1), "why": why}
        finally:
            browser.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="150000x4,1000000x16,2000000x16", help="ROWSxDIMS,...")
    ap.add_argument("--timeout", type=float, default=300, help="seconds to wait for the points")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "results", "publish.json"))
    args = ap.parse_args()
    results = []
    for size in args.sizes.split(","):
        rows, dims = (int(x) for x in size.lower().split("x"))
        root = tempfile.mkdtemp(prefix="bench-publish-")
        try:
            site = build_site(root, rows, dims)
            r = {"rows": rows, "dims": dims, "site_mib": round(dir_bytes(site) / 2**20, 1)}
            r.update(open_in_chromium(site, rows, args.timeout))
        finally:
            shutil.rmtree(root, ignore_errors=True)
        print(r, flush=True)
        results.append(r)
    print_table(["rows x dims", "site MiB", "shown", "seconds", "JS heap MiB / why not"],
                [[f"{r['rows']}x{r['dims']}", r["site_mib"], r["shown"], r.get("seconds_to_points", r.get("after_s")),
                  r.get("js_heap_mib") if r["shown"] else r["why"]] for r in results])
    write_json(args.out, {"machine": machine(), "timeout_s": args.timeout, "results": results})


if __name__ == "__main__":
    main()
