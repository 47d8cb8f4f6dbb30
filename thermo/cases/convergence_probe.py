"""How a hall's design solve settles: change rates and rack inlet maxima per block of steps.

``python -m thermo.cases.convergence_probe SCENARIO CELL [--blocks N] [--steps S] [--precision f32|f64]``
marches the design solve (:func:`thermo.design.solve`, tolerance 1e-12, so it never stops early)
in blocks of S steps, each warm-started from the last, and prints per block the velocity and
temperature change rates (:func:`thermo.solve.change_rates`), the first six rack inlet maxima
(degC) and the elapsed seconds; at the end, the first step count at which both rates were below
1e-4, 1e-6 and 1e-8 (block resolution).  Used to judge whether a hall converges tightly enough
for gradients at a given cell size (docs/optimization.md).
"""

import argparse
import time

import jax
import numpy as np

from .. import design
from ..adjoint import SteadyOptions


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario")
    parser.add_argument("cell", type=float)
    parser.add_argument("--blocks", type=int, default=12)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--precision", choices=("f32", "f64"), default="f64")
    args = parser.parse_args(argv)
    dtype = np.float64 if args.precision == "f64" else np.float32
    with jax.enable_x64(args.precision == "f64"):
        scene = design.load(args.scenario, cell_size=args.cell)
        model = scene.model(dtype)
        print(scene.name, args.cell, args.precision, model.grid.shape, model.grid.cells, flush=True)
        start, previous = time.time(), None
        reached = {}
        for k in range(args.blocks):
            result = design.solve(scene, dtype=dtype, initial=previous,
                                  options=SteadyOptions(max_steps=args.steps, tol=1e-12, chunk=100))
            previous = result
            rv, rt = float(result.info.rate_velocity), float(result.info.rate_temperature)
            for level in (1e-4, 1e-6, 1e-8):
                if max(rv, rt) < level and level not in reached:
                    reached[level] = (k + 1) * args.steps
            print(k, (k + 1) * args.steps, f"{rv:.3e}", f"{rt:.3e}",
                  np.round(np.asarray(result.rack_inlet_max), 3)[:6], round(time.time() - start), flush=True)
        print("steps to max(rate) below:", {f"{lv:g}": reached.get(lv) for lv in (1e-4, 1e-6, 1e-8)}, flush=True)


if __name__ == "__main__":
    main()
