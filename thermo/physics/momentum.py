"""Momentum tendency on the staggered grid (everything but the pressure gradient).

For the velocity component normal to axis i, on its control volume around
each interior i-face (centre distance delta_i times the face area):

* advection in flux form, u_i carried by the volume fluxes through the
  control-volume faces, with bounded second-order (TVD) face values, minus
  u_i times the discrete divergence left by the pressure solve (so the
  scheme is the advective form u . grad u, consistent with mass sources);
* diffusion div(nu_eff grad u_i) with nu_eff = nu + nu_t; walls at domain
  boundaries and at closed faces of solids are no-slip (zero velocity at the
  wall, half a cell away) or free-slip (zero stress);
* Boussinesq buoyancy -beta (T - T_ref) g;
* fluid injected by a mass source enters at rest: -s+ u_i.

One function serves all three components.
"""

from __future__ import annotations

import jax.numpy as jnp

from ..grid import AXES, Grid
from ..operators import expand_plane, materialize, midpoint, pad, take, tvd_interior_faces


def _tangential_condition(plane, axis_i, plane_axis):
    """On the side normal to ``plane_axis``, at the interior u_i positions:
    (keep, value) where keep = 1 lets the tangential velocity keep its
    interior value (free-slip wall, outflow) and keep = 0 fixes it to
    ``value`` (no-slip wall, inflow: the wall or inflow tangential velocity)."""
    keep = expand_plane(plane.wall * plane.slip + plane.outflow, plane_axis)
    value = expand_plane(plane.wall_velocity[axis_i], plane_axis)
    return midpoint(keep, axis_i), midpoint(value, axis_i)


def momentum_tendency(i, velocity, volume_flux, temperature, eddy_viscosity, grid: Grid, fluid,
                      open_fraction, boundaries, mass_source, limiter):
    """d(u_i)/dt at the interior i-faces (m/s^2), shape of ``velocity[i]`` minus its two boundary faces."""
    u = take(velocity[i], i, 1, -1)                 # interior faces along i
    open_i = take(open_fraction[i], i, 1, -1)
    widths_i = Grid.along(grid.widths(i), i)
    delta_i = Grid.along(take(grid.centre_spacing(i), 0, 1, -1), i)
    nu_eff = fluid.viscosity + eddy_viscosity       # cells
    area_i = grid.face_area(i)

    # --- along i: fluxes through the cell centres --------------------------------
    full = velocity[i]
    q_i = volume_flux[i]
    centre_flux = 0.5 * (take(q_i, i, 1) + take(q_i, i, 0, -1))         # cells (m^3/s)
    centre_value = tvd_interior_faces(full, centre_flux, i, limiter)     # cells
    stress = nu_eff * area_i * (take(full, i, 1) - take(full, i, 0, -1)) / widths_i
    along_i = centre_flux * centre_value - stress
    net = take(along_i, i, 1) - take(along_i, i, 0, -1)               # interior faces

    # --- along j != i: fluxes through the control-volume edges ---------------------
    for j in AXES:
        if j == i:
            continue
        k = 3 - i - j
        q_j = midpoint(volume_flux[j], i)                              # edges (m^3/s)
        q_inner = take(q_j, j, 1, -1)
        edge_value = tvd_interior_faces(u, q_inner, j, limiter)
        widths_j = Grid.along(grid.widths(j), j)
        spacing_j = Grid.along(take(grid.centre_spacing(j), 0, 1, -1), j)
        open_lo = take(open_i, j, 0, -1) > 0
        open_hi = take(open_i, j, 1) > 0
        u_lo = take(u, j, 0, -1)
        u_hi = take(u, j, 1)
        gradient = jnp.where(
            open_lo & open_hi,
            (u_hi - u_lo) / spacing_j,
            jnp.where(open_lo, -u_lo / (0.5 * take(widths_j, j, 0, -1)),
                      jnp.where(open_hi, u_hi / (0.5 * take(widths_j, j, 1)), 0.0)),
        )
        nu_mid = midpoint(nu_eff, i)
        nu_edge = midpoint(nu_mid, j)
        edge_area = delta_i * Grid.along(grid.widths(k), k)
        inner = q_inner * edge_value - nu_edge * edge_area * gradient

        sides = []
        for side in (0, 1):
            plane = boundaries.plane(j, side)
            keep, wall_u = _tangential_condition(plane, i, j)
            cell_u = take(u, j, 0, 1) if side == 0 else take(u, j, -1)
            q_b = take(q_j, j, 0, 1) if side == 0 else take(q_j, j, -1)
            nu_b = take(nu_mid, j, 0, 1) if side == 0 else take(nu_mid, j, -1)
            half = 0.5 * (take(widths_j, j, 0, 1) if side == 0 else take(widths_j, j, -1))
            wall_gradient = (1.0 - keep) * (cell_u - wall_u) / half * (1.0 if side == 0 else -1.0)
            boundary_value = keep * cell_u + (1.0 - keep) * wall_u
            sides.append(q_b * boundary_value - nu_b * edge_area * wall_gradient)
        edge_flux = materialize(jnp.concatenate([sides[0], inner, sides[1]], axis=j))
        net = net + (take(edge_flux, j, 1) - take(edge_flux, j, 0, -1))

    cv_volume = delta_i * area_i
    # divergence left in the fluxes (per unit volume), at the i-faces
    divergence = jnp.zeros_like(temperature)
    for a in AXES:
        divergence = divergence + (take(volume_flux[a], a, 1) - take(volume_flux[a], a, 0, -1))
    divergence = divergence / grid.cell_volume()
    divergence_face = midpoint(divergence, i)
    injection = midpoint(jnp.maximum(mass_source, 0.0), i)

    buoyancy = -fluid.expansion * (midpoint(temperature, i) - fluid.reference_temperature) * fluid.gravity[i]
    tendency = -net / cv_volume + u * divergence_face - injection * u + buoyancy
    return jnp.where(open_i > 0, tendency, 0.0)


def pad_interior(tendency, i):
    """Put zeros back on the two boundary faces along ``i``."""
    return pad(tendency, i, 1, 1)
