"""Gradient check cases: adjoint gradients of steady states against finite differences.

Two small 2-D problems (16 x 16 x 1 cells, so they share compiled code),
written as functions of a dict of scalar design parameters:

* :func:`heated_channel`: a 2 m x 1 m channel, uniform inflow at x = 0
  (temperature ``T_in`` degC, speed ``U`` m/s), outflow at x = 2 m, a heat
  source of ``q`` W/m^3 (unit rho cp, so K/s) over a block of cells and a
  baffle of open fraction ``open`` (0..1) over the lower 10 of 16 cells of
  the middle cross-section.
* :func:`cavity`: the de Vahl Davis cavity at Ra = 1e3 with hot-wall
  temperature ``T_hot`` and gravity ``g`` (non-dimensional units).

``python -m thermo.cases.gradient_check`` prints the adjoint gradients, the
central finite differences, their relative errors, the float32/float64
agreement and the cost of a gradient relative to a forward solve (the
numbers quoted in ``docs/gradients.md``).
"""

from __future__ import annotations

import time
from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np

from ..adjoint import SteadyOptions, steady_state
from ..boundary import Boundaries, set_patch, wall_plane
from ..grid import uniform_grid
from ..problem import Fluid, make_problem
from ..solve import Numerics
from .cavity import natural_convection_cavity

SHAPE = (16, 16, 1)
HEATED = (slice(4, 8), slice(4, 10), slice(None))      # cells of the heat source
BAFFLE = (8, slice(0, 10), 0)                          # x-faces of the partly open baffle
CHANNEL = {"T_in": 20.0, "U": 1.0, "q": 5.0, "open": 0.5}
CAVITY = {"T_hot": 1.0, "g": 1e3 * 0.71}
NUMERICS = Numerics(poisson_tol=1e-10)
OPTIONS_64 = SteadyOptions(max_steps=20000, tol=1e-8, chunk=100, adjoint_tol=1e-8)
# float32: with compensated temperature updates the channel's temperature change rate settles
# at its rounding floor, about 6e-5 (one float32 ulp of 20 degC crossing a 0.125 m cell at 1 m/s)
OPTIONS_32 = SteadyOptions(max_steps=20000, tol=1e-4, chunk=100, adjoint_tol=1e-4)
FD_RELATIVE_STEP = 1e-3


def _channel(dtype):
    grid = uniform_grid(SHAPE, (2.0, 1.0, 0.125))
    fluid = Fluid(density=1.0, heat_capacity=1.0, viscosity=0.05, prandtl=1.0, turbulent_prandtl=1.0,
                  expansion=0.0, reference_temperature=20.0, gravity=np.zeros(3))
    planes = [[wall_plane(SHAPE, 0), wall_plane(SHAPE, 0)], [wall_plane(SHAPE, 1), wall_plane(SHAPE, 1)],
              [wall_plane(SHAPE, 2, slip=True), wall_plane(SHAPE, 2, slip=True)]]
    everywhere = np.ones(planes[0][0].inflow.shape, bool)
    planes[0][0] = set_patch(planes[0][0], everywhere, kind="inflow", velocity=1.0, temperature=20.0)
    planes[0][1] = set_patch(planes[0][1], everywhere, kind="outflow", pressure=0.0, temperature=20.0)
    return make_problem(grid, fluid, Boundaries(tuple(tuple(p) for p in planes))).astype(dtype)


def heated_channel(params, dtype=np.float64):
    """The channel (Re = Pe = 20 at U = 1 m/s) for ``params`` with keys ``T_in`` (degC),
    ``U`` (m/s), ``q`` (W/m^3, unit rho cp) and ``open`` (baffle open fraction, 0..1)."""
    base = _channel(dtype)
    inlet = base.boundaries.plane(0, 0)
    inlet = replace(inlet, temperature=jnp.full_like(inlet.temperature, params["T_in"]),
                    velocity=inlet.inflow * params["U"])
    heat = jnp.zeros(SHAPE, dtype).at[HEATED].set(1.0) * params["q"]
    open_x = base.geometry.open[0].at[BAFFLE].set(params["open"])
    return base.replace(boundaries=base.boundaries.with_plane(0, 0, inlet),
                        sources=replace(base.sources, heat=heat),
                        geometry=replace(base.geometry, open=(open_x, *base.geometry.open[1:])))


def cavity(params, dtype=np.float64):
    """de Vahl Davis cavity (Ra = 1e3 at the defaults, 16 x 16) with hot-wall temperature ``T_hot``
    and gravity magnitude ``g`` (non-dimensional)."""
    base = natural_convection_cavity(16, 1e3, dtype=dtype)
    hot = base.boundaries.plane(0, 0)
    hot = replace(hot, temperature=jnp.full_like(hot.temperature, params["T_hot"]))
    fluid = replace(base.fluid, gravity=jnp.zeros(3, dtype).at[1].set(-params["g"]))
    return base.replace(boundaries=base.boundaries.with_plane(0, 0, hot), fluid=fluid)


def outlet_temperature(state, problem=None):
    """Mean temperature (degC) of the cells next to the outlet."""
    return jnp.mean(state.temperature[-1])


def inlet_pressure(state, problem=None):
    """Mean kinematic pressure (m^2/s^2) of the cells next to the inlet: the pressure drop to the outlet."""
    return jnp.mean(state.pressure[0])


def hot_wall_flux(state, problem):
    """Mean conductive heat flux out of the hot wall, (T_wall - T_cell) / (dx/2) (K/m)."""
    half = 0.5 * (problem.grid.nodes[0][1] - problem.grid.nodes[0][0])
    wall = problem.boundaries.plane(0, 0).temperature
    return jnp.mean((wall - state.temperature[0]) / half)


def as_arrays(params, dtype):
    return {k: jnp.asarray(v, dtype) for k, v in params.items()}


def objective(build, measure, dtype=np.float64, options=None, coupling=None, numerics=NUMERICS, **kwargs):
    """``f(params) -> measure(steady state, problem)``, differentiable with ``jax.grad``."""
    if options is None:
        options = OPTIONS_64 if np.dtype(dtype) == np.float64 else OPTIONS_32

    def f(params):
        problem = build(params, dtype)
        state, _ = steady_state(problem, numerics, coupling=coupling, options=options, **kwargs)
        return measure(state, problem)
    return f


def central_differences(f, params, dtype=np.float64, keys=None):
    """Central differences of ``f`` with steps of FD_RELATIVE_STEP * max(|value|, 1)."""
    out = {}
    for key in keys or params:
        value = params[key]
        h = FD_RELATIVE_STEP * max(abs(value), 1.0)
        plus, minus = dict(params), dict(params)
        plus[key], minus[key] = value + h, value - h
        out[key] = (float(f(as_arrays(plus, dtype))) - float(f(as_arrays(minus, dtype)))) / (2 * h)
    return out


def _best_time(f, *args, repeats=3):
    jax.block_until_ready(f(*args))
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(f(*args))
        best = min(best, time.perf_counter() - start)
    return best


def cost(build, measure, params, dtype=np.float64, options=None):
    """Seconds of the forward steady solve and of the backward (adjoint) pass, best of 3, compiled.

    Also returns the forward steps and the adjoint iterations.
    """
    options = options or (OPTIONS_64 if np.dtype(dtype) == np.float64 else OPTIONS_32)
    problem = build(as_arrays(params, dtype), dtype)
    reports = []

    def solve(p):
        return steady_state(p, NUMERICS, options=options, on_adjoint=reports.append)

    t_forward = _best_time(solve, problem)
    state, backward, info = jax.vjp(solve, problem, has_aux=True)
    cotangent = jax.grad(lambda s: measure(s, problem), allow_int=True)(state)
    t_backward = _best_time(backward, cotangent)
    return t_forward, t_backward, int(info.steps), reports[-1].iterations


def main():
    with jax.enable_x64(True):
        cases = [("channel", heated_channel, CHANNEL, "outlet temperature", outlet_temperature, None),
                 # without buoyancy the pressure does not depend on T_in or q
                 ("channel", heated_channel, CHANNEL, "inlet pressure", inlet_pressure, ("U", "open")),
                 ("cavity", cavity, CAVITY, "hot-wall flux", hot_wall_flux, None)]
        print("float64: adjoint vs central differences (relative step 1e-3)")
        for name, build, params, what, measure, keys in cases:
            f = objective(build, measure)
            gradient = jax.grad(f)(as_arrays(params, np.float64))
            reference = central_differences(f, params, keys=keys)
            for key, fd in reference.items():
                adj = float(gradient[key])
                print(f"  {name:8s} d({what})/d({key}): adjoint {adj:+.8e}  FD {fd:+.8e}  "
                      f"rel. error {abs(adj - fd) / abs(fd):.1e}")
            t_forward, t_backward, steps, iterations = cost(build, measure, params)
            print(f"  {name:8s} {what}: forward {t_forward * 1e3:.1f} ms ({steps} steps), adjoint "
                  f"{t_backward * 1e3:.1f} ms ({iterations} iterations), adjoint/forward "
                  f"{t_backward / t_forward:.2f}, gradient/forward {(t_forward + t_backward) / t_forward:.2f}")
        combined = lambda s, p: inlet_pressure(s) + outlet_temperature(s)  # noqa: E731
        measures = {"inlet pressure + outlet temperature": combined, "outlet temperature": outlet_temperature}
        g64 = {what: jax.grad(objective(heated_channel, m))(as_arrays(CHANNEL, np.float64))
               for what, m in measures.items()}
    for what, m in measures.items():
        g32 = jax.grad(objective(heated_channel, m, np.float32))(as_arrays(CHANNEL, np.float32))
        print(f"float32 vs float64, d({what})/d(...), channel:")
        for key in CHANNEL:
            a, b = float(g32[key]), float(g64[what][key])
            print(f"  {key:6s} float64 {b:+.6e}  float32 {a:+.6e}  rel. difference {abs(a - b) / abs(b):.1e}")
    measure = combined
    t_forward, t_backward, steps, iterations = cost(heated_channel, measure, CHANNEL, np.float32)
    print(f"  float32 channel: forward {t_forward * 1e3:.1f} ms ({steps} steps), adjoint {t_backward * 1e3:.1f} ms "
          f"({iterations} iterations), adjoint/forward {t_backward / t_forward:.2f}")
    print(f"device: {jax.devices()[0].device_kind}, jax {jax.__version__}")


if __name__ == "__main__":
    main()
