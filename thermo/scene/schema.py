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

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from .units import parse_quantity


def _quantity(kind):
    def convert(value):
        return parse_quantity(value, kind)
    return BeforeValidator(convert)


def _within(low: float, high: float, unit: str, what: str):
    """A check that a value lies in [low, high] (``unit``): the range in which ``what`` is
    physically meaningful.  Outside it a scenario describes no data hall, and the solver
    would either diverge or produce numbers that look like results."""
    def check(value):
        if not low <= value <= high:
            raise ValueError(f"outside {low:g}..{high:g} {unit}, the plausible range of {what}")
        return value
    return AfterValidator(check)


# Plausible ranges of the quantities a scenario gives (SI; temperatures degC).  Ends are wide on
# purpose: they refuse the meaningless (chilled water at -300 degC, gravity 1e308), not the unusual.
#: Air in a data hall (supply, setpoints, rating points): below 0 degC coils and humidifiers
#: freeze; 60 degC is well above the widest ASHRAE allowable range (A4, 45 degC).
AIR_TEMPERATURE_C = (0.0, 60.0)
#: Water (facility loops, rear doors, CDUs, capture tables): liquid at atmospheric pressure.
WATER_TEMPERATURE_C = (0.0, 100.0)
#: Outdoor air (facility ambient, wet bulb): beyond the recorded extremes of inhabited places.
AMBIENT_TEMPERATURE_C = (-60.0, 60.0)
#: A dielectric immersion liquid; the tank's own liquid narrows it to the range its
#: property fits are valid in (thermo.liquids, checked with the tank).
LIQUID_TEMPERATURE_C = (-40.0, 150.0)
#: Largest length in a scenario (m): 10 km; a hall of 1e300 m is not a hall.
MAX_LENGTH_M = 1e4
#: Largest air temperature rise through a rack (K): exhaust far above 100 degC is no IT equipment.
MAX_RISE_K = 100.0


def _bounded_length(value):
    if abs(value) > MAX_LENGTH_M:
        raise ValueError(f"larger than {MAX_LENGTH_M:g} m, far beyond any data hall")
    return value


def _named(text: str) -> str:
    # the name titles every table and, sanitized, names the default output folder
    if not text.strip():
        raise ValueError("must not be empty")
    return text


Number = Annotated[float, _quantity("dimensionless")]
Length = Annotated[float, _quantity("length"), AfterValidator(_bounded_length)]
Area = Annotated[float, _quantity("area")]
Power = Annotated[float, _quantity("power")]
Flow = Annotated[float, _quantity("flow")]
FlowPerPower = Annotated[float, _quantity("flow_per_power")]
Pressure = Annotated[float, _quantity("pressure")]
Time = Annotated[float, _quantity("time")]
Temperature = Annotated[float, _quantity("temperature")]
AirTemperature = Annotated[Temperature, _within(*AIR_TEMPERATURE_C, "degC", "air in a data hall")]
WaterTemperature = Annotated[Temperature, _within(*WATER_TEMPERATURE_C, "degC", "liquid water")]
AmbientTemperature = Annotated[Temperature, _within(*AMBIENT_TEMPERATURE_C, "degC", "outdoor air")]
LiquidTemperature = Annotated[Temperature, _within(*LIQUID_TEMPERATURE_C, "degC", "a dielectric liquid")]
TemperatureDifference = Annotated[float, _quantity("temperature_difference")]
Fraction = Annotated[float, _quantity("fraction"), Field(ge=0.0, le=1.0)]
Facing = Literal["+x", "-x", "+y", "-y"]
Face = Literal["top", "bottom", "front", "back"]

PositiveLength = Annotated[Length, Field(gt=0.0)]


class Strict(BaseModel):
    # allow_inf_nan: a float field never takes .inf or .nan, whichever way it is written
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Air(Strict):
    """Air properties (Boussinesq); defaults are dry air near 18 degC."""

    # ranges: air from high altitude to a pressurised room, 0..60 degC; kinematic viscosity
    # (m^2/s) up to 1 (artificially viscous air keeps test flows laminar, design-tiny 1e-2) and expansion (1/K, an ideal gas: 1/T) of any gas near room conditions; gravity
    # (m/s^2) 0 (no buoyancy) up to five times the Earth's
    density: Annotated[Number, Field(gt=0), _within(0.1, 10.0, "kg/m^3", "air density")] = 1.19
    heat_capacity: Annotated[Number, Field(gt=0), _within(500.0, 5000.0, "J/(kg K)", "a gas's heat capacity")] = 1006.0
    viscosity: Annotated[Number, Field(gt=0), _within(1e-6, 1.0, "m^2/s", "a kinematic viscosity")] = 1.5e-5
    prandtl: Annotated[Number, Field(gt=0), _within(0.1, 10.0, "", "a gas's Prandtl number")] = 0.71
    turbulent_prandtl: Annotated[Number, Field(gt=0), _within(0.3, 3.0, "", "a turbulent Prandtl number")] = 0.85
    expansion: Annotated[Number, Field(ge=0), _within(0.0, 0.02, "1/K", "a gas's thermal expansion")] = 3.4e-3
    reference_temperature: AirTemperature = 18.0
    gravity: Annotated[Number, Field(ge=0), _within(0.0, 50.0, "m/s^2", "gravity")] = 9.81


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
    growth: Annotated[Number, Field(ge=1.0, le=3.0)] = 1.25
    min_cell: PositiveLength | None = None


# Courant number of implicit pseudo-time steps when a scenario gives none: the fastest of
# 2, 3, 5, 10 and 20 on hall-small at 0.3 and 0.2 m (docs/performance.md)
IMPLICIT_CFL = 5.0


class SolverSpec(Strict):
    """Solver settings for this scenario."""

    turbulence: Literal["zero_equation", "mixing_length", "laminar"] = "zero_equation"
    max_steps: Annotated[int, Field(gt=0)] = 20000
    tolerance: Annotated[Number, Field(gt=0)] = 2e-3
    monitor_tolerance: Annotated[TemperatureDifference, Field(gt=0)] = 0.05
    pseudo_time: Literal["explicit", "implicit"] = "explicit"
    cfl: Annotated[Number, Field(gt=0, le=100)] = 0.45
    limiter: Literal["koren", "smooth", "van_leer", "minmod", "upwind"] = "koren"
    method: Literal["newton", "march"] = "march"
    newton_cfl: Annotated[Number, Field(gt=0, le=20)] = 5.0
    newton_tolerance: Annotated[Number, Field(gt=0, lt=1)] | None = None
    newton_max_iterations: Annotated[int, Field(gt=0, le=500)] = 40
    local_time_step: Annotated[Number, Field(ge=1, le=100)] = 10.0
    average_window: Annotated[int, Field(ge=0)] = 2000
    average_tolerance: Annotated[TemperatureDifference, Field(gt=0)] = 0.25
    coarse_correction: bool = False

    @model_validator(mode="before")
    @classmethod
    def _newton_solves_a_smooth_scheme(cls, data):
        # Newton needs a continuously differentiable scheme (kinks stall it): the smooth
        # limiter unless the file names another
        if isinstance(data, dict) and data.get("method") == "newton" and "limiter" not in data:
            return {**data, "limiter": "smooth"}
        return data

    @model_validator(mode="before")
    @classmethod
    def _implicit_courant_number(cls, data):
        # implicit steps run at IMPLICIT_CFL unless the file says otherwise
        if isinstance(data, dict) and data.get("pseudo_time") == "implicit" and "cfl" not in data:
            return {**data, "cfl": IMPLICIT_CFL}
        return data

    @field_validator("cfl")
    @classmethod
    def _cfl_within_the_scheme(cls, value, info):
        if info.data.get("pseudo_time", "explicit") == "explicit" and value > 1:
            raise ValueError(f"{value} is above 1, the explicit stability limit; a larger Courant number "
                             "needs pseudo_time: implicit")
        return value

    @field_validator("local_time_step")
    @classmethod
    def _local_steps_are_explicit(cls, value, info):
        if info.data.get("pseudo_time") == "implicit" and value > 1:
            raise ValueError("local time steps apply to explicit pseudo-time steps; with pseudo_time: "
                             "implicit leave local_time_step out (one step everywhere, set by cfl)")
        return value


class Airflow(Strict):
    """Rack air flow: exactly one of a fixed flow (m^3/s), a flow per kW of power
    (m^3/s per W internally), a design temperature rise (K) or a fan curve.

    ``fan_curve``: points ``[flow, static_pressure]`` (m^3/s, Pa) of the servers' fans,
    flow increasing and pressure (the rise from the rack's front to its back they
    deliver at that flow) strictly decreasing and >= 0; the rack's flow is then where
    the curve meets the pressure difference of the solution (thermo.equipment.fans).
    ``speed``: the fans' speed as a fraction of the curve's (affinity laws: flows scale
    by ``speed``, pressures by ``speed``^2), only with ``fan_curve``."""

    flow: Annotated[Flow, Field(gt=0)] | None = None
    flow_per_kw: Annotated[FlowPerPower, Field(gt=0)] | None = None
    design_rise: Annotated[TemperatureDifference, Field(gt=0, le=MAX_RISE_K)] | None = None
    fan_curve: list[tuple[Flow, Pressure]] | None = None
    speed: Annotated[Number, Field(gt=0, le=2)] | None = None

    @field_validator("fan_curve")
    @classmethod
    def _curve_is_a_fan_curve(cls, points):
        if points is None:
            return points
        if len(points) < 2:
            raise ValueError(f"needs at least 2 points [flow, static_pressure] (got {len(points)})")
        for k, (q, p) in enumerate(points):
            if q < 0:
                raise ValueError(f"point {k + 1}: flow must be >= 0 (got {q:g} m3/s)")
            if p < 0:
                raise ValueError(f"point {k + 1}: static pressure must be >= 0 (got {p:g} Pa)")
            if k and not q > points[k - 1][0]:
                raise ValueError(f"point {k + 1}: flow must increase from point to point "
                                 f"(got {q:g} m3/s after {points[k - 1][0]:g} m3/s)")
            if k and not p < points[k - 1][1]:
                raise ValueError(f"point {k + 1}: static pressure must decrease strictly as the flow rises "
                                 f"(got {p:g} Pa after {points[k - 1][1]:g} Pa)")
        return [(float(q), float(p)) for q, p in points]

    @field_validator("speed")
    @classmethod
    def _speed_of_a_curve(cls, value, info):
        if value is not None and info.data.get("fan_curve") is None:
            raise ValueError(f"scales a fan curve by the affinity laws; give it with fan_curve (got {value:g})")
        return value

    @model_validator(mode="after")
    def _exactly_one(self):
        given = [k for k in ("flow", "flow_per_kw", "design_rise", "fan_curve") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of flow, flow_per_kw, design_rise, fan_curve"
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
    # 1 would send all the exhaust back to the intake: the rack would never reject its heat
    blanking_leakage: Annotated[Fraction, Field(lt=1.0)] = 0.0
    rear_door: "RearDoor | None" = None
    liquid: "LiquidCooling | None" = None


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
    blanking_leakage: Annotated[Fraction, Field(lt=1.0)] = 0.0
    names: list[str] | None = None
    rear_door: "RearDoor | None" = None
    liquid: "LiquidCooling | None" = None


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
    loss_coefficient: Annotated[Number, Field(gt=0)] | None = None
    flow: Annotated[Flow, Field(ge=0)] | None = None
    temperature: AirTemperature | None = None
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
    loss_coefficient: Annotated[Number, Field(gt=0)] | None = None
    jet_momentum: bool = False


class Cooler(Strict):
    """A cooling unit (CRAH/CRAC or in-row): return sink, supply source."""

    name: str
    type: Literal["downflow", "upflow", "inrow"]
    position: tuple[Length, ...]
    size: tuple[PositiveLength, PositiveLength, PositiveLength]
    facing: Facing = "+x"
    flow: Annotated[Flow, Field(gt=0)]
    supply_temperature: AirTemperature
    control: Literal["supply", "return"] = "supply"
    return_setpoint: AirTemperature | None = None
    min_supply_temperature: AirTemperature = 10.0
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
    loss_coefficient: Annotated[Number, Field(gt=0)] | None = None


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
    # 1: panels that block nothing, no containment at all
    leakage: Annotated[Fraction, Field(gt=0, lt=1.0)] = 0.02


class Obstruction(Strict):
    """A column, cable tray, pipe or under-floor blockage: a box that blocks
    ``blockage`` (0..1, 1 = solid) of the flow area through it."""

    name: str
    kind: Literal["column", "cable_tray", "pipe", "blockage", "wall"] = "blockage"
    position: tuple[Length, Length, Length]
    size: tuple[PositiveLength, PositiveLength, PositiveLength]
    blockage: Annotated[Fraction, Field(gt=0)] = 1.0


# ------------------------------------------------------------------------------------
# liquid and hybrid cooling (docs/liquid-cooling.md)
# ------------------------------------------------------------------------------------

Resistance = Annotated[Number, Field(gt=0)]     # K/W


class Coolant(Strict):
    """Properties of a liquid (default: water near 20 degC)."""

    # ranges: any liquid coolant (dielectrics and oils near 800 kg/m^3 and 1,700-2,000 J/(kg K),
    # glycol mixtures, water 998 and 4,182)
    density: Annotated[Number, Field(gt=0), _within(500.0, 2000.0, "kg/m^3", "a liquid's density")] = 998.0
    heat_capacity: Annotated[Number, Field(gt=0), _within(1000.0, 6000.0, "J/(kg K)",
                                                          "a liquid's heat capacity")] = 4182.0


class DoorRating(Strict):
    """A rear door's rating point (from a data sheet): it removes ``duty`` (W) from
    ``air_flow`` (m^3/s) entering at ``air_temperature`` with ``water_flow`` (m^3/s)
    entering at ``water_temperature``.  UA follows by inverting eps-NTU."""

    duty: Annotated[Power, Field(gt=0)]
    air_flow: Annotated[Flow, Field(gt=0)]
    air_temperature: AirTemperature
    water_flow: Annotated[Flow, Field(gt=0)]
    water_temperature: WaterTemperature


class DoorFans(Strict):
    """Fans on an active rear door: they overcome the coil's pressure drop (the room sees
    no resistance); electric power = flow x pressure drop / ``efficiency``."""

    efficiency: Annotated[Fraction, Field(gt=0)] = 0.5


class RearDoor(Strict):
    """A rear-door heat exchanger on a rack's back face.

    Heat: exactly one of ``ua`` (W/K) or ``rating``.  Air side: ``loss_coefficient``
    (-, on the door face velocity) or ``rated_pressure_drop`` (Pa) at ``rated_air_flow``
    (m^3/s) (quadratic); neither: the rating's pressure drop is unknown and the door
    adds none.  Water: ``water_flow`` (m^3/s) entering at ``water_temperature`` (degC;
    default the supply temperature of the facility ``loop``)."""

    ua: Annotated[Number, Field(gt=0)] | None = None
    rating: DoorRating | None = None
    water_flow: Annotated[Flow, Field(gt=0)]
    water_temperature: WaterTemperature | None = None
    loop: str | None = None
    arrangement: Literal["crossflow_unmixed", "counterflow", "parallel", "crossflow_air_mixed",
                         "crossflow_water_mixed"] = "crossflow_unmixed"
    loss_coefficient: Annotated[Number, Field(ge=0)] | None = None
    rated_pressure_drop: Annotated[Pressure, Field(ge=0)] | None = None
    rated_air_flow: Annotated[Flow, Field(gt=0)] | None = None
    depth: PositiveLength = 0.2
    fans: DoorFans | None = None
    water: Coolant = Coolant()

    @model_validator(mode="after")
    def _consistent(self):
        if (self.ua is None) == (self.rating is None):
            raise ValueError("give exactly one of ua, rating")
        if self.loss_coefficient is not None and self.rated_pressure_drop is not None:
            raise ValueError("give at most one of loss_coefficient, rated_pressure_drop")
        if self.rated_pressure_drop is not None and self.rated_air_flow is None:
            raise ValueError("rated_pressure_drop needs rated_air_flow")
        return self


class RackRearDoor(RearDoor):
    """A rear door given apart from its rack (``rear_doors:`` list): the door fields plus
    ``rack``, the name of the rack it is mounted on (e.g. one rack of a row)."""

    rack: str


class CaptureTable(Strict):
    """Capture ratio against coolant flow per rack (m^3/s) and coolant supply temperature
    (degC): ``values[i][j]`` at ``flows[i]``, ``temperatures[j]`` (bilinear, clamped)."""

    flows: list[Annotated[Flow, Field(gt=0)]]
    temperatures: list[WaterTemperature]
    values: list[list[Fraction]]


class ResistanceTable(Strict):
    """Cold-plate thermal resistance (K/W, case to coolant inlet) against coolant flow per
    plate (m^3/s), linear between points, clamped outside."""

    flows: list[Annotated[Flow, Field(gt=0)]]
    values: list[Resistance]


class ResistancePowerLaw(Strict):
    """R = ``reference`` (K/W) x (flow / ``reference_flow``)^(-``exponent``), flow per plate."""

    reference: Resistance
    reference_flow: Annotated[Flow, Field(gt=0)]
    exponent: Annotated[Number, Field(ge=0, le=2)] = 0.8


class LiquidCooling(Strict):
    """Direct-to-chip cold plates in a rack: a share ``capture`` of the rack power goes to
    the coolant (``flow`` m^3/s per rack, from the CDU that serves the rack), the rest to
    the air.  ``plates`` cold plates in parallel share the captured heat and the flow;
    ``resistance`` gives the case temperature of each."""

    capture: Fraction | CaptureTable
    flow: Annotated[Flow, Field(gt=0)]
    plates: Annotated[int, Field(ge=1)] = 1
    resistance: ResistanceTable | ResistancePowerLaw | None = None


class CduRating(Strict):
    """A CDU's rating: at ``load`` (W) the coolant supply is ``approach`` (K) above the
    facility-water supply, at the operating flows."""

    load: Annotated[Power, Field(gt=0)]
    approach: Annotated[TemperatureDifference, Field(gt=0)]


class Pump(Strict):
    """A pump: power = flow x ``pressure_drop`` (Pa, of the loop at its flow) / ``efficiency``."""

    pressure_drop: Annotated[Pressure, Field(ge=0)]
    efficiency: Annotated[Fraction, Field(gt=0)] = 0.6


class Cdu(Strict):
    """A coolant distribution unit: a liquid-liquid heat exchanger between the cold-plate
    loop of the ``racks`` it serves (names or shell patterns such as ``P*``) and facility
    water (``facility_flow`` m^3/s at ``facility_temperature`` degC, default the supply of
    its ``loop``).  Exactly one of ``ua`` (W/K) or ``rating``."""

    name: str
    racks: list[str]
    facility_flow: Annotated[Flow, Field(gt=0)]
    facility_temperature: WaterTemperature | None = None
    loop: str | None = None
    arrangement: Literal["counterflow", "parallel", "crossflow_unmixed"] = "counterflow"
    ua: Annotated[Number, Field(gt=0)] | None = None
    rating: CduRating | None = None
    pump: Pump = Pump(pressure_drop=150e3)
    coolant: Coolant = Coolant()
    facility_water: Coolant = Coolant()

    @model_validator(mode="after")
    def _one_ua(self):
        if (self.ua is None) == (self.rating is None):
            raise ValueError("give exactly one of ua, rating")
        return self


class Loop(Strict):
    """A facility water loop and its heat rejection.

    ``type: chiller``: a chiller makes ``supply_temperature`` with COP =
    ``carnot_fraction`` x T_evap / (T_cond - T_evap) (K), T_evap = supply -
    ``evaporator_approach``, T_cond = ambient + ``condenser_approach``, capped at
    ``max_cop`` (or a fixed ``cop``).  ``dry_cooler`` / ``cooling_tower``: free cooling
    when the ambient dry-bulb (wet-bulb for a tower) + ``approach`` reaches the supply
    temperature, else the same chiller relation trims the rest of the lift.
    Fans: ``fan_power_per_kw`` (W per W rejected); pumps: ``pump_power`` (W)."""

    name: str
    type: Literal["chiller", "dry_cooler", "cooling_tower"]
    supply_temperature: WaterTemperature
    cop: Annotated[Number, Field(gt=0)] | None = None
    carnot_fraction: Annotated[Fraction, Field(gt=0)] = 0.5
    evaporator_approach: Annotated[TemperatureDifference, Field(ge=0)] = 4.0
    condenser_approach: Annotated[TemperatureDifference, Field(ge=0)] = 10.0
    max_cop: Annotated[Number, Field(gt=0)] = 12.0
    approach: Annotated[TemperatureDifference, Field(ge=0)] = 5.0
    fan_power_per_kw: Annotated[Number, Field(ge=0)] = 0.02
    pump_power: Annotated[Power, Field(ge=0)] = 0.0


class Facility(Strict):
    """Facility energy: ambient conditions, water loops, electrical losses.  Cooling
    units (CRAH) reject to ``crah_loop`` (default the first chiller loop)."""

    ambient_temperature: AmbientTemperature
    wet_bulb_temperature: AmbientTemperature | None = None
    loops: list[Loop]
    crah_loop: str | None = None
    ups_efficiency: Annotated[Fraction, Field(gt=0)] = 0.96
    # 1: every watt lost on the way to the IT equipment
    distribution_loss: Annotated[Fraction, Field(lt=1.0)] = 0.02


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


class TankServers(Strict):
    """The server blocks of an immersion tank: ``count`` identical blocks of
    ``power`` (W each) and ``size`` (m: thickness along the tank's long
    horizontal axis, width across it, height), standing side by side along the
    long axis with equal gaps, centred across it, their bottoms ``elevation``
    (m) above the tank floor.  A block is porous: ``open_fraction`` of every
    face through it is open to the liquid, and the liquid in it feels the
    Darcy drag of laminar flow between plates ``channel_gap`` (m) apart,
    nu / K with K = gap^2 / 12."""

    count: Annotated[int, Field(ge=1)]
    power: Annotated[Power, Field(ge=0)]
    size: tuple[PositiveLength, PositiveLength, PositiveLength]
    elevation: Annotated[Length, Field(ge=0)] = 0.1
    open_fraction: Annotated[Fraction, Field(gt=0)] = 0.5
    channel_gap: PositiveLength = 0.005


class TankCirculation(Strict):
    """Pumped circulation of an immersion tank through its heat exchanger (HX).

    ``flow`` (m^3/s) enters through a distribution plate over the tank floor at
    the HX supply temperature and leaves over a weir along the +y (or +x)
    wall at the free surface.  The supply temperature is either fixed
    (``supply_temperature``) or follows from facility water entering the HX at
    ``facility_supply_temperature``: with ``approach`` (K) the supply is
    facility + approach; with ``facility_flow`` (m^3/s of water) and ``ua``
    (W/K) a counterflow effectiveness-NTU HX.  ``pressure_drop`` (Pa, loop
    total) and ``pump_efficiency`` give the pump power.  ``loop``: the
    facility loop (``facility.loops``) that takes the HX load, required when the
    scenario has a ``facility:`` section."""

    flow: Annotated[Flow, Field(gt=0)]
    supply_temperature: LiquidTemperature | None = None
    facility_supply_temperature: WaterTemperature | None = None
    approach: Annotated[TemperatureDifference, Field(ge=0)] | None = None
    facility_flow: Annotated[Flow, Field(gt=0)] | None = None
    ua: Annotated[Number, Field(gt=0)] | None = None
    pressure_drop: Annotated[Pressure, Field(ge=0)] | None = None
    pump_efficiency: Annotated[Fraction, Field(gt=0)] = 0.6
    loop: str | None = None


class Tank(Strict):
    """A single-phase immersion tank: a box (``position`` lower corner, ``size``
    outer extents, m) on the floor holding ``liquid`` up to ``fill_height``
    (m above the tank bottom), with server blocks and pumped circulation.
    The interior is solved on its own grid of about ``cell`` (m) cells; the
    room sees the heat lost through walls and lid (see docs/immersion.md)."""

    name: str
    position: tuple[Length, ...]
    size: tuple[PositiveLength, PositiveLength, PositiveLength]
    liquid: str
    fill_height: PositiveLength
    servers: TankServers
    circulation: TankCirculation
    wall_thickness: Annotated[Length, Field(ge=0)] = 0.006
    wall_conductivity: Annotated[Number, Field(gt=0), _within(0.01, 500.0, "W/(m K)",
                                                              "a wall's conductivity (copper 400)")] = 16.0
    emissivity: Annotated[Fraction, Field(ge=0)] = 0.9
    cell: PositiveLength = 0.06
    turbulence: Literal["zero_equation", "mixing_length", "laminar"] = "mixing_length"


class Chiller(Strict):
    """Chiller efficiency for the cooling-power objective: COP = ``cop`` + ``cop_per_K`` x
    (supply temperature - 18 degC), floored at 1."""

    cop: Annotated[Number, Field(gt=0)] = 4.0
    cop_per_K: Annotated[Number, Field(ge=0)] = 0.15


class OptimizeParameter(Strict):
    """A design parameter to optimize: ``name`` as ``thermo.design`` names it (shell-style
    wildcards allowed, e.g. ``tile.T1-*.open_fraction``), with optional bounds (SI units,
    degC; default: the parameter's physical range or free travel)."""

    name: str
    lower: Number | None = None
    upper: Number | None = None


class Optimize(Strict):
    """The ``thermo optimize`` problem (see docs/optimization.md).

    objective: ``max_intake`` (smooth maximum of the rack inlet maxima, degC, with
    temperature scale ``smooth_max_K``) or ``cooling_power`` (fans + chiller, kW).
    intake_limit: ``recommended`` or ``allowable`` (the scenario's ASHRAE class), a
    temperature, or ``none``; kept with ``intake_margin`` (K) to spare by a quadratic
    penalty of weight ``penalty`` (objective units per K^2).  capacity: keep every cooler's
    load below ``capacity_margin`` x its capacity (same penalty).  fixed_total_power:
    rack powers keep their sum (workload placement; projected gradients).  tolerance and
    max_steps: the steady solve of every evaluation stops when the change rates fall below
    ``tolerance`` (default: :func:`thermo.design.default_options`, 1e-8 in f64 and 1e-5 in
    f32) or after ``max_steps`` pseudo-time steps (default 40000); an unconverged evaluation
    has no gradient.  gradient: ``adjoint`` (one backward pass per evaluation) or
    ``finite_difference`` (one extra warm-started steady solve per parameter, a one-sided step
    of ``finite_difference_step`` x the parameter's bound range), for halls whose adjoint does
    not converge.
    """

    objective: Literal["max_intake", "cooling_power"] = "max_intake"
    parameters: list[OptimizeParameter]
    method: Literal["lbfgsb", "projected_gradient"] = "lbfgsb"
    max_iterations: Annotated[int, Field(ge=1)] = 20
    intake_limit: Literal["recommended", "allowable", "none"] | AirTemperature = "recommended"
    intake_margin: Annotated[TemperatureDifference, Field(ge=0)] = 0.2
    capacity: bool = True
    capacity_margin: Annotated[Number, Field(gt=0, le=1)] = 0.98
    penalty: Annotated[Number, Field(gt=0)] = 100.0
    smooth_max_K: Annotated[TemperatureDifference, Field(gt=0)] = 0.25
    fixed_total_power: bool = False
    chiller: Chiller = Chiller()
    cell: PositiveLength | None = None
    precision: Literal["f32", "f64"] = "f64"
    tolerance: Annotated[Number, Field(gt=0, lt=1)] | None = None
    max_steps: Annotated[int, Field(ge=100)] | None = None
    gradient: Literal["adjoint", "finite_difference"] = "adjoint"
    finite_difference_step: Annotated[Number, Field(gt=0, le=0.5)] = 0.01


class ScenarioFile(Strict):
    """The top level of a scenario file."""

    name: Annotated[str, AfterValidator(_named)]
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
    cdus: list[Cdu] = []
    rear_doors: list[RackRearDoor] = []
    facility: Facility | None = None
    tanks: list[Tank] = []
    optimize: Optimize | None = None
    # a sensors CSV file (thermo.io.sensors), relative to the scenario file
    sensors: Annotated[str, Field(min_length=1)] | None = None


Rack.model_rebuild()
Row.model_rebuild()
