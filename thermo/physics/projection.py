"""Pressure projection: make the predicted velocity satisfy div(u) = s.

With face volume fluxes Q = o A u, the discrete divergence of cell c is
D_c = (sum of outward Q) / V_c.  The corrected velocity u = u* - dt G p, with
G p = (p_nb - p_c) / delta on open interior faces and on fixed-pressure
boundary faces (and zero on walls, inflow and closed faces), must satisfy
D(u) = s.  That is the symmetric system

    A p = sum_D k_b p_b - V (D(u*) - s) / dt,     k_f = o A / delta,

solved by :mod:`thermo.physics.poisson`.
"""

from __future__ import annotations

import jax.numpy as jnp

from ..grid import AXES, Grid
from ..operators import embed_end, expand_plane, interior_mask, materialize, take
from . import poisson


def face_volume_flux(velocity, grid: Grid, open_fraction):
    """Q = o A u on every face (m^3/s)."""
    return tuple(open_fraction[a] * grid.face_area(a) * velocity[a] for a in AXES)


def divergence(volume_flux, grid: Grid):
    """Net outflow per unit volume (1/s) at cell centres."""
    out = 0.0
    for a in AXES:
        out = out + (take(volume_flux[a], a, 1) - take(volume_flux[a], a, 0, -1))
    return out / grid.cell_volume()


def interior_gradient(pressure, grid: Grid, axis: int):
    """G p on the interior faces normal to ``axis``: (p_nb - p_c) / delta."""
    spacing = Grid.along(take(grid.centre_spacing(axis), 0, 1, -1), axis)
    return (take(pressure, axis, 1) - take(pressure, axis, 0, -1)) / spacing


def outflow_conductances(grid: Grid, open_fraction, boundaries):
    """Per side: o A outflow / (half cell) (m), plane arrays with the axis kept."""
    result = []
    for a in AXES:
        area = grid.face_area(a)
        spacing = grid.centre_spacing(a)
        pair = []
        for side in (0, 1):
            o = take(open_fraction[a], a, 0, 1) if side == 0 else take(open_fraction[a], a, -1)
            half = spacing[0] if side == 0 else spacing[-1]
            outflow = expand_plane(boundaries.plane(a, side).outflow, a)
            pair.append(o * area * outflow / half)
        result.append(pair)
    return result


def pressure_operator(grid: Grid, open_fraction, boundaries) -> poisson.PoissonLevel:
    """The finest level of the pressure equation."""
    conductance = []
    for a in AXES:
        spacing = Grid.along(grid.centre_spacing(a), a)
        k = open_fraction[a] * grid.face_area(a) / spacing
        conductance.append(k * interior_mask(grid.shape[a] + 1, a, k.dtype))  # zero on boundary faces
    extra = jnp.zeros(grid.shape, dtype=open_fraction[0].dtype)
    for a, pair in enumerate(outflow_conductances(grid, open_fraction, boundaries)):
        extra = extra + embed_end(pair[0], a, 0, grid.shape[a]) + embed_end(pair[1], a, 1, grid.shape[a])
    total = extra
    for a, k in enumerate(conductance):
        total = total + take(k, a, 0, -1) + take(k, a, 1)
    dead = jnp.where(total > 0, 0.0, 1.0).astype(extra.dtype)
    return poisson.PoissonLevel(tuple(conductance), extra, dead)


def project(velocity_star, grid: Grid, open_fraction, boundaries, hierarchy, mass_source, dt,
            pressure_guess, tol, max_iter, sweeps=2, face_scale=None):
    """Return (velocity, pressure, iterations, relative residual).

    ``face_scale``: per-face multipliers s_f of ``dt`` (local time stepping,
    and the implicit treatment of resistances and of openings); the
    correction is then u = u* - dt s_f G p and the conductances are weighted
    by s_f.  The finest level of ``hierarchy`` is replaced by the weighted
    operator; its coarser levels, built for weights that differ only on a few
    faces or slowly in time, serve as they are in the preconditioner.
    """
    flux_star = face_volume_flux(velocity_star, grid, open_fraction)
    volume = grid.cell_volume()
    rhs = -volume * (divergence(flux_star, grid) - mass_source) / dt
    weighted = open_fraction if face_scale is None else tuple(o * f for o, f in zip(open_fraction, face_scale))
    conductances = outflow_conductances(grid, weighted, boundaries)
    for a, pair in enumerate(conductances):
        for side, k_b in enumerate(pair):
            p_b = expand_plane(boundaries.plane(a, side).pressure, a)
            rhs = rhs + embed_end(k_b * p_b, a, side, grid.shape[a])
    if face_scale is not None:
        finest = pressure_operator(grid, weighted, boundaries)
        hierarchy = poisson.Hierarchy((finest, *hierarchy.levels[1:]), hierarchy.coarse_inverse,
                                      hierarchy.singular, hierarchy.live)
    pressure, iterations, residual = poisson.solve(hierarchy, rhs, pressure_guess, tol, max_iter, sweeps)

    corrected = []
    for a in AXES:
        spacing = Grid.along(grid.centre_spacing(a), a)
        inner = interior_gradient(pressure, grid, a)
        sides = []
        for side in (0, 1):
            plane = boundaries.plane(a, side)
            p_b = expand_plane(plane.pressure, a)
            outflow = expand_plane(plane.outflow, a)
            half = take(spacing, a, 0, 1) if side == 0 else take(spacing, a, -1)
            cell = take(pressure, a, 0, 1) if side == 0 else take(pressure, a, -1)
            g = (cell - p_b) / half if side == 0 else (p_b - cell) / half
            sides.append(outflow * g)
        gradient = materialize(jnp.concatenate([sides[0], inner, sides[1]], axis=a))
        open_face = open_fraction[a] > 0
        step = dt if face_scale is None else dt * face_scale[a]
        corrected.append(jnp.where(open_face, velocity_star[a] - step * gradient, velocity_star[a]))
    return tuple(corrected), pressure, iterations, residual
