"""Adjoint gradients of study (a) on hall-raised-floor from design solves stopped at change rates 1e-4.

The float64 march of this hall stalls at a velocity change rate of about 5e-5, so its design solves
cannot reach the 1e-7..1e-8 that gradients on smaller halls use.  This script checks what the
adjoint gives from a state at 1e-4 (docs/optimization.md, "hall-raised-floor itself"):

* ``python docs/scripts/raised_floor_adjoint_check.py identity``: d(mean rack inlet)/d(CRAH-W supply)
  + d/d(CRAH-E supply), which must be 1 (moving both supplies by 1 K moves every temperature by 1 K);
* ``python docs/scripts/raised_floor_adjoint_check.py differences``: the gradient of the study objective
  (cooling power + intake penalty, scaled variables) by the adjoint, and one-sided differences of three
  of its parameters at steps of 0.02 and 0.05 of their ranges, each solve warm-started.

Each takes 15-20 minutes on a 2-core CPU (float64, 12,750 cells).
"""

import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from thermo import design
from thermo import optimize as opt

STUDY = Path(__file__).resolve().parents[1] / "studies" / "raised-floor-cooling-power.yaml"


def identity(problem):
    names = ["cooler.CRAH-W.supply_temperature", "cooler.CRAH-E.supply_temperature"]
    params = {n: jnp.asarray(problem.scene.values[n], jnp.float64) for n in names}

    def mean_inlet(p):
        result = design.solve(problem.scene.with_parameters(p), dtype=np.float64, options=problem.options)
        return jnp.mean(result.rack_inlet_mean)

    start = time.time()
    value, grad = jax.value_and_grad(mean_inlet)(params)
    print(f"mean rack inlet {float(value):.4f} degC; d/d(supply): " + ", ".join(f"{k} {float(v):.6f}" for k, v in grad.items())
          + f"; sum {sum(float(v) for v in grad.values()):.6f} (should be 1); {time.time() - start:.0f} s", flush=True)


def differences(problem):
    evaluate = opt.Evaluator(problem)
    u0 = (np.array([float(problem.scene.values[n]) for n in problem.names]) - problem.lower) / (problem.upper - problem.lower)
    start = time.time()
    value, grad = evaluate(u0)
    print(f"objective + penalty {value:.6g}, adjoint gradient in {time.time() - start:.0f} s", flush=True)
    for name, g in zip(problem.names, grad):
        print(f"  {name:40s} {g:+.5e}", flush=True)
    evaluate.accept(u0)
    for name in ("cooler.CRAH-W.flow", "cooler.CRAH-W.supply_temperature", "tile.T1-06.open_fraction"):
        i = problem.names.index(name)
        for h in (0.02, 0.05):
            u = u0.copy()
            u[i] -= h
            params = {k: jnp.asarray(x, problem.dtype) for k, x in evaluate.values(u).items()}
            start = time.time()
            result = design.solve(problem.scene.with_parameters(params), dtype=problem.dtype, options=problem.options,
                                  initial=evaluate.state)
            objective, penalty, _ = problem.objective_parts(result)
            fd = (value - float(objective + penalty)) / h
            print(f"  {name} step {h}: difference {fd:+.5e}, adjoint {grad[i]:+.5e} "
                  f"(converged {bool(result.converged)}, {int(result.info.steps)} steps, {time.time() - start:.0f} s)",
                  flush=True)


if __name__ == "__main__":
    with jax.enable_x64(True):
        study = opt.problem_from_scene(STUDY)
        {"identity": identity, "differences": differences}[sys.argv[1] if len(sys.argv) > 1 else "identity"](study)
