"""Return grilles and openings.

An opening on a room surface that leads outside the modelled air volume is a
fixed-pressure boundary patch (``kind="outflow"``): air leaves with the
interior temperature; air that re-enters (backflow) carries the area-mean
temperature of the cells next to the opening, updated every step by the
coupling, so backflow neither adds nor removes heat artificially.

A ceiling grille with a ceiling plenum is an open part of the ceiling slab
(the grid plane z = room height, closed elsewhere) with the grille's open
fraction and loss coefficient (perforated-plate correlation of its open
fraction when not given; none for a fully open grille); the plenum air is
drawn by the cooling units ducted to it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import jax
import jax.numpy as jnp
import numpy as np

from ..scene.rasterize import nearest_node, plane_coverage
from .tiles import perforated_plate_loss

# surface -> (axis, side, in-plane axes)
SURFACES = {"floor": (2, 0, (0, 1)), "ceiling": (2, 1, (0, 1)), "x-": (0, 0, (1, 2)), "x+": (0, 1, (1, 2)),
            "y-": (1, 0, (0, 2)), "y+": (1, 1, (0, 2))}


@dataclass(frozen=True)
class OpeningSet:
    """Openings as sparse lists (numpy).

    Attributes:
      count: number of openings.
      side_faces: six int arrays, one per boundary side (index axis*2 + side), of flat
        plane indices of the boundary faces in an opening; side_opening: the opening
        number of each; side_weight: the covered fraction of each face.
      grille_faces, grille_opening: flat indices into the z-face array of ceiling
        grilles (ceiling-plenum halls) and their opening numbers.
    """

    count: int
    side_faces: tuple
    side_opening: tuple
    side_weight: tuple
    grille_faces: np.ndarray
    grille_opening: np.ndarray


def _rect3(ret, axis, plane_axes):
    lower, upper = [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]
    for k, a in enumerate(plane_axes):
        lower[a] = ret.position[k]
        upper[a] = ret.position[k] + ret.size[k]
    return lower, upper


def build_openings(scene, fields):
    """Rasterize returns into ``fields``; returns the :class:`OpeningSet`."""
    grid = fields.grid
    rho = scene.air.density
    side_faces = [[] for _ in range(6)]
    side_opening = [[] for _ in range(6)]
    side_weight = [[] for _ in range(6)]
    grille_faces, grille_opening = [], []
    lz = scene.room_size[2]
    ceiling_slab = scene.ceiling_plenum is not None
    if ceiling_slab:
        kc = nearest_node(grid, 2, lz)
        fields.ceiling_free = fields.open[2][:, :, kc].copy()
        fields.open[2][:, :, kc] = 0.0
    for n, ret in enumerate(scene.returns):
        axis, side, plane_axes = SURFACES[ret.surface]
        lower, upper = _rect3(ret, axis, plane_axes)
        cover = plane_coverage(grid, axis, lower, upper)
        if ceiling_slab and ret.surface == "ceiling":
            ij = np.nonzero(cover > 0)
            free = fields.ceiling_free[ij]
            f = ret.open_fraction
            o = fields.open[2][:, :, kc]
            o[ij] = np.minimum(o[ij] + cover[ij] * f * free, 1.0)
            k = ret.loss_coefficient
            if k is None and f < 1.0:
                k = float(perforated_plate_loss(f))
            if k is not None:
                delta = float(np.asarray(grid.centre_spacing(2))[kc])
                fields.resistance_quadratic[2][:, :, kc][ij] = k * f**2 / (2.0 * delta)
            grille_faces.append(np.ravel_multi_index((ij[0], ij[1], np.full(len(ij[0]), kc)), grid.face_shape(2)))
            grille_opening.append(np.full(len(ij[0]), n))
            continue
        plane = fields.planes[axis][side]
        plane["outflow"] = np.maximum(plane["outflow"], cover * ret.open_fraction)
        plane["pressure"] = np.where(cover > 0, ret.pressure / rho, plane["pressure"])
        plane["temperature"] = np.where(cover > 0, scene.air.reference_temperature, plane["temperature"])
        plane["fixed_temperature"] = np.where(cover > 0, 0.0, plane["fixed_temperature"])
        flat = np.flatnonzero(cover > 0)
        side_faces[axis * 2 + side].append(flat)
        side_opening[axis * 2 + side].append(np.full(len(flat), n))
        side_weight[axis * 2 + side].append(cover.reshape(-1)[flat])
    cat = lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)  # noqa: E731
    return OpeningSet(len(scene.returns), tuple(cat(x, np.int64) for x in side_faces),
                      tuple(cat(x, np.int32) for x in side_opening), tuple(cat(x, float) for x in side_weight),
                      cat(grille_faces, np.int64), cat(grille_opening, np.int32))


def _side_cells(grid, axis, side, faces):
    """Flat cell indices of the cells next to boundary faces (flat plane indices)."""
    plane_shape = tuple(n for a, n in enumerate(grid.shape) if a != axis)
    ij = list(np.unravel_index(faces, plane_shape))
    ij.insert(axis, np.full(len(faces), 0 if side == 0 else grid.shape[axis] - 1))
    return np.ravel_multi_index(tuple(ij), grid.shape)


def opening_flows(openings: OpeningSet, problem, state):
    """(outward volume flow (m^3/s), flow-weighted leaving temperature (degC)) per opening.

    Boundary openings count flow leaving the domain; ceiling grilles count flow up
    into the ceiling plenum.  The temperature is that of the air leaving (the
    upwind cell); with no net outflow it is the mean of the adjacent cells.
    """
    grid = problem.grid
    n = openings.count
    dtype = state.temperature.dtype
    flow = jnp.zeros(n, dtype)
    heat = jnp.zeros(n, dtype)
    touch = jnp.zeros(n, dtype)
    tsum = jnp.zeros(n, dtype)
    t_flat = jnp.reshape(state.temperature, (-1,))
    for axis in range(3):
        for side in (0, 1):
            faces = openings.side_faces[axis * 2 + side]
            if len(faces) == 0:
                continue
            ids = openings.side_opening[axis * 2 + side]
            u = jax.lax.index_in_dim(state.velocity[axis], 0 if side == 0 else -1, axis, keepdims=False)
            o = jax.lax.index_in_dim(problem.geometry.open[axis], 0 if side == 0 else -1, axis, keepdims=False)
            area = jnp.broadcast_to(jnp.squeeze(grid.face_area(axis), axis), u.shape)
            q = (o * area * u).reshape(-1)[faces] * (-1.0 if side == 0 else 1.0)
            plane = problem.boundaries.plane(axis, side)
            cells = _side_cells(grid, axis, side, faces)
            t_cell = t_flat[cells]
            t_back = plane.temperature.reshape(-1)[faces]
            t_face = jnp.where(q > 0, t_cell, t_back)
            flow = flow + jax.ops.segment_sum(q, ids, num_segments=n)
            heat = heat + jax.ops.segment_sum(q * t_face, ids, num_segments=n)
            touch = touch + jax.ops.segment_sum(jnp.ones_like(q), ids, num_segments=n)
            tsum = tsum + jax.ops.segment_sum(t_cell, ids, num_segments=n)
    if len(openings.grille_faces):
        w = jnp.reshape(state.velocity[2], (-1,))[openings.grille_faces]
        o = jnp.reshape(problem.geometry.open[2], (-1,))[openings.grille_faces]
        area = jnp.broadcast_to(grid.face_area(2), grid.face_shape(2)).reshape(-1)[openings.grille_faces]
        q = o * area * w
        below = openings.grille_faces // (grid.shape[2] + 1) * grid.shape[2] + (
            openings.grille_faces % (grid.shape[2] + 1)) - 1
        t_face = jnp.where(q > 0, t_flat[below], t_flat[below + 1])
        ids = openings.grille_opening
        flow = flow + jax.ops.segment_sum(q, ids, num_segments=n)
        heat = heat + jax.ops.segment_sum(q * t_face, ids, num_segments=n)
        touch = touch + jax.ops.segment_sum(jnp.ones_like(q), ids, num_segments=n)
        tsum = tsum + jax.ops.segment_sum(t_flat[below], ids, num_segments=n)
    mean_adjacent = tsum / jnp.maximum(touch, 1.0)
    leaving = jnp.where(jnp.abs(flow) > 1e-9, heat / jnp.where(jnp.abs(flow) > 1e-9, flow, 1.0), mean_adjacent)
    return flow, leaving


def update_backflow(openings: OpeningSet, problem, temperature):
    """``problem`` with each boundary opening's backflow temperature set to the area-mean
    temperature of the cells next to it (degC)."""
    n = openings.count
    if n == 0:
        return problem
    grid = problem.grid
    t_flat = jnp.reshape(temperature, (-1,))
    total = jnp.zeros(n, temperature.dtype)
    weight = jnp.zeros(n, temperature.dtype)
    for k, faces in enumerate(openings.side_faces):
        if len(faces):
            cells = _side_cells(grid, k // 2, k % 2, faces)
            ids = openings.side_opening[k]
            w = jnp.asarray(openings.side_weight[k], temperature.dtype)
            total = total + jax.ops.segment_sum(w * t_flat[cells], ids, num_segments=n)
            weight = weight + jax.ops.segment_sum(w, ids, num_segments=n)
    mean = total / jnp.maximum(weight, 1e-30)
    boundaries = problem.boundaries
    for k, faces in enumerate(openings.side_faces):
        if len(faces):
            axis, side = k // 2, k % 2
            plane = boundaries.plane(axis, side)
            values = jnp.reshape(plane.temperature, (-1,)).at[faces].set(mean[openings.side_opening[k]])
            plane = replace(plane, temperature=jnp.reshape(values, plane.temperature.shape))
            boundaries = boundaries.with_plane(axis, side, plane)
    return problem.replace(boundaries=boundaries)
