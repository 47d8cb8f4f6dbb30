"""Ghia, Ghia & Shin (1982) lid-driven cavity, Re = 100, 400, 1000.

u on the vertical centreline x = 0.5 and v on the horizontal centreline
y = 0.5, interpolated (cubic spline through the cell values and the wall
values) to Ghia's 17 tabulated points; flagged points are excluded from
pass/fail (``validation/reference/ghia1982_*``).  The cavity is one cell
thick with free-slip walls in z (:func:`thermo.cases.cavity.lid_driven_cavity`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline

from thermo.cases import analysis
from thermo.cases.cavity import lid_driven_cavity

from ..checks import Check
from ..common import solve_steady, stopwatch
from ..reference import load
from ..report import CaseResult, markdown_table, new_figure

NAME = "ghia"
TITLE = "Ghia lid-driven cavity"
U_TABLE = "ghia1982_u_vertical_centerline.csv"
V_TABLE = "ghia1982_v_horizontal_centerline.csv"
# points flagged in the reference README (Re, quantity, coordinate)
FLAGGED = {(400, "v", 0.9063), (3200, "u", 0.4531), (10000, "u", 0.5)}


@dataclass(frozen=True)
class Setting:
    reynolds: int
    cells: int
    stretch: float
    tolerance: float  # max |error| / lid speed


FULL = (Setting(100, 64, 1.0, 0.02), Setting(400, 96, 1.0, 0.02), Setting(1000, 128, 1.0, 0.02))
QUICK = (Setting(100, 32, 1.0, 0.02), Setting(400, 48, 1.0, 0.03), Setting(1000, 64, 1.0, 0.04))


@dataclass
class LidResult:
    reynolds: int
    grid: str
    y: np.ndarray       # Ghia's points on the vertical centreline
    u: np.ndarray       # thermo's u there
    u_ref: np.ndarray
    x: np.ndarray
    v: np.ndarray
    v_ref: np.ndarray
    u_flagged: np.ndarray
    v_flagged: np.ndarray
    profiles: dict
    steps: int
    seconds: float
    converged: bool

    def max_errors(self):
        """Largest |error| of u and of v over the unflagged points."""
        eu = np.abs(self.u - self.u_ref)[~self.u_flagged]
        ev = np.abs(self.v - self.v_ref)[~self.v_flagged]
        return float(eu.max()), float(ev.max())


def centrelines(problem, state):
    """(y, u on x = 0.5) and (x, v on y = 0.5), wall values included (lid speed at y = 1)."""
    lid = float(np.asarray(problem.boundaries.plane(1, 1).wall_velocity)[0].mean())
    y, u = analysis.line_profile(problem.grid, state.velocity[0], face_axis=0, fixed_axis=0, position=0.5,
                                 ends=(0.0, lid))
    x, v = analysis.line_profile(problem.grid, state.velocity[1], face_axis=1, fixed_axis=1, position=0.5,
                                 ends=(0.0, 0.0))
    return (y, u), (x, v)


def solve(reynolds: int, cells: int, stretch: float = 1.0, dtype=np.float64, tol: float = 1e-4) -> LidResult:
    problem = lid_driven_cavity(cells, reynolds, stretch, dtype=dtype)
    state, report = solve_steady(problem, tol=tol)
    (ys, us), (xs, vs) = centrelines(problem, state)
    ut, vt = load(U_TABLE), load(V_TABLE)
    y, u_ref = np.array(ut.columns["y"]), np.array(ut.columns[f"u_Re{reynolds}"])
    x, v_ref = np.array(vt.columns["x"]), np.array(vt.columns[f"v_Re{reynolds}"])
    u_flag = np.array([(reynolds, "u", round(p, 4)) in FLAGGED for p in y])
    v_flag = np.array([(reynolds, "v", round(p, 4)) in FLAGGED for p in x])
    grid = f"{cells}x{cells}" + (f", stretch {stretch:g}" if stretch > 1 else "")
    return LidResult(reynolds=reynolds, grid=grid, y=y, u=CubicSpline(ys, us)(y), u_ref=u_ref, x=x,
                     v=CubicSpline(xs, vs)(x), v_ref=v_ref, u_flagged=u_flag, v_flagged=v_flag,
                     profiles=dict(y=ys, u=us, x=xs, v=vs), steps=report.steps, seconds=report.seconds,
                     converged=report.converged)


def checks(result: LidResult, tolerance: float) -> list[Check]:
    case = f"{NAME} Re={result.reynolds}"
    eu, ev = result.max_errors()
    out = [Check(case, "max |u - u_Ghia| on x=0.5 (17 points)", eu, 0.0, tolerance, kind="absolute",
                 grid=result.grid, note=f"{int(result.u_flagged.sum())} flagged point(s) excluded"),
           Check(case, "max |v - v_Ghia| on y=0.5 (17 points)", ev, 0.0, tolerance, kind="absolute",
                 grid=result.grid, note=f"{int(result.v_flagged.sum())} flagged point(s) excluded")]
    if not result.converged:
        out.append(Check(case, "steady state reached (1 = yes)", 0.0, 1.0, 0.0, kind="absolute", grid=result.grid))
    return out


def run(quick: bool, dtype) -> CaseResult:
    out = CaseResult(NAME, TITLE)
    results = []
    with stopwatch(out):
        for s in QUICK if quick else FULL:
            r = solve(s.reynolds, s.cells, s.stretch, dtype)
            results.append(r)
            out.checks += checks(r, s.tolerance)
    summary = []
    for r in results:
        eu, ev = r.max_errors()
        rms_u = float(np.sqrt(np.mean((r.u - r.u_ref)[~r.u_flagged] ** 2)))
        rms_v = float(np.sqrt(np.mean((r.v - r.v_ref)[~r.v_flagged] ** 2)))
        summary.append((r.reynolds, r.grid, eu, rms_u, ev, rms_v, r.steps, round(r.seconds, 1)))
    def profile_rows(coordinates, values, references, flags):
        """One row per Ghia point: the coordinate, then (thermo, Ghia) for every Reynolds number."""
        return [[f"{coordinates[i]:.4f}"] + [text for r in results for text in (
                    f"{values(r)[i]:.4f}", f"{references(r)[i]:.5f}" + (" (flagged)" if flags(r)[i] else ""))]
                for i in range(len(coordinates))]

    point_rows = profile_rows(results[0].y, lambda r: r.u, lambda r: r.u_ref, lambda r: r.u_flagged)
    header = ["y"] + [h for r in results for h in (f"u Re={r.reynolds}", "Ghia")]
    v_rows = profile_rows(results[0].x, lambda r: r.v, lambda r: r.v_ref, lambda r: r.v_flagged)
    v_header = ["x"] + [h for r in results for h in (f"v Re={r.reynolds}", "Ghia")]
    out.sections += [
        "Reference: " + load(U_TABLE).citation(),
        "Set-up: `lid_driven_cavity` (lid speed 1, one cell thick, free-slip in z), steady state by pseudo-time "
        "marching. The centreline profiles (cell values interpolated linearly across the line, plus the wall "
        "values) are interpolated with a cubic spline to Ghia's 17 points. Errors are in units of the lid speed.",
        markdown_table(("Re", "grid", "max |u err|", "rms u err", "max |v err|", "rms v err", "steps",
                        "solve time (s)"), summary),
        markdown_table(header, point_rows),
        markdown_table(v_header, v_rows),
    ]
    out.figures.append(_figure(results))
    return out


def _figure(results):
    fig, (ax_u, ax_v) = new_figure(10.0, 4.2, columns=2)
    for r in results:
        line, = ax_u.plot(r.profiles["u"], r.profiles["y"], label=f"Re={r.reynolds} ({r.grid})")
        ax_u.plot(r.u_ref, r.y, "o", mfc="none", color=line.get_color())
        ax_v.plot(r.profiles["x"], r.profiles["v"], color=line.get_color())
        ax_v.plot(r.x, r.v_ref, "o", mfc="none", color=line.get_color())
    ax_u.set(xlabel="u on x = 0.5", ylabel="y")
    ax_v.set(xlabel="x", ylabel="v on y = 0.5")
    ax_u.legend(fontsize=8)
    return "ghia_centrelines.png", fig, "Centreline velocities (lines: thermo; circles: Ghia et al. 1982)."
