"""Rectilinear staggered (MAC) grid with per-axis non-uniform spacing.

Layout (Harlow & Welch): pressure, temperature and scalars live at cell
centres, shape ``(nx, ny, nz)``; the velocity component along axis ``a`` lives
on the faces normal to ``a``, shape ``(nx+1, ny, nz)`` for ``a = 0`` and so on,
boundary faces included.  Axis 2 (z) is "up" in data-hall scenes; the solver
itself only knows the gravity vector.

The grid is a pytree whose leaves are the node coordinates, so one compiled
step serves every grid of the same shape whatever its spacing.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

AXES = (0, 1, 2)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Grid:
    """A rectilinear grid given by its node (cell-face) coordinates in metres.

    Attributes:
      nodes: three 1-D arrays of strictly increasing face coordinates (m),
        of lengths ``nx+1``, ``ny+1``, ``nz+1``.
    """

    nodes: tuple

    def __post_init__(self):
        for axis, x in enumerate(self.nodes):
            if isinstance(x, np.ndarray):
                if x.ndim != 1 or x.size < 2:
                    raise ValueError(f"grid axis {axis}: need at least two node coordinates")
                if np.any(np.diff(x) <= 0):
                    raise ValueError(f"grid axis {axis}: node coordinates must increase strictly")

    # ---- sizes -------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        """Number of cells per axis."""
        return tuple(int(x.shape[0]) - 1 for x in self.nodes)

    @property
    def cells(self) -> int:
        n = self.shape
        return n[0] * n[1] * n[2]

    def face_shape(self, axis: int) -> tuple[int, int, int]:
        """Shape of the face array normal to ``axis`` (boundary faces included)."""
        n = list(self.shape)
        n[axis] += 1
        return tuple(n)

    @property
    def extent(self):
        """Lower and upper corner of the domain (m) as two 3-tuples."""
        return tuple(float(x[0]) for x in self.nodes), tuple(float(x[-1]) for x in self.nodes)

    # ---- 1-D metrics (m) ----------------------------------------------
    def widths(self, axis: int):
        """Cell widths along ``axis`` (m), length n."""
        x = self.nodes[axis]
        return x[1:] - x[:-1]

    def centres(self, axis: int):
        """Cell-centre coordinates along ``axis`` (m), length n."""
        x = self.nodes[axis]
        return 0.5 * (x[1:] + x[:-1])

    def centre_spacing(self, axis: int):
        """Distance between the centres on either side of each face (m), length n+1.

        At the two boundary faces it is the half-width of the boundary cell,
        i.e. the distance from the boundary to the first centre.
        """
        x = self.nodes[axis]
        c = 0.5 * (x[1:] + x[:-1])
        inner = c[1:] - c[:-1]
        return jnp.concatenate([c[:1] - x[:1], inner, x[-1:] - c[-1:]])

    # ---- broadcast helpers ---------------------------------------------
    @staticmethod
    def along(vector, axis: int):
        """Reshape a 1-D array so it broadcasts along ``axis`` of a 3-D array."""
        shape = [1, 1, 1]
        shape[axis] = -1
        return jnp.reshape(vector, shape)

    def cell_volume(self):
        """Cell volumes (m^3), shape (nx, ny, nz)."""
        w = [self.along(self.widths(a), a) for a in AXES]
        return w[0] * w[1] * w[2]

    def face_area(self, axis: int):
        """Geometric areas (m^2) of the faces normal to ``axis``, broadcastable to its face shape."""
        others = [a for a in AXES if a != axis]
        return self.along(self.widths(others[0]), others[0]) * self.along(self.widths(others[1]), others[1])

    def astype(self, dtype) -> "Grid":
        return Grid(tuple(jnp.asarray(x, dtype) for x in self.nodes))

    def min_spacing(self) -> float:
        return float(min(np.min(np.diff(np.asarray(x))) for x in self.nodes))


def uniform_grid(shape, lengths, origin=(0.0, 0.0, 0.0)) -> Grid:
    """A uniform grid of ``shape`` cells spanning ``lengths`` (m) from ``origin``."""
    return Grid(tuple(np.linspace(o, o + l, n + 1) for n, l, o in zip(shape, lengths, origin)))


def stretched_nodes(n: int, length: float, ratio: float, origin: float = 0.0) -> np.ndarray:
    """Node coordinates clustered symmetrically towards both ends of an interval.

    Uses a tanh stretching; ``ratio`` is the ratio of the largest to the
    smallest cell width (1 gives a uniform grid).
    """
    if ratio <= 1.0 + 1e-12:
        return np.linspace(origin, origin + length, n + 1)
    s = np.linspace(-1.0, 1.0, n + 1)

    def max_over_min(b):
        x = np.tanh(b * s) / np.tanh(b)
        w = np.diff(x)
        return w.max() / w.min()

    lo, hi = 1e-6, 10.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if max_over_min(mid) < ratio:
            lo = mid
        else:
            hi = mid
    x = np.tanh(lo * s) / np.tanh(lo)
    return origin + 0.5 * length * (x + 1.0)
