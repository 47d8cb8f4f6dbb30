"""Global conservation of mass and energy at a steady state.

A 2 m x 1 m x 1 m box with a solid block (partly cutting cells), an inflow
patch on the x = 0 wall, an outflow patch on the x = 2 m wall and a heat
source (W/m^3) behind the block, with buoyancy.  At the steady state

* mass: inflow volume flow = outflow volume flow (closed walls elsewhere);
* energy: rho cp (enthalpy flow out - enthalpy flow in) - conduction in
  through the inflow face = integral of the heat source.

The boundary fluxes are computed from the face velocities of the final state,
with the face temperatures the solver transports: the inflow temperature
where fluid enters, the adjacent cell where it leaves; conduction across the
fixed-temperature inflow face uses the half-cell gradient.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from thermo.boundary import closed_box, set_patch
from thermo.grid import Grid, uniform_grid
from thermo.problem import Fluid, block_cells, make_problem, no_sources, open_geometry
from thermo.solve import Numerics

from ..checks import Check
from ..common import solve_steady, stopwatch, tight_poisson_tolerance
from ..report import CaseResult, markdown_table, new_figure

NAME = "conservation"
TITLE = "Conservation of mass and energy"
LENGTHS = (2.0, 1.0, 1.0)          # m
INFLOW_SPEED = 0.2                 # m/s
INFLOW_TEMPERATURE = 20.0          # degC
HEAT = 1000.0                      # W/m^3 in the source box
SOURCE_BOX = ((1.2, 0.3, 0.2), (1.5, 0.7, 0.5))    # m
BLOCK = ((0.55, 0.3, 0.0), (0.85, 0.7, 0.55))      # m (not aligned with the cells)
INLET = ((0.25, 0.75), (0.1, 0.5))   # (y range, z range) on x = 0
OUTLET = ((0.25, 0.75), (0.5, 0.9))  # (y range, z range) on x = 2 m
# a viscous air-like fluid so that the flow is steady (Re = U H / nu = 100)
FLUID = Fluid(density=1.2, heat_capacity=1000.0, viscosity=2e-3, prandtl=0.71, turbulent_prandtl=0.85,
              expansion=3.4e-3, reference_temperature=INFLOW_TEMPERATURE, gravity=np.array([0.0, 0.0, -9.81]))
MASS_TOLERANCE = 1e-6
ENERGY_TOLERANCE = 1e-3
FULL = (32, 16, 16)
QUICK = (20, 10, 10)


def _patch(grid: Grid, axis_ranges):
    """Boundary-plane mask of the x-planes: cells whose centres lie in the (y, z) ranges."""
    (y0, y1), (z0, z1) = axis_ranges
    y, z = np.asarray(grid.centres(1)), np.asarray(grid.centres(2))
    return ((y > y0) & (y < y1))[:, None] & ((z > z0) & (z < z1))[None, :]


def problem_for(shape, dtype=np.float64):
    grid = uniform_grid(shape, LENGTHS)
    boundaries = closed_box(grid.shape)
    inlet = set_patch(boundaries.plane(0, 0), _patch(grid, INLET), kind="inflow", velocity=INFLOW_SPEED,
                      temperature=INFLOW_TEMPERATURE)
    outlet = set_patch(boundaries.plane(0, 1), _patch(grid, OUTLET), kind="outflow", pressure=0.0,
                       temperature=INFLOW_TEMPERATURE)
    boundaries = boundaries.with_plane(0, 0, inlet).with_plane(0, 1, outlet)
    geometry = block_cells(open_geometry(grid), grid, *BLOCK)
    in_source = 1.0 - block_cells(open_geometry(grid), grid, *SOURCE_BOX).fluid  # overlap fraction of each cell
    sources = replace(no_sources(grid), heat=HEAT * in_source * geometry.fluid)
    return make_problem(grid, FLUID, boundaries, geometry, sources).astype(dtype)


@dataclass
class Balance:
    grid: str
    inflow: float              # m^3/s
    outflow: float             # m^3/s
    mass_imbalance: float      # |in - out| / in
    source: float              # W
    enthalpy_out: float        # W, rho cp sum Q T over outflow faces
    enthalpy_in: float         # W
    conduction_in: float       # W, conduction into the domain through the inflow face
    energy_imbalance: float    # |net outflow - source| / source
    steps: int
    seconds: float
    converged: bool


def balance(problem, state) -> dict:
    """Boundary mass and energy flows of a state (see module docstring)."""
    grid, fluid = problem.grid, problem.fluid
    rho_cp = float(fluid.density * fluid.heat_capacity)
    kappa = float(fluid.diffusivity)
    area = np.asarray(grid.face_area(0))[0]                  # (ny, nz)
    open_x = np.asarray(problem.geometry.open[0])
    u = np.asarray(state.velocity[0])
    t = np.asarray(state.temperature)
    half = np.asarray(grid.centre_spacing(0))
    flows = {}
    for side, index, cell, sign in ((0, 0, 0, 1.0), (1, -1, -1, -1.0)):
        plane = problem.boundaries.plane(0, side)
        q = sign * open_x[index] * area * u[index]          # volume flow into the domain (m^3/s)
        t_face = np.where(q > 0, np.asarray(plane.temperature), t[cell])
        flows[side] = (q, t_face, plane)
    q_in, t_in, inlet = flows[0]
    q_out, t_out, _ = flows[1]
    fixed = np.asarray(inlet.inflow)                          # conduction through the Dirichlet inflow faces
    conduction = float(np.sum(rho_cp * kappa * fixed * open_x[0] * area * (t_in - t[0]) / half[0]))
    source = float(np.sum(np.asarray(problem.sources.heat) * np.asarray(grid.cell_volume())))
    inflow, outflow = float(np.sum(q_in)), float(-np.sum(q_out))
    enthalpy_in = float(rho_cp * np.sum(q_in * t_in))
    enthalpy_out = float(-rho_cp * np.sum(q_out * t_out))
    net = enthalpy_out - enthalpy_in - conduction
    return dict(inflow=inflow, outflow=outflow, mass_imbalance=abs(inflow - outflow) / abs(inflow), source=source,
                enthalpy_out=enthalpy_out, enthalpy_in=enthalpy_in, conduction_in=conduction,
                energy_imbalance=abs(net - source) / source)


def solve(shape, dtype=np.float64, tol: float | None = None) -> tuple[Balance, object, object]:
    """Solve the box on ``shape`` cells to a steady state (change rates below ``tol``: by default 1e-6,
    or 1e-4 in float32, whose round-off keeps the rates from falling further) and balance it."""
    if tol is None:
        tol = 1e-6 if np.dtype(dtype) == np.float64 else 1e-4
    problem = problem_for(shape, dtype)
    numerics = Numerics(poisson_tol=tight_poisson_tolerance(dtype), poisson_max_iter=200)
    state, report = solve_steady(problem, numerics, tol=tol, monitor_tol=1e-6, max_steps=100000)
    b = balance(problem, state)
    result = Balance(grid="x".join(str(n) for n in shape), steps=report.steps, seconds=report.seconds,
                     converged=report.converged, **b)
    return result, problem, state


def checks(b: Balance, mass_tolerance=MASS_TOLERANCE, energy_tolerance=ENERGY_TOLERANCE) -> list[Check]:
    out = [Check(NAME, "mass imbalance |in - out| / in", b.mass_imbalance, 0.0, mass_tolerance, kind="absolute",
                 grid=b.grid),
           Check(NAME, "energy imbalance |rho cp (H_out - H_in) - conduction_in - P| / P", b.energy_imbalance, 0.0,
                 energy_tolerance, kind="absolute", grid=b.grid)]
    if not b.converged:
        out.append(Check(NAME, "steady state reached (1 = yes)", 0.0, 1.0, 0.0, kind="absolute", grid=b.grid))
    return out


def run(quick: bool, dtype) -> CaseResult:
    out = CaseResult(NAME, TITLE)
    with stopwatch(out):
        b, problem, state = solve(QUICK if quick else FULL, dtype)
    mass_tol = MASS_TOLERANCE if np.dtype(dtype) == np.float64 else 1e-4
    out.checks += checks(b, mass_tol)
    out.sections += [
        f"Set-up: box {LENGTHS[0]:g} x {LENGTHS[1]:g} x {LENGTHS[2]:g} m, inflow {INFLOW_SPEED} m/s at "
        f"{INFLOW_TEMPERATURE} degC through a patch on x = 0, outflow (p = 0) patch on x = {LENGTHS[0]:g} m, a solid "
        f"block {BLOCK} m not aligned with the cells, heat source {HEAT:g} W/m^3 in {SOURCE_BOX} m, buoyancy on; "
        f"nu = {FLUID.viscosity} m^2/s (laminar), Poisson tolerance {tight_poisson_tolerance(dtype):g}; steady "
        "state by pseudo-time marching until the change rates fall below 1e-6 (1e-4 in float32).",
        markdown_table(("quantity", "value"), [
            ("grid", b.grid), ("inflow (m^3/s)", f"{b.inflow:.10g}"), ("outflow (m^3/s)", f"{b.outflow:.10g}"),
            ("mass imbalance / throughflow", f"{b.mass_imbalance:.3e}"),
            ("heat source (W)", f"{b.source:.6g}"), ("enthalpy flow out (W)", f"{b.enthalpy_out:.6g}"),
            ("enthalpy flow in (W)", f"{b.enthalpy_in:.6g}"),
            ("conduction in through the inflow (W)", f"{b.conduction_in:.3e}"),
            ("energy imbalance / source", f"{b.energy_imbalance:.3e}"),
            ("steps", b.steps), ("solve time (s)", f"{b.seconds:.1f}")]),
    ]
    fig, ax = new_figure(7.0, 3.6)
    k = int(np.argmin(np.abs(np.asarray(problem.grid.centres(1)) - 0.5)))
    x, z = np.asarray(problem.grid.nodes[0]), np.asarray(problem.grid.nodes[2])
    temperature = np.where(np.asarray(problem.geometry.fluid) > 0, np.asarray(state.temperature), np.nan)
    mesh = ax.pcolormesh(x, z, temperature[:, k, :].T, cmap="inferno")
    fig.colorbar(mesh, ax=ax, label="T (degC)")
    ax.set(xlabel="x (m)", ylabel="z (m)", aspect="equal", title="temperature on the mid-plane y = 0.5 m")
    out.figures.append(("conservation_temperature.png", fig,
                        "Conservation box: temperature on the mid-plane (white: fully solid cells)."))
    return out
