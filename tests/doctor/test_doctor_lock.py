"""``doctor --fix`` racing an ``export`` into the same run: it writes under the run
lock, so the reader (resolving the run as TensorBoard does) never sees labels
from one export over another's tensor, and doctor never fails with a raw error."""

from __future__ import annotations

import contextlib
import io
import queue
import time

import pytest

from projector_tools import export_embeddings
from projector_tools.cli import main
from tests.test_concurrency import forkserver, read_once  # noqa: F401 - the fixture, the reader

EXPORTS = 400  # at most: the writer stops once doctor has run DOCTORS times beside it
DOCTORS = 4
# Seconds between two of the writer's exports, as an epoch passes between a training
# loop's: with none, the writer took the lock again within a millisecond of releasing
# it, and one doctor --fix in a fresh clone waited out its 30 s for the lock (exit 2).
PAUSE = 0.02


@pytest.mark.slow
def test_doctor_fix_racing_export_sees_and_leaves_whole_exports(tmp_path, forkserver):  # noqa: F811
    from tests.helpers import export_loop

    run_dir = str(tmp_path / "logs" / "run")
    export_embeddings(*export_loop.export_number(0, 100)[:1], run_dir,
                      metadata=export_loop.export_number(0, 100)[1])
    go, stop, results = forkserver.Event(), forkserver.Event(), forkserver.Queue()
    writer = forkserver.Process(target=export_loop.export_n_times,
                                args=(run_dir, 10_000, EXPORTS, go, results, None, stop, PAUSE), daemon=True)
    writer.start()
    outcomes, problems, doctors = {}, [], []
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["doctor", run_dir, "--fix"]) == 0  # imports done before the race
    go.set()
    start = time.monotonic()
    while len(doctors) < DOCTORS and writer.is_alive():  # every doctor --fix races the writer
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            rc = main(["doctor", run_dir, "--fix"])
        doctors.append((rc, out.getvalue()))
        status, _ = read_once(run_dir)
        if status != "ok":
            problems.append(status)
        with contextlib.suppress(queue.Empty):
            while True:
                k, how, msg = results.get_nowait()
                outcomes[k] = (how, msg)
        assert time.monotonic() - start < 300, f"stuck: {len(outcomes)} exports done"
    stop.set()
    writer.join(60)
    with contextlib.suppress(queue.Empty):
        while True:
            k, how, msg = results.get(timeout=1)
            outcomes[k] = (how, msg)
    assert outcomes, "the writer exported nothing beside doctor"
    assert all(how == "ok" for how, _ in outcomes.values()), outcomes
    assert not problems, problems[:3]
    assert len(doctors) >= 3
    for rc, text in doctors:
        assert "Traceback" not in text, text
        assert rc in (0, 1), text  # 1: doctor found something to report; never a crash
    assert read_once(run_dir)[0] == "ok"
