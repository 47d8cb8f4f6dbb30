"""Point probes of cell-centred fields: trilinear interpolation over fluid cells.

A probe reads a cell-centred field (temperature, degC) at arbitrary points,
such as the sensors of a real hall.  Each point gets a stencil of the 8 cell
centres around it with trilinear weights, set up once on the host from the
grid (numpy); reading the field is then a gather and a weighted sum
(:func:`probe`), a pure ``jnp`` function of the field, so gradients of a
sensor reading with respect to anything upstream of the field (design or
calibration parameters) flow through it.

Two refinements make it usable next to walls and equipment:

- Between a wall and the first cell centre (or past the last one) the point
  is clamped to that centre along the axis: the field is not extrapolated
  beyond the centres (it is constant there along that axis).
- Cells inside solids (racks, coolers, ...) hold values that mean nothing
  (the solver never updates them), so each corner weight is multiplied by its
  cell's fluid fraction and the weights are renormalized over the fluid
  corners.  A point in the air always has a fluid corner of positive weight:
  the cell that contains it (or, for a point on a solid's face, the cell on
  the fluid side of it).

For a field linear in x, y and z and a point inside the hull of the cell
centres, with all 8 corners fluid, the probe is exact (trilinear
interpolation reproduces linear functions on any rectilinear grid,
stretched or not).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from .grid import Grid


class ProbeError(ValueError):
    """A point cannot be probed (outside the grid, or no fluid cell around it).

    Attributes:
      index: the point's position in the list given to :func:`probe_stencil`.
    """

    def __init__(self, index: int, message: str):
        self.index = index
        super().__init__(message)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class ProbeStencil:
    """Where and how much each probe point reads (a pytree of numpy arrays).

    Attributes:
      cells: (P, 8) flat cell indices (C order of ``grid.shape``) of the corners.
      weights: (P, 8) corner weights, each row summing to 1 (solid corners 0).
    """

    cells: object
    weights: object

    @property
    def count(self) -> int:
        return int(self.cells.shape[0])


def _axis_brackets(centres: np.ndarray, x: np.ndarray):
    """(lower index, upper index, weight of the upper) of each coordinate ``x`` between cell
    centres along one axis, clamped to the first and last centre."""
    n = centres.size
    if n == 1:
        zeros = np.zeros(x.shape, np.int64)
        return zeros, zeros, np.zeros(x.shape)
    low = np.clip(np.searchsorted(centres, x, side="right") - 1, 0, n - 2)
    high = low + 1
    t = (x - centres[low]) / (centres[high] - centres[low])
    return low, high, np.clip(t, 0.0, 1.0)


def probe_stencil(grid: Grid, points, fluid=None) -> ProbeStencil:
    """The :class:`ProbeStencil` of ``points`` ((P, 3) coordinates, m) on ``grid``.

    ``fluid``: cell fluid fractions (shape ``grid.shape``, 0 in solids; e.g.
    ``problem.geometry.fluid``) or None for an all-fluid grid.  Raises
    :class:`ProbeError` for a point outside the grid or one whose 8 corners are all
    solid (a point inside a solid)."""
    points = np.asarray(points, float).reshape(-1, 3)
    nodes = [np.asarray(x, float) for x in grid.nodes]
    for k, p in enumerate(points):
        for a in range(3):
            tol = 1e-9 * (nodes[a][-1] - nodes[a][0])
            if not (nodes[a][0] - tol <= p[a] <= nodes[a][-1] + tol):
                raise ProbeError(k, f"point {k + 1} at ({p[0]:g}, {p[1]:g}, {p[2]:g}) m lies outside the grid "
                                 f"along {'xyz'[a]} ({nodes[a][0]:g}..{nodes[a][-1]:g} m)")
    brackets = [_axis_brackets(0.5 * (x[1:] + x[:-1]), points[:, a]) for a, x in enumerate(nodes)]
    shape = grid.shape
    cells, weights = [], []
    for corner in range(8):
        index, weight = [], np.ones(len(points))
        for a in range(3):
            low, high, t = brackets[a]
            upper = (corner >> a) & 1
            index.append(high if upper else low)
            weight = weight * (t if upper else 1.0 - t)
        cells.append(np.ravel_multi_index(tuple(index), shape))
        weights.append(weight)
    cells, weights = np.stack(cells, axis=1), np.stack(weights, axis=1)
    if fluid is not None:
        weights = weights * np.asarray(fluid, float).reshape(-1)[cells]
    total = weights.sum(axis=1)
    for k in np.nonzero(~(total > 1e-12))[0]:
        p = points[k]
        raise ProbeError(int(k), f"point {k + 1} at ({p[0]:g}, {p[1]:g}, {p[2]:g}) m has no fluid cell "
                         "around it (it lies inside a solid)")
    return ProbeStencil(cells=cells.astype(np.int64), weights=weights / total[:, None])


def probe(stencil: ProbeStencil, field):
    """``field`` (cell-centred, shape ``grid.shape``) at the stencil's points, shape (P,).

    Pure and differentiable in ``field``; the result has the field's dtype."""
    flat = jnp.reshape(field, (-1,))
    values = flat[jnp.asarray(stencil.cells)]
    return jnp.sum(values * jnp.asarray(stencil.weights, flat.dtype), axis=1)
