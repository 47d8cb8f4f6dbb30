"""The scenario schema: every object a data-hall scenario may contain.

Each class is a frozen pydantic model that rejects unknown keys.  Quantities
accept an SI number or a string with a unit (see :mod:`thermo.scene.units`);
after validation every quantity is a float in SI units (m, W, m^3/s, degC,
K for temperature differences, s, Pa, fractions 0..1).

Coordinates: x and y span the floor, z is up; the room's floor is z = 0 and
its ceiling z = room height.  A raised-floor plenum occupies
-depth <= z <= 0 and a ceiling plenum height <= z <= height + depth.
Positions are the lower corner of an object (x, y[, z]); sizes are its
extents along x, y (and z).  ``docs/scenarios.md`` documents each field.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from .units import parse_quantity


def _quantity(kind):
    def convert(value):
        return parse_quantity(value, kind)
    return BeforeValidator(convert)


Length = Annotated[float, _quantity("length")]
Area = Annotated[float, _quantity("area")]
Power = Annotated[float, _quantity("power")]
Flow = Annotated[float, _quantity("flow")]
FlowPerPower = Annotated[float, _quantity("flow_per_power")]
Pressure = Annotated[float, _quantity("pressure")]
Time = Annotated[float, _quantity("time")]
Temperature = Annotated[float, _quantity("temperature")]
TemperatureDifference = Annotated[float, _quantity("temperature_difference")]
Fraction = Annotated[float, _quantity("fraction"), Field(ge=0.0, le=1.0)]
Facing = Literal["+x", "-x", "+y", "-y"]
Face = Literal["top", "bottom", "front", "back"]

PositiveLength = Annotated[Length, Field(gt=0.0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Air(Strict):
    """Air properties (Boussinesq); defaults are dry air near 18 degC."""

    density: Annotated[float, Field(gt=0)] = 1.19
    heat_capacity: Annotated[float, Field(gt=0)] = 1006.0
    viscosity: Annotated[float, Field(gt=0)] = 1.5e-5
    prandtl: Annotated[float, Field(gt=0)] = 0.71
    turbulent_prandtl: Annotated[float, Field(gt=0)] = 0.85
    expansion: Annotated[float, Field(ge=0)] = 3.4e-3
    reference_temperature: Temperature = 18.0
    gravity: Annotated[float, Field(ge=0)] = 9.81


class Room(Strict):
    """The hall interior: size (x, y, z) in m, floor to ceiling."""

    size: tuple[PositiveLength, PositiveLength, PositiveLength]


class FloorLeakage(Strict):
    """Leakage of the raised floor (cable cutouts, seams) as open area spread
    uniformly over the floor panels that are neither tiles nor under equipment."""

    open_area: Annotated[Area, Field(ge=0)] = 0.0


class RaisedFloor(Strict):
    """A raised-floor supply plenum below z = 0."""

    depth: PositiveLength
    leakage: FloorLeakage = FloorLeakage()


class CeilingPlenum(Strict):
    """A return plenum above the ceiling (z = room height)."""

    depth: PositiveLength


class GridSpec(Strict):
    """Grid generation: cells no larger than ``max_cell`` (m); neighbouring widths
    grow by at most ``growth``; object faces closer than ``min_cell`` share a grid line."""

    max_cell: PositiveLength = 0.2
    growth: Annotated[float, Field(ge=1.0, le=3.0)] = 1.25
    min_cell: PositiveLength | None = None


class SolverSpec(Strict):
    """Solver settings for this scenario."""

    turbulence: Literal["zero_equation", "mixing_length", "laminar"] = "zero_equation"
    max_steps: Annotated[int, Field(gt=0)] = 20000
    tolerance: Annotated[float, Field(gt=0)] = 2e-3
    monitor_tolerance: Annotated[TemperatureDifference, Field(gt=0)] = 0.05
    cfl: Annotated[float, Field(gt=0, le=1)] = 0.45


class Airflow(Strict):
    """Rack air flow: exactly one of a fixed flow (m^3/s), a flow per kW of power
    (m^3/s per W internally) or a design temperature rise (K)."""

    flow: Annotated[Flow, Field(gt=0)] | None = None
    flow_per_kw: Annotated[FlowPerPower, Field(gt=0)] | None = None
    design_rise: Annotated[TemperatureDifference, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self):
        given = [k for k in ("flow", "flow_per_kw", "design_rise") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of flow, flow_per_kw, design_rise"
                             + (f" (got {', '.join(given)})" if given else ""))
        return self


class Rack(Strict):
    """An air-cooled IT rack: a solid box drawing air through its front face and
    exhausting it through its back face."""

    name: str
    position: tuple[Length, ...]
    size: tuple[PositiveLength, PositiveLength, PositiveLength]
    facing: Facing
    power: Annotated[Power, Field(ge=0)]
    airflow: Airflow
    blanking_leakage: Fraction = 0.0


class Row(Strict):
    """A row of identical racks side by side along ``axis``; rack i is named
    ``f"{name}{i:02d}"`` (i from 1) unless ``names`` is given."""

    name: str
    count: Annotated[int, Field(ge=1)]
    start: tuple[Length, ...]
    axis: Literal["x", "y"] = "x"
    pitch: PositiveLength | None = None
    size: tuple[PositiveLength, PositiveLength, PositiveLength]
    facing: Facing
    power: Annotated[Power, Field(ge=0)] | list[Annotated[Power, Field(ge=0)]]
    airflow: Airflow
    blanking_leakage: Fraction = 0.0
    names: list[str] | None = None


class Tile(Strict):
    """A perforated floor tile (or a uniform group of them) over a floor rectangle.

    Without a raised-floor plenum the tile is an inflow opening with a given
    ``flow`` at ``temperature``; with a plenum its flow follows from the plenum
    pressure through the loss coefficient of its open fraction.
    """

    name: str
    position: tuple[Length, Length]
    size: tuple[PositiveLength, PositiveLength] = (0.6, 0.6)
    open_fraction: Annotated[Fraction, Field(gt=0)] = 0.25
    loss_coefficient: Annotated[float, Field(gt=0)] | None = None
    flow: Annotated[Flow, Field(ge=0)] | None = None
    temperature: Temperature | None = None
    jet_momentum: bool = False


class TileRow(Strict):
    """``count`` tiles of ``size`` from ``start`` along ``axis`` every ``pitch``."""

    name: str
    count: Annotated[int, Field(ge=1)]
    start: tuple[Length, Length]
    axis: Literal["x", "y"] = "x"
    pitch: PositiveLength | None = None
    size: tuple[PositiveLength, PositiveLength] = (0.6, 0.6)
    open_fraction: Annotated[Fraction, Field(gt=0)] = 0.25
    loss_coefficient: Annotated[float, Field(gt=0)] | None = None
    jet_momentum: bool = False


class Cooler(Strict):
    """A cooling unit (CRAH/CRAC or in-row): return sink, supply source."""

    name: str
    type: Literal["downflow", "upflow", "inrow"]
    position: tuple[Length, ...]
    size: tuple[PositiveLength, PositiveLength, PositiveLength]
    facing: Facing = "+x"
    flow: Annotated[Flow, Field(gt=0)]
    supply_temperature: Temperature
    control: Literal["supply", "return"] = "supply"
    return_setpoint: Temperature | None = None
    min_supply_temperature: Temperature = 10.0
    capacity: Annotated[Power, Field(gt=0)] | None = None
    fan_power: Annotated[Power, Field(ge=0)] = 0.0
    rated_flow: Annotated[Flow, Field(gt=0)] | None = None
    supply_face: Face | None = None
    return_face: Face | None = None
    return_from: Literal["room", "ceiling_plenum"] | None = None


class Return(Strict):
    """A return grille or opening at fixed static pressure on a room surface.

    ``surface`` is ceiling, floor or a wall (x-, x+, y-, y+); ``position`` and
    ``size`` are in that surface's in-plane axes ((x, y) on ceiling/floor,
    (y, z) on x-walls, (x, z) on y-walls).
    """

    name: str
    surface: Literal["ceiling", "floor", "x-", "x+", "y-", "y+"] = "ceiling"
    position: tuple[Length, Length]
    size: tuple[PositiveLength, PositiveLength]
    pressure: Pressure = 0.0
    open_fraction: Annotated[Fraction, Field(gt=0)] = 1.0
    loss_coefficient: Annotated[float, Field(gt=0)] | None = None


class Containment(Strict):
    """Aisle containment: panels around an aisle box (footprint ``position``,
    ``size``; from the floor to ``height``).  ``roof``, ``ends`` (the two short
    sides, doors) and ``sides`` (the long sides, over the rack faces and gaps
    in the rows) are panels with open fraction ``leakage``."""

    name: str
    kind: Literal["cold_aisle", "hot_aisle"]
    position: tuple[Length, Length]
    size: tuple[PositiveLength, PositiveLength]
    height: PositiveLength
    roof: bool = True
    ends: bool = True
    sides: bool = True
    leakage: Annotated[Fraction, Field(gt=0)] = 0.02


class Obstruction(Strict):
    """A column, cable tray, pipe or under-floor blockage: a box that blocks
    ``blockage`` (0..1, 1 = solid) of the flow area through it."""

    name: str
    kind: Literal["column", "cable_tray", "pipe", "blockage", "wall"] = "blockage"
    position: tuple[Length, Length, Length]
    size: tuple[PositiveLength, PositiveLength, PositiveLength]
    blockage: Annotated[Fraction, Field(gt=0)] = 1.0


class Event(Strict):
    """A change at ``time`` (s): ``cooler`` with ``action: fail`` (or ``restore``),
    or ``rack`` with a new ``power``."""

    time: Annotated[Time, Field(ge=0)]
    cooler: str | None = None
    rack: str | None = None
    action: Literal["fail", "restore"] | None = None
    power: Annotated[Power, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _one_target(self):
        if (self.cooler is None) == (self.rack is None):
            raise ValueError("give exactly one of cooler, rack")
        if self.cooler is not None and self.action is None:
            raise ValueError("a cooler event needs action: fail or restore")
        if self.rack is not None and self.power is None:
            raise ValueError("a rack event needs power")
        return self


class Transient(Strict):
    """A transient run after the steady state: to ``end_time`` (s), reporting every ``report_every`` (s)."""

    end_time: Annotated[Time, Field(gt=0)]
    report_every: Annotated[Time, Field(gt=0)] = 5.0


class Chiller(Strict):
    """Chiller efficiency for the cooling-power objective: COP = ``cop`` + ``cop_per_K`` x
    (supply temperature - 18 degC), floored at 1."""

    cop: Annotated[float, Field(gt=0)] = 4.0
    cop_per_K: Annotated[float, Field(ge=0)] = 0.15


class OptimizeParameter(Strict):
    """A design parameter to optimize: ``name`` as ``thermo.design`` names it (shell-style
    wildcards allowed, e.g. ``tile.T1-*.open_fraction``), with optional bounds (SI units,
    degC; default: the parameter's physical range or free travel)."""

    name: str
    lower: float | None = None
    upper: float | None = None


class Optimize(Strict):
    """The ``thermo optimize`` problem (see docs/optimization.md).

    objective: ``max_intake`` (smooth maximum of the rack inlet maxima, degC, with
    temperature scale ``smooth_max_K``) or ``cooling_power`` (fans + chiller, kW).
    intake_limit: ``recommended`` or ``allowable`` (the scenario's ASHRAE class), a
    temperature, or ``none``; kept with ``intake_margin`` (K) to spare by a quadratic
    penalty of weight ``penalty`` (objective units per K^2).  capacity: keep every cooler's
    load below ``capacity_margin`` x its capacity (same penalty).  fixed_total_power:
    rack powers keep their sum (workload placement; projected gradients).
    """

    objective: Literal["max_intake", "cooling_power"] = "max_intake"
    parameters: list[OptimizeParameter]
    method: Literal["lbfgsb", "projected_gradient"] = "lbfgsb"
    max_iterations: Annotated[int, Field(ge=1)] = 20
    intake_limit: Literal["recommended", "allowable", "none"] | Temperature = "recommended"
    intake_margin: Annotated[TemperatureDifference, Field(ge=0)] = 0.2
    capacity: bool = True
    capacity_margin: Annotated[float, Field(gt=0, le=1)] = 0.98
    penalty: Annotated[float, Field(gt=0)] = 100.0
    smooth_max_K: Annotated[TemperatureDifference, Field(gt=0)] = 0.25
    fixed_total_power: bool = False
    chiller: Chiller = Chiller()
    cell: PositiveLength | None = None
    precision: Literal["f32", "f64"] = "f64"


class ScenarioFile(Strict):
    """The top level of a scenario file."""

    name: str
    description: str = ""
    air: Air = Air()
    room: Room
    raised_floor: RaisedFloor | None = None
    ceiling_plenum: CeilingPlenum | None = None
    grid: GridSpec = GridSpec()
    solver: SolverSpec = SolverSpec()
    ashrae_class: Literal["A1", "A2", "A3", "A4", "H1"] = "A1"
    racks: list[Rack] = []
    rows: list[Row] = []
    tiles: list[Tile] = []
    tile_rows: list[TileRow] = []
    coolers: list[Cooler] = []
    returns: list[Return] = []
    containment: list[Containment] = []
    obstructions: list[Obstruction] = []
    events: list[Event] = []
    transient: Transient | None = None
    optimize: Optimize | None = None
