"""How a hall's design solve settles: change rates and rack inlet maxima per block of steps.

``python -m thermo.cases.convergence_probe SCENARIO CELL [--blocks N] [--steps S]`` marches the
float64 design solve (:func:`thermo.design.solve`, tolerance 1e-9, so it never stops early) in
blocks of S steps, each warm-started from the last, and prints per block the velocity and
temperature change rates (:func:`thermo.solve.change_rates`), the first six rack inlet maxima
(degC) and the elapsed seconds.  Used to judge whether a hall converges tightly enough for
gradients at a given cell size (docs/optimization.md).
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
    args = parser.parse_args(argv)
    with jax.enable_x64(True):
        scene = design.load(args.scenario, cell_size=args.cell)
        model = scene.model(np.float64)
        print(scene.name, args.cell, model.grid.shape, model.grid.cells, flush=True)
        start, previous = time.time(), None
        for k in range(args.blocks):
            result = design.solve(scene, dtype=np.float64, initial=previous,
                                  options=SteadyOptions(max_steps=args.steps, tol=1e-9, chunk=100))
            previous = result
            print(k, float(result.info.rate_velocity), float(result.info.rate_temperature),
                  np.round(np.asarray(result.rack_inlet_max), 3)[:6], round(time.time() - start), flush=True)


if __name__ == "__main__":
    main()
