"""The raised floor slab and its leakage (cable cutouts, seams).

With a raised-floor plenum the grid plane z = 0 is the floor: its faces are
closed except where tiles open them (:mod:`.tiles`) and, uniformly over all
remaining floor faces that are not under equipment, by the leakage open
fraction

    eps = leakage open area / free floor area,

with the perforated-plate loss of that open fraction (a sharp-edged slot,
K f^2 -> 2.9 as f -> 0, i.e. a discharge coefficient of about 0.59).
"""

from __future__ import annotations

import numpy as np

from ..scene.rasterize import nearest_node, plane_coverage
from .tiles import perforated_plate_loss


def build_floor(scene, fields) -> float:
    """Close the floor slab in ``fields`` and open it by the leakage fraction.

    Must run after solids are rasterized and before tiles.  Returns eps (0..1).
    Records ``fields.floor_free`` (the part of each floor face not under a solid).
    """
    if scene.raised_floor is None:
        return 0.0
    grid = fields.grid
    k0 = nearest_node(grid, 2, 0.0)
    free = fields.open[2][:, :, k0].copy()
    fields.floor_free = free
    area = np.asarray(grid.face_area(2))[:, :, 0] * np.ones(free.shape)
    tiled = np.zeros(free.shape)
    for t in scene.tiles:
        tiled = np.maximum(tiled, plane_coverage(grid, 2, (t.position[0], t.position[1], 0.0),
                                                 (t.position[0] + t.size[0], t.position[1] + t.size[1], 0.0)))
    free_area = float(np.sum(area * free * (1.0 - tiled)))
    leak_area = scene.raised_floor.leakage.open_area
    eps = min(leak_area / free_area, 1.0) if free_area > 0 else 0.0
    fields.open[2][:, :, k0] = free * eps
    if eps > 0:
        delta = float(np.asarray(grid.centre_spacing(2))[k0])
        k_jet = float(perforated_plate_loss(eps)) * eps**2
        fields.resistance_quadratic[2][:, :, k0] = np.where(free > 0, k_jet / (2.0 * delta), 0.0)
    return eps


def floor_flows(scene, problem, velocity_z, tile_faces):
    """(total up-flow through the floor slab, up-flow through its non-tile faces) (m^3/s).

    ``tile_faces``: flat z-face indices of tile faces (see :class:`~.tiles.TileSet`).
    """
    import jax.numpy as jnp

    if scene.raised_floor is None:
        return 0.0, 0.0
    grid = problem.grid
    k0 = nearest_node(grid, 2, 0.0)
    area = jnp.broadcast_to(grid.face_area(2), grid.face_shape(2))
    q = (problem.geometry.open[2] * area * velocity_z)[:, :, k0]
    total = jnp.sum(q)
    mask = np.ones(q.shape, bool)
    if len(tile_faces):
        ij = np.unravel_index(np.asarray(tile_faces), grid.face_shape(2))
        mask[ij[0], ij[1]] = False
    return float(total), float(jnp.sum(jnp.where(jnp.asarray(mask), q, 0.0)))
