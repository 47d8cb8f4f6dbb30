"""Rasterization of objects that move, written with ``jax.numpy``.

The grid is generated once from the base scene and stays fixed; an object
moved along one axis enters only through field *values*:

* cell solid fraction: the exact box-cell overlap, a product of 1-D interval
  overlaps, piecewise linear in the position;
* face closure: along the two other axes, the exact covered fraction of the
  face (as :func:`thermo.scene.rasterize.add_solid`); along the axis of
  motion, the larger solid fraction of the two cells the face separates, so a
  face closes continuously as the box slides over it and, when the box
  faces lie on grid lines, every face is closed exactly as
  :func:`~thermo.scene.rasterize.add_solid` closes it;
* the cell layer in front of a box face (intake, exhaust, supply, return):
  a fixed list of candidate cells covering the whole travel, with areas
  (m^2) equal to the exact overlap of the face with each cell's face, zero
  for cells the face does not cover.

Everything is continuous and piecewise linear in the position (the face
closure has kinks where the box crosses a cell centre), so ``jax.grad``
works through it; array shapes never change, so nothing is recompiled.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from ..grid import AXES, Grid
from .rasterize import nearest_node


def overlap_length(edges, lo, hi):
    """Length (m) of each interval [edges[i], edges[i+1]] covered by [lo, hi] (jnp, differentiable in lo, hi)."""
    e = jnp.asarray(edges)
    return jnp.clip(jnp.minimum(e[1:], hi) - jnp.maximum(e[:-1], lo), 0.0, None)


def overlap_fraction(edges, lo, hi):
    """Fraction (0..1) of each interval covered by [lo, hi] (jnp)."""
    e = jnp.asarray(edges)
    return overlap_length(e, lo, hi) / (e[1:] - e[:-1])


def _outer(parts):
    return parts[0][:, None, None] * parts[1][None, :, None] * parts[2][None, None, :]


def box_solid(grid: Grid, lower, upper):
    """Cell solid fraction of the box [lower, upper] (m; jnp 3-vectors), shape ``grid.shape``."""
    return _outer([overlap_fraction(grid.nodes[a], lower[a], upper[a]) for a in AXES])


def box_face_cover(grid: Grid, lower, upper, moving_axis: int, fixed_lower, fixed_upper):
    """Covered fraction of the faces of each axis by the box (three face arrays, jnp).

    ``fixed_lower``/``fixed_upper`` (numpy) give the box extent along the axes that do not
    move (their ``moving_axis`` entries are ignored).

    Faces normal to ``moving_axis`` take the larger solid fraction of their two
    cells along it; the others are covered where their coordinate lies inside the
    box (the box extent along their own axis does not move) times the exact
    in-plane overlap.
    """
    frac = [overlap_fraction(grid.nodes[a], lower[a], upper[a]) for a in AXES]
    out = []
    for b in AXES:
        parts = []
        for c in AXES:
            if c != b:
                parts.append(frac[c])
                continue
            if b == moving_axis:
                f = frac[b]
                pad = jnp.zeros(1, f.dtype)
                parts.append(jnp.maximum(jnp.concatenate([pad, f]), jnp.concatenate([f, pad])))
            else:
                x = np.asarray(grid.nodes[b], float)
                tol = 1e-9 * (x[-1] - x[0])
                lo, hi = float(fixed_lower[b]), float(fixed_upper[b])
                parts.append(jnp.asarray(((x >= lo - tol) & (x <= hi + tol)).astype(float), frac[0].dtype))
        out.append(_outer(parts))
    return tuple(out)


@dataclass(frozen=True)
class CandidateLayer:
    """The cells in front of one face of a box that moves along ``moving_axis``.

    Attributes:
      cells: flat cell indices of every cell the face can cover over the travel (int64).
      far_faces: flat indices into the ``axis`` face array of each cell's face away from the box.
      axis, sign: outward normal of the face; index: the layer's cell index along ``axis``.
      plane_ij: for each cell, its indices along the two in-plane axes (``plane_axes``).
      plane_axes: the two in-plane axes.
    """

    cells: np.ndarray
    far_faces: np.ndarray
    axis: int
    sign: int
    index: int
    plane_ij: tuple
    plane_axes: tuple

    def areas(self, grid: Grid, lower, upper):
        """Area (m^2) of each candidate cell's face covered by the box face [lower, upper] (jnp)."""
        a0, a1 = self.plane_axes
        l0 = overlap_length(grid.nodes[a0], lower[a0], upper[a0])
        l1 = overlap_length(grid.nodes[a1], lower[a1], upper[a1])
        return l0[self.plane_ij[0]] * l1[self.plane_ij[1]]


def candidate_layer(grid: Grid, axis: int, coordinate: float, sign: int, swept_lower, swept_upper):
    """The :class:`CandidateLayer` on side ``sign`` of the plane x_axis = ``coordinate`` over
    the rectangle the face sweeps, [swept_lower, swept_upper] (3-vectors, m)."""
    k = nearest_node(grid, axis, coordinate)
    layer = k if sign > 0 else k - 1
    if layer < 0 or layer >= grid.shape[axis]:
        raise ValueError("the face lies on the domain boundary: no cell layer in front of it")
    others = tuple(b for b in AXES if b != axis)
    ranges = []
    for b in others:
        x = np.asarray(grid.nodes[b], float)
        idx = np.nonzero((x[1:] > swept_lower[b] + 1e-12) & (x[:-1] < swept_upper[b] - 1e-12))[0]
        ranges.append(idx)
    i0, i1 = np.meshgrid(ranges[0], ranges[1], indexing="ij")
    i0, i1 = i0.ravel(), i1.ravel()
    ijk = [None, None, None]
    ijk[others[0]], ijk[others[1]], ijk[axis] = i0, i1, np.full(len(i0), layer)
    cells = np.ravel_multi_index(tuple(ijk), grid.shape).astype(np.int64)
    far = list(ijk)
    far[axis] = far[axis] + (1 if sign > 0 else 0)
    far_faces = np.ravel_multi_index(tuple(far), grid.face_shape(axis)).astype(np.int64)
    return CandidateLayer(cells=cells, far_faces=far_faces, axis=axis, sign=sign, index=layer,
                          plane_ij=(i0, i1), plane_axes=others)


def plane_cover(grid: Grid, axis: int, lower, upper):
    """Covered fraction of each face of a plane normal to ``axis`` by a rectangle (jnp plane array)."""
    others = [b for b in AXES if b != axis]
    f = [overlap_fraction(grid.nodes[b], lower[b], upper[b]) for b in others]
    return f[0][:, None] * f[1][None, :]
