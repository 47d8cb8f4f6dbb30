"""Multigrid quality: preconditioned-CG iterations must not grow with the grid.

The pressure operator of a closed unit box with a fixed-pressure outflow
patch in the ceiling, built by :func:`thermo.physics.projection.pressure_operator`
and solved by :func:`thermo.physics.poisson.solve` (MG-preconditioned CG, the
solver's default two Jacobi sweeps) from a zero initial guess to a relative
residual of 1e-6, for a random right-hand side on the live cells.  Two
configurations: with a solid block whose faces lie on grid lines at every
multigrid level (the checked one), and with a block that cuts cells
partially (fractional open fractions, as the rasterizer produces them),
reported for information because it is a known weakness of the current
preconditioner (the counts grow with the grid).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from thermo.boundary import closed_box, set_patch
from thermo.grid import uniform_grid
from thermo.physics import poisson
from thermo.physics.projection import pressure_operator
from thermo.problem import block_cells, open_geometry

from ..checks import Check
from ..common import stopwatch
from ..report import CaseResult, markdown_table, new_figure

NAME = "multigrid"
TITLE = "Multigrid-preconditioned CG: iterations against grid size"
TOLERANCE = 1e-6
MAX_RATIO = 1.5
FULL = (32, 64, 128)
QUICK = (16, 32, 64)


@dataclass
class Solve:
    cells: int
    iterations: int
    residual: float
    seconds: float


ALIGNED_BLOCK = ((0.25, 0.25, 0.0), (0.75, 0.5, 0.5))   # m, on grid lines at every level
PARTIAL_BLOCK = ((0.3, 0.2, 0.0), (0.7, 0.45, 0.6))    # m, cuts cells at every size


def operator_for(cells: int, block, dtype=np.float64):
    """Pressure operator of the test box at ``cells``^3 (unit cube) with the solid ``block`` (lower, upper)."""
    grid = uniform_grid((cells,) * 3, (1.0, 1.0, 1.0))
    boundaries = closed_box(grid.shape)
    mask = np.zeros((cells, cells), bool)
    mask[cells // 4 : cells // 2, cells // 4 : 3 * cells // 4] = True
    boundaries = boundaries.with_plane(2, 1, set_patch(boundaries.plane(2, 1), mask, kind="outflow", pressure=0.0))
    geometry = block_cells(open_geometry(grid), grid, *block)
    cast = lambda tree: jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype), tree)  # noqa: E731
    return pressure_operator(grid.astype(dtype), cast(geometry.open), cast(boundaries)), cast(geometry.fluid)


@jax.jit
def _solve(level, rhs):
    hierarchy = poisson.build_hierarchy(level)
    return poisson.solve(hierarchy, rhs, None, TOLERANCE, 500)


def count_iterations(cells: int, block=ALIGNED_BLOCK, dtype=np.float64, seed: int = 0) -> Solve:
    level, fluid = operator_for(cells, block, dtype)
    rng = np.random.default_rng(seed)
    rhs = jnp.asarray(rng.standard_normal((cells,) * 3), dtype) * (fluid > 0)
    jax.block_until_ready(_solve(level, rhs))  # compile
    start = time.perf_counter()
    _, iterations, residual = jax.block_until_ready(_solve(level, rhs))
    return Solve(cells, int(iterations), float(residual), time.perf_counter() - start)


def run(quick: bool, dtype) -> CaseResult:
    out = CaseResult(NAME, TITLE)
    sizes = QUICK if quick else FULL
    with stopwatch(out):
        aligned = [count_iterations(n, ALIGNED_BLOCK, dtype) for n in sizes]
        partial = [count_iterations(n, PARTIAL_BLOCK, dtype) for n in sizes]
    counts = [s.iterations for s in aligned]
    grids = "/".join(f"{n}^3" for n in sizes)
    out.checks += [
        Check(NAME, "max/min CG iterations over the grids", max(counts) / min(counts), 1.0, MAX_RATIO - 1.0,
              kind="at_most", grid=grids),
    ]
    out.checks += [Check(NAME, f"relative residual reached at {s.cells}^3", s.residual, 0.0, TOLERANCE,
                         kind="absolute", grid=f"{s.cells}^3") for s in aligned]
    partial_counts = [s.iterations for s in partial]
    rows = [(f"{a.cells}^3", a.iterations, f"{a.residual:.2e}", round(a.seconds, 3), p.iterations,
             f"{p.residual:.2e}", round(p.seconds, 3)) for a, p in zip(aligned, partial)]
    out.sections += [
        "Set-up: unit cube, closed walls, an outflow (fixed-pressure) patch over 1/8 of the ceiling, a solid block; "
        "random right-hand side (seed 0) on the live cells; zero initial guess; CG preconditioned by one V-cycle, "
        f"relative residual {TOLERANCE:g}. Checked: block {ALIGNED_BLOCK} m (on grid lines at every level). "
        f"For information: block {PARTIAL_BLOCK} m, which cuts cells (fractional face open fractions).",
        markdown_table(("grid", "CG iterations (aligned block)", "residual", "time (s)",
                        "CG iterations (partial block)", "residual", "time (s)"), rows),
        f"**Known weakness (not gated):** with partially blocked cells the iteration count grows with the grid "
        f"({', '.join(map(str, partial_counts))} on {grids}, ratio {max(partial_counts) / min(partial_counts):.2f}). "
        "The growth persists when the covered fraction of the boundary cells is the same at every size, and "
        "disappears when the block lies on grid lines, so it comes from the fractional open fractions in the "
        "aggregation multigrid (thermo/physics/poisson.py), not from the geometry's size. Times are for the "
        "compiled solve (hierarchy build included).",
    ]
    fig, ax = new_figure(5.0, 3.6)
    ax.plot(sizes, counts, "o-", label="aligned block (checked)")
    ax.plot(sizes, partial_counts, "s--", label="partially blocked cells")
    ax.set(xscale="log", xlabel="cells per axis", ylabel="CG iterations to 1e-6",
           ylim=(0, 1.5 * max(counts + partial_counts)))
    ax.set_xticks(list(sizes), [str(n) for n in sizes])
    ax.legend()
    out.figures.append(("multigrid_iterations.png", fig, "CG iterations against grid size."))
    return out
