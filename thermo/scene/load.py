"""Loading a scenario: YAML -> schema -> expanded, checked :class:`Scene`.

Everything a scenario can get wrong is caught here, once, and reported as a
:class:`~thermo.scene.errors.ScenarioError` naming the object and the field:
unknown keys, wrong units, impossible values, objects outside the room,
overlapping solids, references to missing objects, and flows that cannot
balance.  Nothing downstream re-checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml
from pydantic import ValidationError

from . import schema as s
from .errors import ScenarioError
from . import physical
from .liquid_checks import check_liquid

# list section -> singular word used in messages
_SECTIONS = {"racks": "rack", "rows": "row", "tiles": "tile", "tile_rows": "tile_row", "coolers": "cooler",
             "returns": "return", "containment": "containment", "obstructions": "obstruction",
             "events": "event", "cdus": "cdu", "rear_doors": "rear_door", "tanks": "tank"}
_TOL = 1e-9


@dataclass(frozen=True)
class Scene:
    """A validated scenario with rows and tile rows expanded (all SI).

    Attributes:
      name, description: from the file.
      air: :class:`~thermo.scene.schema.Air`.
      room_size: (x, y, z) extents of the hall (m).
      raised_floor, ceiling_plenum: plenum specs or None.
      grid, solver: grid-generation and solver settings.
      ashrae_class: "A1" .. "H1".
      racks: every rack (rows expanded), position with z.
      tiles, coolers, returns, containment, obstructions, events: as given
        (tile rows expanded, cooler positions with z).
      transient: :class:`~thermo.scene.schema.Transient` or None.
      optimize: :class:`~thermo.scene.schema.Optimize` or None (``thermo optimize``).
      source: the file it came from (or None).
      tanks: immersion tanks (:class:`~thermo.scene.schema.Tank`), positions with z.
      sensors: the sensors CSV file named by the scenario's ``sensors:`` key (a path
        relative to the scenario file, resolved by :func:`load`) or None; read by
        :func:`thermo.io.sensors.read_sensors`.
    """

    name: str
    description: str
    air: s.Air
    room_size: tuple
    raised_floor: s.RaisedFloor | None
    ceiling_plenum: s.CeilingPlenum | None
    grid: s.GridSpec
    solver: s.SolverSpec
    ashrae_class: str
    racks: tuple
    tiles: tuple
    coolers: tuple
    returns: tuple
    containment: tuple
    obstructions: tuple
    events: tuple
    transient: s.Transient | None
    source: str | None = field(default=None, compare=False)
    cdus: tuple = ()
    facility: s.Facility | None = None
    tanks: tuple = ()
    optimize: s.Optimize | None = None
    sensors: str | None = None
    warnings: tuple = field(default=(), compare=False)

    def with_solver(self, **changes) -> "Scene":
        """The scene with ``solver`` settings replaced (``turbulence="mixing_length"``, ...),
        validated as in a scenario file; an invalid value is a :class:`ScenarioError`.

        A change of ``pseudo_time`` also drops the file's ``cfl`` and ``local_time_step``
        (unless they are among ``changes``): they belong to the scheme the file chose, and the
        new scheme starts from its own defaults (Courant number 0.45 with local steps 10
        explicit, 5 with one step everywhere implicit)."""
        raw = self.solver.model_dump(exclude_unset=True)
        if changes.get("pseudo_time", self.solver.pseudo_time) != self.solver.pseudo_time:
            raw = {key: value for key, value in raw.items() if key not in ("cfl", "local_time_step")}
        raw = {**raw, **changes}
        try:
            solver = s.SolverSpec.model_validate(raw)
        except ValidationError as error:
            first = _most_telling(error.errors())
            raise ScenarioError("solver", _field_name(tuple(first["loc"])), _message(first, s.SolverSpec)) from None
        return replace(self, solver=solver)

    def counts(self) -> dict:
        """Number of objects of each kind, e.g. ``{"racks": 12, "coolers": 0, ...}``."""
        return {"racks": len(self.racks), "coolers": len(self.coolers), "tiles": len(self.tiles),
                "returns": len(self.returns), "containment": len(self.containment),
                "obstructions": len(self.obstructions), "events": len(self.events), "tanks": len(self.tanks)}

    @property
    def plenum_depth(self) -> float:
        """Raised-floor depth (m), 0 without a raised floor."""
        return self.raised_floor.depth if self.raised_floor is not None else 0.0

    @property
    def ceiling_depth(self) -> float:
        """Ceiling-plenum depth (m), 0 without one."""
        return self.ceiling_plenum.depth if self.ceiling_plenum is not None else 0.0

    @property
    def total_rack_power(self) -> float:
        """Sum of rack powers (W) at t = 0."""
        return float(sum(r.power for r in self.racks))

    def rack_flow(self, rack: s.Rack) -> float:
        """Air flow (m^3/s) of ``rack`` from its airflow rule at its rated power; for a fan
        curve its free delivery (the flow at zero pressure rise, at its speed), the largest
        flow it has against a room that does not push air through it."""
        a = rack.airflow
        if a.flow is not None:
            return a.flow
        if a.flow_per_kw is not None:
            return a.flow_per_kw * rack.power
        if a.fan_curve is not None:
            return free_delivery(a.fan_curve, 1.0 if a.speed is None else a.speed)
        return rack.power / (self.air.density * self.air.heat_capacity * a.design_rise)


def free_delivery(curve, speed: float = 1.0) -> float:
    """Flow (m^3/s) of the fan ``curve`` ([[flow m^3/s, pressure Pa], ...]) at zero pressure
    rise and ``speed`` (affinity laws: flow x speed); past its last point the curve goes
    on along its last segment, as :mod:`thermo.equipment.fans` extrapolates it."""
    (q0, p0), (q1, p1) = curve[-2], curve[-1]
    return speed * (q1 + p1 * (q1 - q0) / (p0 - p1))


# ------------------------------------------------------------------------------------
# pydantic errors -> ScenarioError
# ------------------------------------------------------------------------------------

def _object_label(raw: dict, loc: tuple) -> tuple[str, tuple]:
    """("rack B03", remaining loc) for a pydantic error location."""
    if not loc:
        return "scenario", ()
    head = loc[0]
    if head in _SECTIONS and len(loc) >= 2 and isinstance(loc[1], int):
        items = raw.get(head) or []
        item = items[loc[1]] if loc[1] < len(items) else None
        name = item.get("name") if isinstance(item, dict) else None
        if head == "events":
            label = f"event {loc[1] + 1}"
        else:
            label = f"{_SECTIONS[head]} {name}" if name else f"{_SECTIONS[head]} #{loc[1] + 1}"
        return label, loc[2:]
    if head in ("air", "room", "raised_floor", "ceiling_plenum", "grid", "solver", "transient",
                "facility", "optimize") and len(loc) > 1:
        return head, loc[1:]
    return "scenario", loc


# The names pydantic gives the parts of a compound type in an error location ("float",
# "list[...]", "function-after[functools.partial(<function ...> at 0x7f...>)]", the class names
# of a union's members): they are no scenario field and must never reach a message.
_PRIMITIVE_TAGS = {"float", "int", "str", "bool", "none", "list", "tuple", "dict", "set", "literal"}


def _schema_class_names() -> set:
    names, todo = set(), [s.Strict]
    while todo:
        cls = todo.pop()
        names.add(cls.__name__)
        todo.extend(cls.__subclasses__())
    return names


_SCHEMA_CLASSES = _schema_class_names()


def _is_internal(part) -> bool:
    """Whether a location part is pydantic's name for a piece of a type, not a field."""
    text = str(part)
    return (any(c in text for c in "[](),<> ") or text in _PRIMITIVE_TAGS or text in _SCHEMA_CLASSES
            or text.startswith(("function-", "lax-", "json-", "constrained-", "tagged-", "literal")))


def _field_name(loc: tuple) -> str:
    """``liquid.capture.values[0][1]`` from a pydantic location, without its type parts."""
    parts = []
    for p in loc:
        if isinstance(p, int):
            parts[-1:] = [f"{parts[-1]}[{p}]"] if parts else [f"[{p}]"]
        elif not _is_internal(p):
            parts.append(str(p))
    return ".".join(parts)


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_PYDANTIC_WORDS = {
    "float_type": "expected a number", "float_parsing": "expected a number",
    "finite_number": "not a finite number", "int_type": "expected a whole number",
    "int_parsing": "expected a whole number", "int_from_float": "expected a whole number",
    "bool_type": "expected true or false", "bool_parsing": "expected true or false",
    "string_type": "expected text", "list_type": "expected a list", "tuple_type": "expected a list",
    "dict_type": "expected a mapping of fields", "model_type": "expected a mapping of fields",
    "model_attributes_type": "expected a mapping of fields", "none_required": "must be left out",
    "string_too_short": "must not be empty", "frozen_instance": "cannot be changed",
}


def _message(error: dict, model) -> str:
    """What is wrong, in the project's words (``must be >= 0 (got '-8 kW')``), never pydantic's."""
    kind = error["type"]
    ctx = error.get("ctx", {})
    value = error.get("input")
    got = f" (got {_shown(value)})" if value is not None and not isinstance(value, (dict, list, tuple)) else ""
    if kind == "extra_forbidden":
        allowed = ", ".join(model.model_fields) if model is not None else ""
        return f"unknown key; allowed keys: {allowed}" if allowed else "unknown key"
    if kind == "missing":
        return "required field is missing"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        bound = next(iter(ctx.values()))
        return f"must be {op} {bound}{got}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}{got}"
    if kind in ("too_short", "too_long"):
        expected = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        return f"wrong number of values: expected {expected}, got {ctx.get('actual_length', '?')}"
    if kind == "value_error":
        msg = str(ctx.get("error", error["msg"]))
        return msg + ("" if "(got" in msg or "got " in msg else got)
    if kind in _PYDANTIC_WORDS:
        return _PYDANTIC_WORDS[kind] + (got or (f" (got {_shown(value)})" if value is not None else ""))
    return error["msg"] + got


# error types that only say the input had another shape than one member of a union (a row's
# power is a number or a list; a capture ratio a fraction or a table): the member that fits
# the input says more
_MISMATCH = {"float_type", "float_parsing", "int_type", "int_parsing", "list_type", "tuple_type", "dict_type",
             "model_type", "model_attributes_type", "string_type", "bool_type", "bool_parsing", "none_required",
             "is_instance_of", "literal_error"}


def _most_telling(errors: list) -> dict:
    """The error to report: the first one, unless it is a shape mismatch of one member of a
    union and another error of the same field says what is wrong inside the fitting member."""
    first = errors[0]

    def mismatch(e):
        if e["type"] in _MISMATCH:
            return True
        text = str(e.get("ctx", {}).get("error", ""))
        return e["type"] == "value_error" and text.startswith("expected a number or a string like")

    if not mismatch(first):
        return first
    head = _field_name(tuple(first["loc"])).split("[")[0]
    for e in errors[1:]:
        if _field_name(tuple(e["loc"])).startswith(head) and not mismatch(e):
            return e
    return first


def _model_at(loc: tuple):
    """The schema class that owns the last key of ``loc`` (for 'allowed keys' lists)."""
    model = s.ScenarioFile
    for p in loc[:-1]:
        if isinstance(p, int) or model is None:
            continue
        info = model.model_fields.get(p)
        if info is None:
            return None
        ann = info.annotation
        candidates = getattr(ann, "__args__", ()) or (ann,)
        nxt = None
        for c in candidates:
            for inner in (getattr(c, "__args__", ()) or (c,)):
                if isinstance(inner, type) and issubclass(inner, s.Strict):
                    nxt = inner
        model = nxt
    return model


def _translate(error: ValidationError, raw: dict) -> ScenarioError:
    """The :class:`ScenarioError` of pydantic's first error: object, field, what is wrong."""
    first = _most_telling(error.errors())
    loc = tuple(p for p in first["loc"] if isinstance(p, int) or not _is_internal(p))
    label, rest = _object_label(raw, loc)
    return ScenarioError(label, _field_name(rest), _message(first, _model_at(loc)))


# ------------------------------------------------------------------------------------
# loading
# ------------------------------------------------------------------------------------

def load(path) -> Scene:
    """Read, validate and expand the scenario file at ``path`` (YAML).

    Raises :class:`ScenarioError` (never anything from inside the solver).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ScenarioError("scenario", "", f"cannot read {path}: {exc.strerror or exc}") from None
    scene = loads(decode_text(data, path))
    sensors = scene.sensors
    if sensors is not None and not Path(sensors).expanduser().is_absolute():
        sensors = str(path.parent / Path(sensors).expanduser())
    return Scene(**{**scene.__dict__, "source": str(path), "sensors": sensors})


#: Deepest nesting of a scenario's mappings and lists: the schema's deepest path is 5 levels
#: (racks / liquid / capture / values / row); 32 leaves room and stops a pathological file
#: long before Python's recursion limit.
MAX_NESTING = 32
#: Most values (mapping entries and list items) a scenario may expand to, aliases counted at
#: every use: a 200-rack generated hall has about 10,000; an alias bomb has billions.
MAX_VALUES = 1_000_000


def decode_text(data: bytes, path="the file") -> str:
    """The UTF-8 text of a scenario file's bytes; a binary or non-UTF-8 file is a
    :class:`ScenarioError` in one line (not a ``UnicodeDecodeError``)."""
    if b"\x00" in data[:65536]:
        raise ScenarioError("scenario", "", f"{path} is a binary file, not a YAML scenario (it holds NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ScenarioError("scenario", "", f"{path} is not UTF-8 text: byte 0x{data[exc.start]:02x} on line "
                            f"{line} (save the file as UTF-8)") from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error
    (PyYAML keeps the last silently: a second tile ``flow:`` won, with 158 degC intakes)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue      # '<<: *anchor': merged keys may be overridden, as YAML says
            try:
                key = self.construct_object(key_node, deep=True)
                hash(key)
            except TypeError:
                continue      # an unhashable key: PyYAML's own error follows
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ScenarioError("scenario", str(key), f"duplicate key: given on line {seen[key]} and again "
                                    f"on line {line}; give each key once")
            seen[key] = line
        return super().construct_mapping(node, deep)


def _check_size(raw) -> None:
    """Refuse pathological nesting or alias expansion before anything walks the data
    recursively (pydantic, the checks): a ScenarioError, not a RecursionError or a hang."""
    count = 0
    stack = [(raw, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_NESTING:
            raise ScenarioError("scenario", "", f"nested more than {MAX_NESTING} levels deep; a scenario's "
                                "sections nest a few levels at most")
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        for child in children:
            count += 1
            if count > MAX_VALUES:
                raise ScenarioError("scenario", "", f"more than {MAX_VALUES:,} values (YAML aliases count at "
                                    "every use); this is not a hall description")
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))


def loads(text: str) -> Scene:
    """Validate a scenario given as YAML text (see :func:`load`)."""
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)     # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        raise ScenarioError("scenario", "", "not valid YAML: " + " ".join(str(exc).split())) from None
    except RecursionError:
        raise ScenarioError("scenario", "", f"nested more than {MAX_NESTING} levels deep; a scenario's "
                            "sections nest a few levels at most") from None
    return from_dict(raw)


def from_dict(raw) -> Scene:
    """Validate a scenario given as a plain dict (see :func:`load`)."""
    if not isinstance(raw, dict):
        raise ScenarioError("scenario", "", "the file must be a mapping of sections (name:, room:, racks:, ...)")
    _check_size(raw)
    for key in _SECTIONS:
        if key in raw and raw[key] is None:
            raw = {**raw, key: []}
    try:
        spec = s.ScenarioFile.model_validate(raw)
    except ValidationError as exc:
        raise _translate(exc, raw) from None
    scene = Scene(
        name=spec.name, description=spec.description, air=spec.air, room_size=tuple(spec.room.size),
        raised_floor=spec.raised_floor, ceiling_plenum=spec.ceiling_plenum, grid=spec.grid, solver=spec.solver,
        ashrae_class=spec.ashrae_class,
        racks=tuple(_mount_doors(spec, _place_racks(spec))), tiles=tuple(_expand_tiles(spec)),
        coolers=tuple(_place_coolers(spec)), returns=tuple(spec.returns),
        containment=tuple(spec.containment), obstructions=tuple(spec.obstructions),
        events=tuple(sorted(spec.events, key=lambda e: e.time)), transient=spec.transient,
        cdus=tuple(spec.cdus), facility=spec.facility,
        tanks=tuple(t.model_copy(update={"position": _with_z(f"tank {t.name}", "position", t.position)})
                    for t in spec.tanks),
        optimize=spec.optimize, sensors=spec.sensors)
    check(scene)
    check_liquid(scene)
    physical.check_flow_faces(scene)
    physical.check_containment(scene)
    warnings = physical.check_air_speeds(scene) + physical.heat_warnings(scene)
    return replace(scene, warnings=tuple(warnings))


def _with_z(obj_label: str, field: str, position, dims: int = 3) -> tuple:
    if len(position) == 2:
        return (position[0], position[1], 0.0)
    if len(position) == 3:
        return tuple(position)
    raise ScenarioError(obj_label, field, f"expected (x, y) or (x, y, z) (got {len(position)} values)")


def _place_racks(spec) -> list:
    racks = []
    for r in spec.racks:
        racks.append(r.model_copy(update={"position": _with_z(f"rack {r.name}", "position", r.position)}))
    for row in spec.rows:
        label = f"row {row.name}"
        start = _with_z(label, "start", row.start)
        axis = 0 if row.axis == "x" else 1
        pitch = row.pitch if row.pitch is not None else row.size[axis]
        _row_fits(spec, label, start, axis, pitch, row.size, row.count)
        powers = row.power if isinstance(row.power, list) else [row.power] * row.count
        if len(powers) != row.count:
            raise ScenarioError(label, "power", f"list has {len(powers)} entries for {row.count} racks")
        names = row.names or [f"{row.name}{i + 1:02d}" for i in range(row.count)]
        if len(names) != row.count:
            raise ScenarioError(label, "names", f"list has {len(names)} entries for {row.count} racks")
        for i in range(row.count):
            pos = list(start)
            pos[axis] += i * pitch
            racks.append(s.Rack(name=names[i], position=tuple(pos), size=row.size, facing=row.facing,
                                power=powers[i], airflow=row.airflow, blanking_leakage=row.blanking_leakage,
                                rear_door=row.rear_door, liquid=row.liquid))
    return racks


def _row_fits(spec, label: str, start, axis: int, pitch: float, size, count: int) -> None:
    """A row (of racks or tiles) must fit the room and its members must not overlap, checked
    before it is expanded: ``count: 1000000000`` is refused at once, not after a billion objects."""
    if pitch < size[axis] - _TOL:
        raise ScenarioError(label, "pitch", f"{pitch:g} m is less than the member size {size[axis]:g} m along "
                            f"{'xy'[axis]}, so neighbours overlap (got {pitch:g} m)")
    end = start[axis] + (count - 1) * pitch + size[axis]
    length = spec.room.size[axis]
    if end > length + _TOL:
        raise ScenarioError(label, "count", f"{count} members at a pitch of {pitch:g} m from "
                            f"{'xy'[axis]} = {start[axis]:g} m reach {end:g} m, beyond the room's {length:g} m "
                            f"(got {count})")


def _mount_doors(spec, racks) -> list:
    """``racks`` with the doors of the ``rear_doors:`` list mounted on the racks they name."""
    by_name = {r.name: i for i, r in enumerate(racks)}
    for k, d in enumerate(spec.rear_doors):
        label = f"rear_door #{k + 1}"
        if d.rack not in by_name:
            raise ScenarioError(label, "rack", f"no rack named {d.rack!r}")
        i = by_name[d.rack]
        if racks[i].rear_door is not None:
            raise ScenarioError(label, "rack", f"rack {d.rack} already has a rear door")
        door = s.RearDoor(**d.model_dump(exclude={"rack"}))
        racks[i] = racks[i].model_copy(update={"rear_door": door})
    return racks


def _expand_tiles(spec) -> list:
    tiles = list(spec.tiles)
    for row in spec.tile_rows:
        axis = 0 if row.axis == "x" else 1
        pitch = row.pitch if row.pitch is not None else row.size[axis]
        _row_fits(spec, f"tile_row {row.name}", row.start, axis, pitch, row.size, row.count)
        for i in range(row.count):
            pos = list(row.start)
            pos[axis] += i * pitch
            tiles.append(s.Tile(name=f"{row.name}-{i + 1:02d}", position=tuple(pos), size=row.size,
                                open_fraction=row.open_fraction, loss_coefficient=row.loss_coefficient,
                                jet_momentum=row.jet_momentum))
    return tiles


def _place_coolers(spec) -> list:
    out = []
    for c in spec.coolers:
        out.append(c.model_copy(update={"position": _with_z(f"cooler {c.name}", "position", c.position)}))
    return out


# ------------------------------------------------------------------------------------
# whole-scene checks
# ------------------------------------------------------------------------------------

def _box(position, size):
    return tuple(position), tuple(p + d for p, d in zip(position, size))


def _overlap_volume(a, b) -> float:
    vol = 1.0
    for k in range(len(a[0])):
        d = min(a[1][k], b[1][k]) - max(a[0][k], b[0][k])
        if d <= _TOL:
            return 0.0
        vol *= d
    return vol


def _inside(box, lo, hi) -> bool:
    return all(box[0][k] >= lo[k] - _TOL and box[1][k] <= hi[k] + _TOL for k in range(len(lo)))


def check(scene: Scene) -> None:
    """Whole-scene consistency checks (raises :class:`ScenarioError`)."""
    lx, ly, lz = scene.room_size
    room_lo, room_hi = (0.0, 0.0, 0.0), (lx, ly, lz)
    names: dict[str, str] = {}

    def register(kind, name):
        if not name.strip():
            raise ScenarioError(kind, "name", "must not be empty")
        if name in names:
            raise ScenarioError(f"{kind} {name}", "name", f"name already used by {names[name]} {name}")
        names[name] = kind

    solids = []
    for r in scene.racks:
        register("rack", r.name)
        label = f"rack {r.name}"
        box = _box(r.position, r.size)
        if not _inside(box, room_lo, room_hi):
            raise ScenarioError(label, "position", f"rack extends outside the room {_fmt(room_lo)}..{_fmt(room_hi)}"
                                f" (occupies {_fmt(box[0])}..{_fmt(box[1])})")
        q = scene.rack_flow(r)
        if not q > 0:
            field = "airflow." + next(k for k in ("flow_per_kw", "design_rise") if getattr(r.airflow, k) is not None)
            raise ScenarioError(label, field, f"gives no air flow at power {r.power / 1e3:g} kW; "
                                "use airflow.flow for an idle rack")
        solids.append((label, box))
    for c in scene.coolers:
        register("cooler", c.name)
        label = f"cooler {c.name}"
        box = _box(c.position, c.size)
        if not _inside(box, room_lo, room_hi):
            raise ScenarioError(label, "position", f"unit extends outside the room (occupies {_fmt(box[0])}..{_fmt(box[1])})")
        if c.control == "return" and c.return_setpoint is None:
            raise ScenarioError(label, "return_setpoint", "required with control: return")
        if c.type == "downflow" and scene.raised_floor is None and (c.supply_face in (None, "bottom")):
            raise ScenarioError(label, "type", "a downflow unit supplies a raised-floor plenum; add raised_floor: "
                                "or set supply_face")
        if c.return_from == "ceiling_plenum" and scene.ceiling_plenum is None:
            raise ScenarioError(label, "return_from", "the scenario has no ceiling_plenum")
        solids.append((label, box))
    for t in scene.tanks:
        register("tank", t.name)
        solids.append(check_tank(t, room_lo, room_hi))
    plenum_lo = (0.0, 0.0, -scene.plenum_depth)
    plenum_hi = (lx, ly, lz + scene.ceiling_depth)
    for o in scene.obstructions:
        register("obstruction", o.name)
        label = f"obstruction {o.name}"
        box = _box(o.position, o.size)
        if not _inside(box, plenum_lo, plenum_hi):
            raise ScenarioError(label, "position", f"extends outside the room and its plenums "
                                f"{_fmt(plenum_lo)}..{_fmt(plenum_hi)} (occupies {_fmt(box[0])}..{_fmt(box[1])})")
        if box[0][2] < -_TOL < _TOL < box[1][2] or box[0][2] < lz - _TOL < lz + _TOL < box[1][2]:
            raise ScenarioError(label, "position", "crosses the raised floor or the ceiling; "
                                "give one obstruction per space")
        if o.blockage >= 1.0:
            solids.append((label, box))
    for i, (la, a) in enumerate(solids):
        for lb, b in solids[i + 1:]:
            if _overlap_volume(a, b) > 0:
                raise ScenarioError(lb, "position", f"overlaps {la}")

    tile_boxes = []
    for t in scene.tiles:
        register("tile", t.name)
        label = f"tile {t.name}"
        box = _box(t.position, t.size)
        if not _inside(box, room_lo[:2], room_hi[:2]):
            raise ScenarioError(label, "position", f"tile lies outside the floor 0..{lx:g} x 0..{ly:g} m")
        for other, ob in tile_boxes:
            if _overlap_volume(box, ob) > 0:
                raise ScenarioError(label, "position", f"overlaps {other}")
        for sl, sb in solids:
            footprint = (sb[0][:2], sb[1][:2])
            if sb[0][2] <= _TOL and sb[1][2] > 0 and _overlap_volume(box, footprint) > 0:
                raise ScenarioError(label, "position", f"lies under {sl}")
        tile_boxes.append((label, box))
        if scene.raised_floor is None:
            if t.flow is None:
                raise ScenarioError(label, "flow", "required without a raised-floor plenum "
                                    "(the tile is an inflow opening)")
            if t.temperature is None:
                raise ScenarioError(label, "temperature", "required without a raised-floor plenum")
        else:
            if t.flow is not None:
                raise ScenarioError(label, "flow", "cannot be prescribed with a raised-floor plenum: "
                                    "tile flow follows from the plenum pressure")
            if t.temperature is not None:
                raise ScenarioError(label, "temperature", "cannot be prescribed with a raised-floor plenum: "
                                    "tiles deliver plenum air")

    for ret in scene.returns:
        register("return", ret.name)
        label = f"return {ret.name}"
        extent = _surface_extent(scene, ret.surface)
        box = _box(ret.position, ret.size)
        if not _inside(box, (0.0, 0.0), extent):
            raise ScenarioError(label, "position", f"opening lies outside its surface ({ret.surface}, "
                                f"0..{extent[0]:g} x 0..{extent[1]:g} m)")
        if ret.surface == "floor" and scene.raised_floor is not None:
            raise ScenarioError(label, "surface", "the floor is a raised floor; use tiles")
        if ret.surface == "ceiling" and scene.ceiling_plenum is not None:
            if not any(_return_from(scene, c) == "ceiling_plenum" for c in scene.coolers):
                raise ScenarioError(label, "surface", "the grille opens into the ceiling plenum but no cooler "
                                    "draws from it (set return_from: ceiling_plenum on a cooler)")
        if ret.loss_coefficient is not None and not (ret.surface == "ceiling" and scene.ceiling_plenum):
            raise ScenarioError(label, "loss_coefficient", "only grilles into a ceiling plenum have a loss "
                                "coefficient; an opening to outside is a fixed-pressure boundary")

    for c in scene.containment:
        register("containment", c.name)
        label = f"containment {c.name}"
        box = _box((*c.position, 0.0), (*c.size, c.height))
        if not _inside(box, room_lo, room_hi):
            raise ScenarioError(label, "position", "containment extends outside the room")

    # flows that cannot balance
    supply_fixed = sum(t.flow for t in scene.tiles if t.flow is not None)
    openings = [r for r in scene.returns if not (r.surface == "ceiling" and scene.ceiling_plenum is not None)]
    if scene.raised_floor is None and supply_fixed > 0 and not openings:
        raise ScenarioError("tiles", "flow", f"{supply_fixed:.3g} m^3/s enters through tiles but the room has no "
                            "return opening at fixed pressure to let it out (add returns:)")
    if scene.raised_floor is not None:
        feeders = [c for c in scene.coolers if _supply_face(c) == "bottom"]
        if not feeders and (scene.tiles or scene.raised_floor.leakage.open_area > 0):
            raise ScenarioError("raised_floor", "depth", "no cooler supplies the plenum (a downflow unit or "
                                "supply_face: bottom), so tiles would carry no flow")
        if feeders and not scene.tiles and scene.raised_floor.leakage.open_area <= 0:
            raise ScenarioError(f"cooler {feeders[0].name}", "supply_face",
                                "supplies the raised floor, but the floor has no tiles or leakage to let air out")
    if scene.ceiling_plenum is not None:
        drawing = [c for c in scene.coolers if _return_from(scene, c) == "ceiling_plenum"]
        grilles = [r for r in scene.returns if r.surface == "ceiling"]
        if drawing and not grilles:
            raise ScenarioError(f"cooler {drawing[0].name}", "return_from",
                                "draws from the ceiling plenum but the ceiling has no return grilles")

    for k, e in enumerate(scene.events):
        label = f"event {k + 1}"
        if e.cooler is not None and names.get(e.cooler) != "cooler":
            raise ScenarioError(label, "cooler", f"no cooler named {e.cooler!r}")
        if e.rack is not None and names.get(e.rack) != "rack":
            raise ScenarioError(label, "rack", f"no rack named {e.rack!r}")
        if scene.transient is None:
            raise ScenarioError(label, "time", "events need a transient: section (end_time)")
        if e.time > scene.transient.end_time:
            raise ScenarioError(label, "time", f"after the end of the transient ({scene.transient.end_time:g} s)"
                                f" (got {e.time:g} s)")
    g = scene.grid
    if g.min_cell is not None and g.min_cell > g.max_cell:
        raise ScenarioError("grid", "min_cell", f"must be <= max_cell ({g.max_cell:g} m) (got {g.min_cell:g} m)")


def check_tank(tank, room_lo, room_hi):
    """Checks of one immersion tank; returns its (label, box) for the overlap test."""
    from ..liquids import LIQUIDS

    label = f"tank {tank.name}"
    box = _box(tank.position, tank.size)
    if not _inside(box, room_lo, room_hi):
        raise ScenarioError(label, "position", f"tank extends outside the room {_fmt(room_lo)}..{_fmt(room_hi)}"
                            f" (occupies {_fmt(box[0])}..{_fmt(box[1])})")
    if tank.liquid not in LIQUIDS:
        raise ScenarioError(label, "liquid", f"unknown liquid {tank.liquid!r}; known: {', '.join(LIQUIDS)}")
    low, high = LIQUIDS[tank.liquid].valid_range
    supply = tank.circulation.supply_temperature
    if supply is not None and not low <= supply <= high:
        raise ScenarioError(label, "circulation.supply_temperature", f"outside {low:g}..{high:g} degC, the range "
                            f"over which {tank.liquid}'s properties are known (got {supply:g} degC)")
    if tank.fill_height > tank.size[2] + _TOL:
        raise ScenarioError(label, "fill_height", f"above the tank height {tank.size[2]:g} m "
                            f"(got {tank.fill_height:g} m)")
    srv = tank.servers
    long_axis = 0 if tank.size[0] >= tank.size[1] else 1
    length, across = tank.size[long_axis], tank.size[1 - long_axis]
    if srv.count * srv.size[0] > length + _TOL:
        raise ScenarioError(label, "servers.size", f"{srv.count} blocks of {srv.size[0]:g} m do not fit along the "
                            f"tank's {length:g} m")
    if srv.size[1] > across + _TOL:
        raise ScenarioError(label, "servers.size", f"block width {srv.size[1]:g} m exceeds the tank's "
                            f"{across:g} m")
    if srv.elevation + srv.size[2] > tank.fill_height + _TOL:
        raise ScenarioError(label, "servers.size", f"blocks reach {srv.elevation + srv.size[2]:g} m, above the "
                            f"liquid (fill_height {tank.fill_height:g} m): servers must be immersed")
    c = tank.circulation
    modes = [k for k, given in (("supply_temperature", c.supply_temperature is not None),
                                ("approach", c.approach is not None),
                                ("ua", c.ua is not None or c.facility_flow is not None)) if given]
    if len(modes) != 1:
        raise ScenarioError(label, "circulation.supply_temperature",
                            "give exactly one of supply_temperature, approach (with facility_supply_temperature) "
                            "or facility_flow and ua (with facility_supply_temperature)"
                            + (f" (got {', '.join(modes)})" if modes else ""))
    if modes[0] != "supply_temperature" and c.facility_supply_temperature is None:
        raise ScenarioError(label, "circulation.facility_supply_temperature", f"required with {modes[0]}")
    if modes[0] == "ua" and (c.ua is None or c.facility_flow is None):
        raise ScenarioError(label, "circulation.ua" if c.ua is None else "circulation.facility_flow",
                            "facility_flow and ua go together")
    return label, box


def _surface_extent(scene: Scene, surface: str):
    lx, ly, lz = scene.room_size
    return {"ceiling": (lx, ly), "floor": (lx, ly), "x-": (ly, lz), "x+": (ly, lz), "y-": (lx, lz),
            "y+": (lx, lz)}[surface]


def _supply_face(cooler) -> str:
    if cooler.supply_face is not None:
        return cooler.supply_face
    return {"downflow": "bottom", "upflow": "top", "inrow": "front"}[cooler.type]


def _return_face(cooler) -> str:
    if cooler.return_face is not None:
        return cooler.return_face
    return {"downflow": "top", "upflow": "front", "inrow": "back"}[cooler.type]


def _return_from(scene: Scene, cooler) -> str:
    if cooler.return_from is not None:
        return cooler.return_from
    if cooler.type == "downflow" and scene.ceiling_plenum is not None:
        return "ceiling_plenum"
    return "room"


supply_face = _supply_face
return_face = _return_face
return_from = _return_from


def _fmt(v) -> str:
    return "(" + ", ".join(f"{x:g}" for x in v) + ")"
