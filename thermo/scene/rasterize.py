"""Scene objects to grid fields by exact box-cell overlap fractions.

Every fraction here is the exact overlap of an axis-aligned object with a
cell (or face), a product of 1-D interval overlaps, so it is continuous and
piecewise linear in the object's position and size.  Functions work on
numpy arrays and touch only the index range an object covers, so a hall
with hundreds of objects rasterizes in well under a second.
"""

from __future__ import annotations

import numpy as np

from ..grid import AXES, Grid

SLIVER = 1e-9   # overlap fractions closer than this to 0 or 1 are round-off


def overlap_1d(edges, lo: float, hi: float) -> np.ndarray:
    """Fraction (0..1) of each interval [edges[i], edges[i+1]] covered by [lo, hi]."""
    e = np.asarray(edges, float)
    a, b = e[:-1], e[1:]
    f = np.clip(np.minimum(b, hi) - np.maximum(a, lo), 0.0, None) / (b - a)
    # round-off of snapped coordinates (0.3 + 0.6 != 0.9) must not leave 1e-16 slivers
    return np.where(f < SLIVER, 0.0, np.where(f > 1.0 - SLIVER, 1.0, f))


def overlap_length(edges, lo: float, hi: float) -> np.ndarray:
    """Length (m) of each interval covered by [lo, hi]."""
    e = np.asarray(edges, float)
    return np.clip(np.minimum(e[1:], hi) - np.maximum(e[:-1], lo), 0.0, None)


def nearest_node(grid: Grid, axis: int, coordinate: float) -> int:
    """Index of the grid line along ``axis`` nearest to ``coordinate`` (m)."""
    x = np.asarray(grid.nodes[axis], float)
    return int(np.argmin(np.abs(x - coordinate)))


def box_cell_fraction(grid: Grid, lower, upper) -> np.ndarray:
    """Cell volume fraction (0..1) inside the box [lower, upper] (m), shape grid.shape."""
    f = [overlap_1d(grid.nodes[a], lower[a], upper[a]) for a in AXES]
    return f[0][:, None, None] * f[1][None, :, None] * f[2][None, None, :]


def plane_coverage(grid: Grid, axis: int, lower, upper) -> np.ndarray:
    """Fraction of each face of a plane normal to ``axis`` covered by a rectangle.

    ``lower``/``upper`` are 3-vectors; their ``axis`` entries are ignored.
    Returns the plane array (grid shape with ``axis`` removed).
    """
    others = [b for b in AXES if b != axis]
    f = [overlap_1d(grid.nodes[b], lower[b], upper[b]) for b in others]
    return f[0][:, None] * f[1][None, :]


def plane_area(grid: Grid, axis: int, lower, upper) -> np.ndarray:
    """Area (m^2) of each face of a plane normal to ``axis`` covered by a rectangle (plane array)."""
    others = [b for b in AXES if b != axis]
    f = [overlap_length(grid.nodes[b], lower[b], upper[b]) for b in others]
    return f[0][:, None] * f[1][None, :]


def add_solid(fluid, opens, grid: Grid, lower, upper, blockage: float = 1.0):
    """Make the box [lower, upper] (m) solid in place (``blockage`` < 1: partly blocked).

    fluid: cell fluid fraction (modified); opens: three face open-fraction arrays
    (modified).  Cells lose ``blockage`` times their overlap fraction; faces
    inside the box or on its surface lose ``blockage`` times the fraction of
    their area covered.  A partial blockage (< 1) keeps its cells fluid and only
    narrows the faces through and around it (a porous obstruction).
    """
    f = [overlap_1d(grid.nodes[a], lower[a], upper[a]) for a in AXES]
    idx = [np.nonzero(fa > 0)[0] for a, fa in enumerate(f)]
    if any(len(i) == 0 for i in idx):
        return
    sl = tuple(slice(i[0], i[-1] + 1) for i in idx)
    solid = f[0][sl[0], None, None] * f[1][None, sl[1], None] * f[2][None, None, sl[2]]
    if blockage >= 1.0:
        fluid[sl] *= 1.0 - solid
    for a in AXES:
        x = np.asarray(grid.nodes[a], float)
        tol = 1e-9 * (x[-1] - x[0])
        inside = np.nonzero((x >= lower[a] - tol) & (x <= upper[a] + tol))[0]
        if len(inside) == 0:
            continue
        face_sl = list(sl)
        face_sl[a] = slice(inside[0], inside[-1] + 1)
        cover = np.ones([1, 1, 1])
        for b in AXES:
            if b != a:
                shape = [1, 1, 1]
                shape[b] = -1
                cover = cover * f[b][sl[b]].reshape(shape)
        opens[a][tuple(face_sl)] *= 1.0 - blockage * cover


def add_panel(opens, grid: Grid, axis: int, coordinate: float, lower, upper, open_fraction: float):
    """A thin panel in the plane ``x_axis = coordinate`` over the rectangle [lower, upper]
    (3-vectors, ``axis`` entries ignored): the faces of the nearest grid plane keep
    ``open_fraction`` of their covered part open (in place)."""
    k = nearest_node(grid, axis, coordinate)
    cover = plane_coverage(grid, axis, lower, upper)
    face = np.take(opens[axis], k, axis=axis)
    face *= 1.0 - (1.0 - open_fraction) * cover
    index = [slice(None)] * 3
    index[axis] = k
    opens[axis][tuple(index)] = face


def face_layer(grid: Grid, axis: int, coordinate: float, side: int, lower, upper):
    """The cell layer next to the plane ``x_axis = coordinate`` on ``side`` (+1: towards
    increasing x_axis, -1: decreasing), restricted to the rectangle [lower, upper].

    Returns ``(cells, areas)``: flat C-order cell indices (int64) and the area
    (m^2) of each cell's face on the plane that the rectangle covers.  Empty when
    the layer would lie outside the grid.
    """
    k = nearest_node(grid, axis, coordinate)
    layer = k if side > 0 else k - 1
    if layer < 0 or layer >= grid.shape[axis]:
        return np.zeros(0, np.int64), np.zeros(0)
    area = plane_area(grid, axis, lower, upper)
    nz = np.nonzero(area > 0)
    idx3 = [None, None, None]
    others = [b for b in AXES if b != axis]
    idx3[others[0]] = nz[0]
    idx3[others[1]] = nz[1]
    idx3[axis] = np.full(len(nz[0]), layer)
    cells = np.ravel_multi_index(tuple(idx3), grid.shape)
    return cells.astype(np.int64), area[nz]


def layer_face_indices(grid: Grid, axis: int, cells, side: int):
    """Flat indices (into the axis-``axis`` face array) of each layer cell's far face,
    the face away from the plane on ``side``."""
    ijk = list(np.unravel_index(cells, grid.shape))
    if side > 0:
        ijk[axis] = ijk[axis] + 1
    return np.ravel_multi_index(tuple(ijk), grid.face_shape(axis)).astype(np.int64)
