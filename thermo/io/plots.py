"""PNG plots with matplotlib's Agg backend (no display or OpenGL needed).

* :func:`plan_slice`: temperature (degC) on a horizontal plane with in-plane velocity arrows;
* :func:`vertical_section`: the same on a vertical plane (e.g. across the aisles);
* :func:`rack_intakes`: rack intake temperatures against the ASHRAE bands;
* :func:`convergence`: residual change rates against step;
* :func:`intake_timeseries`: rack intake maxima against time (transients).

Every function writes one PNG and returns its path.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from ..fields import State, cell_centred_velocity  # noqa: E402
from ..grid import Grid  # noqa: E402
from ..metrics import ALLOWABLE, RECOMMENDED  # noqa: E402  (ASHRAE TC 9.9 inlet ranges, degC)
from ..problem import Problem  # noqa: E402
from .report import event_label  # noqa: E402

PLAN_HEIGHTS = (0.5, 1.0, 1.8)
"""Standard heights (m above the floor, z = 0) of the plan slices."""


_AXIS_NAMES = "xyz"
_DPI = 110


def ashrae_bands(ashrae_class: str = "A1", recommended=None, allowable=None):
    """(recommended, allowable) inlet ranges (degC) for ``ashrae_class`` from the
    ASHRAE TC 9.9 table of :mod:`thermo.metrics`; explicit ``recommended``/``allowable``
    (low, high) pairs override it."""
    if (allowable is None or recommended is None) and ashrae_class not in ALLOWABLE:
        raise ValueError(f"unknown ASHRAE class {ashrae_class!r}; known: {sorted(ALLOWABLE)}")
    allowable = ALLOWABLE[ashrae_class] if allowable is None else allowable
    recommended = RECOMMENDED[ashrae_class] if recommended is None else recommended
    return tuple(map(float, recommended)), tuple(map(float, allowable))


def _save(fig, path) -> Path:
    path = Path(path)
    fig.savefig(path, dpi=_DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def _cell_index(nodes, position: float) -> int | None:
    """Index of the cell whose node interval holds ``position`` (m), None outside the grid."""
    nodes = np.asarray(nodes)
    if position < nodes[0] or position > nodes[-1]:
        return None
    return int(min(np.searchsorted(nodes, position, side="right") - 1, nodes.size - 2))


def _section(grid: Grid, state: State, problem: Problem, axis: int, position: float):
    """Temperature, in-plane velocities and solid mask on the cell layer across ``axis`` at ``position``."""
    index = _cell_index(grid.nodes[axis], position)
    if index is None:
        lo, hi = float(grid.nodes[axis][0]), float(grid.nodes[axis][-1])
        raise ValueError(f"{_AXIS_NAMES[axis]} = {position} m is outside the domain [{lo}, {hi}] m")
    plane = [a for a in range(3) if a != axis]
    take = lambda a: np.take(np.asarray(a), index, axis=axis)  # noqa: E731
    velocity = np.asarray(cell_centred_velocity(state.velocity))
    temperature = take(state.temperature).astype(float)
    solid = take(problem.geometry.fluid) < 0.5
    components = [take(velocity[a]).astype(float) for a in plane]
    return index, plane, temperature, solid, components


def _temperature_limits(state: State, problem: Problem):
    live = np.asarray(problem.geometry.fluid) > 0.5
    t = np.asarray(state.temperature)[live] if live.any() else np.asarray(state.temperature).ravel()
    lo, hi = float(np.min(t)), float(np.max(t))
    return (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)


def _draw_plane(ax, grid, state, problem, axis, position, equipment, limits, arrows=24):
    index, plane, temperature, solid, components = _section(grid, state, problem, axis, position)
    a, b = plane
    xa, xb = np.asarray(grid.nodes[a], float), np.asarray(grid.nodes[b], float)
    cmap = plt.get_cmap("coolwarm").with_extremes(bad="0.55")
    shown = np.ma.masked_array(temperature, solid)
    mesh = ax.pcolormesh(xa, xb, shown.T, cmap=cmap, vmin=limits[0], vmax=limits[1], shading="flat")
    ca, cb = np.asarray(grid.centres(a)), np.asarray(grid.centres(b))
    sa = max(1, len(ca) // arrows)
    sb = max(1, len(cb) // arrows)
    hidden = solid[::sa, ::sb]
    ua = np.ma.masked_array(components[0][::sa, ::sb], hidden)
    ub = np.ma.masked_array(components[1][::sa, ::sb], hidden)
    if np.any(ua.filled(0.0)) or np.any(ub.filled(0.0)):
        ax.quiver(ca[::sa], cb[::sb], ua.T, ub.T, color="k", alpha=0.7, width=0.0025)
    for item in equipment or ():
        lo, hi = np.asarray(item["lower"], float), np.asarray(item["upper"], float)
        if lo[axis] <= position <= hi[axis]:
            ax.add_patch(Rectangle((lo[a], lo[b]), hi[a] - lo[a], hi[b] - lo[b], fill=False, lw=0.8, ec="k"))
    ax.set_xlabel(f"{_AXIS_NAMES[a]} (m)")
    ax.set_ylabel(f"{_AXIS_NAMES[b]} (m)")
    ax.set_aspect("equal")
    ax.set_xlim(xa[0], xa[-1])
    ax.set_ylim(xb[0], xb[-1])
    return mesh


def plan_slice(path, grid: Grid, state: State, problem: Problem, height: float, equipment=(),
               limits=None) -> Path:
    """Temperature (degC) and in-plane velocity arrows on the horizontal plane z = ``height`` (m).

    ``equipment`` (dicts with ``lower``/``upper``, m) is outlined where it cuts
    the plane; ``limits`` (degC) fixes the colour range (default: the fluid's range).
    """
    limits = _temperature_limits(state, problem) if limits is None else limits
    fig, ax = plt.subplots(figsize=(8, 6))
    mesh = _draw_plane(ax, grid, state, problem, 2, height, equipment, limits)
    fig.colorbar(mesh, ax=ax, label="temperature (degC)", shrink=0.8)
    ax.set_title(f"Temperature and velocity at z = {height:g} m")
    return _save(fig, path)


def vertical_section(path, grid: Grid, state: State, problem: Problem, axis: int, position: float,
                     equipment=(), limits=None) -> Path:
    """Temperature (degC) and in-plane velocity on the vertical plane normal to ``axis`` (0 or 1)
    at ``position`` (m)."""
    if axis not in (0, 1):
        raise ValueError(f"a vertical section is normal to axis 0 (x) or 1 (y), not {axis}")
    limits = _temperature_limits(state, problem) if limits is None else limits
    fig, ax = plt.subplots(figsize=(9, 4.5))
    mesh = _draw_plane(ax, grid, state, problem, axis, position, equipment, limits)
    fig.colorbar(mesh, ax=ax, label="temperature (degC)", shrink=0.8)
    ax.set_title(f"Temperature and velocity on the section {_AXIS_NAMES[axis]} = {position:g} m")
    return _save(fig, path)


def section_across_aisles(equipment, grid: Grid):
    """(axis, position) of a vertical section across the rack rows.

    Rows run along the horizontal axis over which rack centres spread most; the
    section is normal to it, through the middle of the racks.  Without racks:
    normal to x through the middle of the domain.
    """
    racks = [item for item in equipment or () if item.get("kind") == "rack"]
    if not racks:
        x = np.asarray(grid.nodes[0])
        return 0, float(0.5 * (x[0] + x[-1]))
    centres = np.array([[0.5 * (r["lower"][a] + r["upper"][a]) for a in (0, 1)] for r in racks])
    axis = int(np.argmax(np.ptp(centres, axis=0)))
    return axis, float(np.mean(centres[:, axis]))


def rack_intakes(path, racks, ashrae_class: str = "A1", recommended=None, allowable=None) -> Path:
    """Bar chart of rack intake temperatures (degC): bars are the area-mean
    (``inlet_mean_C``), markers the maximum (``inlet_max_C``); shaded bands are
    the recommended and allowable ranges of ``ashrae_class``."""
    if not racks:
        raise ValueError("no racks to plot")
    recommended, allowable = ashrae_bands(ashrae_class, recommended, allowable)
    names = [str(r["name"]) for r in racks]
    mean = np.array([float(r["inlet_mean_C"]) for r in racks])
    peak = np.array([float(r["inlet_max_C"]) for r in racks])
    colour = np.where(peak > allowable[1], "tab:red", np.where(peak > recommended[1], "tab:orange", "tab:blue"))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.45 * len(racks) + 2), 4.5))
    x = np.arange(len(racks))
    ax.axhspan(*allowable, color="gold", alpha=0.18, label=f"allowable {ashrae_class} {allowable[0]:g}-{allowable[1]:g} C")
    ax.axhspan(*recommended, color="green", alpha=0.18, label=f"recommended {recommended[0]:g}-{recommended[1]:g} C")
    ax.bar(x, mean, color=colour, label="intake mean")
    ax.plot(x, peak, "k_", markersize=14, mew=2, label="intake max")
    low = min(float(mean.min()), recommended[0]) - 2.0
    high = max(float(peak.max()), allowable[1]) + 2.0
    ax.set_ylim(low, high)
    ax.set_xticks(x, names, rotation=90 if len(racks) > 16 else 0)
    ax.set_ylabel("intake temperature (degC)")
    ax.set_title("Rack intake temperatures")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return _save(fig, path)


def convergence(path, history) -> Path:
    """Change rates per flow-through time (dimensionless, log scale) against step,
    from ``RunReport.history`` records (``step``, ``rate_velocity``, ``rate_temperature``,
    optionally ``monitor_change`` in K)."""
    if not history:
        raise ValueError("empty convergence history")
    step = np.array([r["step"] for r in history])
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for key, label in (("rate_velocity", "velocity"), ("rate_temperature", "temperature")):
        values = np.array([r[key] for r in history], float)
        ax.semilogy(step, np.where(values > 0, values, np.nan), label=f"{label} change rate")
    if any("monitor_change" in r for r in history):
        change = np.array([r.get("monitor_change", np.nan) for r in history], float)
        ax.semilogy(step, np.where(change > 0, change, np.nan), "--", label="rack intake change per chunk (K)")
    ax.set_xlabel("step")
    ax.set_ylabel("rate (per flow-through time) / change")
    ax.set_title("Convergence history")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def intake_timeseries(path, times_s, series, allowable_max_C: float, recommended_max_C: float | None = None,
                      events=()) -> Path:
    """Maximum intake temperature (degC) of each rack against time (s).

    ``series`` maps rack name to values at ``times_s``; the allowable upper limit
    (and the recommended one if given) is drawn as a horizontal line, ``events``
    (dicts with ``time_s`` and ``name``, or ``cooler``/``action``, or ``rack``/``power_kW``)
    as labelled vertical lines.
    """
    times_s = np.asarray(times_s, float)
    if not series:
        raise ValueError("no intake series to plot")
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, values in series.items():
        values = np.asarray(values, float)
        if values.shape != times_s.shape:
            raise ValueError(f"rack {name}: {values.size} values for {times_s.size} times")
        ax.plot(times_s, values, lw=1.2, label=str(name))
    ax.axhline(allowable_max_C, color="tab:red", lw=1.5, label=f"allowable max {allowable_max_C:g} C")
    if recommended_max_C is not None:
        ax.axhline(recommended_max_C, color="tab:orange", ls="--", lw=1.2,
                   label=f"recommended max {recommended_max_C:g} C")
    for event in events or ():
        t = event.get("time_s", event.get("time"))
        if t is not None:
            ax.axvline(float(t), color="0.4", ls=":", lw=1)
            ax.text(float(t), ax.get_ylim()[1], f" {event_label(event)}", va="top", fontsize=8, rotation=90)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("rack intake max (degC)")
    ax.set_title("Rack intake temperatures during the transient")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, ncol=2 if len(series) > 16 else 1, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, path)
