"""Coarse-grid (FAS) corrections of the steady march: time to a steady state and cost of a chunk.

    python3 docs/scripts/coarse_correction.py bench SCENARIO CELL TURBULENCE COARSE_STEPS FINE_STEPS [OUT.json]
        thermo bench's record (thermo.bench_hall.bench_case) with solver.coarse_correction and the
        given steps per cycle (COARSE_STEPS 0: without corrections)
    python3 docs/scripts/coarse_correction.py cost SCENARIO CELL TURBULENCE
        medians of 100-step chunks from a state 100 steps from rest: plain, and with corrections
        every 10 and every 20 fine steps (10 coarse steps each), alternating; and one coarse
        march of 10 steps alone

docs/performance.md, "Coarse-grid corrections", quotes both.
"""

import json
import sys
import time

import jax
import numpy as np

from thermo import fas, hall
from thermo.bench_hall import bench_case
from thermo.scene import load
from thermo.solve import Solver

KEYS = ("cells", "compile_s", "solve_s", "solve_cpu_s", "steps", "coarse_steps", "step_s", "poisson_iters",
        "peak_mem_mb", "step_bytes_per_cell", "coarse_correction", "converged", "reason")


def bench(scenario, cell, turbulence, coarse_steps, fine_steps, out=None):
    fas.COARSE_STEPS, fas.FINE_STEPS = coarse_steps, fine_steps
    scene = load(f"geometries/{scenario}.yaml").with_solver(turbulence=turbulence,
                                                             coarse_correction=coarse_steps > 0)
    record = bench_case(scene, cell=cell)
    print(json.dumps({k: record.get(k) for k in KEYS}, indent=1))
    if out:
        with open(out, "w") as f:
            json.dump(record, f, indent=1)


def _median_seconds(run, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(run())
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def cost(scenario, cell, turbulence):
    scene = load(f"geometries/{scenario}.yaml").with_solver(turbulence=turbulence, coarse_correction=True)
    model = hall.build(scene, cell_size=cell)
    level = hall.coarse_level(model)
    solver = fas.TwoGridSolver(model.problem, model.numerics, level, chunk=100, coupling=model.coupling)
    state, _ = Solver.run_chunk(solver, solver.initial_state(), 100)
    print(f"{scenario} at {cell} m: fine grid {model.grid.shape}, coarse {level.problem.grid.shape}")
    for fine_steps in (10, 20):
        level.fine_steps = fine_steps
        start = time.perf_counter()
        jax.block_until_ready(solver.run_chunk(state, 100)[0])
        print(f"compile and first chunk, a correction every {fine_steps} steps: {time.perf_counter() - start:.1f} s")
    coarse = Solver(level.problem, level.numerics, coupling=level.coupling)
    coarse_state = fas.restrict_state(solver.transfer, model.problem, state, level.problem)
    jax.block_until_ready(coarse.run_chunk(coarse_state, 10)[0])
    rows = {"plain": [], "every 10": [], "every 20": []}
    for _ in range(2):
        rows["plain"].append(_median_seconds(lambda: Solver.run_chunk(solver, state, 100)[0]))
        for fine_steps in (10, 20):
            level.fine_steps = fine_steps
            rows[f"every {fine_steps}"].append(_median_seconds(lambda: solver.run_chunk(state, 100)[0]))
    for name, values in rows.items():
        print(f"100 steps, {name}: {np.median(values):.2f} s ({', '.join(f'{v:.2f}' for v in values)})")
    print(f"coarse march of 10 steps alone: {_median_seconds(lambda: coarse.run_chunk(coarse_state, 10)[0], 5):.3f} s")


if __name__ == "__main__":
    mode, scenario, cell, turbulence = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    if mode == "bench":
        bench(scenario, cell, turbulence, int(sys.argv[5]), int(sys.argv[6]), sys.argv[7] if len(sys.argv) > 7 else None)
    else:
        cost(scenario, cell, turbulence)
