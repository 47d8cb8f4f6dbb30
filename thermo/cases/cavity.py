"""Square cavities: de Vahl Davis natural convection and Ghia lid-driven flow.

Both are 2-D problems solved as one cell thick in z with free-slip walls
there, in non-dimensional units (L = 1).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ..boundary import Boundaries, set_patch, wall_plane
from ..grid import Grid, stretched_nodes
from ..problem import Fluid, make_problem

PRANDTL = 0.71


def cavity_grid(n: int, stretch: float = 1.0) -> Grid:
    """n x n cells on the unit square (clustered at the walls when stretch > 1), one cell thick."""
    x = stretched_nodes(n, 1.0, stretch)
    return Grid((x, x.copy(), np.array([0.0, 1.0 / n])))


def natural_convection_cavity(n: int, rayleigh: float, stretch: float = 1.0, dtype=np.float64):
    """de Vahl Davis (1983) differentially heated cavity.

    Scales: length L, velocity kappa/L, temperature theta = (T - Tc)/(Th - Tc):
    kappa = 1, nu = Pr, g beta = Ra Pr.  Hot wall x = 0 (theta = 1), cold
    wall x = 1 (theta = 0), adiabatic top and bottom, gravity along -y.
    """
    grid = cavity_grid(n, stretch)
    shape = grid.shape
    fluid = Fluid(density=1.0, heat_capacity=1.0, viscosity=PRANDTL, prandtl=PRANDTL, turbulent_prandtl=1.0,
                  expansion=1.0, reference_temperature=0.5, gravity=np.array([0.0, -rayleigh * PRANDTL, 0.0]))
    planes = [
        [wall_plane(shape, 0, temperature=1.0), wall_plane(shape, 0, temperature=0.0)],
        [wall_plane(shape, 1), wall_plane(shape, 1)],
        [wall_plane(shape, 2, slip=True), wall_plane(shape, 2, slip=True)],
    ]
    boundaries = Boundaries(tuple(tuple(p) for p in planes))
    problem = make_problem(grid, fluid, boundaries)
    return problem.astype(dtype)


def lid_driven_cavity(n: int, reynolds: float, stretch: float = 1.0, dtype=np.float64):
    """Ghia et al. (1982) lid-driven cavity: lid y = 1 moving at U = 1 in +x, Re = U L / nu."""
    grid = cavity_grid(n, stretch)
    shape = grid.shape
    fluid = Fluid(density=1.0, heat_capacity=1.0, viscosity=1.0 / reynolds, prandtl=1.0, turbulent_prandtl=1.0,
                  expansion=0.0, reference_temperature=0.0, gravity=np.zeros(3))
    lid = set_patch(wall_plane(shape, 1), np.ones((n, 1), bool), wall_velocity=[1.0, 0.0, 0.0])
    planes = [
        [wall_plane(shape, 0), wall_plane(shape, 0)],
        [wall_plane(shape, 1), lid],
        [wall_plane(shape, 2, slip=True), wall_plane(shape, 2, slip=True)],
    ]
    boundaries = Boundaries(tuple(tuple(p) for p in planes))
    problem = make_problem(grid, fluid, boundaries)
    return problem.astype(dtype)
