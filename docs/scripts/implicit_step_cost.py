"""Cost of an implicit (line-implicit, ADI) pseudo-time step against an explicit one in the hall.

``python docs/scripts/implicit_step_cost.py [CELL] [--case NAME]`` builds the example hall at
CELL m (default hall-small at 0.2 m), marches 300 explicit steps from rest, then times chunks
of 100 steps from that state with explicit steps (one global step, cfl 0.45) and implicit steps
(cfl 5), alternating the two, 5 times each, and prints the median milliseconds per step of
each, their ratio and the Poisson iterations per step.  Run on a quiet machine.
"""

import argparse
import dataclasses
import statistics
import time
from pathlib import Path

import jax
import numpy as np

from thermo import hall
from thermo.scene import load
from thermo.solve import Solver


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cell", type=float, nargs="?", default=0.2)
    parser.add_argument("--case", default="hall-small")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parents[2]
    model = hall.build(load(root / "geometries" / f"{args.case}.yaml"), cell_size=args.cell, dtype=np.float32)
    explicit = dataclasses.replace(model.numerics, local_time_step=1.0)
    implicit = dataclasses.replace(explicit, pseudo_time="implicit", cfl=5.0, max_dt=explicit.max_dt * 5.0 / explicit.cfl)
    solvers = {name: Solver(model.problem, numerics, chunk=args.steps, coupling=model.coupling)
               for name, numerics in (("explicit", explicit), ("implicit", implicit))}
    state, _ = solvers["explicit"].run_chunk(solvers["explicit"].initial_state(), 300)
    times = {k: [] for k in solvers}
    poisson = {}
    for name, solver in solvers.items():          # compile both first
        jax.block_until_ready(solver.run_chunk(state)[0].temperature)
    for _ in range(args.repeats):
        for name, solver in solvers.items():
            t0 = time.perf_counter()
            new, report = solver.run_chunk(state)
            jax.block_until_ready(new.temperature)
            times[name].append((time.perf_counter() - t0) / args.steps * 1e3)
            poisson[name] = round(int(report["poisson_iterations"]) / args.steps, 2)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{args.case} at {args.cell} m ({model.cells} cells, float32, {jax.devices()[0].device_kind}, "
          f"JAX {jax.__version__}): median ms/step over {args.repeats} chunks of {args.steps} steps")
    for name, v in times.items():
        print(f"  {name:9s} {med[name]:.2f} ms/step  (all: {' '.join(f'{x:.2f}' for x in v)})  Poisson/step {poisson[name]}")
    print(f"  implicit / explicit = {med['implicit'] / med['explicit']:.2f}")


if __name__ == "__main__":
    main()
