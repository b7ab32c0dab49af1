"""What ``doctor`` found: findings with their fixes, per run and tensor.

    >>> report = Report(logdir="runs")
    >>> report.add(ERROR, "no_runs", "TensorBoard's Projector lists no run").code
    'no_runs'
    >>> report.ok
    False
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

ERROR = "error"
WARNING = "warning"
INFO = "info"


@dataclass
class Finding:
    """One thing doctor noticed, with what to do about it."""

    severity: str
    code: str
    message: str
    fix: str = ""
    run: str | None = None
    tensor: str | None = None
    path: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    #: True for a limit of TensorBoard's viewer, not a fault of the run: such a
    #: warning is printed with its fix but leaves the verdict (and exit status) OK.
    viewer_limit: bool = False

    @property
    def is_problem(self) -> bool:
        return self.severity in (ERROR, WARNING) and not self.viewer_limit


@dataclass
class TensorSummary:
    """One tensor of a listed run as the Projector shows it."""

    run: str
    name: str
    shape: list[int] | None
    metadata_path: str | None
    metadata_rows: int | None
    loads: bool


@dataclass
class Report:
    """The result of :func:`~projector_tools.doctor.diagnose`."""

    logdir: str
    findings: list[Finding] = field(default_factory=list)
    tensors: list[TensorSummary] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.is_problem for f in self.findings)

    def add(self, *args: Any, **kwargs: Any) -> Finding:
        f = Finding(*args, **kwargs)
        self.findings.append(f)
        return f

    def to_dict(self) -> dict[str, Any]:
        return {
            "logdir": self.logdir,
            "ok": self.ok,
            "runs": self.runs,
            "tensors": [asdict(t) for t in self.tensors],
            "findings": [asdict(f) for f in self.findings],
            "fixed": self.fixed,
        }
