"""Cost of compensated float32 temperature updates in the hall step.

``python docs/scripts/compensation_cost.py [CELL] [--case NAME]`` builds the example hall at
CELL m (default hall-small at 0.2 m), marches 300 steps from rest, then times chunks of 200
steps from that state with the temperature residue carried (the float32 default) and without
it (``State.temperature_residue = None``, plain sums), alternating the two, 7 times each, and
prints the median milliseconds per step of each and their ratio.  Run on a quiet machine.
"""

import argparse
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
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parents[2]
    model = hall.build(load(root / "geometries" / f"{args.case}.yaml"), cell_size=args.cell, dtype=np.float32)
    solver = Solver(model.problem, model.numerics, chunk=args.steps, coupling=model.coupling)
    state, _ = solver.run_chunk(solver.initial_state(), 300)
    variants = {"compensated": state, "plain": state.replace(temperature_residue=None)}
    times = {k: [] for k in variants}
    for name, start in variants.items():          # compile both first
        jax.block_until_ready(solver.run_chunk(start)[0].temperature)
    for _ in range(args.repeats):
        for name, start in variants.items():
            t0 = time.perf_counter()
            jax.block_until_ready(solver.run_chunk(start)[0].temperature)
            times[name].append((time.perf_counter() - t0) / args.steps * 1e3)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{args.case} at {args.cell} m ({model.cells} cells, float32, {jax.devices()[0].device_kind}, "
          f"JAX {jax.__version__}): median ms/step over {args.repeats} chunks of {args.steps} steps")
    for name, v in times.items():
        print(f"  {name:12s} {med[name]:.3f} ms/step  (all: {' '.join(f'{x:.3f}' for x in v)})")
    print(f"  compensated / plain = {med['compensated'] / med['plain']:.3f}")


if __name__ == "__main__":
    main()
