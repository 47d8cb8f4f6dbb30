"""Post-processing of cavity-type solutions: profiles along grid lines,
extrema, and Nusselt numbers.

Everything here works on one x-y slice (index ``k`` along z) of a solved
:class:`~thermo.fields.State`, in the units of the problem (the cavities in
:mod:`thermo.cases.cavity` are non-dimensional: L = 1, kappa = 1, dT = 1).
Numpy in, numpy out: this is analysis after a solve, not part of the step.
"""

from __future__ import annotations

import numpy as np

from ..grid import Grid


def _coordinates(grid: Grid, axis: int, on_faces: bool) -> np.ndarray:
    """Node coordinates along ``axis`` if the array lives on faces normal to it, else cell centres."""
    return np.asarray(grid.nodes[axis] if on_faces else grid.centres(axis), float)


def line_profile(grid: Grid, values, face_axis: int | None, fixed_axis: int, position: float,
                 ends=None, k: int = 0):
    """Values of a staggered field along the grid line ``x_fixed = position`` of an x-y slice.

    Args:
      grid: the grid.
      values: array of the field, shape ``grid.shape`` (cell-centred,
        ``face_axis=None``) or ``grid.face_shape(face_axis)``.
      face_axis: the axis whose faces carry the field (0 for u, 1 for v), or
        None for a cell-centred field.
      fixed_axis: 0 (a vertical line x = position) or 1 (a horizontal line
        y = position).
      position: coordinate of the line (m); the field is interpolated
        linearly across it.
      ends: optional pair of boundary values (at the low and high end of the
        line) appended to the profile, e.g. the wall velocities.
      k: index of the slice along z.

    Returns:
      ``(s, f)``: coordinates along the line (m) and the field there.
    """
    along = 1 - fixed_axis
    a = np.asarray(values, float)[:, :, k]
    if fixed_axis == 1:
        a = a.T  # now indexed [fixed, along]
    x = _coordinates(grid, fixed_axis, face_axis == fixed_axis)
    s = _coordinates(grid, along, face_axis == along)
    i = int(np.clip(np.searchsorted(x, position) - 1, 0, len(x) - 2))
    w = (position - x[i]) / (x[i + 1] - x[i])
    f = (1.0 - w) * a[i] + w * a[i + 1]
    if ends is not None:
        lo, hi = (float(e) for e in ends)
        nodes = np.asarray(grid.nodes[along], float)
        if s[0] > nodes[0]:
            s, f = np.concatenate([[nodes[0]], s]), np.concatenate([[lo], f])
        if s[-1] < nodes[-1]:
            s, f = np.concatenate([s, [nodes[-1]]]), np.concatenate([f, [hi]])
    return s, f


def peak(s, f):
    """Location and value of the maximum of a sampled profile.

    The discrete maximum is refined by the parabola through it and its two
    neighbours (non-uniform spacing allowed), which is exact for a quadratic
    and keeps the maximum's value second-order accurate between samples.
    """
    s, f = np.asarray(s, float), np.asarray(f, float)
    i = int(np.argmax(f))
    if i == 0 or i == len(f) - 1:
        return float(s[i]), float(f[i])
    x0, x1, x2 = s[i - 1 : i + 2]
    y0, y1, y2 = f[i - 1 : i + 2]
    # Newton form: p(x) = y0 + d1 (x - x0) + d2 (x - x0)(x - x1)
    d1 = (y1 - y0) / (x1 - x0)
    d2 = ((y2 - y1) / (x2 - x1) - d1) / (x2 - x0)
    if d2 >= 0.0:
        return float(x1), float(y1)
    xm = 0.5 * (x0 + x1) - d1 / (2.0 * d2)
    return float(xm), float(y0 + d1 * (xm - x0) + d2 * (xm - x0) * (xm - x1))


def wall_nusselt(grid: Grid, temperature, wall_temperature: float, axis: int = 0, side: int = 0,
                 delta_t: float = 1.0, length: float = 1.0, k: int = 0):
    """Local and mean Nusselt number on a fixed-temperature wall of an x-y slice.

    The wall-normal gradient is the second-order one-sided difference through
    the wall value and the first two cell centres (a parabola), and
    ``Nu = -dT/dn * length / delta_t`` with n pointing into the fluid.

    Returns:
      ``(s, nu_local, nu_mean)``: the coordinates along the wall, the local
      Nusselt number there, and its area-weighted mean over the wall.
    """
    t = np.asarray(temperature, float)[:, :, k]
    if axis == 1:
        t = t.T
    nodes = np.asarray(grid.nodes[axis], float)
    centres = np.asarray(grid.centres(axis), float)
    if side == 0:
        d1, d2 = centres[0] - nodes[0], centres[1] - nodes[0]
        t1, t2 = t[0], t[1]
    else:
        d1, d2 = nodes[-1] - centres[-1], nodes[-1] - centres[-2]
        t1, t2 = t[-1], t[-2]
    # parabola through (0, Tw), (d1, t1), (d2, t2): derivative at 0 along the inward normal
    g1, g2 = (t1 - wall_temperature) / d1, (t2 - wall_temperature) / d2
    gradient = (g1 * d2 - g2 * d1) / (d2 - d1)
    nu_local = -gradient * length / delta_t
    along = 1 - axis
    widths = np.diff(np.asarray(grid.nodes[along], float))
    return np.asarray(grid.centres(along), float), nu_local, float(np.sum(nu_local * widths) / np.sum(widths))


def average_nusselt(grid: Grid, u, temperature, wall_temperatures, kappa: float = 1.0,
                    delta_t: float = 1.0, length: float = 1.0, k: int = 0):
    """Cavity-average Nusselt number of the horizontal heat flux (de Vahl Davis's Nu-bar).

    ``Nu_avg = (1/H) * integral over the cavity of (u T - kappa dT/dx) dx dy / (kappa dT / L)``.
    On every x-face the flux is the face velocity times the linearly
    interpolated temperature minus kappa times the centred gradient (on the
    two walls, where u = 0, the gradient to the wall temperature over the
    half cell); the face totals are integrated over x by the trapezoidal rule.
    At a steady state the flux through every vertical line is the same and
    this equals the wall Nusselt number up to discretisation error.

    Args:
      u: x-face velocity, shape ``grid.face_shape(0)``.
      temperature: cell-centred temperature.
      wall_temperatures: (T at x = x0, T at x = x1).

    Returns:
      ``(x, nu_line, nu_avg)``: face positions, the Nusselt number of the
      flux through each vertical line, and its average over x.
    """
    t = np.asarray(temperature, float)[:, :, k]
    uf = np.asarray(u, float)[:, :, k]
    x = np.asarray(grid.nodes[0], float)
    c = np.asarray(grid.centres(0), float)
    dy = np.diff(np.asarray(grid.nodes[1], float))
    w = (x[1:-1] - c[:-1]) / (c[1:] - c[:-1])
    t_face = (1.0 - w)[:, None] * t[:-1] + w[:, None] * t[1:]
    inner = uf[1:-1] * t_face - kappa * (t[1:] - t[:-1]) / (c[1:] - c[:-1])[:, None]
    low = -kappa * (t[0] - wall_temperatures[0]) / (c[0] - x[0])
    high = -kappa * (wall_temperatures[1] - t[-1]) / (x[-1] - c[-1])
    flux = np.concatenate([low[None], inner, high[None]])  # (nx + 1, ny)
    height = float(np.sum(dy))
    scale = kappa * delta_t / length
    nu_line = (flux @ dy) / height / scale
    nu_avg = float(np.trapezoid(nu_line, x) / (x[-1] - x[0]))
    return x, nu_line, nu_avg
