"""Pass/fail records of the validation suite."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

KINDS = ("relative", "absolute", "at_least", "at_most")


@dataclass(frozen=True)
class Check:
    """One compared quantity.

    ``kind`` says how ``error`` and ``pass`` follow from value, reference and tolerance:

    * ``relative``: error = |value - reference| / |reference|, pass if error <= tolerance;
    * ``absolute``: error = |value - reference|, pass if error <= tolerance;
    * ``at_least``: a lower bound; error = reference - value, pass if value >= reference - tolerance;
    * ``at_most``: an upper bound; error = value - reference, pass if value <= reference + tolerance.
    """

    case: str
    quantity: str
    value: float
    reference: float
    tolerance: float
    kind: str = "relative"
    grid: str = ""
    note: str = ""
    error: float = field(init=False)
    passed: bool = field(init=False)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"check kind must be one of {KINDS}, not {self.kind!r}")
        v, r, t = float(self.value), float(self.reference), float(self.tolerance)
        if self.kind == "relative":
            error = abs(v - r) / abs(r)
            ok = error <= t
        elif self.kind == "absolute":
            error = abs(v - r)
            ok = error <= t
        elif self.kind == "at_least":
            error = r - v
            ok = v >= r - t
        else:
            error = v - r
            ok = v <= r + t
        object.__setattr__(self, "error", float(error))
        object.__setattr__(self, "passed", bool(ok and v == v))  # NaN never passes

    def record(self) -> dict:
        """The JSON record: {case, quantity, value, reference, error, tolerance, pass, kind, grid, note}."""
        d = asdict(self)
        d["pass"] = d.pop("passed")
        return d

    def describe(self) -> str:
        status = "PASS" if self.passed else "FAIL"
        return (f"[{status}] {self.case}: {self.quantity} = {self.value:.6g} (reference {self.reference:.6g}, "
                f"{self.kind} error {self.error:.3g}, tolerance {self.tolerance:.3g})")


def format_error(check: Check) -> str:
    if check.kind == "relative":
        return f"{100 * check.error:.2f}%"
    return f"{check.error:.3g}"


def format_tolerance(check: Check) -> str:
    if check.kind == "relative":
        return f"{100 * check.tolerance:.3g}%"
    if check.kind == "at_least":
        return f">= {check.reference - check.tolerance:.3g}"
    if check.kind == "at_most":
        return f"<= {check.reference + check.tolerance:.3g}"
    return f"{check.tolerance:.3g}"
