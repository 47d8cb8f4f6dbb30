"""de Vahl Davis (1983) differentially heated square cavity, Pr = 0.71, Ra = 1e3..1e6.

Quantities (non-dimensional, velocities in kappa/L): u_max on the vertical
mid-line x = 0.5, v_max on the horizontal mid-line y = 0.5 (each refined by a
parabola through the discrete maximum), the cavity-average Nusselt number
Nu_avg of the horizontal heat flux u theta - d theta/dx, and the hot-wall
Nusselt number Nu_0.  The 2-D cavity is one cell thick with free-slip walls
in z (:func:`thermo.cases.cavity.natural_convection_cavity`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from thermo.cases import analysis
from thermo.cases.cavity import natural_convection_cavity

from ..checks import Check
from ..common import solve_steady, stopwatch
from ..reference import load
from ..report import CaseResult, markdown_table, new_figure

NAME = "de_vahl_davis"
TITLE = "de Vahl Davis natural-convection cavity"
REFERENCE = "devahldavis1983_square_cavity.csv"


@dataclass(frozen=True)
class Setting:
    rayleigh: float
    cells: int
    stretch: float
    nu_tolerance: float
    velocity_tolerance: float


# full run: tolerances of the issue (Nu 1% up to 1e5, 2% at 1e6; velocities 2%)
FULL = (Setting(1e3, 64, 1.0, 0.01, 0.02), Setting(1e4, 64, 1.0, 0.01, 0.02),
        Setting(1e5, 64, 2.0, 0.01, 0.02), Setting(1e6, 96, 3.0, 0.02, 0.02))
# quick run: coarse grids, tolerances that fit them
QUICK = (Setting(1e3, 32, 1.0, 0.01, 0.02), Setting(1e4, 32, 1.0, 0.03, 0.03),
         Setting(1e5, 48, 2.0, 0.03, 0.03))


@dataclass
class CavityResult:
    """Measured quantities of one solved cavity."""

    rayleigh: float
    grid: str
    u_max: float
    y_umax: float
    v_max: float
    x_vmax: float
    nu_avg: float
    nu_0: float
    steps: int
    seconds: float
    converged: bool
    profiles: dict


def measure(problem, state) -> dict:
    """u_max, v_max (with positions), Nu_avg and Nu_0 of a solved cavity, plus the profiles."""
    grid = problem.grid
    u, v = state.velocity[0], state.velocity[1]
    y, u_line = analysis.line_profile(grid, u, face_axis=0, fixed_axis=0, position=0.5, ends=(0.0, 0.0))
    x, v_line = analysis.line_profile(grid, v, face_axis=1, fixed_axis=1, position=0.5, ends=(0.0, 0.0))
    y_umax, u_max = analysis.peak(y, u_line)
    x_vmax, v_max = analysis.peak(x, v_line)
    yw, nu_local, nu_0 = analysis.wall_nusselt(grid, state.temperature, wall_temperature=1.0, axis=0, side=0)
    xf, nu_line, nu_avg = analysis.average_nusselt(grid, u, state.temperature, wall_temperatures=(1.0, 0.0),
                                                   kappa=float(problem.fluid.diffusivity))
    return dict(u_max=u_max, y_umax=y_umax, v_max=v_max, x_vmax=x_vmax, nu_avg=nu_avg, nu_0=nu_0,
                profiles=dict(y=y, u=u_line, x=x, v=v_line, y_wall=yw, nu_local=nu_local, x_faces=xf,
                              nu_line=nu_line))


def solve(rayleigh: float, cells: int, stretch: float = 1.0, dtype=np.float64, tol: float = 1e-4) -> CavityResult:
    """Solve the cavity at ``rayleigh`` on ``cells`` x ``cells`` and measure it."""
    problem = natural_convection_cavity(cells, rayleigh, stretch, dtype=dtype)
    state, report = solve_steady(problem, tol=tol, initial_temperature=0.5)
    m = measure(problem, state)
    grid = f"{cells}x{cells}" + (f", stretch {stretch:g}" if stretch > 1 else "")
    return CavityResult(rayleigh=rayleigh, grid=grid, steps=report.steps, seconds=report.seconds,
                        converged=report.converged, **m)


def checks(result: CavityResult, setting: Setting, table) -> list[Check]:
    ref = table.row("Ra", setting.rayleigh)
    case = f"{NAME} Ra={setting.rayleigh:.0e}"
    nu_tol, vel_tol = setting.nu_tolerance, setting.velocity_tolerance
    out = [
        Check(case, "Nu_avg", result.nu_avg, ref["Nu_avg"], nu_tol, grid=result.grid),
        Check(case, "Nu_0 (hot wall)", result.nu_0, ref["Nu_0_hotwall"], nu_tol, grid=result.grid,
              note="single-source reference at Ra=1e6" if setting.rayleigh >= 1e6 else ""),
        Check(case, "u_max on x=0.5", result.u_max, ref["u_max"], vel_tol, grid=result.grid),
        Check(case, "v_max on y=0.5", result.v_max, ref["v_max"], vel_tol, grid=result.grid),
    ]
    if not result.converged:
        out.append(Check(case, "steady state reached (1 = yes)", 0.0, 1.0, 0.0, kind="absolute", grid=result.grid))
    return out


def run(quick: bool, dtype) -> CaseResult:
    table = load(REFERENCE)
    out = CaseResult(NAME, TITLE)
    results = []
    with stopwatch(out):
        for setting in QUICK if quick else FULL:
            r = solve(setting.rayleigh, setting.cells, setting.stretch, dtype)
            results.append(r)
            out.checks += checks(r, setting, table)
    rows = []
    for r in results:
        ref = table.row("Ra", r.rayleigh)
        rows.append((f"{r.rayleigh:.0e}", r.grid, r.nu_avg, ref["Nu_avg"], r.nu_0, ref["Nu_0_hotwall"],
                     r.u_max, ref["u_max"], r.y_umax, ref["y_umax"], r.v_max, ref["v_max"], r.x_vmax,
                     ref["x_vmax"], r.steps, round(r.seconds, 1)))
    out.sections += [
        "Reference: " + table.citation(),
        "Set-up: `natural_convection_cavity` (Pr = 0.71, one cell thick, free-slip in z), steady state by "
        "pseudo-time marching. Profiles on the mid-lines are interpolated linearly across the line; maxima "
        "are refined by a parabola through the discrete maximum. Nu_avg is the cavity average of the "
        "horizontal heat flux u*theta - dtheta/dx (face fluxes, trapezoidal rule in x); Nu_0 uses a "
        "second-order one-sided wall gradient. Positions y_umax and x_vmax are single-source in the "
        "reference and are reported, not checked.",
        markdown_table(("Ra", "grid", "Nu_avg", "ref", "Nu_0", "ref", "u_max", "ref", "y(u_max)", "ref",
                        "v_max", "ref", "x(v_max)", "ref", "steps", "solve time (s)"), rows),
    ]
    out.figures += _figures(results, table)
    return out


def _figures(results, table):
    fig, (ax_u, ax_v, ax_nu) = new_figure(11.0, 3.6, columns=3)
    for r in results:
        label = f"Ra={r.rayleigh:.0e}"
        scale = table.row("Ra", r.rayleigh)
        p = r.profiles
        ax_u.plot(p["u"] / scale["u_max"], p["y"], label=label)
        ax_u.plot([1.0], [scale["y_umax"]], "k+")
        ax_v.plot(p["x"], p["v"] / scale["v_max"], label=label)
        ax_v.plot([scale["x_vmax"]], [1.0], "k+")
        ax_nu.plot(p["y_wall"], p["nu_local"], label=label)
    ax_u.set(xlabel="u / u_max(ref) on x = 0.5", ylabel="y", title="horizontal velocity")
    ax_v.set(xlabel="x", ylabel="v / v_max(ref) on y = 0.5", title="vertical velocity")
    ax_nu.set(xlabel="y", ylabel="local Nu on the hot wall", yscale="log", title="hot-wall Nusselt number")
    ax_u.legend(fontsize=8)
    profiles = ("de_vahl_davis_profiles.png", fig,
                ("Mid-line velocity profiles scaled by the reference maxima (+: de Vahl Davis maximum and its "
                 "position) and the local hot-wall Nusselt number."))
    fig, ax = new_figure(5.0, 3.6)
    ra = [r.rayleigh for r in results]
    ax.loglog(ra, [r.nu_avg for r in results], "o-", label="thermo Nu_avg")
    ax.loglog(ra, [table.row("Ra", x)["Nu_avg"] for x in ra], "k+", ms=10, label="de Vahl Davis (1983)")
    ax.set(xlabel="Ra", ylabel="Nu_avg")
    ax.legend()
    return [profiles, ("de_vahl_davis_nusselt.png", fig, "Average Nusselt number against the benchmark.")]
