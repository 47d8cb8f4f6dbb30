"""The float32 adjoint's d(mean rack inlet)/d(cooler position) against the steady tolerance.

``python docs/scripts/float32_tolerance_probe.py PRESSURE_TOL RATE_TOL[,RATE_TOL...] [--plain]``
solves the tiny design hall (``thermo.cases.design_gradients``, upwind advection, its design
point) in float32 with the pressure solves at PRESSURE_TOL and the march stopped at each
RATE_TOL in turn, and prints the steps, the final change rates and the float32 adjoint
derivative against the float64 central difference 0.07341655 K/m
(docs/data/gradient_limiters/upwind.json).  ``--plain`` marches without the temperature
residue (plain float32 sums, as before compensated updates).  Table in docs/gradients.md.
"""

import argparse
import dataclasses
import time

import jax
import numpy as np

from thermo import design
from thermo.cases import design_gradients as dg

NAME = "cooler.CRAH.position"
REFERENCE = 0.0734165532


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pressure_tol", type=float)
    parser.add_argument("rate_tols")
    parser.add_argument("--plain", action="store_true")
    args = parser.parse_args(argv)
    numerics_for = design.numerics_for
    design.numerics_for = lambda m: dataclasses.replace(numerics_for(m), poisson_tol=args.pressure_tol)
    base = dg.scene("upwind")
    initial = None
    if args.plain:
        initial = design.solve(base, dtype=np.float32, options=dataclasses.replace(
            design.default_options(np.float32), max_steps=1)).state.replace(temperature_residue=None)
    for tol in (float(x) for x in args.rate_tols.split(",")):
        options = dataclasses.replace(design.default_options(np.float32), tol=tol, max_steps=40000)
        start = time.perf_counter()
        result = design.solve(base, dtype=np.float32, options=options, initial=initial)

        def f(p):
            return dg.objective(design.solve(base.with_parameters(p), dtype=np.float32, options=options,
                                             initial=initial))

        try:
            g = float(jax.grad(f)({NAME: base.parameters(dtype=np.float32)[NAME]})[NAME])
            verdict = f"derivative {g:.6f}, relative error {abs(g - REFERENCE) / REFERENCE:.1e}"
        except Exception as error:  # an unconverged forward has no gradient
            verdict = f"no gradient ({type(error).__name__})"
        print(f"pressure {args.pressure_tol:g}, rates {tol:g}{' plain' if args.plain else ''}: "
              f"{int(result.info.steps)} steps, converged {bool(result.info.converged)}, rates "
              f"{float(result.info.rate_velocity):.2e} {float(result.info.rate_temperature):.2e}; {verdict} "
              f"({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
