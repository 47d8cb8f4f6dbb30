"""Where a diverged solution went wrong, and which scenario value probably made it.

A diverging run used to say only "the solution diverged by step N".  Two pure helpers say
more, for the solver to put in its :class:`~thermo.solve.SolverDiverged` message and for
the command line to print:

* :func:`first_non_finite` / :func:`describe_non_finite`: the first quantity (in the order
  velocity x, y, z, pressure, temperature, eddy viscosity, tracers) that holds a NaN or an
  infinity, the first such cell or face (grid indices and coordinates, m) and the object
  there (a rack, a cooler, ...) when the scene has one at or next to it;
* :func:`likely_causes`: scenario values that are accepted (they lie in the plausible
  ranges of :mod:`thermo.scene.schema`) but extreme enough to be the usual suspects: fast
  equipment faces, dense racks, air properties far from air's, strong buoyancy, racks that
  recirculate most of their own exhaust.

A solver that has the state at the failing chunk can raise
``SolverDiverged(f"... {describe_non_finite(model, state)}")``; ``thermo run`` also prints
:func:`likely_causes` of the scene after the message, on stderr.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class NonFinite:
    """The first non-finite value of a set of fields.

    Attributes:
      quantity: the field's name, e.g. ``"temperature"`` or ``"velocity z"``.
      index: its grid index (i, j, k) (cells, or faces along the face axis).
      position: the cell centre or face centre (x, y, z) in m.
      count: how many values of that field are not finite.
    """

    quantity: str
    index: tuple
    position: tuple
    count: int


def _points(grid, shape) -> list[np.ndarray]:
    """Coordinates (m) along each axis of an array of ``shape`` on ``grid``: cell centres, or
    the nodes along an axis where the array has one more entry (a face array)."""
    out = []
    for a, n in enumerate(shape):
        x = np.asarray(grid.nodes[a], float)
        out.append(x if n == len(x) else 0.5 * (x[1:] + x[:-1]))
    return out


def first_non_finite(grid, fields) -> NonFinite | None:
    """The first non-finite value among ``fields`` (name -> array on ``grid``: cell arrays of
    ``grid.shape`` or face arrays of ``grid.face_shape(a)``), in the order given and, within
    a field, in C order; None when every value is finite."""
    for name, values in fields:
        array = np.asarray(values)
        if array.ndim != 3:
            continue
        bad = ~np.isfinite(array)
        if not bad.any():
            continue
        flat = int(np.argmax(bad.reshape(-1)))
        index = tuple(int(i) for i in np.unravel_index(flat, array.shape))
        points = _points(grid, array.shape)
        position = tuple(float(points[a][index[a]]) for a in range(3))
        return NonFinite(name, index, position, int(bad.sum()))
    return None


def state_fields(state) -> list[tuple[str, object]]:
    """(name, array) of every field of a :class:`~thermo.fields.State`, in the order that
    :func:`first_non_finite` looks at them (velocity first: it blows up first)."""
    fields = [(f"velocity {'xyz'[a]}", u) for a, u in enumerate(state.velocity)]
    fields += [("pressure", state.pressure), ("temperature", state.temperature),
               ("eddy viscosity", state.eddy_viscosity)]
    tracers = getattr(state, "tracers", None)
    if tracers is not None and np.ndim(tracers) == 4:
        fields += [(f"tracer {k}", t) for k, t in enumerate(np.asarray(tracers))]
    return fields


def object_at(scene, position, margin: float = 0.0) -> str | None:
    """The scene object (``"rack A01"``, ``"cooler CRAH-1"``, ``"tile T1"``, ...) whose box holds
    ``position`` (m), or lies within ``margin`` (m) of it (the cell layer in front of a face
    belongs to the rack that draws through it); the nearest such; None when there is none."""
    best = None
    boxes = [(f"rack {r.name}", r.position, r.size) for r in scene.racks]
    boxes += [(f"cooler {c.name}", c.position, c.size) for c in scene.coolers]
    boxes += [(f"tank {t.name}", t.position, t.size) for t in scene.tanks]
    boxes += [(f"obstruction {o.name}", o.position, o.size) for o in scene.obstructions]
    boxes += [(f"tile {t.name}", (*t.position, 0.0), (*t.size, 0.0)) for t in scene.tiles]
    for label, lower, size in boxes:
        d = max(max(lower[a] - position[a], position[a] - lower[a] - size[a], 0.0) for a in range(3))
        if d <= margin and (best is None or d < best[0]):
            best = (d, label)
    return None if best is None else best[1]


def describe_non_finite(model, state) -> str | None:
    """A sentence naming the first non-finite quantity of ``state`` on ``model``'s grid, where
    it is and the object there, e.g. ``"velocity z first non-finite at cell (12, 30, 4),
    (3.1, 3.7, 0.5) m, next to rack A03 (118 values)"``; None when everything is finite."""
    grid = model.grid
    found = first_non_finite(grid, state_fields(state))
    if found is None:
        return None
    widths = max(float(np.max(np.diff(np.asarray(x)))) for x in grid.nodes)
    near = object_at(model.scene, found.position, margin=widths)
    where = ", ".join(f"{p:.2f}" for p in found.position)
    kind = "cell" if found.quantity in ("pressure", "temperature", "eddy viscosity") or \
        found.quantity.startswith("tracer") else "face"
    return (f"{found.quantity} first non-finite at {kind} {found.index}, ({where}) m"
            + (f", at {near}" if near else "") + f" ({found.count:,} values)")


#: Air properties of :class:`thermo.scene.schema.Air` by default (dry air near 18 degC).
_AIR = {"density": 1.19, "heat_capacity": 1006.0, "viscosity": 1.5e-5, "expansion": 3.4e-3, "gravity": 9.81}


def likely_causes(scene) -> list[str]:
    """Scenario values, accepted but extreme, that most often make a hall diverge, as
    ``"OBJECT: FIELD: value (why)"`` strings, the most suspicious first; empty for an
    ordinary hall.  Thresholds: a face velocity above 10 m/s, a rack above 100 kW per m^3
    (the densest air-cooled racks are near 80 kW in 1.6 m^3), an air property 10 times
    (density, viscosity, expansion) or 3 times (gravity) off air's, a rack recirculating
    half its own exhaust."""
    from .scene.physical import check_air_speeds

    # equipment faces above 10 m/s (the scene's own warnings, without their "(got ...)")
    out = [w.split(" (got ")[0] for w in check_air_speeds(scene)]
    for r in scene.racks:
        volume = r.size[0] * r.size[1] * r.size[2]
        if r.power / volume > 1e5:
            out.append(f"rack {r.name}: power: {r.power / 1e3:g} kW in {volume:.2g} m^3 of rack "
                       f"({r.power / volume / 1e3:.0f} kW/m^3, the densest real racks are near 50)")
        if r.blanking_leakage >= 0.5:
            out.append(f"rack {r.name}: blanking_leakage: {r.blanking_leakage:g} (most of its exhaust comes "
                       "straight back to its intake)")
    air = scene.air
    for name, usual in _AIR.items():
        value = getattr(air, name)
        factor = 3.0 if name == "gravity" else 10.0
        if value > 0 and (value > usual * factor or value < usual / factor):
            out.append(f"air: {name}: {value:g} (air's is {usual:g})")
    return out
