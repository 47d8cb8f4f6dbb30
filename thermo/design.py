"""Named design parameters, differentiable hall solves and batched what-ifs.

>>> import jax, thermo
>>> scene = thermo.load("geometries/hall-small.yaml", cell_size=0.6)        # doctest: +SKIP
>>> params = scene.parameters()          # {"rack.A01.power": 8000.0, "tile.cold-aisle.temperature": 18.0, ...}
>>> result = thermo.solve(scene)                                               # doctest: +SKIP
>>> result.rack_inlet_max                 # degC, one per rack in scenario order   # doctest: +SKIP
>>> def hottest(p):
...     return thermo.solve(scene.with_parameters(p)).rack_inlet_max.max()
>>> gradient = jax.grad(hottest)(params)                                       # doctest: +SKIP

Parameter kinds (name ``"<object kind>.<object name>.<field>"``, units SI, degC):

========================== ================================ ===========================================
kind                       objects                          what it changes
========================== ================================ ===========================================
``supply_temperature``     coolers (degC)                   supply setpoint read by the coupling
``flow``                   coolers, inflow tiles (m^3/s)    return sink, supply source and jet; tile inflow
``temperature``            inflow tiles (degC)              the tile's inflow temperature
``open_fraction``          plenum tiles (0..1)              floor face open fraction and loss
``power``                  racks (W)                        exhaust temperature; air flow by its rule
``position``               movable racks and coolers (m)    lower-corner coordinate along the row
``height``                 containment (m)                  panel and door height, roof plane
========================== ================================ ===========================================

The grid is generated once from the base scene and held fixed (a
:class:`DesignModel` per scene, cell size, precision and set of movable
objects).  Parameters move objects only through field values (exact overlap
fractions written with ``jax.numpy``, :mod:`thermo.scene.movable`), so every
variant shares one compiled steady solve and its adjoint
(:func:`thermo.adjoint.steady_state`).  Equipment values the per-step
coupling reads (rack powers and flows, cooler flows and setpoints, intake
and return weights) travel in ``Problem.equipment``, so gradients reach them.

Positions are parameters only for objects declared movable
(``thermo.load(path, movable=["rack.A06"])`` or the ``optimize:`` section);
their travel is the free space along the row (up to the next solid), or
the bounds given.  Liquid-cooling parameters (rear-door and cold-plate
water flow and temperature) plug in through :data:`EXTENSIONS`: a kind
that contributes to the problem adds an entry there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from . import hall
from .adjoint import SteadyOptions, steady_state
from .equipment import cooler as cooler_model
from .equipment import rack as rack_model
from .equipment.assembly import FieldArrays
from .equipment.containment import build_containment
from .equipment.faces import box_face_layer, face_normal, facing_axis, plane_layer
from .equipment.leakage import build_floor
from .equipment.obstruction import build_obstructions
from .equipment.openings import build_openings
from .equipment.tiles import build_tiles, perforated_plate_loss
from .fields import State
from .grid import AXES
from .problem import Problem
from .scene import ScenarioError
from .scene import load as _load_scene
from .scene.gridgen import generate_grid
from .scene.load import Scene, return_face, return_from, supply_face
from .scene.movable import box_face_cover, box_solid, candidate_layer, plane_cover
from .scene.rasterize import nearest_node, plane_coverage
from .solve import Numerics, RunReport

UNITS = {"supply_temperature": "degC", "flow": "m^3/s", "temperature": "degC", "open_fraction": "-",
         "power": "W", "position": "m", "height": "m"}

# kind -> callable(model, values, pieces) adding a kind's contribution; filled by later equipment (liquid cooling)
EXTENSIONS: dict = {}


@dataclass(frozen=True)
class Parameter:
    """One named design parameter.

    Attributes:
      name: ``"<object kind>.<object name>.<field>"``, e.g. ``"cooler.CRAH-W.flow"``.
      kind: the field (see the module table); obj_kind, obj_name: the object.
      value: the base scenario's value (SI, degC); unit: its unit.
      lower, upper: the range in which the model is valid (physical limits, travel).
    """

    name: str
    kind: str
    obj_kind: str
    obj_name: str
    value: float
    unit: str
    lower: float
    upper: float


def _parameter_list(scene: Scene, movable: dict) -> list[Parameter]:
    out = []
    for c in scene.coolers:
        out.append(Parameter(f"cooler.{c.name}.supply_temperature", "supply_temperature", "cooler", c.name,
                             c.supply_temperature, "degC", 5.0, 35.0))
        out.append(Parameter(f"cooler.{c.name}.flow", "flow", "cooler", c.name, c.flow, "m^3/s",
                             0.05 * c.flow, 3.0 * c.flow))
    for t in scene.tiles:
        if scene.raised_floor is not None:
            out.append(Parameter(f"tile.{t.name}.open_fraction", "open_fraction", "tile", t.name, t.open_fraction,
                                 "-", 0.02, 0.98))
        else:
            out.append(Parameter(f"tile.{t.name}.flow", "flow", "tile", t.name, t.flow, "m^3/s", 0.0, 10 * t.flow))
            out.append(Parameter(f"tile.{t.name}.temperature", "temperature", "tile", t.name, t.temperature, "degC",
                                 5.0, 35.0))
    for r in scene.racks:
        out.append(Parameter(f"rack.{r.name}.power", "power", "rack", r.name, r.power, "W", 0.0, 1e6))
    for c in scene.containment:
        out.append(Parameter(f"containment.{c.name}.height", "height", "containment", c.name, c.height, "m",
                             0.5, scene.room_size[2]))
    for key, (axis, lo, hi) in movable.items():
        kind, name = key.split(".", 1)
        obj = _find(scene, kind, name)
        out.append(Parameter(f"{key}.position", "position", kind, name, float(obj.position[axis]), "m", lo, hi))
    return out


def _find(scene: Scene, kind: str, name: str):
    group = {"rack": scene.racks, "cooler": scene.coolers, "tile": scene.tiles, "containment": scene.containment}
    for obj in group.get(kind, ()):
        if obj.name == name:
            return obj
    raise ScenarioError(f"{kind} {name}", "", f"no {kind} named {name!r} in the scenario")


def row_axis(obj) -> int:
    """The horizontal axis along which a rack or cooler moves: perpendicular to its facing."""
    return 1 - facing_axis(obj.facing)[0]


def _solid_boxes(scene: Scene, exclude: str):
    boxes = []
    for kind, group in (("rack", scene.racks), ("cooler", scene.coolers)):
        for o in group:
            if f"{kind}.{o.name}" != exclude:
                boxes.append((f"{kind} {o.name}", np.asarray(o.position, float), np.asarray(o.size, float)))
    for o in scene.obstructions:
        if o.blockage >= 1.0:
            boxes.append((f"obstruction {o.name}", np.asarray(o.position, float), np.asarray(o.size, float)))
    for t in scene.tiles:
        boxes.append((f"tile {t.name}", np.array([*t.position, -1e-6]), np.array([*t.size, 2e-6])))
    return boxes


def travel(scene: Scene, key: str, bounds=None) -> tuple[int, float, float]:
    """(axis, lowest, highest lower-corner coordinate (m)) of the movable object ``key``
    (``"rack.NAME"`` or ``"cooler.NAME"``): the free space along its row, narrowed to ``bounds``."""
    kind, _, name = key.partition(".")
    if kind not in ("rack", "cooler"):
        raise ScenarioError(key, "position", "only racks and coolers move (give rack.NAME or cooler.NAME)")
    obj = _find(scene, kind, name)
    a = row_axis(obj)
    lo_box, size = np.asarray(obj.position, float), np.asarray(obj.size, float)
    hi_box = lo_box + size
    lo, hi = 0.0, scene.room_size[a] - size[a]
    for label, p, s in _solid_boxes(scene, key):
        others = [b for b in AXES if b != a]
        if all(min(hi_box[b], p[b] + s[b]) - max(lo_box[b], p[b]) > 1e-9 for b in others):
            if p[a] + s[a] <= lo_box[a] + 1e-9:
                lo = max(lo, p[a] + s[a])
            elif p[a] >= hi_box[a] - 1e-9:
                hi = min(hi, p[a] - size[a])
            else:
                raise ScenarioError(f"{kind} {name}", "position", f"overlaps {label}")
    if bounds is not None:
        b_lo, b_hi = float(bounds[0]), float(bounds[1])
        if b_lo < lo - 1e-9 or b_hi > hi + 1e-9 or b_lo > lo_box[a] + 1e-9 or b_hi < lo_box[a] - 1e-9:
            raise ScenarioError(f"{kind} {name}", "position", f"bounds {b_lo:g}..{b_hi:g} m must contain the "
                                f"current {lo_box[a]:g} m and stay within the free travel {lo:g}..{hi:g} m "
                                f"along {'xy'[a]}")
        lo, hi = b_lo, b_hi
    if hi - lo < 1e-6:
        raise ScenarioError(f"{kind} {name}", "position", f"has no free space to move along {'xy'[a]} "
                            "(its neighbours touch it)")
    return a, float(lo), float(hi)


# ---------------------------------------------------------------------------------
# the scene with parameters
# ---------------------------------------------------------------------------------

class DesignScene:
    """A scenario with named, continuous design parameters (see module docstring).

    Built by :func:`load`.  Immutable: :meth:`with_parameters` returns a new one that
    shares the compiled model.  Values may be JAX tracers (inside ``jax.grad``).
    """

    def __init__(self, scene: Scene, cell_size: float | None = None, movable=None, values=None, _cache=None):
        # the design model assembles the air-side equipment only; rather than a silently
        # different answer, liquid cooling is refused until its parameters are wired in
        for r in scene.racks:
            for field in ("rear_door", "liquid"):
                if getattr(r, field, None) is not None:
                    raise ScenarioError(f"rack {r.name}", field, "design gradients (thermo.load/thermo.solve) do not "
                                        "cover rear doors and cold plates yet; use thermo run for this scenario")
        if getattr(scene, "tanks", ()):
            raise ScenarioError(f"tank {scene.tanks[0].name}", "", "design gradients do not cover immersion tanks "
                                "yet; use thermo run for this scenario")
        self.scene = scene
        self.cell_size = cell_size
        movable = dict(movable or {})
        self.movable = {}
        for key, bounds in movable.items():
            self.movable[key] = travel(scene, key, bounds)
        self.specs = {p.name: p for p in _parameter_list(scene, self.movable)}
        self.values = dict(values) if values is not None else {k: p.value for k, p in self.specs.items()}
        self._cache = {} if _cache is None else _cache

    @property
    def name(self) -> str:
        return self.scene.name

    def parameters(self, kinds=None, dtype=None) -> dict:
        """Current parameter values as a dict of 0-d arrays (name -> value, SI/degC),
        optionally only the ``kinds`` given (e.g. ``("power",)``)."""
        out = {}
        for k, p in self.specs.items():
            if kinds is None or p.kind in kinds:
                out[k] = jnp.asarray(self.values[k], dtype) if dtype is not None else jnp.asarray(self.values[k])
        return out

    def bounds(self, names=None) -> dict:
        """(lower, upper) of each parameter: travel for positions, physical limits otherwise."""
        return {k: (self.specs[k].lower, self.specs[k].upper) for k in (names or self.specs)}

    def with_parameters(self, params: dict) -> "DesignScene":
        """The same scene with some parameter values replaced (names from :meth:`parameters`)."""
        for k in params:
            if k not in self.specs:
                close = [n for n in self.specs if n.split(".")[-1] == k.split(".")[-1]][:5]
                raise ScenarioError("parameters", k, "unknown parameter" +
                                    (f"; parameters of that kind: {', '.join(close)}" if close else ""))
        new = DesignScene.__new__(DesignScene)
        new.scene, new.cell_size, new.movable, new.specs = self.scene, self.cell_size, self.movable, self.specs
        new.values = {**self.values, **params}
        new._cache = self._cache
        return new

    def with_solver(self, **changes) -> "DesignScene":
        """The same design with ``solver:`` settings replaced (e.g. ``limiter="upwind"``),
        validated as in a scenario file (:meth:`thermo.scene.Scene.with_solver`; a bad value
        raises :class:`~thermo.scene.ScenarioError` naming ``solver.<field>``).  Parameters,
        their values and the movable objects are kept; the model is built afresh, since the
        numerics are part of it."""
        new = DesignScene.__new__(DesignScene)
        new.scene = self.scene.with_solver(**changes)
        new.cell_size, new.movable, new.specs = self.cell_size, self.movable, self.specs
        new.values = dict(self.values)
        new._cache = {}
        return new

    def model(self, dtype=np.float32) -> "DesignModel":
        """The (cached) :class:`DesignModel` of this scene at ``dtype``."""
        key = np.dtype(dtype).name
        if key not in self._cache:
            self._cache[key] = DesignModel(self.scene, self.cell_size, self.movable, dtype)
        return self._cache[key]

    def concrete_values(self) -> dict:
        """Parameter values as Python floats (fails inside ``jax.grad``)."""
        return {k: float(v) for k, v in self.values.items()}

    def to_scene(self) -> Scene:
        """A plain :class:`~thermo.scene.Scene` with the current (concrete) values applied."""
        return apply_values(self.scene, self.specs, self.concrete_values())


def apply_values(scene: Scene, specs: dict, values: dict) -> Scene:
    """``scene`` with parameter ``values`` (floats) written into its objects."""
    racks, coolers = list(scene.racks), list(scene.coolers)
    tiles, containment = list(scene.tiles), list(scene.containment)
    groups = {"rack": racks, "cooler": coolers, "tile": tiles, "containment": containment}
    for name, value in values.items():
        p = specs[name]
        group = groups[p.obj_kind]
        k = next(i for i, o in enumerate(group) if o.name == p.obj_name)
        obj = group[k]
        if p.kind == "position":
            pos = list(obj.position)
            pos[row_axis(obj)] = value
            update = {"position": tuple(pos)}
        elif p.kind == "supply_temperature":
            update = {"supply_temperature": value}
        elif p.kind == "flow" and p.obj_kind == "cooler":
            update = {"flow": value, "rated_flow": obj.rated_flow if obj.rated_flow is not None else obj.flow}
        else:
            update = {p.kind: value}
        group[k] = obj.model_copy(update=update)
    return replace(scene, racks=tuple(racks), coolers=tuple(coolers), tiles=tuple(tiles),
                   containment=tuple(containment))


def load(path, cell_size: float | None = None, movable=None) -> DesignScene:
    """Load a scenario for design work.

    Args:
      path: scenario file (YAML).
      cell_size: maximum cell size (m) of the fixed design grid (default the scenario's).
      movable: objects whose position along their row is a parameter: a list of
        ``"rack.NAME"`` / ``"cooler.NAME"`` or a dict of them to (lower, upper) bounds (m)
        of the lower-corner coordinate.
    """
    scene = _load_scene(path)
    if movable is not None and not isinstance(movable, dict):
        movable = {k: None for k in movable}
    return DesignScene(scene, cell_size, movable)


# ---------------------------------------------------------------------------------
# the model: fixed grid, background fields, parameter -> problem
# ---------------------------------------------------------------------------------

def _assemble(scene: Scene, grid, floor_eps: float | None = None):
    """hall.build's rasterization on a given grid; returns a dict of the pieces.

    ``floor_eps``: the raised floor's leakage open fraction to use (that of the full
    scene when ``scene`` is the background without the movable objects, whose
    footprints would otherwise change the free floor area it is spread over)."""
    fields = FieldArrays(grid, scene.air.reference_temperature)
    racks, rack_layers = rack_model.build_racks(scene, fields)
    coolers, cooler_layers = cooler_model.build_coolers(scene, fields)
    build_obstructions(scene, fields)
    eps = build_floor(scene, fields)
    k0 = nearest_node(grid, 2, 0.0)
    if floor_eps is not None and scene.raised_floor is not None:
        eps = floor_eps
        free = fields.floor_free
        fields.open[2][:, :, k0] = free * eps
        delta = float(np.asarray(grid.centre_spacing(2))[k0])
        k_jet = float(perforated_plate_loss(eps)) * eps**2 if eps > 0 else 0.0
        fields.resistance_quadratic[2][:, :, k0] = np.where(free > 0, k_jet / (2.0 * delta), 0.0)
    floor_open = fields.open[2][:, :, k0].copy()
    floor_res = fields.resistance_quadratic[2][:, :, k0].copy()
    tiles = build_tiles(scene, fields)
    openings = build_openings(scene, fields)
    build_containment(scene, fields)
    return dict(fields=fields, racks=racks, rack_layers=rack_layers, coolers=coolers, cooler_layers=cooler_layers,
                tiles=tiles, openings=openings, eps=eps, floor_open=floor_open, floor_res=floor_res,
                floor_free=getattr(fields, "floor_free", None))


@dataclass(frozen=True)
class _LayerSpec:
    """A flow layer of one object: fixed cells, per-cell 1/volume and jet factors, areas."""

    cells: np.ndarray
    inv_volume: np.ndarray
    far_faces: np.ndarray
    jet_factor: np.ndarray     # sign / (centre spacing x full face area) at the far face (1/m^3)
    axis: int
    base_areas: np.ndarray | None   # fixed objects
    candidate: object | None         # movable objects (CandidateLayer)

    def areas(self, grid, lower, upper):
        if self.candidate is None:
            return jnp.asarray(self.base_areas)
        return self.candidate.areas(grid, lower, upper)


def _layer_spec(grid, layer=None, candidate=None) -> _LayerSpec:
    src = layer if layer is not None else candidate
    vol = np.asarray(grid.cell_volume()).reshape(-1)[src.cells]
    ijk = np.unravel_index(src.far_faces, grid.face_shape(src.axis))
    spacing = np.asarray(grid.centre_spacing(src.axis))[ijk[src.axis]]
    full = np.broadcast_to(np.asarray(grid.face_area(src.axis)), grid.face_shape(src.axis))[ijk]
    return _LayerSpec(cells=src.cells, inv_volume=1.0 / vol, far_faces=src.far_faces,
                      jet_factor=src.sign / (spacing * full), axis=src.axis,
                      base_areas=None if layer is None else layer.areas, candidate=candidate)


def _face_layer(grid, obj, face, swept=None, ceiling=None):
    """Layer (fixed) or candidate layer (``swept`` = (lower, upper) of the travel box) of a box face."""
    lower = np.asarray(obj.position, float)
    upper = lower + np.asarray(obj.size, float)
    if ceiling is not None:
        axis, sign, coordinate = 2, 1, ceiling
    else:
        axis, sign = face_normal(face, obj.facing)
        coordinate = upper[axis] if sign > 0 else lower[axis]
    if swept is None:
        if ceiling is not None:
            return _layer_spec(grid, layer=plane_layer(grid, 2, ceiling, +1, lower, upper))
        return _layer_spec(grid, layer=box_face_layer(grid, obj.position, obj.size, face, obj.facing))
    return _layer_spec(grid, candidate=candidate_layer(grid, axis, coordinate, sign, *swept))


class DesignModel:
    """A scene on a fixed grid, as a differentiable map from parameter values to a
    :class:`~thermo.problem.Problem` (:meth:`problem`), with the coupling and numerics of
    its steady solve.  Built once per scene, cell size, movable set and precision."""

    def __init__(self, scene: Scene, cell_size, movable: dict, dtype):
        for c in scene.coolers:
            if c.control == "return":
                raise ScenarioError(f"cooler {c.name}", "control", "return-temperature control runs between "
                                    "compiled chunks and has no gradient; use control: supply for design work")
        if scene.events:
            raise ScenarioError("events", "", "design solves are steady: remove the events (and transient:)")
        self.scene, self.movable, self.dtype = scene, dict(movable), np.dtype(dtype)
        self.grid = generate_grid(scene, cell_size)
        grid = self.grid
        self.full = _assemble(scene, grid)
        moving = set(self.movable)
        self.height_params = {c.name for c in scene.containment}
        if moving or scene.containment:
            background_scene = replace(
                scene, racks=tuple(r for r in scene.racks if f"rack.{r.name}" not in moving),
                coolers=tuple(c for c in scene.coolers if f"cooler.{c.name}" not in moving), containment=())
            self.background = _assemble(background_scene, grid, floor_eps=self.full["eps"])
        else:
            self.background = self.full
        self.fluid = hall.fluid_of(scene)
        self.base_problem = self.background["fields"].to_problem(self.fluid, self.dtype)
        full_model = self.full
        self.numerics_base = Numerics(
            turbulence=scene.solver.turbulence, cfl=scene.solver.cfl, limiter=scene.solver.limiter,
            pseudo_time=scene.solver.pseudo_time,
            max_dt=scene.solver.cfl * hall._largest_cell(grid) / max(hall._equipment_speed(scene, full_model["fields"]),
                                                                     0.1))
        self._build_racks()
        self._build_coolers()
        self._build_tiles()
        self.coupling = hall.make_coupling(self.racks, self.coolers, self.tiles, self.full["openings"], None)

    # -- equipment sets the coupling indexes ------------------------------------------------
    def _swept(self, key, obj):
        axis, lo, hi = self.movable[key]
        lower = np.asarray(obj.position, float).copy()
        upper = lower + np.asarray(obj.size, float)
        lower[axis], upper[axis] = lo, hi + obj.size[axis]
        return lower, upper

    def _build_racks(self):
        scene, grid = self.scene, self.grid
        intake, exhaust = [], []
        layers = self.full["rack_layers"]
        for k, r in enumerate(scene.racks):
            key = f"rack.{r.name}"
            if key in self.movable:
                swept = self._swept(key, r)
                intake.append(_face_layer(grid, r, "front", swept))
                exhaust.append(_face_layer(grid, r, "back", swept))
            else:
                intake.append(_layer_spec(grid, layer=layers[k][0]))
                exhaust.append(_layer_spec(grid, layer=layers[k][1]))
        self.rack_intake, self.rack_exhaust = intake, exhaust
        full = self.full["racks"]
        cat = lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)  # noqa: E731
        self.racks = rack_model.RackSet(
            intake_cells=cat([l.cells for l in intake], np.int64),
            intake_weight=cat([np.ones(len(l.cells)) for l in intake], float),
            intake_rack=cat([np.full(len(l.cells), k) for k, l in enumerate(intake)], np.int32),
            exhaust_cells=cat([l.cells for l in exhaust], np.int64),
            exhaust_rack=cat([np.full(len(l.cells), k) for k, l in enumerate(exhaust)], np.int32),
            flow=full.flow, power=full.power, leakage=full.leakage)

    def _build_coolers(self):
        scene, grid = self.scene, self.grid
        lz = scene.room_size[2]
        ret_layers, sup_layers = [], []
        layers = self.full["cooler_layers"]
        for k, c in enumerate(scene.coolers):
            key = f"cooler.{c.name}"
            ceiling = lz if return_from(scene, c) == "ceiling_plenum" else None
            if key in self.movable:
                swept = self._swept(key, c)
                ret_layers.append(_face_layer(grid, c, return_face(c), swept, ceiling=ceiling))
                sup_layers.append(_face_layer(grid, c, supply_face(c), swept))
            else:
                ret_layers.append(_layer_spec(grid, layer=layers[k][0]))
                sup_layers.append(_layer_spec(grid, layer=layers[k][1]))
        self.cooler_return, self.cooler_supply = ret_layers, sup_layers
        full = self.full["coolers"]
        cat = lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)  # noqa: E731
        self.coolers = replace(
            full, return_cells=cat([l.cells for l in ret_layers], np.int64),
            return_weight=cat([np.ones(len(l.cells)) for l in ret_layers], float),
            return_unit=cat([np.full(len(l.cells), k) for k, l in enumerate(ret_layers)], np.int32),
            supply_cells=cat([l.cells for l in sup_layers], np.int64),
            supply_unit=cat([np.full(len(l.cells), k) for k, l in enumerate(sup_layers)], np.int32),
            supply_probe=np.array([l.cells[0] for l in sup_layers], np.int64))

    def _build_tiles(self):
        scene, grid = self.scene, self.grid
        self.tiles = self.full["tiles"]
        self.k0 = nearest_node(grid, 2, 0.0)
        k0 = self.k0
        self.tile_faces = []      # per tile: (i, j) indices on the floor plane and cover
        for t in scene.tiles:
            lower = (t.position[0], t.position[1], 0.0)
            upper = (t.position[0] + t.size[0], t.position[1] + t.size[1], 0.0)
            cover = plane_coverage(grid, 2, lower, upper)
            ij = np.nonzero(cover > 0)
            self.tile_faces.append((ij, cover[ij], cover > 0))
        self.delta = float(np.asarray(grid.centre_spacing(2))[k0])
        self.delta_above = float(np.asarray(grid.centre_spacing(2))[min(k0 + 1, grid.shape[2])])

    # -- values -> problem ----------------------------------------------------------------
    def rack_flows(self, powers):
        """Server air flow (m^3/s) per rack from its airflow rule at ``powers`` (W)."""
        air = self.scene.air
        out = []
        for r, p in zip(self.scene.racks, powers):
            a = r.airflow
            if a.flow is not None:
                out.append(jnp.asarray(a.flow, jnp.asarray(p).dtype) + 0.0 * p)
            elif a.flow_per_kw is not None:
                out.append(a.flow_per_kw * p)
            else:
                out.append(p / (air.density * air.heat_capacity * a.design_rise))
        return jnp.stack(out) if out else jnp.zeros(0)

    def _box(self, key, obj, values):
        lower = jnp.asarray(np.asarray(obj.position, float))
        if key in self.movable:
            axis = self.movable[key][0]
            lower = lower.at[axis].set(values[f"{key}.position"])
        return lower, lower + jnp.asarray(np.asarray(obj.size, float))

    def problem(self, values: dict) -> Problem:
        """The :class:`~thermo.problem.Problem` (run precision) for parameter ``values``
        (a complete dict name -> scalar; jnp ops only, so differentiable)."""
        scene, grid = self.scene, self.grid
        base = self.base_problem
        dtype = self.dtype
        v = {k: jnp.asarray(x, dtype) for k, x in values.items()}
        fluid = jnp.asarray(base.geometry.fluid, dtype)
        opens = [jnp.asarray(o, dtype) for o in base.geometry.open]
        mass = jnp.asarray(base.sources.mass, dtype).reshape(-1)
        momentum = [jnp.asarray(m, dtype).reshape(-1) for m in base.sources.momentum]
        resistance = [jnp.asarray(r, dtype) for r in base.sources.resistance_quadratic]

        # movable boxes: solid cells and closed faces
        boxes = {}
        for kind, group in (("rack", scene.racks), ("cooler", scene.coolers)):
            for o in group:
                key = f"{kind}.{o.name}"
                lower, upper = self._box(key, o, v)
                boxes[key] = (lower, upper)
                if key in self.movable:
                    fluid = fluid * (1.0 - box_solid(grid, lower, upper))
                    fixed_lower = np.asarray(o.position, float)
                    cover = box_face_cover(grid, lower, upper, self.movable[key][0], fixed_lower,
                                           fixed_lower + np.asarray(o.size, float))
                    opens = [o_ * (1.0 - c) for o_, c in zip(opens, cover)]

        # containment panels (all containment heights are parameters)
        for c in scene.containment:
            opens = self._containment(opens, c, v[f"containment.{c.name}.height"])

        # plenum tiles: floor face open fraction and loss
        equipment = {}
        jet_coef = []
        if scene.raised_floor is not None and scene.tiles:
            k0 = self.k0
            plane_open, plane_res = opens[2][:, :, k0], resistance[2][:, :, k0]
            free = jnp.asarray(self.full["floor_free"], dtype)
            before_open = jnp.asarray(self.background["floor_open"], dtype)
            before_res = jnp.asarray(self.background["floor_res"], dtype)
            for t, (ij, cov, _) in zip(scene.tiles, self.tile_faces):
                f = v[f"tile.{t.name}.open_fraction"]
                cov = jnp.asarray(cov, dtype)
                new_open = (1.0 - cov) * before_open[ij] + cov * f * free[ij]
                new_open = jnp.where(new_open < 1e-6, 0.0, new_open)
                kf2 = (t.loss_coefficient * f**2 if t.loss_coefficient is not None else
                       1.0 + 0.5 * (1.0 - f) ** 0.75 + 1.414 * (1.0 - f) ** 0.375)
                res = jnp.where(new_open > 0, cov * kf2 / (2.0 * self.delta) + (1.0 - cov) * before_res[ij], 0.0)
                plane_open = plane_open.at[ij].set(new_open)
                plane_res = plane_res.at[ij].set(res)
                if t.jet_momentum and k0 + 1 < grid.shape[2]:
                    jet_coef.append(new_open * (1.0 - new_open) / self.delta_above)
            opens[2] = opens[2].at[:, :, k0].set(plane_open)
            resistance[2] = resistance[2].at[:, :, k0].set(plane_res)
        if jet_coef:
            equipment["tile_jet_coefficient"] = jnp.concatenate(jet_coef)

        # inflow tiles: flow and temperature on the floor boundary plane
        boundaries = base.boundaries
        if scene.raised_floor is None and scene.tiles:
            plane = boundaries.plane(2, 0)
            velocity = jnp.asarray(plane.velocity, dtype)
            temperature = jnp.asarray(plane.temperature, dtype)
            mom_z = momentum[2].reshape(grid.face_shape(2))
            for t, (ij, cov, mask) in zip(scene.tiles, self.tile_faces):
                area = float(np.sum(_plane_area(grid, t)))
                speed0 = t.flow / area
                speed = v[f"tile.{t.name}.flow"] / area
                velocity = jnp.where(mask, speed, velocity)
                temperature = jnp.where(mask, v[f"tile.{t.name}.temperature"], temperature)
                if t.jet_momentum and grid.shape[2] > 1:
                    extra = jnp.asarray(cov, dtype) * (speed**2 - speed0**2) * (1.0 / t.open_fraction - 1.0)
                    mom_z = mom_z.at[ij[0], ij[1], 1].add(extra / self.delta_above)
            momentum[2] = mom_z.reshape(-1)
            boundaries = boundaries.with_plane(2, 0, replace(plane, velocity=velocity, temperature=temperature))

        # racks: flows by their rule, sinks and sources over their layers, exhaust jets
        powers = jnp.stack([v[f"rack.{r.name}.power"] for r in scene.racks]) if scene.racks else jnp.zeros(0, dtype)
        flows = self.rack_flows(powers) if scene.racks else jnp.zeros(0, dtype)
        base_flows = self.full["racks"].flow
        weights = []
        for k, r in enumerate(scene.racks):
            key = f"rack.{r.name}"
            moving = key in self.movable
            lower, upper = boxes[key]
            room = flows[k] * (1.0 - r.blanking_leakage)
            room0 = 0.0 if moving else base_flows[k] * (1.0 - r.blanking_leakage)
            a_in = self.rack_intake[k].areas(grid, lower, upper).astype(dtype)
            a_out = self.rack_exhaust[k].areas(grid, lower, upper).astype(dtype)
            mass, momentum = _add_layer_flow(mass, momentum, self.rack_intake[k], a_in, -room, -room0, jet=False)
            mass, momentum = _add_layer_flow(mass, momentum, self.rack_exhaust[k], a_out, room, room0, jet=True)
            weights.append(a_in)
        if scene.racks:
            equipment.update(rack_power=powers, rack_flow=flows.astype(dtype),
                             rack_intake_weight=jnp.concatenate(weights))

        # coolers: flows and setpoints
        if scene.coolers:
            cflows = jnp.stack([v[f"cooler.{c.name}.flow"] for c in scene.coolers])
            setpoints = jnp.stack([v[f"cooler.{c.name}.supply_temperature"] for c in scene.coolers])
            rweights = []
            for k, c in enumerate(scene.coolers):
                key = f"cooler.{c.name}"
                moving = key in self.movable
                lower, upper = boxes[key]
                q0 = 0.0 if moving else c.flow
                a_ret = self.cooler_return[k].areas(grid, lower, upper).astype(dtype)
                a_sup = self.cooler_supply[k].areas(grid, lower, upper).astype(dtype)
                mass, momentum = _add_layer_flow(mass, momentum, self.cooler_return[k], a_ret, -cflows[k], -q0,
                                                 jet=False)
                mass, momentum = _add_layer_flow(mass, momentum, self.cooler_supply[k], a_sup, cflows[k], q0,
                                                 jet=True)
                rweights.append(a_ret)
            equipment.update(cooler_flow=cflows, cooler_setpoint=setpoints,
                             cooler_return_weight=jnp.concatenate(rweights))

        for kind, contribute in EXTENSIONS.items():
            pieces = dict(opens=opens, fluid=fluid, mass=mass, momentum=momentum, equipment=equipment)
            contribute(self, v, pieces)
            opens, fluid, mass, momentum = pieces["opens"], pieces["fluid"], pieces["mass"], pieces["momentum"]

        opens = tuple(jnp.where(o < 1e-6, 0.0, o) for o in opens)
        fluid = jnp.where(fluid < 1e-6, 0.0, fluid)
        sources = replace(base.sources, mass=mass.reshape(grid.shape),
                          momentum=tuple(m.reshape(grid.face_shape(a)) for a, m in enumerate(momentum)),
                          resistance_quadratic=tuple(resistance))
        problem = Problem(grid=base.grid, fluid=base.fluid, boundaries=boundaries,
                          geometry=replace(base.geometry, open=opens, fluid=fluid), sources=sources,
                          equipment=equipment or None)
        return problem.astype(dtype)

    def _containment(self, opens, c, height):
        """``opens`` with the panels of containment ``c`` at ``height`` (m): sides and doors cover
        the floor up to it (exact in-plane overlap); the roof is shared by the two grid planes
        around it with hat-function weights (all of it on a plane it sits on)."""
        grid = self.grid
        dtype = opens[0].dtype
        x0, y0 = c.position
        lower = (x0, y0, 0.0)
        upper = (x0 + c.size[0], y0 + c.size[1], height)
        long_axis = 0 if c.size[0] >= c.size[1] else 1
        short_axis = 1 - long_axis
        closed = 1.0 - c.leakage
        opens = list(opens)

        def panel(axis, coordinate):
            k = nearest_node(grid, axis, coordinate)
            cover = plane_cover(grid, axis, lower, upper).astype(dtype)
            face = jnp.take(opens[axis], k, axis=axis) * (1.0 - closed * cover)
            index = [slice(None)] * 3
            index[axis] = k
            opens[axis] = opens[axis].at[tuple(index)].set(face)

        if c.ends:
            for coordinate in (lower[long_axis], upper[long_axis]):
                panel(long_axis, coordinate)
        if c.sides:
            for coordinate in (lower[short_axis], upper[short_axis]):
                panel(short_axis, coordinate)
        if c.roof:
            z = jnp.asarray(np.asarray(grid.nodes[2], float), dtype)
            left = jnp.concatenate([jnp.full(1, jnp.inf, dtype), z[1:] - z[:-1]])
            right = jnp.concatenate([z[1:] - z[:-1], jnp.full(1, jnp.inf, dtype)])
            weight = jnp.clip(jnp.where(height >= z, 1.0 - (height - z) / right, 1.0 - (z - height) / left), 0.0, 1.0)
            cover = plane_cover(grid, 2, lower, upper).astype(dtype)
            opens[2] = opens[2] * (1.0 - closed * cover[:, :, None] * weight[None, None, :])
        return opens


def _plane_area(grid, tile):
    from .scene.rasterize import plane_area
    return plane_area(grid, 2, (tile.position[0], tile.position[1], 0.0),
                      (tile.position[0] + tile.size[0], tile.position[1] + tile.size[1], 0.0))


def _add_layer_flow(mass, momentum, spec: _LayerSpec, areas, flow, background_flow, jet: bool):
    """Add a volume flow (m^3/s; > 0 source) spread over a layer's face areas, minus the
    ``background_flow`` the background fields already hold there, and (``jet``) the jet
    acceleration that gives the injected air its face velocity."""
    total = jnp.sum(areas)
    share = areas / total
    inv_v = jnp.asarray(spec.inv_volume, areas.dtype)
    # cast: a float64 parameter (under x64) must not be scattered into a float32 model
    mass = mass.at[spec.cells].add(((flow - background_flow) * share * inv_v).astype(mass.dtype))
    if jet:
        factor = jnp.asarray(spec.jet_factor, areas.dtype)
        accel = (flow * flow - background_flow * background_flow) / total * share * factor
        momentum = list(momentum)
        momentum[spec.axis] = momentum[spec.axis].at[spec.far_faces].add(accel.astype(momentum[spec.axis].dtype))
    return mass, momentum


# ---------------------------------------------------------------------------------
# solving
# ---------------------------------------------------------------------------------

def default_options(dtype) -> SteadyOptions:
    """Steady and adjoint tolerances fit for gradients: float64 change rates below 1e-8;
    float32 below 1e-5 (with compensated temperature updates and 1e-6 pressure solves the
    tiny test hall's float32 floor is about 9e-6, set by the velocity; a weak sensitivity
    such as d(inlet)/d(cooler position) needs it: 6e-3 off at 1e-5 against 8e-2 at 1e-4;
    see docs/gradients.md)."""
    if np.dtype(dtype) == np.float64:
        return SteadyOptions(max_steps=40000, tol=1e-8, chunk=100, adjoint_tol=1e-7)
    return SteadyOptions(max_steps=40000, tol=1e-5, chunk=100, adjoint_tol=1e-4)


def numerics_for(model: DesignModel) -> Numerics:
    # float32: at 1e-5 the pressure solves leave a velocity floor of change rates near 3e-5,
    # above the steady tolerance of default_options (docs/gradients.md)
    poisson_tol = 1e-10 if model.dtype == np.float64 else 1e-6
    return replace(model.numerics_base, poisson_tol=poisson_tol, poisson_max_iter=200)


def _outputs(model: DesignModel, problem: Problem, state: State) -> dict:
    """Rack, cooler and tile quantities of a steady state (jnp; degC, W, m^3/s)."""
    eq = problem.equipment or {}
    racks, coolers, tiles = hall._with_design_values((model.racks, model.coolers, model.tiles), eq)
    fluid = problem.fluid
    rho_cp = fluid.density * fluid.heat_capacity
    out = {}
    t = state.temperature
    if racks.count:
        mean, peak = rack_model.intake_temperatures(racks, t)
        exhaust = rack_model.exhaust_temperature(racks, mean, racks.power, fluid)
        f = jnp.asarray(racks.leakage, t.dtype)
        out["rack_inlet_mean"] = (1 - f) * mean + f * exhaust
        out["rack_inlet_max"] = (1 - f) * peak + f * exhaust
        out["rack_exhaust"] = exhaust
        out["rack_power"] = racks.power
    else:
        out["rack_inlet_mean"] = out["rack_inlet_max"] = out["rack_exhaust"] = out["rack_power"] = jnp.zeros(0, t.dtype)
    if coolers.count:
        t_ret = cooler_model.return_temperatures(coolers, t)
        t_sup = cooler_model.supply_temperatures(coolers, problem.sources.mass_temperature, t_ret, fluid)
        out["cooler_return"], out["cooler_supply"] = t_ret, t_sup
        out["cooler_flow"] = coolers.flow
        out["cooler_load"] = rho_cp * coolers.flow * (t_ret - t_sup)
        out["cooler_fan_power"] = jnp.asarray(coolers.fan_power, t.dtype) * (
            coolers.flow / jnp.asarray(model.full["coolers"].rated_flow, t.dtype)) ** 3
        out["cooler_capacity"] = jnp.asarray(coolers.capacity, t.dtype)
    else:
        for k in ("cooler_return", "cooler_supply", "cooler_flow", "cooler_load", "cooler_fan_power", "cooler_capacity"):
            out[k] = jnp.zeros(0, t.dtype)
    return out


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class DesignResult:
    """A steady design solve (a pytree, so it passes through ``jax.vmap``).

    Attributes (arrays; rack quantities in the scenario's rack order):
      rack_inlet_mean, rack_inlet_max: server inlet temperature, area mean and max over the
        front face, with blanking leakage mixed in (degC).
      rack_exhaust (degC), rack_power (W).
      cooler_supply, cooler_return (degC), cooler_flow (m^3/s), cooler_load (W),
        cooler_fan_power (W), cooler_capacity (W): per cooling unit.
      state: the steady :class:`~thermo.fields.State`; info: :class:`~thermo.adjoint.SteadyInfo`.
      problem: the :class:`~thermo.problem.Problem` solved.
      scene: the :class:`DesignScene` (static).
    """

    rack_inlet_mean: object
    rack_inlet_max: object
    rack_exhaust: object
    rack_power: object
    cooler_supply: object
    cooler_return: object
    cooler_flow: object
    cooler_load: object
    cooler_fan_power: object
    cooler_capacity: object
    state: object
    info: object
    problem: object
    scene: object = field(default=None, metadata=dict(static=True))

    @property
    def converged(self) -> bool:
        return bool(np.all(np.asarray(self.info.converged)))

    def summary(self) -> dict:
        """The content of summary.json for this solve (concrete values only; not under ``jax.grad``)."""
        return summarize(self)


def _solve_values(model: DesignModel, options: SteadyOptions, values: dict, initial: State | None):
    problem = model.problem(values)
    state, info = steady_state(problem, numerics_for(model), initial, coupling=model.coupling, options=options)
    return _outputs(model, problem, state), state, info, problem


def solve(scene: DesignScene, dtype=None, options: SteadyOptions | None = None,
          initial: "DesignResult | State | None" = None) -> DesignResult:
    """Steady state of ``scene`` at its parameter values, differentiable with ``jax.grad``.

    Args:
      scene: a :class:`DesignScene` (from :func:`load` / :meth:`DesignScene.with_parameters`).
      dtype: float32 or float64; default float64 when JAX's x64 mode is on, else float32.
      options: :class:`~thermo.adjoint.SteadyOptions`; default :func:`default_options`.
      initial: a previous result (or state) on the same model as the starting point
        (changes the iteration count only).

    Returns a :class:`DesignResult`.  Check ``result.converged``: the gradient of an
    unconverged solve raises :class:`~thermo.adjoint.AdjointNotConverged`.
    """
    dtype = np.dtype(dtype or jax.dtypes.canonicalize_dtype(np.float64))
    model = scene.model(dtype)
    options = options or default_options(dtype)
    if isinstance(initial, DesignResult):
        initial = initial.state
    outputs, state, info, problem = _solve_values(model, options, scene.values, initial)
    return DesignResult(**outputs, state=state, info=info, problem=problem, scene=scene)


def solve_batch(scene: DesignScene, variants: dict, dtype=None, options: SteadyOptions | None = None) -> DesignResult:
    """Solve N variants of ``scene`` as one vmapped steady solve on the shared grid.

    ``variants``: parameter name -> array of N values (parameters not given keep the
    scene's values).  Returns one :class:`DesignResult` whose arrays have a leading
    axis of N (``result.info.converged`` per variant).  The compiled march runs until
    every variant has converged (a converged variant keeps stepping at its fixed point).
    """
    dtype = np.dtype(dtype or jax.dtypes.canonicalize_dtype(np.float64))
    model = scene.model(dtype)
    options = options or default_options(dtype)
    sizes = {k: np.shape(v)[0] for k, v in variants.items()}
    if len(set(sizes.values())) != 1:
        raise ScenarioError("variants", "", f"every parameter needs the same number of variants (got {sizes})")
    scene.with_parameters(variants)   # names checked
    fixed = {k: v for k, v in scene.values.items() if k not in variants}
    batched = {k: jnp.asarray(v, dtype) for k, v in variants.items()}

    def one(vals):
        outputs, state, info, problem = _solve_values(model, options, {**fixed, **vals}, None)
        return outputs, state, info, problem

    outputs, state, info, problem = jax.vmap(one)(batched)
    return DesignResult(**outputs, state=state, info=info, problem=problem, scene=scene)


# ---------------------------------------------------------------------------------
# summary.json
# ---------------------------------------------------------------------------------

def _numpy_sets(model: DesignModel, problem: Problem, values: dict):
    """Rack, cooler and tile sets with concrete values at this problem (zero-weight cells dropped)."""
    eq = {k: np.asarray(v, float) for k, v in (problem.equipment or {}).items()}
    racks = model.racks
    if racks.count:
        keep = eq["rack_intake_weight"] > 0
        racks = replace(racks, intake_cells=racks.intake_cells[keep], intake_weight=eq["rack_intake_weight"][keep],
                        intake_rack=racks.intake_rack[keep], power=eq["rack_power"], flow=eq["rack_flow"])
    coolers = model.coolers
    if coolers.count:
        keep = eq["cooler_return_weight"] > 0
        coolers = replace(coolers, return_cells=coolers.return_cells[keep],
                          return_weight=eq["cooler_return_weight"][keep], return_unit=coolers.return_unit[keep],
                          flow=eq["cooler_flow"], setpoint=eq["cooler_setpoint"],
                          rated_flow=model.full["coolers"].rated_flow)
    tiles = model.tiles
    if model.scene.raised_floor is not None and model.scene.tiles:
        # share of each floor face's flow that belongs to its tile at these open fractions
        o = np.asarray(problem.geometry.open[2], float)[:, :, model.k0]
        free = model.full["floor_free"]
        weights = []
        for t, (ij, cov, _) in zip(model.scene.tiles, model.tile_faces):
            f = values[f"tile.{t.name}.open_fraction"]
            weights.append(cov * f * free[ij] / np.maximum(o[ij], 1e-30))
        tiles = replace(tiles, weight=np.concatenate(weights) if weights else tiles.weight)
    return racks, coolers, tiles


def summarize(result: DesignResult) -> dict:
    """summary.json content of a (single, concrete) :class:`DesignResult`."""
    scene = result.scene
    model = scene.model(np.asarray(result.state.temperature).dtype)
    problem = jax.tree_util.tree_map(np.asarray, result.problem)
    racks, coolers, tiles = _numpy_sets(model, problem, scene.concrete_values())
    plain = scene.to_scene()
    hall_model = hall.HallModel(scene=plain, grid=model.grid, problem=result.problem, numerics=numerics_for(model),
                                coupling=model.coupling, transient_coupling=model.coupling, racks=racks,
                                coolers=coolers, tiles=tiles, openings=model.full["openings"],
                                schedule=hall.build_schedule(plain), floor_leakage_fraction=model.full["eps"])
    info = result.info
    report = RunReport(converged=bool(info.converged), steps=int(info.steps), time=float(result.state.time),
                       seconds=0.0, compile_seconds=0.0, poisson_iterations_per_step=float("nan"),
                       reason="converged" if bool(info.converged) else "reached max_steps")
    summary, _ = hall.summarize(hall_model, result.state, report)
    summary["parameters"] = scene.concrete_values()
    return summary
