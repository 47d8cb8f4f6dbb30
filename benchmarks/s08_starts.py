"""hall-small-s08 (under-provisioned, S = 0.8) by Newton-Krylov from three starts at one cell size:
still air, a coarse solve (twice the cell) interpolated, and a warm start from hall-small (S = 1.0) on
the same grid.  Prints one JSON record with each start's rack intakes and the largest spread.

    python benchmarks/s08_starts.py CELL OUT.json
"""

import json
import sys
import time
from pathlib import Path

import numpy as np

import thermo.scene as scene_api
from thermo import hall

ROOT = Path(__file__).resolve().parents[1]


def main(cell: float, out: Path) -> int:
    def model_of(name, size):
        return hall.build(scene_api.load(ROOT / "geometries" / f"{name}.yaml").with_solver(method="newton"),
                          cell_size=size)

    s08 = model_of("hall-small-s08", cell)
    runs = {}
    starts = {"rest": None}
    coarse = model_of("hall-small-s08", 2 * cell)
    coarse_state = hall.solve(coarse, capture_index=False).state
    starts["coarse"] = hall.interpolate_state(coarse_state, coarse.grid, s08.grid, s08.problem.geometry.open)
    warm = hall.solve(model_of("hall-small", cell), capture_index=False).state
    starts["warm (hall-small S = 1.0)"] = warm
    for name, state in starts.items():
        begin = time.perf_counter()
        result = hall.solve(s08, state=state, capture_index=False, coarse_start=None)
        solver = result.summary["solver"]
        runs[name] = {"seconds": time.perf_counter() - begin, "method": solver.get("method"),
                      "converged": result.converged, "reason": solver["reason"],
                      "newton_iterations": solver.get("newton_iterations"),
                      "krylov_iterations": solver.get("krylov_iterations"),
                      "rack_inlet_mean_C": [r["inlet_mean_C"] for r in result.summary["racks"]]}
        print(name, json.dumps({k: v for k, v in runs[name].items() if k != "rack_inlet_mean_C"}), flush=True)
    intakes = np.array([r["rack_inlet_mean_C"] for r in runs.values()])
    record = {"case": "hall-small-s08", "cell_m": cell, "cells": s08.cells, "runs": runs,
              "largest_spread_K": float(np.max(np.ptp(intakes, axis=0))),
              "mirror_asymmetry_K": {k: float(np.max(np.abs(np.array(v["rack_inlet_mean_C"][:6])
                                                             - np.array(v["rack_inlet_mean_C"][6:]))))
                                     for k, v in runs.items()}}
    out.write_text(json.dumps(record, indent=1))
    print(json.dumps({k: v for k, v in record.items() if k != "runs"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(float(sys.argv[1]), Path(sys.argv[2])))
