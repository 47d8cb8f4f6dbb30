"""Transport of cell-centred scalars (temperature, tracers) by the face fluxes.

    d(phi)/dt + div(u phi) - phi (div u - s) = div(kappa grad phi) + s+ (phi_in - phi) + q

written in flux form over each cell of volume V:

    V d(phi)/dt = - sum_faces F + phi (sum_faces Q - s V) + V (s+ phi_in + s- phi + q)

F is the face flux (advective Q phi_face, bounded second-order; diffusive
-kappa o A d(phi)/dn), Q = o A u the volume flux through a face (m^3/s), s the
volumetric mass source (1/s) split into sources s+ (fluid entering at
phi_in) and sinks s- (fluid leaving at the local value).  The second term
subtracts the part of the discrete divergence that the pressure solve left,
so a uniform field stays uniform; it does not affect conservation beyond the
pressure-solver tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from ..grid import AXES, Grid
from ..operators import expand_plane, materialize, take, tvd_interior_faces


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class ScalarBoundary:
    """Boundary data of one scalar on one side (plane arrays).

    Attributes:
      dirichlet: weight 0..1 of a fixed value on the face (inflow, fixed-temperature wall).
      value: the fixed value, and the value carried by fluid entering the domain.
      flux: given diffusive flux into the domain (phi * m/s; heat flux / (rho cp) for temperature).
    """

    dirichlet: object
    value: object
    flux: object


def boundary_fluxes(phi, volume_flux, conductance_boundary, bc: ScalarBoundary, area, axis, side):
    """Flux in the +axis direction through the boundary faces of one side (plane shape with axis kept)."""
    cell = take(phi, axis, 0, 1) if side == 0 else take(phi, axis, -1)
    q = take(volume_flux, axis, 0, 1) if side == 0 else take(volume_flux, axis, -1)
    value = expand_plane(bc.value, axis)
    inward = q > 0 if side == 0 else q < 0
    advective = q * jnp.where(inward, value, cell)
    # diffusive flux into the domain: Dirichlet part plus the given flux
    into = conductance_boundary * expand_plane(bc.dirichlet, axis) * (value - cell) + area * expand_plane(bc.flux, axis)
    return advective + (into if side == 0 else -into)


def transport_tendency(phi, volume_flux, diffusivity, grid: Grid, open_fraction, boundary, limiter,
                       mass_source, source_value, volumetric_rate):
    """d(phi)/dt at cell centres (phi units per second).

    Args:
      phi: the scalar (cells).
      volume_flux: three face arrays Q = o A u (m^3/s).
      diffusivity: kappa_eff at cells (m^2/s).
      open_fraction: three face arrays 0..1.
      boundary: ``boundary[axis][side]`` :class:`ScalarBoundary`.
      limiter: slope limiter function for the advective face values.
      mass_source: s (1/s) at cells; source_value: phi of injected fluid.
      volumetric_rate: q, a direct source of phi per second.
    """
    volume = grid.cell_volume()
    net_outflow = jnp.zeros_like(phi)
    net_flux = jnp.zeros_like(phi)
    for axis in AXES:
        q = volume_flux[axis]
        area = grid.face_area(axis)
        spacing = Grid.along(grid.centre_spacing(axis), axis)
        q_inner = take(q, axis, 1, -1)
        face_value = tvd_interior_faces(phi, q_inner, axis, limiter)
        kappa_face = 0.5 * (take(diffusivity, axis, 1) + take(diffusivity, axis, 0, -1))
        conductance = take(open_fraction[axis] * area / spacing, axis, 1, -1) * kappa_face
        inner = q_inner * face_value - conductance * (take(phi, axis, 1) - take(phi, axis, 0, -1))
        half = Grid.along(grid.centre_spacing(axis), axis)
        cond_lo = take(open_fraction[axis] * area, axis, 0, 1) / take(half, axis, 0, 1) * take(diffusivity, axis, 0, 1)
        cond_hi = take(open_fraction[axis] * area, axis, -1) / take(half, axis, -1) * take(diffusivity, axis, -1)
        low = boundary_fluxes(phi, q, cond_lo, boundary[axis][0], area, axis, 0)
        high = boundary_fluxes(phi, q, cond_hi, boundary[axis][1], area, axis, 1)
        flux = materialize(jnp.concatenate([low, inner, high], axis=axis))
        net_flux = net_flux + (take(flux, axis, 1) - take(flux, axis, 0, -1))
        net_outflow = net_outflow + (take(q, axis, 1) - take(q, axis, 0, -1))
    source_in = jnp.maximum(mass_source, 0.0)
    sink = jnp.minimum(mass_source, 0.0)
    return (-net_flux + phi * (net_outflow - mass_source * volume)) / volume + (
        source_in * source_value + sink * phi + volumetric_rate
    )
