"""The validation suite: the cases in report order, running them, writing the outputs."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import jax

from .cases import (conservation, de_vahl_davis, ghia, immersion_cavity, liquid_halls, multigrid, rear_door,
                    taylor_green)
from .report import FIGURES, PACKAGE, QUICK_FIGURES, CaseResult, render, save_figures

CASES = {m.NAME: m for m in (de_vahl_davis, ghia, taylor_green, conservation, multigrid, rear_door, liquid_halls,
                             immersion_cavity)}
REPORT = PACKAGE / "report.md"
DOCS = PACKAGE.parent / "docs" / "validation.md"


def run_cases(names, quick: bool, dtype, log=print) -> list[CaseResult]:
    results = []
    for name in names:
        log(f"== {name} ({'quick' if quick else 'full'})")
        result = CASES[name].run(quick, dtype)
        for check in result.checks:
            log("   " + check.describe())
        log(f"   {result.seconds:.1f} s")
        results.append(result)
    return results


def write_outputs(results: list[CaseResult], settings: dict, json_path: str | None = None):
    """The figures, validation/report.md, docs/validation.md (full runs of every case only) and the JSON records."""
    settings = {**settings, "all_cases": list(CASES), "device": str(jax.devices()[0].platform), "jax": jax.__version__,
                "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    quick = settings["quick"]
    save_figures(results, QUICK_FIGURES if quick else FIGURES)
    folder = "figures/quick/" if quick else "figures/"
    REPORT.write_text(render(results, folder, settings))
    if not quick and [r.name for r in results] == list(CASES):
        DOCS.parent.mkdir(exist_ok=True)
        DOCS.write_text(render(results, "../validation/" + folder, settings))
    if json_path:
        records = [c.record() for r in results for c in r.checks]
        Path(json_path).write_text(json.dumps(records, indent=1))
