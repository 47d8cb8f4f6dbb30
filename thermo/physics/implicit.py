"""Implicit pseudo-time steps for steady marching: line-implicit (ADI) smoothing of
the explicit increment.

An explicit step moves a field phi by dt R(phi), R the full tendency (the bounded
second-order advection, diffusion and sources).  Its step is held to the
fastest cell's stability limit, the tile jets' on a data hall.  The implicit
step instead solves

    (I + dt A_x)(I + dt A_y)(I + dt A_z) delta = dt R(phi),

with A_a the first-order upwind advection and diffusion operator along axis a
(an M-matrix whose rows sum to zero, so each factor is diagonally dominant)
and takes phi + delta.  This is Beam and Warming's approximate factorization in
delta form: the operator on the left only changes the path, so the fixed point
(R = 0) is the explicit scheme's steady state, bounded limiter included, while
the step can run at Courant numbers well above one.  Each factor is a set of
independent tridiagonal systems along one axis, solved by the Thomas
algorithm as one ``lax.scan`` over the axis with whole planes per iteration.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import lax

from ..grid import AXES, Grid
from ..operators import midpoint, take


# unrolling the scans 4x made the hall-small step slower on the CPU (2026-11-27)
SCAN_UNROLL = 1


def tridiagonal_solve(lower, diagonal, upper, rhs, axis: int):
    """Solve the tridiagonal systems along ``axis`` (Thomas algorithm, no pivoting:
    the callers' matrices are diagonally dominant).  ``lower`` multiplies the
    previous entry, ``upper`` the next; their first and last entries along the
    axis are ignored."""
    lower, diagonal, upper, rhs = (jnp.moveaxis(x, axis, 0) for x in (lower, diagonal, upper, rhs))

    def forward(carry, row):
        upper_prev, rhs_prev = carry
        a, b, c, r = row
        pivot = b - a * upper_prev
        upper_new, rhs_new = c / pivot, (r - a * rhs_prev) / pivot
        return (upper_new, rhs_new), (upper_new, rhs_new)

    zero = jnp.zeros_like(rhs[0])
    lower = lower.at[0].set(0.0)
    _, (upper_eliminated, rhs_eliminated) = lax.scan(forward, (zero, zero), (lower, diagonal, upper, rhs),
                                                     unroll=SCAN_UNROLL)

    def backward(next_value, row):
        c, r = row
        value = r - c * next_value
        return value, value

    _, solution = lax.scan(backward, zero, (upper_eliminated, rhs_eliminated), reverse=True, unroll=SCAN_UNROLL)
    return jnp.moveaxis(solution, 0, axis)


def line_factor(volume_flux, conductance, volume, dt, axis: int, live, extra_diagonal=0.0):
    """Coefficients (lower, diagonal, upper) of I + dt A_axis.

    Args:
      volume_flux: flux (m^3/s) through the control-volume faces along ``axis``
        (one more entry than the unknowns along it), positive along +axis.
      conductance: diffusive conductance (m^3/s) at the same faces.
      volume: control volumes (m^3), broadcastable to the unknowns.
      dt: pseudo-time step (s).
      live: unknowns that move; the rows of the others become the identity
        (their increment is zero) and their neighbours see a wall.
      extra_diagonal: added to the diagonal (dimensionless: dt times a rate).

    Upwind advection in non-conservative form: the diagonal carries the inflow
    through the two faces, the off-diagonals minus the inflow from each
    neighbour, so every row sums to zero (a uniform field is not changed).
    Unknowns outside the line (boundaries) are held, i.e. dropped.
    """
    q_low, q_high = take(volume_flux, axis, 0, -1), take(volume_flux, axis, 1)
    g_low, g_high = take(conductance, axis, 0, -1), take(conductance, axis, 1)
    scale = dt / volume
    lower = -scale * (jnp.maximum(q_low, 0.0) + g_low)
    upper = -scale * (jnp.maximum(-q_high, 0.0) + g_high)
    diagonal = 1.0 + scale * (jnp.maximum(q_low, 0.0) + jnp.maximum(-q_high, 0.0) + g_low + g_high) + extra_diagonal
    return (jnp.where(live, lower, 0.0), jnp.where(live, diagonal, 1.0), jnp.where(live, upper, 0.0))


def factored_solve(factors, rhs, live):
    """delta from (prod_a (I + dt A_a)) delta = rhs, one axis after the other;
    ``factors[a]`` is :func:`line_factor`'s triple for axis a (None: skipped)."""
    delta = jnp.where(live, rhs, 0.0)
    for axis, factor in enumerate(factors):
        if factor is not None:
            delta = tridiagonal_solve(*factor, delta, axis)
    return delta


def _pad_end(x, axis: int, size: int, value: float):
    """``x`` padded at its end along ``axis`` to ``size`` entries of ``value``."""
    missing = size - x.shape[axis]
    if missing == 0:
        return x
    shape = list(x.shape)
    shape[axis] = missing
    return jnp.concatenate([x, jnp.full(shape, value, x.dtype)], axis=axis)


def stacked_factored_solve(factor_sets, rhs_list, live_list, shape):
    """:func:`factored_solve` for several fields at once (the three velocity
    components): each is padded at its end to ``shape`` with identity rows and zero
    right-hand sides, stacked, and solved along each axis in one set of scans, so
    each scan iteration does three times the work for one loop trip.  Returns the
    increments at the fields' own shapes."""
    def padded(x, like, value):
        x = jnp.broadcast_to(x, like.shape)
        for axis in AXES:
            x = _pad_end(x, axis, shape[axis], value)
        return x

    delta = jnp.stack([padded(jnp.where(live, rhs, 0.0), rhs, 0.0) for rhs, live in zip(rhs_list, live_list)])
    for axis in AXES:
        if factor_sets[0][axis] is None:
            continue
        lower, diagonal, upper = (
            jnp.stack([padded(factors[axis][k], rhs, fill) for factors, rhs in zip(factor_sets, rhs_list)])
            for k, fill in ((0, 0.0), (1, 1.0), (2, 0.0)))
        delta = tridiagonal_solve(lower, diagonal, upper, delta, axis + 1)
    return [delta[k][tuple(slice(0, n) for n in rhs.shape)] for k, rhs in enumerate(rhs_list)]


def _with_end_faces(inner, axis: int):
    """Face array from its interior part, with zeros on the two boundary faces."""
    zero = jnp.zeros_like(take(inner, axis, 0, 1))
    return jnp.concatenate([zero, inner, zero], axis=axis)


def scalar_factors(volume_flux, diffusivity, grid: Grid, open_fraction, dt, live, extra_diagonal=0.0):
    """:func:`line_factor` per axis for a cell-centred scalar (None along an axis
    one cell thick): the face fluxes, and conductances o A kappa_face / delta on
    interior faces (boundary faces diffuse nothing here; that only changes the
    path).  ``extra_diagonal`` goes into the first factor."""
    volume = grid.cell_volume()
    factors = []
    for axis in AXES:
        if grid.shape[axis] == 1:
            factors.append(None)
            continue
        spacing = Grid.along(grid.centre_spacing(axis), axis)
        kappa_face = 0.5 * (take(diffusivity, axis, 1) + take(diffusivity, axis, 0, -1))
        conductance = _with_end_faces(take(open_fraction[axis] * grid.face_area(axis) / spacing, axis, 1, -1)
                                      * kappa_face, axis)
        factors.append(line_factor(volume_flux[axis], conductance, volume, dt, axis, live,
                                   extra_diagonal if not any(f is not None for f in factors) else 0.0))
    return factors


def momentum_factors(i: int, volume_flux, viscosity, grid: Grid, open_fraction, dt, extra_diagonal=0.0):
    """:func:`line_factor` per axis for the velocity component ``i`` on its
    interior faces (the unknowns of the momentum predictor): control volumes
    centred on the i-faces, fluxes through their faces interpolated from the
    face fluxes as the momentum tendency does, conductances nu A / delta.
    ``extra_diagonal`` (dt times the face resistance) goes into the first factor."""
    live = take(open_fraction[i], i, 1, -1) > 0
    delta_i = Grid.along(take(grid.centre_spacing(i), 0, 1, -1), i)
    widths_i = Grid.along(grid.widths(i), i)
    area_i = grid.face_area(i)
    volume = delta_i * area_i
    factors = []
    for axis in AXES:
        if grid.shape[axis] == 1:
            factors.append(None)
            continue
        first = not any(f is not None for f in factors)
        if axis == i:
            # control-volume faces are the cell centres
            flux = 0.5 * (take(volume_flux[i], i, 1) + take(volume_flux[i], i, 0, -1))
            conductance = viscosity * area_i / widths_i
        else:
            other = 3 - i - axis
            flux = midpoint(volume_flux[axis], i)
            spacing = Grid.along(take(grid.centre_spacing(axis), 0, 1, -1), axis)
            edge_area = delta_i * Grid.along(grid.widths(other), other)
            nu_edge = midpoint(midpoint(viscosity, i), axis)
            conductance = _with_end_faces(nu_edge * edge_area / spacing, axis)
        factors.append(line_factor(flux, conductance, volume, dt, axis, live, extra_diagonal if first else 0.0))
    return factors, live
