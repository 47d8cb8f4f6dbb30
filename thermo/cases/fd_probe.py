"""Which design parameter moves a hall off its steady state: one steady solve at the scenario's
values, then one per optimize parameter at +/- a step of the bound range, each warm-started from
the first; prints steps, change rates and the objective per solve.

``python -m thermo.cases.fd_probe SCENARIO [--step 0.02] [--tol 2e-5] [--max-steps 20000]``
(float64; the scenario's ``optimize:`` section names the parameters and bounds).
"""

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from .. import design
from .. import optimize as opt
from ..adjoint import SteadyOptions


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario")
    parser.add_argument("--step", type=float, default=0.02)
    parser.add_argument("--tol", type=float, default=2e-5)
    parser.add_argument("--max-steps", type=int, default=20000)
    args = parser.parse_args(argv)
    with jax.enable_x64(True):
        problem = opt.problem_from_scene(args.scenario)
        options = SteadyOptions(max_steps=args.max_steps, tol=args.tol, chunk=100)
        x0 = {n: float(problem.scene.values[n]) for n in problem.names}

        def one(values, initial, label):
            start = time.time()
            params = {k: jnp.asarray(v, np.float64) for k, v in values.items()}
            r = design.solve(problem.scene.with_parameters(params), dtype=np.float64, options=options, initial=initial)
            obj, pen, _ = problem.objective_parts(r)
            print(f"{label:45s} steps {int(r.info.steps):6d} rates {float(r.info.rate_velocity):.2e} "
                  f"{float(r.info.rate_temperature):.2e} converged {r.converged} objective {float(obj + pen):.6f} "
                  f"({time.time() - start:.0f} s)", flush=True)
            return r

        base = one(x0, None, "base")
        for i, n in enumerate(problem.names):
            h = args.step * (problem.upper[i] - problem.lower[i])
            for sign in (+1, -1):
                one({**x0, n: x0[n] + sign * h}, base.state, f"{n} {'+' if sign > 0 else '-'}{h:.3g}")


if __name__ == "__main__":
    main()
