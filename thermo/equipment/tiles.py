"""Perforated floor tiles.

Without a raised-floor plenum a tile is an inflow opening in the floor
boundary: air enters straight up, uniform over the tile, at the tile's flow
and temperature.

With a plenum the floor is a closed slab (the grid plane z = 0) whose faces
under a tile are open by the tile's open fraction f.  The face velocity in
the solver is then the velocity in the open area (the jet velocity
u_j = V / f, V the approach velocity over the whole tile), and the tile adds
a quadratic loss on those faces,

    dp = K rho V^2 / 2 = K f^2 rho u_j^2 / 2,   resistance_quadratic = K f^2 / (2 delta),

delta being the centre spacing across the face.  K (referred to the
approach velocity, as tiles are rated) comes from the perforated-plate
correlation used for raised-floor tiles (Idelchik; VanGilder & Schmidt 2005):

    K = (1 + 0.5 (1 - f)^0.75 + 1.414 (1 - f)^0.375) / f^2

(42.8 for a 25 % open tile), unless the scenario gives ``loss_coefficient``.

Jet-momentum correction (``jet_momentum: true``): a uniform-velocity tile
model carries the momentum flux rho Q V, the real jets rho Q u_j.  The
difference rho Q (u_j - V) is added as a body force on the face above the
tile (for plenum tiles it follows the current tile flow in the coupling).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..scene.rasterize import nearest_node, plane_area, plane_coverage


def perforated_plate_loss(open_fraction):
    """Loss coefficient K (-) of a perforated tile or plate referred to the approach
    velocity, from its open fraction f (0 < f <= 1)."""
    f = np.asarray(open_fraction, float)
    return (1.0 + 0.5 * (1.0 - f) ** 0.75 + 1.414 * (1.0 - f) ** 0.375) / f**2


def tile_loss(tile) -> float:
    """K (-) of ``tile`` referred to its approach velocity."""
    return tile.loss_coefficient if tile.loss_coefficient is not None else float(perforated_plate_loss(tile.open_fraction))


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class TileSet:
    """Tiles as sparse face lists (a pytree).

    Attributes:
      faces, weight, tile: flat indices into the z-face array of every floor face under
        a tile, the share of that face's flow belonging to the tile, the tile number.
      inflow: 1.0 for tiles that are inflow openings (no plenum), else 0.0 (per tile).
      flow: prescribed flow of inflow tiles (m^3/s), 0 for plenum tiles.
      jet_faces, jet_coefficient: faces above plenum tiles with ``jet_momentum`` and
        o (1 - o) / delta there (1/m), for the coupling's correction.
    """

    faces: object
    weight: object
    tile: object
    inflow: object
    flow: object
    jet_faces: object
    jet_coefficient: object

    @property
    def count(self) -> int:
        return int(self.flow.shape[0])


def _floor_index(grid):
    return nearest_node(grid, 2, 0.0)


def build_tiles(scene, fields) -> TileSet:
    """Rasterize tiles into ``fields``: inflow patches (no plenum) or open, lossy faces in
    the floor slab (with a raised floor; the slab itself is closed by
    :func:`thermo.equipment.leakage.build_floor`, which must run first)."""
    grid = fields.grid
    k0 = _floor_index(grid)
    nx, ny = grid.shape[0], grid.shape[1]
    delta = float(np.asarray(grid.centre_spacing(2))[k0])
    delta_above = float(np.asarray(grid.centre_spacing(2))[min(k0 + 1, grid.shape[2])])
    faces, weights, ids, inflow, flows, jet_faces, jet_coef = [], [], [], [], [], [], []
    plenum = scene.raised_floor is not None
    for t_id, tile in enumerate(scene.tiles):
        lower = (tile.position[0], tile.position[1], 0.0)
        upper = (tile.position[0] + tile.size[0], tile.position[1] + tile.size[1], 0.0)
        cover = plane_coverage(grid, 2, lower, upper)
        ij = np.nonzero(cover > 0)
        flat = np.ravel_multi_index((ij[0], ij[1], np.full(len(ij[0]), k0)), grid.face_shape(2))
        faces.append(flat)
        ids.append(np.full(len(flat), t_id))
        f = tile.open_fraction
        if not plenum:
            area = plane_area(grid, 2, lower, upper)
            speed = tile.flow / float(area.sum())
            plane = fields.planes[2][0]
            plane["inflow"] = np.maximum(plane["inflow"], cover)
            plane["velocity"] = np.where(cover > 0, speed, plane["velocity"])
            plane["temperature"] = np.where(cover > 0, tile.temperature, plane["temperature"])
            plane["fixed_temperature"] = np.where(cover > 0, 0.0, plane["fixed_temperature"])
            weights.append(np.ones(len(flat)))
            inflow.append(1.0)
            flows.append(tile.flow)
            if tile.jet_momentum and grid.shape[2] > 1:
                # face above the inflow face: extra momentum flux Q (u_j - V) over its control volume
                accel = cover * speed**2 * (1.0 / f - 1.0) / delta_above
                fields.momentum[2][:, :, 1] += accel
        else:
            open_now = fields.open[2][:, :, k0]
            base = open_now[ij]
            # faces keep their existing closure by solids; tile fraction replaces the slab/leak fraction
            solid_free = fields.floor_free[ij]   # part of each floor face not under a solid
            new_open = (1.0 - cover[ij]) * base + cover[ij] * f * solid_free
            open_now[ij] = new_open
            k_jet = tile_loss(tile) * f**2
            res = fields.resistance_quadratic[2][:, :, k0]
            res[ij] = np.where(new_open > 0, cover[ij] * k_jet / (2.0 * delta) + (1.0 - cover[ij]) * res[ij], 0.0)
            weights.append(cover[ij] * f * solid_free / np.maximum(new_open, 1e-30))
            inflow.append(0.0)
            flows.append(0.0)
            if tile.jet_momentum and k0 + 1 < grid.shape[2]:
                above = np.ravel_multi_index((ij[0], ij[1], np.full(len(ij[0]), k0 + 1)), grid.face_shape(2))
                jet_faces.append(above)
                jet_coef.append(new_open * (1.0 - new_open) / delta_above)
    cat = lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)  # noqa: E731
    return TileSet(faces=cat(faces, np.int64), weight=cat(weights, float), tile=cat(ids, np.int32),
                   inflow=np.array(inflow, float), flow=np.array(flows, float),
                   jet_faces=cat(jet_faces, np.int64), jet_coefficient=cat(jet_coef, float))


def tile_flows(tiles: TileSet, problem, velocity_z):
    """Volume flow (m^3/s, upwards positive) through each tile."""
    if tiles.count == 0:
        return jnp.zeros(0, velocity_z.dtype)
    grid = problem.grid
    area = jnp.broadcast_to(grid.face_area(2), grid.face_shape(2)).reshape(-1)
    flux = (problem.geometry.open[2] * velocity_z).reshape(-1)
    plenum_flow = jax.ops.segment_sum(tiles.weight * area[tiles.faces] * flux[tiles.faces], tiles.tile,
                                      num_segments=tiles.count)
    return jnp.where(tiles.inflow > 0, tiles.flow, plenum_flow)


def jet_correction(tiles: TileSet, momentum_z, velocity_z):
    """``momentum_z`` plus the jet-momentum body force above plenum tiles (m/s^2)."""
    if tiles.jet_faces.shape[0] == 0:
        return momentum_z
    below = tiles.jet_faces - 1          # z is the last (fastest) axis: the tile face itself
    w = jnp.reshape(velocity_z, (-1,))[below]
    flat = jnp.reshape(momentum_z, (-1,)).at[tiles.jet_faces].add(tiles.jet_coefficient * w * jnp.abs(w))
    return jnp.reshape(flat, momentum_z.shape)
