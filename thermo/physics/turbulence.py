"""Zero-equation turbulence: eddy viscosity from the wall distance.

Wall distance d (m) comes from the Poisson equation of Spalding / Tucker,

    -lap(phi) = 1,   phi = 0 on no-slip walls and solid faces,
    d = sqrt(|grad phi|^2 + 2 phi) - |grad phi|,

exact for a single plane wall, cheap, smooth and differentiable; it is solved
once per geometry with the same multigrid-preconditioned CG as the pressure.

Models (``Numerics.turbulence``):

* ``"laminar"``: nu_t = 0.
* ``"mixing_length"``: Prandtl's mixing length, nu_t = l^2 |S| with
  l = min(kappa d, 0.09 d_max), kappa = 0.41, |S| = sqrt(2 S_ij S_ij) and
  d_max the largest wall distance in the domain (a stand-in for the
  boundary-layer thickness in the usual 0.09 delta cap).
* ``"zero_equation"``: Chen & Xu (1998) indoor-airflow model,
  nu_t = 0.03874 |U| d, widely used for rooms and data halls.
"""

from __future__ import annotations

import jax.numpy as jnp

from ..fields import cell_centred_velocity
from ..grid import AXES, Grid
from ..operators import expand_plane, materialize, pad, take
from . import poisson

VON_KARMAN = 0.41
MODELS = ("laminar", "mixing_length", "zero_equation")


def wall_distance_operator(grid: Grid, open_fraction, boundaries) -> poisson.PoissonLevel:
    """Operator of -lap(phi) with phi = 0 on no-slip walls and closed faces."""
    dtype = open_fraction[0].dtype
    conductance = []
    extra = jnp.zeros(grid.shape, dtype)
    for a in AXES:
        area = grid.face_area(a)
        spacing = Grid.along(grid.centre_spacing(a), a)
        widths = Grid.along(grid.widths(a), a)
        o = open_fraction[a]
        inner_open = take(o, a, 1, -1)
        conductance.append(pad(inner_open * area / take(spacing, a, 1, -1), a, 1, 1))
        # the closed part of an interior face is a wall for both neighbours
        closed = (1.0 - inner_open) * area
        extra = extra + pad(closed / (0.5 * take(widths, a, 0, -1)), a, 0, 1)
        extra = extra + pad(closed / (0.5 * take(widths, a, 1)), a, 1, 0)
        n = grid.shape[a]
        for side in (0, 1):
            plane = boundaries.plane(a, side)
            wall = expand_plane(plane.wall * (1.0 - plane.slip), a)
            half = take(widths, a, 0, 1) if side == 0 else take(widths, a, -1)
            k_b = wall * area / (0.5 * half)
            extra = extra + (pad(k_b, a, 0, n - 1) if side == 0 else pad(k_b, a, n - 1, 0))
    return poisson.PoissonLevel(tuple(conductance), extra, jnp.zeros(grid.shape, dtype))


def centre_gradient(field, grid: Grid, axis: int):
    """d(field)/dx_axis at cell centres: central differences inside, one-sided at the ends."""
    c = Grid.along(grid.centres(axis), axis)
    if field.shape[axis] < 2:
        return jnp.zeros_like(field)
    fp = materialize(jnp.concatenate([take(field, axis, 0, 1), field, take(field, axis, -1)], axis=axis))
    cp = jnp.concatenate([take(c, axis, 0, 1), c, take(c, axis, -1)], axis=axis)
    return (take(fp, axis, 2) - take(fp, axis, 0, -2)) / (take(cp, axis, 2) - take(cp, axis, 0, -2))


def wall_distance(grid: Grid, open_fraction, boundaries, fluid_fraction, tol=1e-6):
    """Distance to the nearest no-slip wall or solid face (m) at cell centres."""
    level = wall_distance_operator(grid, open_fraction, boundaries)
    live = fluid_fraction > 0
    level = poisson.PoissonLevel(level.conductance, level.diagonal_extra,
                                 jnp.where(live, 0.0, 1.0).astype(level.dead.dtype))
    hierarchy = poisson.build_hierarchy(level)
    rhs = jnp.where(live, grid.cell_volume(), 0.0)
    phi, _, _ = poisson.solve(hierarchy, rhs, tol=tol, max_iter=200)
    phi = jnp.maximum(phi, 0.0)
    grad2 = sum(centre_gradient(phi, grid, a) ** 2 for a in AXES)
    grad = jnp.sqrt(grad2)
    distance = jnp.sqrt(grad2 + 2.0 * phi) - grad
    return jnp.where(live, distance, 0.0)


def strain_rate_magnitude(velocity, grid: Grid):
    """|S| = sqrt(2 S_ij S_ij) (1/s) at cell centres."""
    centred = cell_centred_velocity(velocity)
    total = 0.0
    for i in AXES:
        for j in AXES:
            if i == j:
                widths = Grid.along(grid.widths(i), i)
                dii = (take(velocity[i], i, 1) - take(velocity[i], i, 0, -1)) / widths
                total = total + 2.0 * dii * dii
            elif j > i:
                sij = 0.5 * (centre_gradient(centred[i], grid, j) + centre_gradient(centred[j], grid, i))
                total = total + 4.0 * sij * sij
    return _safe_sqrt(total)


def _safe_sqrt(x):
    """sqrt(x) with a finite derivative at x = 0 (zero there, not 0 * inf = NaN), so that
    gradients through a field at rest (solid cells, stagnation points) stay finite; the value
    is exactly jnp.sqrt(x)."""
    positive = x > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, 1.0)), 0.0)


def eddy_viscosity(model: str, velocity, grid: Grid, distance, fluid_fraction):
    """nu_t (m^2/s) at cell centres for ``model``."""
    if model == "laminar":
        return jnp.zeros_like(distance)
    if model == "mixing_length":
        length = jnp.minimum(VON_KARMAN * distance, 0.09 * jnp.max(distance))
        nu_t = length**2 * strain_rate_magnitude(velocity, grid)
    elif model == "zero_equation":
        speed = _safe_sqrt(jnp.sum(cell_centred_velocity(velocity) ** 2, axis=0))
        nu_t = 0.03874 * speed * distance
    else:
        raise ValueError(f"turbulence model must be one of {MODELS}, not {model!r}")
    return jnp.where(fluid_fraction > 0, nu_t, 0.0)
