"""Order of accuracy: the decaying Taylor-Green vortex with a passive temperature.

On [0, pi]^2 (one cell thick in z) with free-slip walls,

    u = sin x cos y F(t),  v = -cos x sin y F(t),  F = exp(-2 nu t),
    T = sin x sin y exp(-2 kappa t)

is an exact solution of the Navier-Stokes and temperature equations: the
walls are streamlines with zero vorticity, T is a function of the stream
function (so u . grad T = 0) and T = 0 on the walls.  The solver starts from
the exact fields, runs RK2 with a fixed time step proportional to h^2 (time
error negligible) and is compared with the exact solution at the final time
in the relative L2 norm.  The observed order between successive grids is
log2(e_h / e_{h/2}).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from thermo.boundary import Boundaries, wall_plane
from thermo.fields import initial_state
from thermo.grid import uniform_grid
from thermo.problem import Fluid, make_problem
from thermo.solve import Numerics, Solver

from ..checks import Check
from ..common import stopwatch, tight_poisson_tolerance
from ..report import CaseResult, markdown_table, new_figure

NAME = "taylor_green"
TITLE = "Order of accuracy: Taylor-Green vortex"
VISCOSITY = 0.5        # nu (L = pi, U = 1: Re = U L / nu = 6.3): the checked runs
ADVECTIVE_VISCOSITY = 0.1  # Re = 31: reported for information in the full run
PRANDTL = 0.71         # kappa = nu / Pr
END_TIME = 1.0
DIFFUSION_NUMBER = 0.1  # dt = DIFFUSION_NUMBER * h^2 / max(nu, kappa)
MIN_ORDER = 1.8
LIMITER = "koren"

FULL = (16, 32, 64)
QUICK = (12, 24, 48)


def problem_for(cells: int, dtype=np.float64, viscosity: float = VISCOSITY):
    grid = uniform_grid((cells, cells, 1), (math.pi, math.pi, math.pi / cells))
    shape = grid.shape
    planes = (
        (wall_plane(shape, 0, slip=True, temperature=0.0), wall_plane(shape, 0, slip=True, temperature=0.0)),
        (wall_plane(shape, 1, slip=True, temperature=0.0), wall_plane(shape, 1, slip=True, temperature=0.0)),
        (wall_plane(shape, 2, slip=True), wall_plane(shape, 2, slip=True)),
    )
    fluid = Fluid(density=1.0, heat_capacity=1.0, viscosity=viscosity, prandtl=PRANDTL, turbulent_prandtl=1.0,
                  expansion=0.0, reference_temperature=0.0, gravity=np.zeros(3))
    return make_problem(grid, fluid, Boundaries(planes)).astype(dtype)


def exact(grid, time: float, viscosity: float = VISCOSITY):
    """Exact (u on x-faces, v on y-faces, T at centres) at ``time``, numpy arrays."""
    kappa = viscosity / PRANDTL
    xn, yn = (np.asarray(grid.nodes[a], float) for a in (0, 1))
    xc, yc = (np.asarray(grid.centres(a), float) for a in (0, 1))
    f, g = math.exp(-2.0 * viscosity * time), math.exp(-2.0 * kappa * time)
    u = (np.sin(xn)[:, None] * np.cos(yc)[None, :] * f)[:, :, None]
    v = (-np.cos(xc)[:, None] * np.sin(yn)[None, :] * f)[:, :, None]
    t = (np.sin(xc)[:, None] * np.sin(yc)[None, :] * g)[:, :, None]
    return u, v, t


def relative_l2(a, b):
    return float(np.sqrt(np.sum((a - b) ** 2) / np.sum(b ** 2)))


@dataclass
class Run:
    cells: int
    dt: float
    steps: int
    velocity_error: float
    temperature_error: float
    seconds: float


def run_resolution(cells: int, dtype=np.float64, viscosity: float = VISCOSITY,
                   diffusion_number: float = DIFFUSION_NUMBER) -> Run:
    problem = problem_for(cells, dtype, viscosity)
    grid = problem.grid
    h = math.pi / cells
    kappa = viscosity / PRANDTL
    steps = math.ceil(END_TIME / (diffusion_number * h * h / max(viscosity, kappa)))
    dt = END_TIME / steps
    numerics = Numerics(limiter=LIMITER, scheme="rk2", fixed_dt=dt, poisson_tol=tight_poisson_tolerance(dtype),
                        poisson_max_iter=200)
    solver = Solver(problem, numerics)
    u0, v0, t0 = exact(grid, 0.0, viscosity)
    state = initial_state(grid, 0.0, dtype=dtype)
    state = state.replace(velocity=(jnp.asarray(u0, dtype), jnp.asarray(v0, dtype), state.velocity[2]),
                          temperature=jnp.asarray(t0, dtype))
    start = time.perf_counter()
    taken = 0
    while float(state.time) < END_TIME * (1.0 - 1e-9):
        state, diag = solver.run_chunk(state, steps - taken + 1, until_time=END_TIME)
        taken += int(diag["steps"])
    seconds = time.perf_counter() - start
    u, v, t = exact(grid, float(state.time), viscosity)
    num_u, num_v = np.asarray(state.velocity[0]), np.asarray(state.velocity[1])
    err_v = math.sqrt((np.sum((num_u - u) ** 2) + np.sum((num_v - v) ** 2)) / (np.sum(u ** 2) + np.sum(v ** 2)))
    err_t = relative_l2(np.asarray(state.temperature), t)
    return Run(cells, dt, taken, err_v, err_t, seconds)


def observed_orders(runs, attribute):
    e = [getattr(r, attribute) for r in runs]
    return [math.log(e[i] / e[i + 1]) / math.log(runs[i + 1].cells / runs[i].cells) for i in range(len(e) - 1)]


def _table(runs):
    order_v, order_t = observed_orders(runs, "velocity_error"), observed_orders(runs, "temperature_error")
    rows = []
    for i, r in enumerate(runs):
        rows.append((f"{r.cells}x{r.cells}", f"{r.dt:.3g}", r.steps, f"{r.velocity_error:.3e}",
                     "" if i == 0 else f"{order_v[i - 1]:.2f}", f"{r.temperature_error:.3e}",
                     "" if i == 0 else f"{order_t[i - 1]:.2f}", round(r.seconds, 1)))
    return markdown_table(("grid", "dt", "steps", "velocity L2 error", "order", "temperature L2 error", "order",
                           "run time (s)"), rows)


def run(quick: bool, dtype) -> CaseResult:
    out = CaseResult(NAME, TITLE)
    sizes = QUICK if quick else FULL
    with stopwatch(out):
        runs = [run_resolution(n, dtype) for n in sizes]
        half_dt = run_resolution(sizes[1], dtype, VISCOSITY, DIFFUSION_NUMBER / 2)
        advective = [] if quick else [run_resolution(n, dtype, ADVECTIVE_VISCOSITY) for n in sizes]
    time_error = abs(half_dt.velocity_error - runs[1].velocity_error) / runs[1].velocity_error
    grids = "/".join(str(r.cells) for r in runs)
    order_v, order_t = observed_orders(runs, "velocity_error"), observed_orders(runs, "temperature_error")
    out.checks += [
        Check(f"{NAME}", "observed order, velocity (finest pair)", order_v[-1], 2.0, 2.0 - MIN_ORDER,
              kind="at_least", grid=grids),
        Check(f"{NAME}", "observed order, temperature (finest pair)", order_t[-1], 2.0, 2.0 - MIN_ORDER,
              kind="at_least", grid=grids),
        Check(f"{NAME}", "change of the velocity error when dt is halved (relative)", time_error, 0.0, 0.01,
              kind="absolute", grid=f"{sizes[1]}x{sizes[1]}", note="the time error must be negligible"),
    ]
    out.sections += [
        f"Set-up: [0, pi]^2, one cell thick, free-slip walls, T = 0 on the side walls; Pr = {PRANDTL}, no buoyancy. "
        f"Initial state = exact fields; RK2 (`scheme=\"rk2\"`), fixed dt = {DIFFUSION_NUMBER} h^2 / max(nu, kappa) "
        f"(halving it at {sizes[1]}x{sizes[1]} changes the velocity error by {100 * time_error:.2g}%), "
        f"{LIMITER}-limited advection, Poisson tolerance {tight_poisson_tolerance(dtype):g}; "
        f"relative L2 errors at t = {END_TIME} (velocity: both face components; temperature: cell centres). "
        f"Checked runs: nu = {VISCOSITY} (Re = pi / nu = {math.pi / VISCOSITY:.1f}).",
        _table(runs),
    ]
    if advective:
        out.sections += [
            f"For information, nu = {ADVECTIVE_VISCOSITY} (Re = {math.pi / ADVECTIVE_VISCOSITY:.0f}): here the "
            "third-order (kappa = 1/3) advection error of the Koren scheme is comparable with the second-order "
            "diffusion and pressure errors on these grids and partly cancels them, so the observed order between "
            "pairs is erratic (pre-asymptotic) rather than a clean 2; it is not a check.",
            _table(advective),
        ]
    fig, ax = new_figure(5.0, 4.0)
    h = np.array([math.pi / r.cells for r in runs])
    ax.loglog(h, [r.velocity_error for r in runs], "o-", label=f"velocity, Re={math.pi / VISCOSITY:.1f}")
    ax.loglog(h, [r.temperature_error for r in runs], "s-", label=f"temperature, Re={math.pi / VISCOSITY:.1f}")
    if advective:
        ax.loglog(h, [r.velocity_error for r in advective], "o:",
                  label=f"velocity, Re={math.pi / ADVECTIVE_VISCOSITY:.0f}")
    ax.loglog(h, runs[0].velocity_error * (h / h[0]) ** 2, "k--", label="slope 2")
    ax.set(xlabel="h", ylabel=f"relative L2 error at t = {END_TIME:g}")
    ax.legend(fontsize=8)
    out.figures.append(("taylor_green_convergence.png", fig,
                        "Taylor-Green vortex: error against grid spacing."))
    return out
