"""Design-parameter gradients of a hall against central finite differences.

On ``tests/data/design-tiny.yaml`` (a 4.8 x 3.6 x 2.4 m raised-floor room, 0.4 m
cells, viscous laminar air so its steady state converges to round-off), at a
design point where the moved objects sit between grid lines (overlap fractions
are piecewise linear in position and have kinks on grid lines and cell centres;
central differences there average two slopes):

* objective: the mean of the rack inlet means (degC);
* one parameter of every kind: cooler supply temperature and flow, tile open
  fraction, rack power, rack position along its row, cooler position along its
  wall, containment height;
* the adjoint gradient (``jax.grad`` through :func:`thermo.solve`) in float64 and
  float32, against central differences in float64 (steps below, each difference
  solve converged to change rates 1e-9 and warm-started from the base steady state);
  ``--limiter upwind`` checks the scheme without kinks, where central differences
  are a valid reference (docs/gradients.md);
* the sanity check d(every rack inlet mean)/d(supply temperature) = 1 (the
  cooler's capacity limit is inactive, so the whole temperature field shifts);
* the cost of a gradient: forward solve and backward pass timed separately.

``python -m thermo.cases.design_gradients`` prints the comparison and the cost (see
docs/gradients.md and docs/performance.md for its status); ``--json FILE`` saves it as it goes.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from .. import design
from ..adjoint import SteadyOptions

SCENARIO = Path(__file__).resolve().parents[2] / "tests" / "data" / "design-tiny.yaml"
MOVABLE = ["rack.A03", "cooler.CRAH"]
# the design point: moved objects between grid lines and cell centres (see module docstring)
POINT = {"rack.A03.position": 3.75, "cooler.CRAH.position": 0.95, "containment.canopy.height": 1.9}
# one parameter per kind, with its central-difference step (SI units)
CHECKS = {
    "cooler.CRAH.supply_temperature": 0.01,
    "cooler.CRAH.flow": 0.001,
    "tile.T1.open_fraction": 0.001,
    "rack.A01.power": 5.0,
    "rack.A03.position": 0.002,
    "cooler.CRAH.position": 0.002,
    "containment.canopy.height": 0.002,
}


def scene(limiter: str | None = None):
    """The tiny design scene at the design point; ``limiter`` overrides the scenario's
    ``solver.limiter`` (``"upwind"``: the scheme without kinks, see docs/gradients.md)."""
    base = design.load(SCENARIO, movable=MOVABLE)
    if limiter is not None:
        base = base.with_solver(limiter=limiter)
    return base.with_parameters(POINT)


def objective(result) -> jnp.ndarray:
    """Mean of the rack inlet means (degC)."""
    return jnp.mean(result.rack_inlet_mean)


def adjoint_gradient(base, dtype, names=None):
    params = base.parameters(dtype=dtype)
    if names is not None:
        params = {k: params[k] for k in names}

    def f(p):
        return objective(design.solve(base.with_parameters(p), dtype=dtype))

    return {k: float(v) for k, v in jax.grad(f)(params).items()}


# The reference must be tighter than what it checks: at the default float64 tolerance (change rates
# 1e-8) the cooler-position difference (a small derivative, 0.07 K/m) is off by 1.4e-3 relative;
# at 1e-9 (this hall's float64 floor is about 4e-10) by 3e-4 (docs/gradients.md).
FD_OPTIONS = SteadyOptions(max_steps=60000, tol=1e-9, chunk=100, adjoint_tol=1e-7)


def finite_differences(base, dtype=np.float64, checks=None, options=FD_OPTIONS):
    """Central differences of the objective, each solve started from the base steady state."""
    start = design.solve(base, dtype=dtype, options=options)
    out = {}
    for name, h in (checks or CHECKS).items():
        value = float(base.values[name])
        plus = float(objective(design.solve(base.with_parameters({name: value + h}), dtype=dtype, initial=start,
                                            options=options)))
        minus = float(objective(design.solve(base.with_parameters({name: value - h}), dtype=dtype, initial=start,
                                             options=options)))
        out[name] = (plus - minus) / (2 * h)
    return out, start


def supply_sensitivity(base, dtype=np.float64):
    """d(rack inlet mean)/d(cooler supply temperature), per rack (should be 1)."""
    name = "cooler.CRAH.supply_temperature"
    t = jnp.asarray(base.values[name], dtype)
    n = len(base.scene.racks)
    # one backward pass per rack (reuses the compiled adjoint; jacrev would compile a batched one)
    return np.array([float(jax.grad(lambda x: design.solve(base.with_parameters({name: x}),
                                                           dtype=dtype).rack_inlet_mean[k])(t)) for k in range(n)])


def cost(base, dtype=np.float64, repeats=2):
    """(forward seconds, backward seconds, forward steps, peak RSS growth MB of forward, of gradient).

    Compiled, best of ``repeats``; the backward pass is timed through ``jax.vjp``."""
    params = base.parameters(dtype=dtype)

    def forward(p):
        return design.solve(base.with_parameters(p), dtype=dtype)

    jax.block_until_ready(forward(params).rack_inlet_mean)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    best_f = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = forward(params)
        jax.block_until_ready(res.rack_inlet_mean)
        best_f = min(best_f, time.perf_counter() - t0)
    rss_f = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out, back = jax.vjp(lambda p: objective(forward(p)), params)
    jax.block_until_ready(back(jnp.ones_like(out)))
    best_b = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(back(jnp.ones_like(out)))
        best_b = min(best_b, time.perf_counter() - t0)
    rss_b = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return best_f, best_b, int(res.info.steps), (rss_f - rss0) / 1024, (rss_b - rss0) / 1024



def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=None)
    parser.add_argument("--no-cost", action="store_true")
    parser.add_argument("--no-f32", action="store_true")
    parser.add_argument("--f32-only", action="store_true", help="only the float32 adjoint gradient")
    parser.add_argument("--limiter", default=None, help="override the scenario's solver.limiter (e.g. upwind, koren)")
    parser.add_argument("--reference", default=None,
                        help="with --f32-only: a docs/data/gradient_limiters/*.json record whose float64 central "
                             "differences (at this module's steps) the float32 adjoint is compared with")
    args = parser.parse_args(argv)
    record = {"device": jax.devices()[0].device_kind, "jax": jax.__version__, "limiter": args.limiter}

    def save():
        if args.json:
            Path(args.json).write_text(json.dumps(record, indent=1) + "\n")

    base = scene(args.limiter)
    if args.f32_only:
        record["adjoint32"] = adjoint_gradient(base, np.float32, list(CHECKS))
        print("  f32 adjoint:", {k: f"{v:+.6e}" for k, v in record["adjoint32"].items()}, flush=True)
        if args.reference:
            stored = json.loads(Path(args.reference).read_text())["fd"]
            record["reference"] = args.reference
            record["error32"] = {}
            for name, h in CHECKS.items():
                fd = stored[f"{name}@{h:g}"]["g"]
                g32 = record["adjoint32"][name]
                record["error32"][name] = abs(g32 - fd) / abs(fd)
                print(f"  {name:34s} FD {fd:+.8e}  f32 adjoint {g32:+.6e}  rel. err {record['error32'][name]:.1e}",
                      flush=True)
        save()
        return
    print(f"d(mean rack inlet)/d(parameter) on {SCENARIO.name}: central differences in float64 "
          f"(warm-started), adjoint in float64 and float32", flush=True)
    with jax.enable_x64(True):
        t0 = time.perf_counter()
        fd, start = finite_differences(base)
        record["fd_seconds"] = time.perf_counter() - t0
        record["forward_steps"] = int(start.info.steps)
        record["fd"] = fd
        print("  FD:", {k: f"{v:+.8e}" for k, v in fd.items()}, flush=True)
        save()
        g64 = adjoint_gradient(base, np.float64, list(CHECKS))
        record["adjoint64"] = g64
        for name in CHECKS:
            e64 = abs(g64[name] - fd[name]) / abs(fd[name])
            print(f"  {name:34s} FD {fd[name]:+.8e}  f64 adjoint {g64[name]:+.8e}  rel. err {e64:.1e}", flush=True)
        save()
        ones = supply_sensitivity(base)
        record["supply_sensitivity"] = ones.tolist()
        print("d(rack inlet mean)/d(supply temperature) per rack:", " ".join(f"{x:.8f}" for x in ones), flush=True)
        save()
        if not args.no_cost:
            f, b, steps, mf, mb = cost(base, np.float64, repeats=1)
            record["cost_float64"] = {"forward_s": f, "backward_s": b, "steps": steps, "ratio": (f + b) / f,
                                      "backward_over_forward": b / f}
            print(f"  float64 cost: forward {f:.2f} s ({steps} steps from rest), backward {b:.2f} s, "
                  f"gradient/forward {(f + b) / f:.2f}, backward/forward {b / f:.2f}", flush=True)
            save()
    if not args.no_f32:
        g32 = adjoint_gradient(base, np.float32, list(CHECKS))
        record["adjoint32"] = g32
        for name in CHECKS:
            e32 = abs(g32[name] - fd[name]) / abs(fd[name])
            print(f"  {name:34s} FD {fd[name]:+.8e}  f32 adjoint {g32[name]:+.6e}  rel. err {e32:.1e}", flush=True)
        save()
    rows = []
    for name in CHECKS:
        row = {"parameter": name, "fd": fd[name], "adjoint64": g64[name],
               "error64": abs(g64[name] - fd[name]) / abs(fd[name])}
        if "adjoint32" in record:
            row.update(adjoint32=record["adjoint32"][name],
                       error32=abs(record["adjoint32"][name] - fd[name]) / abs(fd[name]))
        rows.append(row)
    record["gradients"] = rows
    save()


if __name__ == "__main__":
    main()
