"""A rectilinear grid generated from the scene, with lines snapped to object faces.

Per axis: every object face coordinate inside the domain becomes a grid line
("snap"); coordinates closer than ``min_cell`` are merged (the rasterizer's
exact overlap fractions then account for the small offset).  The intervals
between these lines are filled with cells no wider than ``max_cell`` whose
widths follow a size function

    h(x) = min(max_cell, min_k [ w_k + (growth - 1) |x - I_k| ])

where I_k are the intervals whose own width w_k is below ``max_cell`` (they
force small cells) and |x - I_k| the distance to them, so neighbouring cell
widths change by about ``growth`` at most.  Nodes inside an interval are
spaced to equidistribute the integral of 1/h.
"""

from __future__ import annotations

import math

import numpy as np

from ..grid import Grid
from .errors import ScenarioError
from .load import Scene


def face_coordinates(scene: Scene) -> list[list[float]]:
    """Every object face coordinate per axis (m), unsorted, with duplicates."""
    lx, ly, lz = scene.room_size
    coords = [[0.0, lx], [0.0, ly], [-scene.plenum_depth, 0.0, lz, lz + scene.ceiling_depth]]

    def box(position, size):
        for a in range(3):
            coords[a] += [position[a], position[a] + size[a]]

    for r in scene.racks:
        box(r.position, r.size)
    for c in scene.coolers:
        box(c.position, c.size)
    for o in scene.obstructions:
        box(o.position, o.size)
    for t in getattr(scene, "tanks", ()):
        box(t.position, t.size)
    for t in scene.tiles:
        for a in range(2):
            coords[a] += [t.position[a], t.position[a] + t.size[a]]
    for c in scene.containment:
        for a in range(2):
            coords[a] += [c.position[a], c.position[a] + c.size[a]]
        coords[2].append(c.height)
    plane_axes = {"ceiling": (0, 1), "floor": (0, 1), "x-": (1, 2), "x+": (1, 2), "y-": (0, 2), "y+": (0, 2)}
    for ret in scene.returns:
        for k, a in enumerate(plane_axes[ret.surface]):
            coords[a] += [ret.position[k], ret.position[k] + ret.size[k]]
    return coords


def snapped_lines(points, lo: float, hi: float, min_gap: float) -> np.ndarray:
    """Sorted unique lines in [lo, hi] with points closer than ``min_gap`` merged (ends kept)."""
    pts = sorted(p for p in points if lo <= p <= hi)
    lines = [lo]
    for p in pts:
        if p - lines[-1] >= min_gap:
            lines.append(p)
    if hi - lines[-1] < min_gap:
        lines[-1] = hi
    else:
        lines.append(hi)
    return np.array(lines)


def _size_function(lines: np.ndarray, max_cell: float, growth: float):
    widths = np.diff(lines)
    small = [(lines[k], lines[k + 1], widths[k]) for k in range(len(widths)) if widths[k] < max_cell]
    slope = max(growth - 1.0, 1e-6)

    def size(x):
        h = np.full_like(x, max_cell)
        for a, b, w in small:
            dist = np.maximum(np.maximum(a - x, x - b), 0.0)
            h = np.minimum(h, w + slope * dist)
        return h

    return size


def _interval_cells(a: float, b: float, size):
    """(cells in [a, b], the sample points, the cumulative integral of 1/h at them)."""
    fine = np.linspace(a, b, 201)
    inv = 1.0 / size(0.5 * (fine[1:] + fine[:-1]))
    cum = np.concatenate([[0.0], np.cumsum(inv * np.diff(fine))])
    return max(1, math.ceil(cum[-1] - 1e-6)), fine, cum


def axis_cells(lines: np.ndarray, max_cell: float, growth: float) -> int:
    """The number of cells :func:`fill_axis` puts through ``lines``, counted without making
    them (a float-free count, so ``--cell 1e-9`` costs nothing to count)."""
    size = _size_function(lines, max_cell, growth)
    return int(sum(_interval_cells(a, b, size)[0] for a, b in zip(lines[:-1], lines[1:])))


def fill_axis(lines: np.ndarray, max_cell: float, growth: float) -> np.ndarray:
    """Node coordinates through all ``lines`` with cells <= ``max_cell`` graded by ``growth``."""
    size = _size_function(lines, max_cell, growth)
    nodes = [lines[0]]
    for a, b in zip(lines[:-1], lines[1:]):
        n, fine, cum = _interval_cells(a, b, size)
        targets = np.linspace(0.0, cum[-1], n + 1)[1:-1]
        nodes.extend(np.interp(targets, cum, fine))
        nodes.append(b)
    return np.array(nodes)


def _axis_lines(scene: Scene, max_cell: float | None):
    """(cell size h, merge gap, the snapped lines per axis) of the grid at ``max_cell``."""
    spec = scene.grid
    h = float(max_cell if max_cell is not None else spec.max_cell)
    min_gap = spec.min_cell if spec.min_cell is not None else min(h / 4.0, 0.05)
    min_gap = min(min_gap, h)
    lx, ly, lz = scene.room_size
    bounds = [(0.0, lx), (0.0, ly), (-scene.plenum_depth, lz + scene.ceiling_depth)]
    coords = face_coordinates(scene)
    return h, min_gap, [snapped_lines(coords[a], *bounds[a], min_gap) for a in range(3)]


def planned_shape(scene: Scene, max_cell: float | None = None) -> tuple[int, int, int]:
    """The cell counts (x, y, z) that :func:`generate_grid` would make, from the scene and the
    cell size alone, allocating nothing: the memory check runs on it before any grid exists
    (``--cell 1e-9`` on a 10 m hall is 10^10 cells per axis, counted in microseconds)."""
    h, _, lines = _axis_lines(scene, max_cell)
    return tuple(axis_cells(axis_lines, h, scene.grid.growth) for axis_lines in lines)


def generate_grid(scene: Scene, max_cell: float | None = None) -> Grid:
    """The hall grid (see module docstring); ``max_cell`` (m) overrides the scenario's.

    A grid of more than :data:`thermo.memory.MAX_CELLS` cells is refused
    (:class:`thermo.memory.GridTooLarge`) before a node is made; an object or a gap that the
    grid cannot resolve is a :class:`ScenarioError` (:func:`check_resolved`)."""
    from ..memory import check_cell_count

    h, min_gap, lines = _axis_lines(scene, max_cell)
    shape = tuple(axis_cells(axis_lines, h, scene.grid.growth) for axis_lines in lines)
    check_cell_count(shape, f"scenario {scene.name} at cell {h:g} m")
    grid = Grid(tuple(fill_axis(axis_lines, h, scene.grid.growth) for axis_lines in lines))
    check_resolved(scene, grid, min_gap)
    return grid


def _boxes(scene: Scene):
    """(label, lower, upper) of every object with faces on the grid (3-D boxes; tiles,
    containment footprints and openings with their thin extents left at None)."""
    for r in scene.racks:
        yield f"rack {r.name}", r.position, r.size
    for c in scene.coolers:
        yield f"cooler {c.name}", c.position, c.size
    for t in scene.tanks:
        yield f"tank {t.name}", t.position, t.size
    for o in scene.obstructions:
        yield f"obstruction {o.name}", o.position, o.size
    for t in scene.tiles:
        yield f"tile {t.name}", (*t.position, None), (*t.size, None)
    for c in scene.containment:
        yield f"containment {c.name}", (*c.position, None), (*c.size, None)


def check_resolved(scene: Scene, grid: Grid, min_gap: float) -> None:
    """Objects thinner than the grid resolves, and intakes or exhausts whose gap to a wall or
    a solid the grid closes, are a :class:`ScenarioError` naming what ``grid.min_cell`` would
    resolve them.  Object faces closer than ``min_gap`` (m) share a grid line
    (:func:`snapped_lines`); an object between two such faces has no cells, and an intake
    with no cell in front of it has no air to draw (the rack would draw from the wall)."""
    from .physical import flow_faces, obstacles_in_front
    from .rasterize import nearest_node

    for label, position, size in _boxes(scene):
        for a in range(3):
            if size[a] is None:
                continue
            if nearest_node(grid, a, position[a]) == nearest_node(grid, a, position[a] + size[a]):
                raise ScenarioError(label, "size", f"{size[a]:g} m along {'xyz'[a]} is thinner than the grid "
                                    f"resolves (faces closer than {min_gap:g} m share a grid line); set "
                                    f"grid.min_cell to {_needed(size[a])} m or less (got {size[a]:g} m)")
    for face in flow_faces(scene):
        for label, gap, _ in obstacles_in_front(scene, face):
            far = face.coordinate + face.sign * gap
            if nearest_node(grid, face.axis, face.coordinate) == nearest_node(grid, face.axis, far):
                raise ScenarioError(face.label, "position", f"its {face.role} is {gap:g} m from {label}, a gap the "
                                    f"grid closes (faces closer than {min_gap:g} m share a grid line); set "
                                    f"grid.min_cell to {_needed(gap)} m or less, or move it (got {gap:g} m)")
            break


def _needed(length: float) -> str:
    """A round ``min_cell`` (m) that keeps ``length`` apart: half of it, two digits."""
    return f"{float(f'{length / 2:.1g}'):g}"
