"""Cost of one design gradient on hall-small-s08 at 0.6 m (float64), as quoted in docs/performance.md.

    python docs/scripts/s08_gradient_cost.py

Prints the compiled forward solve (steps, seconds), then d(mean rack inlet)/d(rack powers) twice: the first
time includes compiling the backward pass, the second is the compiled forward + backward time.
"""

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from thermo import design

SCENARIO = Path(__file__).resolve().parents[2] / "geometries" / "hall-small-s08.yaml"


def main():
    with jax.enable_x64(True):
        base = design.load(SCENARIO, cell_size=0.6)
        params = {k: v for k, v in base.parameters(dtype=np.float64).items() if k.endswith(".power")}

        def mean_inlet(p):
            return jnp.mean(design.solve(base.with_parameters(p), dtype=np.float64).rack_inlet_mean)

        result = design.solve(base.with_parameters(params), dtype=np.float64)     # compiles the forward
        t0 = time.perf_counter()
        result = design.solve(base.with_parameters(params), dtype=np.float64)
        jax.block_until_ready(result.rack_inlet_mean)
        forward = time.perf_counter() - t0
        print(f"forward: {int(result.info.steps)} steps, converged {result.converged}, {forward:.1f} s", flush=True)
        jax.grad(mean_inlet)(params)                                              # compiles the backward
        t0 = time.perf_counter()
        gradient = jax.block_until_ready(jax.grad(mean_inlet)(params))
        both = time.perf_counter() - t0
        print(f"forward + backward: {both:.1f} s, gradient / forward {both / forward:.2f}", flush=True)
        print({k: f"{float(v):.4e}" for k, v in gradient.items()})


if __name__ == "__main__":
    main()
