"""Design gradients against central differences per advection limiter (docs/gradients.md).

    python docs/scripts/gradient_limiter_study.py LIMITER OUT.json [--tol 1e-9]

On tests/data/design-tiny.yaml at the design point of thermo.cases.design_gradients: the float64
steady state converged to change rates below --tol, central differences of the mean rack inlet at
the module's steps h (and 4h for the cooler flow, the canopy height and the tile), each solve
warm-started from the base state, then the float64 adjoint gradient (adjoint tolerance 1e-10) and
the float32 one (default float32 options).  Results are saved to OUT.json as they come.
"""

import argparse
import json
import time

import jax
import numpy as np

from thermo import design
from thermo.adjoint import SteadyOptions
from thermo.cases import design_gradients as dg

ORDER = ["cooler.CRAH.flow", "containment.canopy.height", "tile.T1.open_fraction", "rack.A01.power",
         "cooler.CRAH.position", "rack.A03.position", "cooler.CRAH.supply_temperature"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("limiter")
    parser.add_argument("out")
    parser.add_argument("--tol", type=float, default=1e-9)
    args = parser.parse_args()
    options = SteadyOptions(max_steps=120000, tol=args.tol, chunk=100, adjoint_tol=1e-10)
    base = dg.scene(args.limiter)
    record = {"tol": args.tol, "limiter": args.limiter}

    def save():
        with open(args.out, "w") as f:
            json.dump(record, f, indent=1)

    with jax.enable_x64(True):
        t0 = time.perf_counter()
        start = design.solve(base, dtype=np.float64, options=options)
        record["base"] = {"steps": int(start.info.steps), "s": time.perf_counter() - t0,
                          "obj": float(dg.objective(start)), "converged": start.converged}
        print(record["base"], flush=True)
        save()
        if not start.converged:
            raise SystemExit(f"the base state did not reach change rates {args.tol:g}")

        def value(name, v):
            r = design.solve(base.with_parameters({name: v}), dtype=np.float64, options=options, initial=start)
            if not r.converged:
                raise SystemExit(f"{name} = {v}: not converged")
            return float(dg.objective(r)), int(r.info.steps)

        record["fd"] = {}
        for name in ORDER:
            v = float(base.values[name])
            for multiple in ([1, 4] if name in ORDER[:3] else [1]):
                h = dg.CHECKS[name] * multiple
                t0 = time.perf_counter()
                (plus, n_plus), (minus, n_minus) = value(name, v + h), value(name, v - h)
                g = (plus - minus) / (2 * h)
                record["fd"][f"{name}@{h:g}"] = {"g": g, "plus": plus, "minus": minus, "steps": [n_plus, n_minus],
                                                 "s": time.perf_counter() - t0}
                print(name, h, f"{g:+.9e}", flush=True)
                save()
        t0 = time.perf_counter()
        params = {k: v for k, v in base.parameters(dtype=np.float64).items() if k in ORDER}
        gradient = jax.grad(lambda p: dg.objective(design.solve(base.with_parameters(p), dtype=np.float64,
                                                                options=options)))(params)
        record["adjoint"] = {k: float(x) for k, x in gradient.items()}
        record["adjoint_s"] = time.perf_counter() - t0
        print("float64 adjoint", record["adjoint"], flush=True)
        save()
    t0 = time.perf_counter()
    record["adjoint32"] = dg.adjoint_gradient(base, np.float32, ORDER)
    record["adjoint32_s"] = time.perf_counter() - t0
    print("float32 adjoint", record["adjoint32"], flush=True)
    save()


if __name__ == "__main__":
    main()
