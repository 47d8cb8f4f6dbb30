"""Old against new steady solver, side by side in one run: the pseudo-time march (solver.method
march, the scenario's own limiter) and Newton-Krylov (solver.method newton, smooth limiter).

For every (scenario, cell, method) a fresh subprocess builds the hall, warms the compiled programs
up (a march of 100 steps; one Newton iteration), then solves from still air and records wall time
of that solve (compile apart), march steps, Newton and Krylov iterations, the residuals reached,
peak RSS of the process and the rack intakes.  Usage:

    python benchmarks/steady_side_by_side.py OUT.json CASE:CELL [CASE:CELL ...]

CASE is a file in geometries/ (without .yaml) or a path.  Records: one JSON list in OUT.json.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one(case: str, cell: float, method: str) -> dict:
    import jax
    import numpy as np

    import thermo.scene as scene_api
    from thermo import hall

    path = Path(case) if case.endswith(".yaml") else ROOT / "geometries" / f"{case}.yaml"
    scene = scene_api.load(path)
    scene = scene.with_solver(method=method, **({"limiter": "smooth"} if method == "newton" else {}))
    model = hall.build(scene, cell_size=cell)
    warm = dict(max_steps=100) if method == "march" else {}
    warm_scene = scene.with_solver(newton_max_iterations=1) if method == "newton" else scene
    import dataclasses
    start = time.perf_counter()
    hall.solve(dataclasses.replace(model, scene=warm_scene), capture_index=False, **warm)
    warm_s = time.perf_counter() - start
    start = time.perf_counter()
    result = hall.solve(model, capture_index=False)
    wall = time.perf_counter() - start
    solver = result.summary["solver"]
    newton = solver if solver.get("method") == "newton" else solver.get("newton") or {}
    return {"case": scene.name, "cell_m": cell, "cells": model.cells, "method": method,
            "limiter": scene.solver.limiter, "turbulence": scene.solver.turbulence,
            "solve_s": wall, "warm_up_s": warm_s, "converged": bool(result.converged), "reason": solver["reason"],
            "final_method": solver.get("method"), "march_steps": solver.get("steps"),
            "newton_iterations": newton.get("newton_iterations"), "krylov_iterations": newton.get("krylov_iterations"),
            "residual_momentum": newton.get("residual_momentum"),
            "residual_temperature": newton.get("residual_temperature"),
            "energy_balance_pct": result.summary["energy_balance_pct"],
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
            "rack_inlets_C": [[r["inlet_mean_C"], r["inlet_max_C"]] for r in result.summary["racks"]],
            "device": str(jax.devices()[0]), "jax": jax.__version__, "numpy": np.__version__,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores"}


def main(argv) -> int:
    if argv and argv[0] == "--one":
        print(json.dumps(one(argv[1], float(argv[2]), argv[3])))
        return 0
    out, cases = Path(argv[0]), argv[1:]
    records = []
    for item in cases:
        case, cell = item.split(":")
        for method in ("march", "newton"):
            env = {**os.environ, "THERMO_COMPILE_CACHE": "off", "JAX_COMPILATION_CACHE_DIR": ""}
            run = subprocess.run([sys.executable, __file__, "--one", case, cell, method], capture_output=True,
                                 text=True, env=env)
            if run.returncode != 0:
                records.append({"case": case, "cell_m": float(cell), "method": method,
                                "error": run.stderr.strip().splitlines()[-1:]})
            else:
                records.append(json.loads(run.stdout.strip().splitlines()[-1]))
            print(json.dumps({k: v for k, v in records[-1].items() if k != "rack_inlets_C"}), flush=True)
            out.write_text(json.dumps(records, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
