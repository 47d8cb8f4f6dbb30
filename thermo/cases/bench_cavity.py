"""The benchmark case of ``thermo bench``: a buoyant cubic cavity of air.

A closed cube of side ``length`` (m) split into ``n`` cells per axis, no-slip
walls; the wall at x = 0 is held at ``hot`` (degC), the wall at x = length
at ``cold`` (degC); the other four walls are adiabatic; gravity is -z.  The
flow is the classic differentially heated cavity, in dimensional air units,
so a step costs what a data-hall step costs per cell (advection, diffusion,
buoyancy, a pressure solve, temperature transport, eddy viscosity).
"""

from __future__ import annotations

import numpy as np

from ..boundary import Boundaries, wall_plane
from ..grid import uniform_grid
from ..problem import AIR, Fluid, Problem, make_problem
from ..solve import Numerics


def buoyant_cavity(n: int, length: float = 1.0, hot: float = 30.0, cold: float = 10.0,
                   dtype=np.float32) -> Problem:
    """The cavity at ``n**3`` cells as a :class:`~thermo.problem.Problem`.

    Args:
      n: cells per axis.
      length: side of the cube (m).
      hot: temperature of the wall x = 0 (degC).
      cold: temperature of the wall x = length (degC).
      dtype: floating-point type of every array (sets the precision).
    """
    if n < 2:
        raise ValueError(f"buoyant_cavity: need at least 2 cells per axis, got n = {n}")
    grid = uniform_grid((n, n, n), (length, length, length))
    shape = grid.shape
    fluid = Fluid(reference_temperature=0.5 * (hot + cold))  # air
    planes = [
        [wall_plane(shape, 0, temperature=hot), wall_plane(shape, 0, temperature=cold)],
        [wall_plane(shape, 1), wall_plane(shape, 1)],
        [wall_plane(shape, 2), wall_plane(shape, 2)],
    ]
    boundaries = Boundaries(tuple(tuple(p) for p in planes))
    return make_problem(grid, fluid, boundaries).astype(dtype)


def bench_numerics(n: int, length: float = 1.0, hot: float = 30.0, cold: float = 10.0,
                   turbulence: str = "mixing_length") -> Numerics:
    """Numerics for the cavity: the steady-marching defaults, with the time step
    capped at 0.5 cell widths per buoyant velocity scale sqrt(g beta dT L) so
    the first steps from rest (where only diffusion limits dt) stay stable."""
    velocity_scale = float(np.sqrt(9.81 * AIR.expansion * abs(hot - cold) * length))
    max_dt = 0.5 * (length / n) / max(velocity_scale, 1e-6)
    return Numerics(turbulence=turbulence, max_dt=max_dt)
