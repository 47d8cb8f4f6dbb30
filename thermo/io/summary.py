"""``summary.json``: the machine-readable result of a run (schema in docs/outputs.md).

The summary dict comes from :func:`thermo.hall.solve`; this module makes it
strict JSON (numpy scalars and arrays to plain numbers and lists, tuples to
lists), never writes ``NaN`` or ``Infinity`` (a non-finite number becomes
``null`` and is listed in ``warnings``), stamps the run status and checks
the documented keys.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

SCHEMA_VERSION = 1

REQUIRED = {
    "scenario": str,
    "racks": list,
    "metrics": dict,
    "grid": dict,
    "solver": dict,
}
RACK_REQUIRED = ("name", "inlet_mean_C", "inlet_max_C", "exhaust_C", "power_kW", "flow_m3s", "ashrae")
SOLVER_REQUIRED = ("steps", "seconds", "converged")


def jsonable(value, path: str = "", non_finite: list | None = None):
    """``value`` as plain JSON types.  Non-finite floats become None; their
    locations (e.g. ``racks[3].inlet_max_C``) are appended to ``non_finite``."""
    if isinstance(value, dict):
        return {str(k): jsonable(v, f"{path}.{k}" if path else str(k), non_finite) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, f"{path}[{i}]", non_finite) for i, v in enumerate(value)]
    if isinstance(value, np.ndarray) or hasattr(value, "__array__") and not isinstance(value, (str, bytes)):
        array = np.asarray(value)
        return jsonable(array.tolist() if array.ndim else array.item(), path, non_finite)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if not math.isfinite(value):
            if non_finite is not None:
                non_finite.append(path or "<root>")
            return None
        return value
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"summary value at {path or '<root>'} has type {type(value).__name__}, not JSON-serialisable")


def finalize(summary: dict, converged: bool, reason: str = "", warnings=()) -> dict:
    """A strict-JSON copy of ``summary`` with the run status stamped.

    Adds ``schema_version``, ``converged`` (bool), ``status`` ("converged",
    "not_converged") and ``warnings`` (list of str: the given ones, a
    non-convergence notice, and every non-finite number replaced by null).
    """
    non_finite: list = []
    out = jsonable(summary, "", non_finite)
    notes = [str(w) for w in out.get("warnings", []) or []] + [str(w) for w in warnings]
    if not converged:
        notes.append("the solution did not converge" + (f" ({reason})" if reason else "")
                     + "; values are those of the last step and may be unreliable")
    for where in non_finite:
        notes.append(f"non-finite value at {where} written as null")
    out["schema_version"] = SCHEMA_VERSION
    out["converged"] = bool(converged)
    out["status"] = "converged" if converged else "not_converged"
    out["warnings"] = notes
    solver = out.setdefault("solver", {})
    solver["converged"] = bool(converged)
    if reason:
        solver["reason"] = reason
    return out


def validate(summary: dict) -> list[str]:
    """Problems with ``summary`` against the documented schema (empty list: none)."""
    problems = []
    for key, kind in REQUIRED.items():
        if key not in summary:
            problems.append(f"missing key {key!r}")
        elif not isinstance(summary[key], kind):
            problems.append(f"{key!r} should be a {kind.__name__}, not {type(summary[key]).__name__}")
    for i, rack in enumerate(summary.get("racks", []) or []):
        for key in RACK_REQUIRED:
            if key not in rack:
                problems.append(f"racks[{i}] lacks {key!r}")
        for key in ("inlet_mean_C", "inlet_max_C", "exhaust_C"):
            value = rack.get(key)
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)):
                problems.append(f"racks[{i}].{key} is not a finite number: {value!r}")
    solver = summary.get("solver", {})
    if isinstance(solver, dict):
        for key in SOLVER_REQUIRED:
            if key not in solver:
                problems.append(f"solver lacks {key!r}")
    return problems


def write_summary(path, summary: dict) -> Path:
    """Write ``summary`` (already :func:`finalize` d) as strict, indented JSON; returns the path."""
    path = Path(path)
    path.write_text(json.dumps(summary, indent=1, allow_nan=False) + "\n")
    return path


def read_summary(path) -> dict:
    """Read a ``summary.json``."""
    return json.loads(Path(path).read_text())
