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


def fill_axis(lines: np.ndarray, max_cell: float, growth: float) -> np.ndarray:
    """Node coordinates through all ``lines`` with cells <= ``max_cell`` graded by ``growth``."""
    widths = np.diff(lines)
    small = [(lines[k], lines[k + 1], widths[k]) for k in range(len(widths)) if widths[k] < max_cell]
    slope = max(growth - 1.0, 1e-6)

    def size(x):
        h = np.full_like(x, max_cell)
        for a, b, w in small:
            dist = np.maximum(np.maximum(a - x, x - b), 0.0)
            h = np.minimum(h, w + slope * dist)
        return h

    nodes = [lines[0]]
    for a, b in zip(lines[:-1], lines[1:]):
        fine = np.linspace(a, b, 201)
        inv = 1.0 / size(0.5 * (fine[1:] + fine[:-1]))
        cum = np.concatenate([[0.0], np.cumsum(inv * np.diff(fine))])
        n = max(1, math.ceil(cum[-1] - 1e-6))
        targets = np.linspace(0.0, cum[-1], n + 1)[1:-1]
        nodes.extend(np.interp(targets, cum, fine))
        nodes.append(b)
    return np.array(nodes)


def generate_grid(scene: Scene, max_cell: float | None = None) -> Grid:
    """The hall grid (see module docstring); ``max_cell`` (m) overrides the scenario's."""
    spec = scene.grid
    h = float(max_cell if max_cell is not None else spec.max_cell)
    min_gap = spec.min_cell if spec.min_cell is not None else min(h / 4.0, 0.05)
    min_gap = min(min_gap, h)
    lx, ly, lz = scene.room_size
    bounds = [(0.0, lx), (0.0, ly), (-scene.plenum_depth, lz + scene.ceiling_depth)]
    coords = face_coordinates(scene)
    nodes = []
    for a in range(3):
        lines = snapped_lines(coords[a], *bounds[a], min_gap)
        nodes.append(fill_axis(lines, h, spec.growth))
    return Grid(tuple(nodes))
