"""The fluid cell layer in front of one face of a box (racks and cooling units).

A box face is named ``front``, ``back``, ``top`` or ``bottom``; front and
back follow the object's ``facing`` (the outward normal of its front face,
e.g. ``+y``).  The layer is the one-cell-thick slab of grid cells just
outside the face (the grid snaps a line to every object face), restricted in
plane by exact area overlaps.  Mass sinks/sources spread over a layer in
proportion to those areas give a uniform face velocity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..grid import Grid
from ..scene.rasterize import face_layer, layer_face_indices

_AXIS = {"x": 0, "y": 1}


def facing_axis(facing: str) -> tuple[int, int]:
    """(axis, sign) of a facing such as '+y' -> (1, +1)."""
    return _AXIS[facing[1]], (1 if facing[0] == "+" else -1)


def face_normal(face: str, facing: str) -> tuple[int, int]:
    """(axis, outward sign) of a named face of a box with front ``facing``."""
    if face == "top":
        return 2, 1
    if face == "bottom":
        return 2, -1
    axis, sign = facing_axis(facing)
    return axis, sign if face == "front" else -sign


@dataclass(frozen=True)
class Layer:
    """Cells outside one box face.

    Attributes:
      cells: flat cell indices; areas: face area per cell (m^2);
      axis, sign: outward normal of the face;
      far_faces: flat indices into the ``axis`` face array of each cell's face away
        from the box (where a jet leaving the face is accelerated).
    """

    cells: np.ndarray
    areas: np.ndarray
    axis: int
    sign: int
    far_faces: np.ndarray

    @property
    def area(self) -> float:
        return float(np.sum(self.areas))


def box_face_layer(grid: Grid, position, size, face: str, facing: str) -> Layer:
    """The :class:`Layer` outside ``face`` of the box at ``position`` (lower corner, m) with ``size`` (m)."""
    axis, sign = face_normal(face, facing)
    lower = np.asarray(position, float)
    upper = lower + np.asarray(size, float)
    coordinate = upper[axis] if sign > 0 else lower[axis]
    cells, areas = face_layer(grid, axis, coordinate, sign, lower, upper)
    far = layer_face_indices(grid, axis, cells, sign) if len(cells) else np.zeros(0, np.int64)
    return Layer(cells, areas, axis, sign, far)


def add_flow(fields, layer: Layer, flow: float, temperature: float | None = None):
    """Spread a volume flow (m^3/s; > 0 source, < 0 sink) uniformly over ``layer``'s face area."""
    volume = fields.volume.reshape(-1)[layer.cells]
    rate = flow * layer.areas / layer.area / volume
    np.add.at(fields.mass.reshape(-1), layer.cells, rate)
    if temperature is not None:
        fields.mass_temperature.reshape(-1)[layer.cells] = temperature


def jet_acceleration(grid: Grid, layer: Layer, flow: float) -> np.ndarray:
    """Body acceleration (m/s^2) on each layer cell's far face that gives the fluid
    injected by ``flow`` (m^3/s) the face-normal velocity flow / area.

    Momentum injected per cell is q_c U with q_c = flow a_c / A and U = flow / A;
    spread over the momentum control volume of the far face (centre spacing x face area).
    """
    speed = flow / layer.area
    q = flow * layer.areas / layer.area
    ijk = np.unravel_index(layer.far_faces, grid.face_shape(layer.axis))
    spacing = np.asarray(grid.centre_spacing(layer.axis))[ijk[layer.axis]]
    full_area = np.broadcast_to(np.asarray(grid.face_area(layer.axis)), grid.face_shape(layer.axis))[ijk]
    return layer.sign * q * speed / (spacing * full_area)


def plane_layer(grid: Grid, axis: int, coordinate: float, sign: int, lower, upper) -> Layer:
    """The :class:`Layer` on side ``sign`` of the plane x_axis = ``coordinate`` over the
    rectangle [lower, upper] (3-vectors, the ``axis`` entries ignored); e.g. a duct
    opening into the ceiling plenum above a cooling unit."""
    cells, areas = face_layer(grid, axis, coordinate, sign, lower, upper)
    far = layer_face_indices(grid, axis, cells, sign) if len(cells) else np.zeros(0, np.int64)
    return Layer(cells, areas, axis, sign, far)
