"""Named stages of a long computation, each timed and said as it ends.

    >>> stages = Stages(say=None)
    >>> with stages.stage("embedding/umap: neighbours"):
    ...     pass
    >>> [r["stage"] for r in stages.records], stages.records[0]["wall_s"] >= 0
    (['embedding/umap: neighbours'], True)
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["Stages"]


class Stages:
    """Records ``{"stage", "wall_s", "cpu_s"}`` per stage and says
    ``"<stage>: 1.2 s"`` through ``say`` (None: silent) when each ends.
    ``cpu_s`` is the process's CPU time (all threads) in the stage."""

    def __init__(self, say: Callable[[str], None] | None = None) -> None:
        self.say = say
        self.records: list[dict[str, Any]] = []

    @contextlib.contextmanager
    def stage(self, label: str) -> Iterator[dict[str, Any]]:
        """Time the ``with`` block as stage ``label``; the record it yields
        may take more keys (e.g. ``"numba_cache"``) before the block ends."""
        record: dict[str, Any] = {"stage": label}
        wall, cpu = time.perf_counter(), time.process_time()
        yield record
        record["wall_s"] = round(time.perf_counter() - wall, 2)
        record["cpu_s"] = round(time.process_time() - cpu, 2)
        self.records.append(record)
        if self.say is not None:
            extra = "".join(f", {k} {v}" for k, v in record.items()
                            if k not in ("stage", "wall_s", "cpu_s"))
            self.say(f"{label}: {record['wall_s']:.1f} s{extra}")

    def total_wall_s(self) -> float:
        return round(sum(r["wall_s"] for r in self.records), 2)
