"""A data hall end to end: scene -> grid and fields -> coupled solve -> summary.

>>> import thermo.scene, thermo.hall
>>> scene = thermo.scene.load("geometries/hall-small.yaml")          # doctest: +SKIP
>>> model = thermo.hall.build(scene, cell_size=0.3)                  # doctest: +SKIP
>>> result = thermo.hall.solve(model)                                # doctest: +SKIP
>>> result.summary["racks"][0]["inlet_max_C"]                        # doctest: +SKIP

The coupling (:func:`make_coupling`) runs inside the compiled loop before
every step: rack exhaust temperatures from the area-mean intake, cooling-unit
supply temperatures (setpoint, capacity limit), return-opening backflow
temperatures, tile jet momentum, the flows of fan-curve racks (where their
curve meets the pressure across them, :mod:`thermo.equipment.fans`) and, in
transients, the event schedule.
It changes only source and boundary values, never shapes or open fractions.
"""

from __future__ import annotations

import math
import time as _time
from dataclasses import dataclass, field, replace as _replace_fields
from functools import partial
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from .equipment import rack as rack_model
from .equipment import fans as fan_model
from .equipment import cooler as cooler_model
from .equipment.assembly import FieldArrays
from .equipment.containment import build_containment
from .equipment import hybrid as hybrid_model
from .equipment import immersion
from .equipment.events import Schedule, build_schedule, power_at, power_at_host, running_at, running_at_host
from .equipment.leakage import build_floor, floor_flows
from .equipment.obstruction import build_obstructions
from .equipment.openings import OpeningSet, build_openings, opening_flows, update_backflow
from .equipment.tiles import TileSet, build_tiles, jet_correction, tile_flows
from .fields import State, compensation_for
from .grid import Grid
from .problem import Fluid, Problem
from .scene.gridgen import generate_grid
from .scene.load import Scene
from .scene.schema import SolverSpec
from .solve import Numerics, RunReport, Solver, SolverDiverged, average_state, stable_time_step
from . import fas
from . import metrics as m

TRACER_NAMES = ["capture_cold", "capture_hot"]
BALANCE_TOLERANCE_PCT = 0.2   # a steady run is not settled while the energy balance is off by more


@dataclass
class HallModel:
    """A hall ready to solve.

    Attributes:
      scene: the validated :class:`~thermo.scene.Scene`.
      grid: the generated :class:`~thermo.grid.Grid`; cells: its cell count.
      problem: the core :class:`~thermo.problem.Problem` (run precision).
      numerics: :class:`~thermo.solve.Numerics` of the steady solve.
      coupling: ``coupling(problem, state) -> problem`` for the steady solve (t = 0 configuration).
      transient_coupling: the same with the scenario's events.
      tracer_names: names of ``result.state.tracers`` (the capture-index scalars).
      has_events: whether the scenario has events.
      racks, coolers, tiles, openings, schedule: equipment as sparse arrays.
      floor_leakage_fraction: open fraction of the raised-floor slab outside tiles.
      layout: optional :class:`thermo.parallel.Layout` to shard the grid over a device
        mesh (``thermo run --devices/--mesh``); None: one device.
      fans: the fan-curve racks (:class:`thermo.equipment.fans.FanSet`), None without any.
    """

    scene: Scene
    grid: Grid
    problem: Problem
    numerics: Numerics
    coupling: Callable
    transient_coupling: Callable
    racks: rack_model.RackSet
    coolers: cooler_model.CoolerSet
    tiles: TileSet
    openings: OpeningSet
    schedule: Schedule
    floor_leakage_fraction: float = 0.0
    tracer_names: list = field(default_factory=lambda: list(TRACER_NAMES))
    hybrid: object = None   # rear doors, cold plates, CDUs (equipment.hybrid.HybridSet)
    tanks: immersion.RoomTanks | None = None
    layout: object = None
    coarse_level: object = None   # thermo.fas.CoarseLevel: coarse-grid corrections of the steady march
    fans: fan_model.FanSet | None = None
    _return_flows: Callable | None = field(default=None, init=False, repr=False, compare=False)
    _fan_point: Callable | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def cells(self) -> int:
        return self.grid.cells

    @property
    def has_events(self) -> bool:
        return len(self.scene.events) > 0

    def memory_estimate_bytes(self) -> int:
        """Estimated peak memory (bytes) of a solve on one device (:func:`thermo.memory.estimate_bytes`:
        the measured peak bytes per cell of a compiled step, plus compilation and runtime)."""
        from .memory import estimate_bytes

        solver = self.scene.solver
        return estimate_bytes(self.cells, np.dtype(self.problem.geometry.fluid.dtype).itemsize,
                              implicit=solver.pseudo_time == "implicit", coarse_correction=solver.coarse_correction)

    def return_flows(self, problem: Problem, state: State):
        """(outward volume flow (m^3/s), leaving temperature (degC)) per return opening
        (:func:`thermo.equipment.openings.opening_flows`), compiled once per model: a summary
        is made at every report of a transient."""
        if self._return_flows is None:
            self._return_flows = jax.jit(partial(opening_flows, self.openings))
        return self._return_flows(problem, state)

    def fan_point(self, problem: Problem, state: State) -> fan_model.FanPoint:
        """The operating point of every fan-curve rack in ``state``
        (:func:`thermo.equipment.fans.operating_point`, the one the coupling applies),
        compiled once per model; ``problem``: the model's (uncoupled) problem."""
        if self._fan_point is None:
            self._fan_point = jax.jit(lambda p, s: with_fan_flows(self.racks, self.fans, p, s, self.numerics)[1])
        return self._fan_point(problem, state)


@dataclass
class HallResult:
    """What :func:`solve` and :func:`solve_transient` return.

    Attributes:
      state: final :class:`~thermo.fields.State` (tracers: the capture-index scalars, see
        ``model.tracer_names``); report: :class:`~thermo.solve.RunReport`; converged: bool;
      summary: JSON-serialisable dict (the content of summary.json);
      equipment: list of {"name", "kind", "lower", "upper", "data"} per object;
      snapshots: transient only, list of (time_s, State).
      tanks: immersion tanks only, :class:`~thermo.equipment.immersion.TankResult` per tank.
      extra_fields: (file name, problem, state) of each tank interior, for its own .vtr.
    """

    state: State
    report: RunReport
    converged: bool
    summary: dict
    equipment: list
    snapshots: list = field(default_factory=list)
    tanks: list = field(default_factory=list)
    extra_fields: list = field(default_factory=list)


# ---------------------------------------------------------------------------------
# build
# ---------------------------------------------------------------------------------

def fluid_of(scene: Scene) -> Fluid:
    """The core :class:`~thermo.problem.Fluid` of the scenario's air (gravity along -z)."""
    a = scene.air
    return Fluid(density=a.density, heat_capacity=a.heat_capacity, viscosity=a.viscosity, prandtl=a.prandtl,
                 turbulent_prandtl=a.turbulent_prandtl, expansion=a.expansion,
                 reference_temperature=a.reference_temperature, gravity=np.array([0.0, 0.0, -a.gravity]))


def build(scene: Scene, cell_size: float | None = None, dtype=np.float32, grid: Grid | None = None) -> HallModel:
    """Grid, fields and coupling of ``scene``; ``cell_size`` (m) overrides ``grid.max_cell``;
    ``grid`` replaces the generated grid (the coarse levels of :mod:`thermo.fas`)."""
    grid = generate_grid(scene, cell_size) if grid is None else grid
    fields = FieldArrays(grid, scene.air.reference_temperature)
    racks, rack_layers = rack_model.build_racks(scene, fields)
    hybrid = hybrid_model.build_hybrid(scene, fields, rack_layers)
    coolers, _ = cooler_model.build_coolers(scene, fields)
    build_obstructions(scene, fields)
    tanks = immersion.build_room_tanks(scene, fields, dtype) if getattr(scene, "tanks", ()) else None
    eps = build_floor(scene, fields)
    tiles = build_tiles(scene, fields)
    openings = build_openings(scene, fields)
    build_containment(scene, fields)
    fans = fan_model.build_fans(scene, fields, rack_layers)   # last: it reads what the others wrote
    problem = fields.to_problem(fluid_of(scene), dtype)
    problem = problem.replace(equipment=_swept_values(racks, coolers, dtype))
    if fans is not None:
        fans = _replace_fields(fans, stiffness=np.asarray(jax.jit(fan_model.inertial_response)(fans, problem), float))
    numerics = Numerics(turbulence=scene.solver.turbulence, cfl=scene.solver.cfl, limiter=scene.solver.limiter,
                        local_time_step=scene.solver.local_time_step if scene.solver.pseudo_time == "explicit" else 1.0,
                        pseudo_time=scene.solver.pseudo_time,
                        max_dt=scene.solver.cfl * _largest_cell(grid) / max(_equipment_speed(scene, fields), 0.1))
    schedule = build_schedule(scene)
    steady = make_coupling(racks, coolers, tiles, openings, None, hybrid=hybrid, fans=fans, numerics=numerics)
    transient = make_coupling(racks, coolers, tiles, openings, schedule, hybrid=hybrid, fans=fans,
                              numerics=numerics) \
        if scene.events else steady
    return HallModel(scene=scene, grid=grid, problem=problem, numerics=numerics, coupling=steady,
                     transient_coupling=transient, racks=racks, coolers=coolers, tiles=tiles, openings=openings,
                     schedule=schedule, floor_leakage_fraction=eps, hybrid=hybrid, tanks=tanks, fans=fans)


def _swept_values(racks, coolers, dtype) -> dict | None:
    """Rack powers (W) and cooler set supply temperatures (degC) as arrays of the problem
    (``Problem.equipment``, read by the coupling) instead of constants of its closure: the
    values a load or setpoint study changes then leave the compiled step unchanged, so a
    rerun with other values loads it from the compilation cache (docs/performance.md)."""
    values = {}
    if racks.count:
        values["rack_power"] = jax.device_put(np.asarray(racks.power, dtype))
    if coolers.count:
        values["cooler_setpoint"] = jax.device_put(np.asarray(coolers.setpoint, dtype))
    return values or None


def source_heat(problem: Problem) -> float:
    """Total volumetric heat source (W) of ``problem``: the immersion tanks' surface losses."""
    # jitted: one program per grid shape instead of one per operation
    volume = np.asarray(jax.jit(Grid.cell_volume)(problem.grid), float)
    return float(np.sum(np.asarray(problem.sources.heat, float) * volume))


def _largest_cell(grid: Grid) -> float:
    return float(max(np.max(np.diff(np.asarray(x))) for x in grid.nodes))


def _equipment_speed(scene: Scene, fields: FieldArrays) -> float:
    """Largest air speed the equipment imposes (m/s): tile inflows, rack and cooler face
    velocities.  It caps the time step while the flow starts from rest."""
    speeds = [float(np.max(np.abs(fields.planes[2][0]["velocity"]), initial=0.0))]
    for r in scene.racks:
        axis = 0 if r.facing[1] == "x" else 1
        speeds.append(scene.rack_flow(r) / (r.size[1 - axis] * r.size[2]))
    for c in scene.coolers:
        face = cooler_model.supply_face(c)
        sx, sy, sz = c.size
        across = sx * sy if face in ("top", "bottom") else (sy if c.facing[1] == "x" else sx) * sz
        speeds.append(c.flow / across)
    for t in scene.tiles:
        speeds.append(0.5 / t.open_fraction)
    return max(speeds)


def make_coupling(racks, coolers, tiles, openings, schedule: Schedule | None, hybrid=None, fans=None,
                  numerics: Numerics | None = None):
    """The per-step equipment coupling (a pure JAX function, see module docstring).
    With ``schedule`` None the t = 0 configuration is used whatever the (pseudo-)time.
    ``hybrid`` (:class:`~thermo.equipment.hybrid.HybridSet`): cold plates take their share
    of rack power to liquid and rear doors cool the exhaust before the room sees it.
    ``fans`` (:class:`~thermo.equipment.fans.FanSet`): fan-curve racks, whose flow (and
    so intake sink, exhaust source, jet and exhaust temperature) follows the pressure
    across them in ``state`` (``numerics``: the solve's, for the time step that damps them).
    Values present in ``problem.equipment`` (see :mod:`thermo.design`) replace the
    sets' own rack powers and flows, intake weights, cooler flows and setpoints, return
    weights and tile jet coefficients, so gradients reach them."""
    fixed = (racks, coolers, tiles)

    def coupling(problem: Problem, state: State) -> Problem:
        racks, coolers, tiles = _with_design_values(fixed, problem.equipment)
        temperature = state.temperature
        sources = problem.sources
        fluid = problem.fluid
        mass_temperature = sources.mass_temperature
        if racks.count:
            racks, point = with_fan_flows(racks, fans, problem, state, numerics)
            if point is not None:
                sources = fan_model.apply_fans(fans, sources, point.flow)
            intake, _ = rack_model.intake_temperatures(racks, temperature)
            power = racks.power if schedule is None else power_at(schedule, racks.power, state.time)
            if hybrid is not None and hybrid.active:
                exhaust, _ = hybrid_model.air_exhaust(hybrid, racks, intake, power, fluid)
            else:
                exhaust = rack_model.exhaust_temperature(racks, intake, power, fluid)
            mass_temperature = rack_model.apply_exhaust(racks, mass_temperature, exhaust)
        sources = sources.__class__(**{**sources.__dict__, "mass_temperature": mass_temperature})
        if coolers.count:
            t_return = cooler_model.return_temperatures(coolers, temperature)
            t_supply = cooler_model.supply_temperatures(coolers, problem.sources.mass_temperature, t_return, fluid)
            running = None
            if schedule is not None and schedule.has_cooler_events:
                running = running_at(schedule, coolers.count, state.time)
                t_supply = jnp.where(running > 0, t_supply, t_return)
            sources = cooler_model.apply_units(coolers, sources, t_supply, running)
        if tiles.jet_faces.shape[0]:
            momentum = list(sources.momentum)
            momentum[2] = jet_correction(tiles, momentum[2], state.velocity[2])
            sources = sources.__class__(**{**sources.__dict__, "momentum": tuple(momentum)})
        problem = update_backflow(openings, problem, temperature)
        return problem.replace(sources=sources)

    return coupling


def with_fan_flows(racks, fans, problem: Problem, state: State, numerics: Numerics):
    """(``racks`` with the flows of its fan-curve racks at their operating point in ``state``,
    that :class:`~thermo.equipment.fans.FanPoint`); (``racks``, None) without fan curves.
    ``numerics``: the solve's, for the global time step of the coming step (it damps the
    fans' answer to the pressure spike their own change of flow raises)."""
    if fans is None:
        return racks, None
    dt = stable_time_step(problem, numerics, state.velocity, state.eddy_viscosity)
    point = fan_model.operating_point(fans, problem, state, dt)
    flow = jnp.asarray(racks.flow, point.flow.dtype).at[fans.rack].set(point.flow)
    return _replace_fields(racks, flow=flow), point


_DESIGN_FIELDS = {"rack_power": (0, "power"), "rack_flow": (0, "flow"), "rack_intake_weight": (0, "intake_weight"),
                  "cooler_flow": (1, "flow"), "cooler_setpoint": (1, "setpoint"),
                  "cooler_return_weight": (1, "return_weight"), "tile_jet_coefficient": (2, "jet_coefficient")}


def _with_design_values(sets, equipment):
    """(racks, coolers, tiles) with the values given in ``equipment`` (a dict or None)."""
    if not equipment:
        return sets
    from dataclasses import replace as _replace
    changes = [{}, {}, {}]
    for key, value in equipment.items():
        if key in _DESIGN_FIELDS:
            which, name = _DESIGN_FIELDS[key]
            changes[which][name] = value
    return tuple(_replace(s, **c) if c else s for s, c in zip(sets, changes))


# ---------------------------------------------------------------------------------
# solve
# ---------------------------------------------------------------------------------

def _rack_probe(model: HallModel):
    """jitted state -> [rack intake means (R), rack intake maxima (R)] (degC)."""
    racks = model.racks

    @jax.jit
    def probe(state):
        mean, peak = rack_model.intake_temperatures(racks, state.temperature)
        return jnp.concatenate([mean, peak])

    return probe


def supplied_flow(scene: Scene) -> float:
    """Air supplied to the hall (m^3/s): cooler flows and the fixed flows of inflow tiles
    (the scale of the energy balance of a hall with no heat, :func:`metrics.energy_balance_reference_W`)."""
    return float(sum(c.flow for c in scene.coolers) + sum(t.flow for t in scene.tiles if t.flow is not None))


def _balance_probe(model: HallModel, coupling):
    """jitted (problem, state) -> (energy balance (% of :func:`metrics.energy_balance_reference_W`:
    the rack heat, or the supply's enthalpy flow per kelvin in a hall with little or no heat),
    return temperatures (degC)): the hall-level quantities that must settle besides the rack intakes."""
    racks, coolers, openings = model.racks, model.coolers, model.openings
    rack_heat = float(np.sum(racks.power)) + source_heat(model.problem)
    air = model.scene.air
    reference = m.energy_balance_reference_W(rack_heat, supplied_flow(model.scene), air.density * air.heat_capacity)

    @jax.jit
    def probe(problem, state):
        current = coupling(problem, state)
        removed = -m.boundary_heat_inflow_jax(current, state)
        hybrid = model.hybrid
        if hybrid is not None and hybrid.active:
            intake, _ = rack_model.intake_temperatures(racks, state.temperature)
            racks_now, _ = with_fan_flows(racks, model.fans, problem, state, model.numerics)
            _, details = hybrid_model.air_exhaust(hybrid, racks_now, intake, racks.power, current.fluid)
            removed = removed + hybrid_model.water_heat(details)
        temps = [jnp.zeros(0, state.temperature.dtype)]
        if coolers.count:
            t_ret = cooler_model.return_temperatures(coolers, state.temperature)
            t_sup = cooler_model.supply_temperatures(coolers, problem.sources.mass_temperature, t_ret, current.fluid)
            rho_cp = current.fluid.density * current.fluid.heat_capacity
            removed = removed + jnp.sum(rho_cp * coolers.flow * (t_ret - t_sup))
            temps.append(t_ret)
        if openings.count:
            temps.append(opening_flows(openings, current, state)[1])
        return m.energy_balance_pct(removed, rack_heat, reference), jnp.concatenate(temps)

    return probe


def _controller(model: HallModel, solver: Solver):
    """Host-side integral return-temperature control between compiled chunks.

    The set supply temperature moves by -(T_return - setpoint) x dt_chunk / (2 tau) per
    chunk, tau = hall air volume / total cooler flow (the time the air takes to come
    back), which keeps the loop well damped whatever the chunk length."""
    coolers = model.coolers
    if not coolers.count or not np.any(coolers.return_control > 0):
        return lambda state: None
    t_set = np.where(coolers.return_control > 0, coolers.supply_setpoint_start, coolers.setpoint) \
        if hasattr(coolers, "supply_setpoint_start") else coolers.setpoint.copy()
    t_set = np.clip(t_set, coolers.min_supply, None)
    volume = float(np.sum(np.asarray(model.problem.geometry.fluid) * np.asarray(model.grid.cell_volume())))
    tau = volume / float(np.sum(coolers.flow))
    probe = jax.jit(lambda s: cooler_model.return_temperatures(coolers, s.temperature))
    cells = jnp.asarray(coolers.supply_cells)
    units = coolers.supply_unit
    last_time = [None]

    def store(values):
        src = solver.problem.sources
        flat = jnp.reshape(src.mass_temperature, (-1,)).at[cells].set(
            jnp.asarray(values[units], src.mass_temperature.dtype))
        src = src.__class__(**{**src.__dict__, "mass_temperature": jnp.reshape(flat, src.mass_temperature.shape)})
        solver.problem = solver.problem.replace(sources=src)

    store(t_set)

    def update(state):
        nonlocal t_set
        now = float(state.time)
        elapsed = 0.0 if last_time[0] is None else now - last_time[0]
        last_time[0] = now
        gain = min(0.5, elapsed / (2.0 * tau))
        t_set = cooler_model.return_control_update(coolers, t_set, np.asarray(probe(state)), gain)
        store(t_set)

    return update


def interpolate_state(state: State, source: Grid, target: Grid, target_open) -> State:
    """``state`` on grid ``source`` carried over to grid ``target`` (a starting point):
    cell-centred fields and face velocities by trilinear interpolation (constant
    extrapolation at the edges), velocity zero on the target's closed faces."""
    from scipy.interpolate import RegularGridInterpolator

    def sample(values, src_axes, dst_axes):
        f = RegularGridInterpolator(src_axes, np.asarray(values, float), bounds_error=False, fill_value=None)
        clipped = [np.clip(d, s[0], s[-1]) for s, d in zip(src_axes, dst_axes)]
        mesh = np.meshgrid(*clipped, indexing="ij")
        return f(np.stack([m.ravel() for m in mesh], -1)).reshape([len(d) for d in dst_axes])

    def axes(grid, face_axis=None):
        return [np.asarray(grid.nodes[a]) if a == face_axis else np.asarray(grid.centres(a)) for a in range(3)]

    dtype = state.temperature.dtype
    centre = lambda v: jnp.asarray(sample(v, axes(source), axes(target)), dtype)  # noqa: E731
    velocity = tuple(jnp.asarray(np.where(np.asarray(target_open[a]) > 0,
                                          sample(state.velocity[a], axes(source, a), axes(target, a)), 0.0), dtype)
                     for a in range(3))
    return State(velocity=velocity, pressure=centre(state.pressure), temperature=centre(state.temperature),
                 tracers=jnp.zeros((0, *target.shape), dtype), eddy_viscosity=centre(state.eddy_viscosity),
                 time=jnp.zeros_like(state.time), step=jnp.zeros_like(state.step),
                 temperature_residue=compensation_for(target.shape, dtype))


def _coarse_start(model: HallModel, coarse_cell, progress):
    """(state interpolated from a pre-solve on a coarser grid, its summary) or (None, None)."""
    if coarse_cell is None:
        return None, None
    h = float(np.max([np.max(np.diff(np.asarray(x))) for x in model.grid.nodes]))
    sequencing = newton_applies(model) is None
    if coarse_cell == "auto":
        if model.cells < 40000:
            return None, None
        # grid sequencing for Newton: each level twice as coarse (0.1 -> 0.2 -> 0.4 m), each
        # level started from the next; the march takes one level at three times the cell
        coarse_cell = (2.0 if sequencing else 3.0) * h
    coarse = build(model.scene, cell_size=float(coarse_cell), dtype=model.problem.geometry.fluid.dtype)
    if model.tanks is not None:
        coarse.problem = immersion.with_room_heat(coarse.tanks, coarse.problem, model.tanks.losses)
    result = solve(coarse, progress=progress, capture_index=False, coarse_start="auto" if sequencing else None)
    state = interpolate_state(result.state, coarse.grid, model.grid, model.problem.geometry.open)
    info = {"cell_m": float(coarse_cell), "cells": int(coarse.cells), "steps": result.summary["solver"]["steps"],
            "seconds": result.summary["solver"]["seconds"], "reason": result.summary["solver"]["reason"]}
    return state, info


def solve(model: HallModel, progress: Callable | None = None, max_steps: int | None = None,
          capture_index: bool = True, state: State | None = None, window: int = 10,
          coarse_start="auto") -> HallResult:
    """Steady state of ``model``: the room air (:func:`_solve_air`), and with immersion tanks
    the outer iteration between tank interiors and room air (:func:`_solve_with_tanks`)."""
    if model.tanks is None or not model.tanks.count:
        return _solve_air(model, progress, max_steps, capture_index, state, window, coarse_start)
    return _solve_with_tanks(model, progress, max_steps, capture_index, state, window, coarse_start)


TANK_LOSS_TOLERANCE_PCT = 0.1   # outer iterations stop when no tank's loss moved by more (% of its power)
TANK_OUTER_ITERATIONS = 4


def _solve_with_tanks(model: HallModel, progress, max_steps, capture_index, state, window, coarse_start):
    """Tanks and room to a consistent surface loss.

    1. each tank interior against a first guess of the room air (the mean cooler supply
       temperature, or the air reference temperature);
    2. the room with the tanks' face losses as heat sources in the air layers around them;
    3. each tank again (warm start) against the air temperatures of its layers; the change of
       every tank's surface loss, in % of its server power, is recorded; if any moved by more
       than ``TANK_LOSS_TOLERANCE_PCT`` the new losses go back to step 2 (at most
       ``TANK_OUTER_ITERATIONS`` room solves).

    The summary's ``tank_coupling`` holds the history."""
    tanks = model.tanks
    scene = model.scene
    start = _time.perf_counter()
    guess = float(np.mean([c.supply_temperature for c in scene.coolers])) if scene.coolers \
        else float(scene.air.reference_temperature)
    t_air = np.full((tanks.count, 5), guess)
    tank_progress = None if progress is None else (lambda record: progress(record, float("nan")))
    results = []
    for k, tank_model in enumerate(tanks.models):
        r = immersion.solve_tank(tank_model, t_air[k], progress=tank_progress)
        film = 0.5 * (r.supply_temperature + r.outlet_temperature)
        if abs(film - tank_model.film_temperature) > 1.0:   # properties at the solved film temperature
            tanks.models[k] = tank_model = immersion.refresh_properties(tank_model, r)
            r = immersion.solve_tank(tank_model, t_air[k], progress=tank_progress)
        results.append(r)
    losses = np.array([r.face_loss for r in results])
    history = []
    result = None
    for iteration in range(TANK_OUTER_ITERATIONS):
        model.problem = immersion.with_room_heat(tanks, model.problem, losses)
        result = _solve_air(model, progress, max_steps, False, state, window,
                            coarse_start if iteration == 0 else None)
        state = result.state
        t_air = immersion.air_temperatures(tanks, state.temperature, guess)
        results = [immersion.solve_tank(m, t_air[k], progress=tank_progress) for k, m in enumerate(tanks.models)]
        new = np.array([r.face_loss for r in results])
        power = np.array([r.server_power for r in results])
        change = 100.0 * np.abs(new.sum(axis=1) - losses.sum(axis=1)) / power
        history.append({"iteration": iteration + 1, "surface_loss_kW": (new.sum(axis=1) / 1e3).tolist(),
                        "loss_change_pct_of_power": change.tolist(),
                        "air_C_mean": t_air.mean(axis=1).tolist()})
        if float(np.max(change)) <= TANK_LOSS_TOLERANCE_PCT:
            break
        losses = new
    if capture_index:
        extras = {k: result.summary["solver"][k] for k in ("coarse_start", "window") if k in result.summary["solver"]}
        result = _finish(model, result.state, result.report, capture_index)
        result.summary["solver"].update(extras)
    result.report.seconds = _time.perf_counter() - start
    result.summary["solver"]["seconds"] = result.report.seconds
    _add_tanks(model, result, results, history)
    return result


def _add_tanks(model: HallModel, result: HallResult, results, history) -> None:
    """Tank rows, metrics, equipment blocks and interior fields into ``result``."""
    rows = [r.row() for r in results]
    result.tanks = results
    result.summary["tanks"] = rows
    last = history[-1] if history else {}
    result.summary["tank_coupling"] = {
        "outer_iterations": len(history), "converged": bool(history) and max(last["loss_change_pct_of_power"])
        <= TANK_LOSS_TOLERANCE_PCT, "tolerance_pct_of_power": TANK_LOSS_TOLERANCE_PCT,
        "loss_applied_to_room_kW": (model.tanks.losses.sum(axis=1) / 1e3).tolist(), "history": history}
    metrics = result.summary["metrics"]
    metrics["tank_server_power_kW"] = sum(r.server_power for r in results) / 1e3
    metrics["tank_hx_load_kW"] = sum(r.hx_load for r in results) / 1e3
    metrics["tank_surface_loss_kW"] = sum(r.surface_loss for r in results) / 1e3
    metrics["tank_max_fluid_C"] = max(r.max_temperature for r in results)
    if model.scene.facility is not None:
        # the facility takes the tanks' IT power, heat-exchanger loads and pumps as well
        with_tanks, _ = summarize(model, result.state, result.report, tank_results=results)
        result.summary["facility"] = with_tanks["facility"]
        metrics["pue"] = with_tanks["metrics"]["pue"]
    for (lower, upper), r, row in zip(model.tanks.boxes, results, rows):
        data = {k: float(v) for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        result.equipment.append({"name": r.name, "kind": "tank", "lower": lower, "upper": upper, "data": data})
        result.extra_fields.append((immersion.field_file_name(r.name),
                                    immersion.placed_problem(r.problem, lower), r.state))


#: Newton-Krylov stops only once the energy balance closes to this (% of the heat), besides its residuals
NEWTON_BALANCE_PCT = 0.1


def newton_applies(model: HallModel) -> str | None:
    """Why ``model`` is solved by the pseudo-time march instead of Newton-Krylov, or None.

    Return-temperature control is a host-side integral controller between march chunks
    (:func:`_controller`): it has no place in a steady residual yet, so such halls march."""
    if model.scene.solver.method != "newton":
        return "solver.method is march"
    if model.coolers.count and np.any(model.coolers.return_control > 0):
        return "return-temperature control of coolers runs between march chunks"
    return None


def _solve_air_newton(model: HallModel, progress: Callable | None, state: State | None):
    """The room air's steady state by :func:`thermo.solvers.newton.solve_steady`; returns
    (state, :class:`~thermo.solvers.newton.NewtonReport`).  Converged means both steady
    residuals below tolerance and the energy balance within ``NEWTON_BALANCE_PCT``."""
    from .solvers.newton import NewtonOptions, solve_steady

    spec = model.scene.solver
    rack_probe = _rack_probe(model)
    balance_probe = _balance_probe(model, model.coupling)
    n = model.racks.count
    dtype = model.problem.geometry.fluid.dtype
    if state is None:
        state = Solver(model.problem, model.numerics).initial_state()
    state = state.replace(temperature_residue=None)

    def report(record, current):
        if progress is None:
            return
        values = np.asarray(rack_probe(current))
        progress({**record, "step": record["march_steps"], "time": 0.0}, float(np.max(values[n:2 * n])) if n
                 else float("nan"))

    def accept(current):
        balance = float(balance_probe(model.problem, current)[0])
        return abs(balance) <= NEWTON_BALANCE_PCT, f"energy balance {balance:+.3f} %"

    options = NewtonOptions(cfl=spec.newton_cfl, tol=spec.newton_tolerance,
                            max_iterations=spec.newton_max_iterations)
    return solve_steady(model.problem, model.numerics, state, model.coupling, options, progress=report,
                        accept=accept, layout=model.layout)


def _newton_summary(newton) -> dict:
    """``summary["solver"]`` entries of a Newton-Krylov solve."""
    return {"method": "newton", "pseudo_time": "implicit", "cfl": newton.cfl,
            "newton_iterations": newton.newton_iterations,
            "krylov_iterations": newton.krylov_iterations, "march_steps": newton.march_steps,
            "residual_momentum": newton.residual_momentum, "residual_temperature": newton.residual_temperature,
            "residual_tolerance": newton.tolerance, "newton_seconds": newton.seconds,
            "residual_history": [dict(r) for r in newton.residual_history]}


def _solve_air(model: HallModel, progress: Callable | None = None, max_steps: int | None = None,
               capture_index: bool = True, state: State | None = None, window: int = 10,
               coarse_start="auto") -> HallResult:
    """Steady state of the room air of ``model``; ``progress(record, rack_inlet_max_C)`` after each chunk of 100 steps.

    Stops when either

    * **converged**: the solver's change rates (:func:`thermo.solve.change_rates`) are
      below ``solver.tolerance`` and no rack intake temperature (mean or max) changed by
      more than ``solver.monitor_tolerance`` (K) over the last chunk; or
    * **settled**: data-hall RANS often keeps a small unsteadiness (row-end and
      over-the-top recirculation), so the velocity residual plateaus; when every rack
      intake mean and max and every return temperature stayed within a band of
      2 x ``monitor_tolerance`` over the last ``window`` chunks and the energy balance is
      within ``BALANCE_TOLERANCE_PCT``, the answer the user asks for has settled; or
    * **statistically steady**: halls driven by strong jets (raised-floor CRAHs) keep
      oscillating by a kelvin or more and have no steady state on the grid.  From step
      ``solver.average_window`` on, the fields are averaged over consecutive windows of
      that many steps (every step counts); when the averaged rack intakes (mean and max)
      and return temperatures of two consecutive windows agree within
      ``solver.average_tolerance`` and the averaged fields' energy balance is within
      ``BALANCE_TOLERANCE_PCT``, the answer is the average over both windows: its fields,
      table and metrics are those of the time-averaged flow, as a transient CFD code
      reports a statistically steady flow.  ``summary["solver"]["averaged"]`` gives the
      averaging steps and, per rack, the range over which its intake mean moved.

    The report's reason says which, with the residuals they plateaued at.  Local time
    stepping can lead the march into a limit cycle instead of the steady state.  Where,
    under it, the rack intakes still jump from chunk to chunk by as much in the latest
    ``window`` chunks as in the ``window`` before (:func:`local_step_limit_cycle`, checked
    from ``3 x window`` chunks on), or two averaging windows disagree and the intakes still
    swing as much as before, the run starts again from its starting state with one global
    step (``summary["solver"]["local_time_step_off_at_step"]``).

    Then the capture-index scalars are solved in the frozen flow (``capture_index``).

    ``coarse_start``: cell size (m) of a pre-solve whose result, interpolated, is the
    starting point; ``"auto"`` (default) uses 3 x the cell size for grids of more than
    40 000 cells; None starts from still air at the reference temperature.  The
    summary's ``solver.coarse_start`` records it; ``solver.seconds`` includes it.
    """
    scene = model.scene
    wall_start = _time.perf_counter()
    coarse_info = None
    if state is None:
        state, coarse_info = _coarse_start(model, coarse_start, progress)
    newton, march_reason = None, newton_applies(model)
    if march_reason is None:
        newton_state, newton = _solve_air_newton(model, progress, state)
        if newton.converged:
            report = RunReport(converged=True, steps=newton.march_steps, time=0.0,
                               seconds=_time.perf_counter() - wall_start, compile_seconds=newton.compile_seconds,
                               poisson_iterations_per_step=float("nan"), history=[], reason=newton.reason)
            model_state = newton_state
            if model.layout is not None:
                model.problem, model_state = model.layout.gather((model.problem, model_state))
            result = _finish(model, model_state, report, capture_index)
            result.summary["solver"].update(_newton_summary(newton))
            if coarse_info is not None:
                result.summary["solver"]["coarse_start"] = coarse_info
            return result
        # the march with time averaging takes over from where Newton stopped, and says so
        state = newton_state.replace(temperature_residue=compensation_for(newton_state.temperature.shape,
                                                                          newton_state.temperature.dtype))
    level = coarse_level(model)
    if level is None:
        solver = Solver(model.problem, model.numerics, chunk=100, coupling=model.coupling, layout=model.layout)
    else:
        solver = fas.TwoGridSolver(model.problem, model.numerics, level, chunk=100, coupling=model.coupling)
    corrections_off_at = None
    rack_probe = _rack_probe(model)
    balance_probe = _balance_probe(model, model.coupling)

    def probe(state):
        balance, returns = balance_probe(solver.problem, state)
        return np.concatenate([np.asarray(rack_probe(state)), np.asarray(returns)]), float(balance)

    control = _controller(model, solver)
    n = model.racks.count
    limit = int(max_steps if max_steps is not None else scene.solver.max_steps)
    tol, band = scene.solver.tolerance, 2.0 * scene.solver.monitor_tolerance
    start = _time.perf_counter()
    state = solver.initial_state() if state is None else state
    start_state = state
    state, diag = solver.run_chunk(state, 1)
    jax.block_until_ready(state)
    compile_seconds = _time.perf_counter() - start
    steps, iterations = 1, int(diag["poisson_iterations"])
    history, recent, balances = [], [probe(state)[0]], []
    converged, reason = False, f"reached max_steps ({limit}) without settling"
    average = _Averages(scene.solver.average_window, solver.chunk, n)
    fallback_step = None
    local_step_changes = []      # monitor change of every chunk while local time stepping is on
    while steps < limit:
        state, diag = solver.run_chunk(state, min(solver.chunk, limit - steps), accumulate=average.active(steps))
        done = int(diag["steps"])
        steps += done
        iterations += int(diag["poisson_iterations"])
        if not bool(diag["finite"]):
            raise SolverDiverged(f"hall {scene.name!r}: the solution diverged by step {steps}; "
                                 "try a smaller solver.cfl or a finer grid near fast jets", state)
        values, balance = probe(state)
        record = {"step": steps, "time": float(state.time), "rate_velocity": float(diag["rate_velocity"]),
                  "rate_temperature": float(diag["rate_temperature"]),
                  "poisson_iterations": int(diag["poisson_iterations"]) / max(done, 1),
                  "monitor_change": float(np.max(np.abs(values - recent[-1]))) if values.size else 0.0,
                  "energy_balance_pct": balance}
        recent = (recent + [values])[-(window + 1):]
        balances = (balances + [balance])[-2 * window:]
        history.append(record)
        control(state)
        if progress is not None:
            progress(record, float(np.max(values[n:2 * n])) if n else float("nan"))
        if steps < 300:
            continue
        balanced = abs(balance) < BALANCE_TOLERANCE_PCT
        if (record["rate_velocity"] < tol and record["rate_temperature"] < tol
                and record["monitor_change"] < scene.solver.monitor_tolerance and balanced):
            converged, reason = True, "converged"
            break
        if len(recent) > window and balanced:
            spread = float(np.max(np.ptp(np.stack(recent), axis=0))) if values.size else 0.0
            verdict = still_window_verdict(spread, band, max(record["rate_velocity"], record["rate_temperature"]),
                                           tol, corrections=level is not None and solver.active)
            if verdict == "corrections off":
                solver.active, corrections_off_at = False, steps
                recent, balances = [values], []
                continue
            if verdict == "settled":
                converged = True
                reason = (f"settled: rack intake and return temperatures within {spread:.3f} K over the last "
                          f"{window * solver.chunk} steps, energy balance {balance:+.3f} % (velocity residual "
                          f"plateaued at {record['rate_velocity']:.2g}, temperature at "
                          f"{record['rate_temperature']:.2g})")
                break
        cycling = False
        if solver.numerics.local_time_step > 1:
            local_step_changes.append(record["monitor_change"])
            cycling = local_step_limit_cycle(local_step_changes, window, scene.solver.monitor_tolerance)
        if not cycling and "field_sum" in diag and average.add(state, diag, done, values, probe):
            if average.steady(scene.solver.average_tolerance):
                converged = True
                state = average.mean_state(state)
                reason = average.reason(record)
                break
            cycling = solver.numerics.local_time_step > 1 and average.oscillating
        if cycling:
            # Local time stepping can lead the march into a limit cycle instead of the steady
            # state (hall-small-s08 at 0.2 m: intakes swinging by 6.7 K through 20,000 steps
            # with 10; from rest with one global step it settles in 7,801, but continued from
            # the oscillating state with one step it keeps oscillating): start again from the
            # starting state with one global step.
            solver.numerics = _replace_fields(solver.numerics, local_time_step=1.0)
            if level is not None and solver.active:
                solver.active, corrections_off_at = False, steps
            fallback_step = steps
            state = start_state
            average = _Averages(scene.solver.average_window, solver.chunk, n, start=steps)
            recent, balances = [probe(state)[0]], []
    if newton is not None:
        reason = (f"Newton-Krylov did not converge ({newton.reason}); the pseudo-time march with time "
                  f"averaging took over from its last state: {reason}")
    if fallback_step is not None:
        reason += (f" (after {fallback_step} steps with local time stepping, under which the rack intakes kept "
                   "oscillating, the run started again from its starting state with one global step)")
    if not converged and average.last_change is not None:
        reason += (f"; the last two {average.length}-step averages of the rack intake and return temperatures "
                   f"differ by up to {average.last_change:.3f} K")
    report = RunReport(converged=converged, steps=steps, time=float(state.time),
                       seconds=_time.perf_counter() - start, compile_seconds=compile_seconds,
                       poisson_iterations_per_step=iterations / max(steps, 1), history=history, reason=reason)
    model.problem = solver.problem
    if model.layout is not None:  # multi-host: every process needs the whole fields from here on
        model.problem, state = model.layout.gather((model.problem, state))
    if coarse_info is not None:
        report.seconds = _time.perf_counter() - wall_start
    result = _finish(model, state, report, capture_index)
    if coarse_info is not None:
        result.summary["solver"]["coarse_start"] = coarse_info
    result.summary["solver"]["method"] = "march"
    if newton is not None:
        result.summary["solver"]["newton"] = _newton_summary(newton)
    elif march_reason:
        result.summary["solver"]["march_reason"] = march_reason
    if converged and average.summary is not None:
        result.summary["solver"]["averaged"] = average.summary_dict(model)
    if fallback_step is not None:
        result.summary["solver"]["local_time_step_off_at_step"] = fallback_step
    if level is not None:
        result.summary["solver"]["coarse_correction"] = {
            "coarse_grid": list(level.problem.grid.shape), "coarse_steps_per_cycle": level.coarse_steps,
            "fine_steps_per_cycle": level.fine_steps, "corrections": solver.corrections,
            "coarse_steps": solver.coarse_steps_taken, "off_at_step": corrections_off_at}
    if balances:
        band = np.ptp(np.stack(recent), axis=0) if len(recent) > 1 else np.zeros(1)
        result.summary["solver"]["window"] = {
            **balance_window(balances, solver.chunk),
            "rack_inlet_band_K": float(np.max(band[:2 * n])) if n else 0.0}
    return result


#: Under coarse-grid corrections a window of still intakes counts as settled only while the
#: change rates of the fine steps are below this many times solver.tolerance (hall-small at
#: 0.3 m with 20 coarse and 20 fine steps a cycle repeats one state whose rates stay at 0.03-0.07)
CORRECTED_RATE_FACTOR = 5.0


def still_window_verdict(spread: float, band: float, rate: float, tolerance: float, corrections: bool) -> str | None:
    """What a window of monitor values says: ``"settled"``, ``"corrections off"`` or None.

    ``spread``: the largest range (K) of any rack intake or return temperature over the window;
    ``band``: 2 x ``solver.monitor_tolerance`` (K); ``rate``: the larger of the velocity and
    temperature change rates of the last chunk; ``tolerance``: ``solver.tolerance``;
    ``corrections``: coarse-grid corrections are on.  Intakes that no longer move have settled,
    except under corrections while the fine steps still change the fields by more than
    ``CORRECTED_RATE_FACTOR`` x ``tolerance``: then the cycle of corrections and fine steps
    has found a state of its own, not the fine grid's fixed point (hall-small at 0.3 m with 20
    coarse steps every 20 fine: rates stuck at 0.03 / 0.065, the hottest intake 0.014 K off),
    and the plain march takes it from there.
    """
    if spread >= band:
        return None
    if corrections and rate > CORRECTED_RATE_FACTOR * tolerance:
        return "corrections off"
    return "settled"


#: Grids below this many cells march without coarse-grid corrections, whatever the scenario: a
#: correction costs about as much as five fine steps at 0.1 m on hall-small (242k cells), but
#: as much as 25 on the 0.6 m pre-solve of hall-raised-floor (2,801 steps and 80 s with them
#: against 3,001 and 31 s without).  The 3x coarser pre-solve of a coarse start stays plain.
CORRECTION_MIN_CELLS = 40000


def coarse_level(model: HallModel):
    """The :class:`thermo.fas.CoarseLevel` of ``model`` when its scenario asks for coarse-grid
    corrections (``solver.coarse_correction``) and the grid is large enough for them to pay
    (:data:`CORRECTION_MIN_CELLS`, and at least 6 cells along every axis); else None."""
    if (not model.scene.solver.coarse_correction or min(model.grid.shape) < 6
            or model.cells < CORRECTION_MIN_CELLS):
        return None
    if model.layout is not None:
        raise ValueError("solver.coarse_correction runs on one device: leave out --devices/--mesh, "
                         "or set solver.coarse_correction: false")
    if model.coarse_level is None:
        coarse = build(model.scene, dtype=model.problem.geometry.fluid.dtype, grid=fas.coarse_grid(model.grid))
        model.coarse_level = fas.CoarseLevel(fas.whole_openings(coarse.problem), coarse.numerics, coarse.coupling,
                                             coarse_steps=fas.COARSE_STEPS, fine_steps=fas.FINE_STEPS)
    return model.coarse_level


#: A window whose intakes swing by less than this fraction of the previous window's is a decay
#: towards a steady state, not a statistically steady oscillation.
FLUCTUATION_KEPT = 0.5


def local_step_limit_cycle(changes, window: int, monitor_tolerance: float) -> bool:
    """Whether a march under local time stepping is in a limit cycle rather than on its way
    to a steady state, from ``changes``: the largest change (K) of any rack intake or return
    temperature over each chunk so far, oldest first.

    True when there are at least ``3 x window`` chunks (the first ``window`` are the start's
    transient and are not judged), the mean change over the latest ``window`` chunks is still
    above ``2 x monitor_tolerance``, and it is at least :data:`FLUCTUATION_KEPT` times the mean
    over the ``window`` chunks before: the intakes keep jumping and the jumps do not die out.
    hall-small at 0.1 m with the zero-equation model: means of 0.30 and 0.51 K per 100-step
    chunk over steps 1,000-2,000 and 2,000-3,000 (a limit cycle; with one global step it
    settles); with mixing length 0.09 then 0.03 K (settled under local steps at 3,201).
    """
    if len(changes) < 3 * window:
        return False
    early, late = float(np.mean(changes[-2 * window:-window])), float(np.mean(changes[-window:]))
    return late > 2.0 * monitor_tolerance and late >= FLUCTUATION_KEPT * early


class _Averages:
    """Consecutive windows of ``length`` steps over which :func:`_solve_air` averages the
    fields of a hall that does not settle (the *statistically steady* outcome).

    Each window keeps the sum of the fields over its steps (``diag["field_sum"]`` of every
    chunk); at its end the probe of the window's averaged fields (rack intakes, returns,
    energy balance) is compared with the previous window's."""

    def __init__(self, length: int, chunk: int, racks: int, start: int = 0):
        self.length, self.start = int(length), int(start)
        self.oscillating = False     # the last two windows swung alike (see :meth:`steady`)
        self.chunk, self.racks = chunk, racks
        self.windows = []            # (field sum, steps, probe values, balance, chunk-end samples) per window
        self.current, self.count, self.samples = None, 0, []
        self.last_change = None
        self.summary = None

    def active(self, steps: int) -> bool:
        """Sum the fields during the chunk that starts after ``steps`` steps."""
        return self.length > 0 and steps >= self.start + self.length

    def add(self, state, diag, done: int, values, probe) -> bool:
        """Add one chunk; True when it completed a window."""
        total = diag["field_sum"]
        self.current = total if self.current is None else tuple(a + b for a, b in zip(self.current, total))
        self.count += done
        self.samples.append(values)
        if self.count < self.length:
            return False
        mean_values, balance = probe(average_state(state, self.current, self.count))
        self.windows = (self.windows + [(self.current, self.count, mean_values, balance, self.samples)])[-2:]
        self.current, self.count, self.samples = None, 0, []
        return len(self.windows) == 2

    def steady(self, band: float) -> bool:
        """Two consecutive window averages agree within ``band`` (K), their energy balance is
        within tolerance, and the run still fluctuates as much as before: where the swing of
        the instantaneous values is dying out the run is converging, and a window holding its
        transient is no statistic of the answer (converged or settled will stop it)."""
        (_, _, first, _, early), (_, _, second, _, late) = self.windows
        self.last_change = float(np.max(np.abs(second - first))) if second.size else 0.0
        swing_early, swing_late = (float(np.max(np.ptp(np.stack(a), axis=0))) if second.size else 0.0
                                   for a in (early, late))
        self.oscillating = swing_late >= FLUCTUATION_KEPT * swing_early
        return (self.last_change < band and abs(self._balance()) < BALANCE_TOLERANCE_PCT
                and self.oscillating)

    def _balance(self) -> float:
        # the balance is linear in the fields at fixed equipment flows: the two windows' mean
        (_, n1, _, b1, _), (_, n2, _, b2, _) = self.windows
        return (n1 * b1 + n2 * b2) / (n1 + n2)

    def mean_state(self, state):
        (s1, n1, _, _, a1), (s2, n2, _, _, a2) = self.windows
        samples = np.stack(a1 + a2)
        self.summary = {"steps": n1 + n2, "window_steps": self.length, "window_change_K": self.last_change,
                        "energy_balance_pct": self._balance(),
                        "samples_min": samples.min(axis=0), "samples_max": samples.max(axis=0)}
        return average_state(state, tuple(a + b for a, b in zip(s1, s2)), n1 + n2)

    def reason(self, record) -> str:
        s = self.summary
        swing = float(np.max(s["samples_max"][: 2 * self.racks] - s["samples_min"][: 2 * self.racks])) \
            if self.racks else 0.0
        return (f"statistically steady: the fields are averaged over the last {s['steps']} steps; the averaged rack "
                f"intake and return temperatures of two consecutive {self.length}-step windows differ by at most "
                f"{s['window_change_K']:.3f} K and the energy balance is {s['energy_balance_pct']:+.3f} %; the "
                f"instantaneous intakes swing by up to {swing:.2f} K (velocity residual "
                f"{record['rate_velocity']:.2g}, temperature {record['rate_temperature']:.2g})")

    def summary_dict(self, model) -> dict:
        s, n = self.summary, self.racks
        names = [r.name for r in model.scene.racks]
        return {"steps": s["steps"], "window_steps": s["window_steps"], "window_change_K": s["window_change_K"],
                "energy_balance_pct_of_windows": s["energy_balance_pct"],
                "rack_inlet_mean_range_C": {name: [float(s["samples_min"][k]), float(s["samples_max"][k])]
                                            for k, name in enumerate(names)},
                "rack_inlet_max_range_C": {name: [float(s["samples_min"][n + k]), float(s["samples_max"][n + k])]
                                           for k, name in enumerate(names)}}


def balance_window(balances, chunk: int) -> dict:
    """Statistics of the energy balance (%) sampled at the end of each of the last chunks of
    ``chunk`` steps (oldest first): where an unsteady hall oscillates, or how a settling one
    still drifts.

    ``energy_balance_pct_mean`` / ``_std``: mean and standard deviation of the samples;
    ``_last``: the final sample; ``_drift``: mean of the later half minus mean of the earlier
    half.  A mean and spread describe an oscillation only when the drift is small against the
    spread; a drift of the size of the spread means the window holds a transient (for instance
    the decay after a warm restart with new heat loads), whose mean and spread are no
    statistic of the steady state: its answer is the last sample.
    """
    b = np.asarray(balances, float)
    half = len(b) // 2
    drift = float(np.mean(b[len(b) - half:]) - np.mean(b[:half])) if half else 0.0
    return {"steps": len(b) * chunk, "energy_balance_pct_mean": float(np.mean(b)),
            "energy_balance_pct_std": float(np.std(b)), "energy_balance_pct_last": float(b[-1]),
            "energy_balance_pct_drift": drift}


def solve_transient(model: HallModel, end_time: float | None = None, report_every: float | None = None,
                    progress: Callable | None = None, initial: State | None = None) -> HallResult:
    """Transient with the scenario's events, from the steady state (solved first unless
    ``initial`` is given).  ``end_time`` and ``report_every`` (s) default to the scenario's
    ``transient:`` section.  ``progress(record, rack_inlet_max_C)`` after each report."""
    scene = model.scene
    if end_time is None:
        end_time = scene.transient.end_time if scene.transient else 60.0
    if report_every is None:
        report_every = scene.transient.report_every if scene.transient else 5.0
    if initial is None:
        steady = solve(model, capture_index=False, progress=progress)
        initial = steady.state
    state0 = initial.replace(time=jnp.zeros_like(initial.time), tracers=jnp.zeros((0, *model.grid.shape),
                                                                                   initial.temperature.dtype))
    # a transient is time-accurate and explicit; implicit pseudo-time steps only reach its steady start
    explicit_cfl = model.numerics.cfl if model.numerics.pseudo_time == "explicit" else SolverSpec().cfl
    numerics = Numerics(turbulence=model.numerics.turbulence, cfl=explicit_cfl,
                        limiter=model.numerics.limiter, scheme="rk2")
    solver = Solver(model.problem, numerics, chunk=100, coupling=model.transient_coupling, layout=model.layout)
    probe = _rack_probe(model)
    n = model.racks.count
    times, inlet_max, snapshots_host = [], [], []

    def record(state):
        values = np.asarray(probe(state))
        times.append(float(state.time))
        inlet_max.append(values[n:])
        return values

    record(state0)
    control = _controller(model, solver)

    def on_report(rec, state):
        control(state)
        values = record(state)
        if progress is not None:
            progress(rec, float(np.max(values[n:])) if n else float("nan"))

    start = _time.perf_counter()
    snapshots, report = solver.transient(state0, end_time, report_every, progress=on_report)
    report.seconds = _time.perf_counter() - start
    final = snapshots[-1]
    result = _finish(model, final, report, capture_index=False, time=float(final.time),
                     coupling=model.transient_coupling)
    # the report is the transient's: explicit, whatever marched the steady start
    result.summary["solver"].update(pseudo_time=numerics.pseudo_time, cfl=float(numerics.cfl),
                                    steady_start_pseudo_time=model.numerics.pseudo_time)
    # the server-inlet maximum includes blanking leakage: recompute per sample
    series = _server_inlet_series(model, snapshots)
    limit = m.ALLOWABLE[scene.ashrae_class][1]
    times = [float(s.time) for s in snapshots]
    crossings = m.rack_crossing_times(times, series, limit) if n else []
    ride = m.ride_through(times, series, limit) if n else None
    first_rack = scene.racks[crossings.index(ride)].name if ride is not None else None
    events = [_event_dict(e) for e in scene.events]
    after, event_index = m.time_after_event(ride, [e["time_s"] for e in events])
    result.summary["transient"] = {
        "times_s": times,
        "rack_inlet_max_C": {r.name: [float(v[k]) for v in series] for k, r in enumerate(scene.racks)},
        "ride_through_s": ride,
        "ride_through_rack": first_rack,
        "ride_through_after_event_s": after,
        "ride_through_event": events[event_index] if event_index is not None else None,
        "rack_over_limit_s": {r.name: c for r, c in zip(scene.racks, crossings)},
        "ride_through_limit_C": limit,
        "events": events,
    }
    result.snapshots = [(float(s.time), s) for s in snapshots]
    return result


def _event_dict(e) -> dict:
    d = {"time_s": e.time}
    if e.cooler is not None:
        d.update(cooler=e.cooler, action=e.action)
    else:
        d.update(rack=e.rack, power_kW=e.power / 1e3)
    return d


def _server_inlet_series(model: HallModel, snapshots) -> list:
    out = []
    racks = model.racks
    fluid = model.problem.fluid
    for s in snapshots:
        mean, peak = rack_model.intake_temperatures(racks, s.temperature)
        power = power_at_host(model.schedule, racks.power, float(s.time))
        if model.hybrid is not None and model.hybrid.active:
            _, details = hybrid_model.air_exhaust(model.hybrid, racks, mean, jnp.asarray(power, mean.dtype), fluid)
            exhaust = np.asarray(details["server_exhaust"])
        else:
            exhaust = np.asarray(rack_model.exhaust_temperature(racks, mean, power, fluid))
        out.append((1.0 - racks.leakage) * np.asarray(peak) + racks.leakage * exhaust)
    return out


# ---------------------------------------------------------------------------------
# summary
# ---------------------------------------------------------------------------------

def _finish(model, state, report, capture_index, time: float = 0.0, coupling=None) -> HallResult:
    cold = hot = None
    if capture_index and model.racks.count:
        cold, hot, tracer_fields, _ = m.capture_indices(model, state)
        state = state.replace(tracers=tracer_fields.astype(state.temperature.dtype))
    else:
        state = state.replace(tracers=jnp.full((2, *model.grid.shape), jnp.nan, state.temperature.dtype))
    summary, equipment = summarize(model, state, report, cold, hot, time, coupling)
    return HallResult(state=state, report=report, converged=bool(report.converged), summary=summary,
                      equipment=equipment)


def _num(x):
    x = float(x)
    return x if math.isfinite(x) else None


def summarize(model: HallModel, state: State, report: RunReport, capture_cold=None, capture_hot=None,
              time: float = 0.0, coupling=None, tank_results=()):
    """(summary dict, equipment list) of ``state`` at simulated ``time`` (s) (see :class:`HallResult`).

    ``tank_results``: solved immersion tanks (:class:`thermo.equipment.immersion.TankResult`),
    whose server power, heat-exchanger loads and pumps enter the facility energy."""
    scene = model.scene
    coupling = coupling or model.coupling
    # jitted here and below: eagerly, every operation compiles a small program of its own
    problem = jax.jit(coupling)(model.problem, state)
    fluid = problem.fluid
    rho_cp = float(fluid.density) * float(fluid.heat_capacity)
    racks, coolers = model.racks, model.coolers
    cls = scene.ashrae_class
    fan_point = None
    if model.fans is not None:
        # fan-curve racks at the operating point the coupling applies to this state
        fan_point = jax.tree_util.tree_map(lambda v: np.asarray(v, float), model.fan_point(model.problem, state))
        flows = np.asarray(racks.flow, float).copy()
        flows[model.fans.rack] = fan_point.flow
        racks = _replace_fields(racks, flow=flows)

    # racks
    power = power_at_host(model.schedule, racks.power, time) if coupling is model.transient_coupling else racks.power
    intake_mean, intake_max = (np.asarray(v, float)
                               for v in jax.jit(rack_model.intake_temperatures)(racks, state.temperature))
    hybrid, details, air_power = model.hybrid, None, power
    if hybrid is not None and hybrid.active:
        _, details = hybrid_model.air_exhaust(hybrid, racks, jnp.asarray(intake_mean, fluid.density.dtype),
                                              jnp.asarray(power, fluid.density.dtype), fluid)
        details = jax.tree_util.tree_map(lambda v: np.asarray(v, float), details)
        air_power = details["air_power"]
    exhaust = intake_mean + air_power / (rho_cp * racks.flow * (1.0 - racks.leakage)) if racks.count else intake_mean
    server_mean = (1 - racks.leakage) * intake_mean + racks.leakage * exhaust
    server_max = (1 - racks.leakage) * intake_max + racks.leakage * exhaust
    t_cells = np.asarray(state.temperature).reshape(-1)[racks.intake_cells]
    cell_server = (1 - racks.leakage[racks.intake_rack]) * t_cells + racks.leakage[racks.intake_rack] * exhaust[racks.intake_rack]
    server_min = np.array([cell_server[racks.intake_rack == k].min() for k in range(racks.count)])
    rack_rows = []
    for k, r in enumerate(scene.racks):
        rack_rows.append({
            "name": r.name, "inlet_mean_C": _num(server_mean[k]), "inlet_max_C": _num(server_max[k]),
            "exhaust_C": _num(exhaust[k]), "power_kW": float(power[k]) / 1e3, "flow_m3s": float(racks.flow[k]),
            "ashrae": m.ashrae_status(server_max[k], server_min[k], cls),
            "capture_index_cold": None if capture_cold is None else _num(capture_cold[k]),
            "capture_index_hot": None if capture_hot is None else _num(capture_hot[k])})
    warnings = _fan_rows(model, fan_point, rack_rows, exhaust - server_mean) if fan_point is not None else []

    # coolers
    running = running_at_host(model.schedule, coolers.count, time) if coupling is model.transient_coupling \
        else np.ones(coolers.count)
    cooler_rows, loads = [], np.zeros(coolers.count)
    t_ret = t_sup = np.zeros(0)
    if coolers.count:
        t_ret = np.asarray(cooler_model.return_temperatures(coolers, state.temperature), float)
        t_sup = np.asarray(cooler_model.supply_temperatures(coolers, model.problem.sources.mass_temperature,
                                                            jnp.asarray(t_ret), fluid), float)
        t_sup = np.where(running > 0, t_sup, t_ret)
        loads, fans = cooler_model.unit_loads(coolers, t_ret, t_sup, fluid, running)
        for k, c in enumerate(scene.coolers):
            cap = coolers.capacity[k] if coolers.capacity[k] < cooler_model.UNLIMITED else None
            cooler_rows.append({
                "name": c.name, "supply_C": _num(t_sup[k]), "return_C": _num(t_ret[k]),
                "flow_m3s": float(coolers.flow[k] * running[k]), "load_kW": float(loads[k]) / 1e3,
                "capacity_kW": None if cap is None else float(cap) / 1e3,
                "utilization": None if cap is None else float(loads[k] / cap), "fan_power_kW": float(fans[k]) / 1e3,
                "running": bool(running[k] > 0)})

    # tiles and returns
    # jitted: one program each instead of one per operation (summaries of many grids in one process)
    tflows = np.asarray(jax.jit(tile_flows)(model.tiles, problem, state.velocity[2]), float)
    tile_rows = [{"name": t.name, "flow_m3s": float(tflows[k])} for k, t in enumerate(scene.tiles)]
    oflow, otemp = (np.asarray(v, float) for v in model.return_flows(problem, state)) \
        if model.openings.count else (np.zeros(0), np.zeros(0))
    return_rows = [{"name": r.name, "flow_m3s": float(oflow[k]), "mean_C": _num(otemp[k])}
                   for k, r in enumerate(scene.returns)]

    # energy balance: (return - supply enthalpy flow) - heat released (racks, tank surface losses)
    rack_heat = float(np.sum(power))
    heat_in = rack_heat + source_heat(problem)
    boundary_in = m.boundary_heat_inflow(problem, state)
    removed = -boundary_in + float(np.sum(loads))
    hybrid_rows, water_W = {}, 0.0
    if details is not None:
        hybrid_rows = hybrid_model.summary_rows(hybrid, scene, details, float(fluid.density))
        water_W = float(hybrid_model.water_heat(details))
        removed += water_W
    balance = m.energy_balance_pct(removed, heat_in, m.energy_balance_reference_W(heat_in, supplied_flow(scene), rho_cp))

    # room-level metrics
    supply_flows, supply_temps, return_flows, return_temps = [], [], [], []
    if scene.raised_floor is None:
        for k, t in enumerate(scene.tiles):
            supply_flows.append(t.flow); supply_temps.append(t.temperature)
    boundary_returns = [k for k, r in enumerate(scene.returns)
                        if not (r.surface == "ceiling" and scene.ceiling_plenum is not None)]
    for k in boundary_returns:
        if oflow[k] > 0:
            return_flows.append(oflow[k]); return_temps.append(otemp[k])
    for k in range(coolers.count):
        if running[k] > 0:
            supply_flows.append(coolers.flow[k]); supply_temps.append(t_sup[k])
            return_flows.append(coolers.flow[k]); return_temps.append(t_ret[k])
    mean = lambda f, t: float(np.dot(f, t) / np.sum(f)) if len(f) and np.sum(f) > 0 else float("nan")  # noqa: E731
    supply_c, return_c = mean(supply_flows, supply_temps), mean(return_flows, return_temps)
    metrics = {}
    if racks.count:
        rise = exhaust - server_mean
        weights = racks.intake_weight
        rci_hi, rci_lo = m.rci(cell_server, weights, cls)
        shi, rhi = m.shi_rhi(server_mean, exhaust, racks.flow, supply_c)
        metrics = {"RCI_HI": rci_hi, "RCI_LO": rci_lo,
                   "RTI": _num(m.rti(return_c, supply_c, float(np.dot(racks.flow, rise) / np.sum(racks.flow)))),
                   "SHI": _num(shi), "RHI": _num(rhi)}
    metrics.update({
        "ashrae_class": cls, "supply_C": _num(supply_c), "return_C": _num(return_c),
        "rack_heat_kW": rack_heat / 1e3, "cooling_load_kW": float(np.sum(loads)) / 1e3,
        "racks_outside_recommended": int(sum(not r["ashrae"]["recommended"] for r in rack_rows)),
        "racks_outside_allowable": int(sum(not r["ashrae"]["allowable"] for r in rack_rows)),
        "max_inlet_C": _num(np.max(server_max)) if racks.count else None,
        "total_tile_flow_m3s": float(np.sum(tflows)),
        "floor_leakage_fraction": model.floor_leakage_fraction,
    })
    if scene.raised_floor is not None and coolers.count:
        into_plenum = float(sum(coolers.flow[k] * running[k] for k, c in enumerate(scene.coolers)
                                if cooler_model.supply_face(c) == "bottom"))
        floor_total, floor_leak = floor_flows(scene, problem, state.velocity[2], model.tiles.faces)
        metrics["plenum_supply_m3s"] = into_plenum
        metrics["floor_leakage_m3s"] = floor_leak
        metrics["floor_flow_m3s"] = floor_total
    if capture_cold is not None:
        metrics["capture_index_cold_min"] = _num(np.min(capture_cold))
        metrics["capture_index_hot_min"] = _num(np.min(capture_hot))

    if details is not None:
        metrics["air_heat_kW"] = float(np.sum(air_power)) / 1e3
        metrics["water_heat_kW"] = water_W / 1e3
    facility = None
    if scene.facility is not None:
        from .equipment.facility import facility_energy
        rows = {"rear_doors": [], "cdus": [], **hybrid_rows}
        loop_loads = hybrid_model.loads_by_loop(scene, rows, loads, -boundary_in)
        pumps = {"cdu_pumps": 1e3 * sum(c["pump_power_kW"] for c in rows["cdus"])}
        it_power = rack_heat
        if tank_results:
            loop_loads = {k: list(v) if isinstance(v, (list, tuple)) else [v] for k, v in loop_loads.items()}
            for tank, r in zip(scene.tanks, tank_results):
                loop_loads.setdefault(tank.circulation.loop, []).append(float(r.hx_load))
            it_power += sum(float(r.server_power) for r in tank_results)
            pumps["tank_pumps"] = sum(float(r.pump_power or 0.0) for r in tank_results)
        facility = facility_energy(
            scene.facility, it_power, loop_loads,
            {"crah_fans": float(np.sum(fans)) if coolers.count else 0.0,
             "rear_door_fans": 1e3 * sum(d["fan_power_kW"] for d in rows["rear_doors"])},
            pumps)
        metrics["pue"] = facility["pue"]

    widths = [np.diff(np.asarray(x)) for x in model.grid.nodes]
    summary = {
        "scenario": scene.name,
        "racks": rack_rows, "coolers": cooler_rows, "tiles": tile_rows, "returns": return_rows,
        "metrics": metrics, "energy_balance_pct": float(balance),
        **({"warnings": warnings} if warnings else {}),
        **hybrid_rows, **({"facility": facility} if facility is not None else {}),
        "grid": {"cells": int(model.cells), "shape": list(model.grid.shape),
                 "min_cell_m": float(min(w.min() for w in widths)), "max_cell_m": float(max(w.max() for w in widths))},
        "solver": {"turbulence": model.numerics.turbulence, "pseudo_time": model.numerics.pseudo_time,
                   "cfl": float(model.numerics.cfl), "steps": int(report.steps), "seconds": float(report.seconds),
                   "compile_seconds": float(report.compile_seconds), "converged": bool(report.converged),
                   "reason": report.reason or ("completed" if report.converged else "")},
    }
    return summary, _equipment(model, rack_rows, cooler_rows, tile_rows, return_rows, hybrid_rows)


def _fan_rows(model: HallModel, point, rack_rows: list, rise) -> list:
    """Add each fan-curve rack's operating point to its row of ``rack_rows`` (``fan_flow_m3s``,
    ``fan_pressure_Pa``: the rise back - front its fans deliver, ``fan_stalled``); returns a
    warning for every rack whose curve cannot meet the room's pressure (``rise``: exhaust over
    server inlet, K, per rack)."""
    fans = model.fans
    stalled = fan_model.stalled(fans, point.raw_flow)
    shut_off = fan_model.shut_off_pressure(fans)
    warnings = []
    for i, k in enumerate(np.asarray(fans.rack)):
        row = rack_rows[k]
        row.update(fan_flow_m3s=float(point.flow[i]), fan_pressure_Pa=float(point.pressure[i]),
                   fan_stalled=bool(stalled[i]))
        if stalled[i]:
            warnings.append(
                f"rack {row['name']}: its fan curve cannot meet the room's pressure: the air behind it is "
                f"{point.pressure[i]:.1f} Pa above the air in front of it, against a shut-off pressure of "
                f"{shut_off[i]:.1f} Pa at its speed, so its fans stall; the model holds its flow at "
                f"{point.flow[i]:.3f} m3/s ({100 * fan_model.MIN_FLOW_FRACTION:g} % of its free delivery "
                f"{fans.free_flow[i]:.3f} m3/s) and its exhaust leaves {float(rise[k]):.0f} K above its inlet "
                "(reverse flow through a stalled rack is not modelled)")
    return warnings


def _equipment(model, rack_rows, cooler_rows, tile_rows, return_rows, hybrid_rows=None) -> list:
    scene = model.scene
    out = []

    def box(position, size):
        lo = tuple(float(v) for v in position)
        return lo, tuple(float(a + b) for a, b in zip(lo, size))

    for r, row in zip(scene.racks, rack_rows):
        lo, hi = box(r.position, r.size)
        data = {k: float(v) for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        out.append({"name": r.name, "kind": "rack", "lower": lo, "upper": hi, "data": data})
    for c, row in zip(scene.coolers, cooler_rows):
        lo, hi = box(c.position, c.size)
        data = {k: float(v) for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        out.append({"name": c.name, "kind": "cooler", "lower": lo, "upper": hi, "data": data})
    for t, row in zip(scene.tiles, tile_rows):
        lo, hi = box((*t.position, 0.0), (*t.size, 0.0))
        out.append({"name": t.name, "kind": "tile", "lower": lo, "upper": hi,
                    "data": {"flow_m3s": row["flow_m3s"], "open_fraction": t.open_fraction}})
    from .equipment.openings import SURFACES
    lx, ly, lz = scene.room_size
    for ret, row in zip(scene.returns, return_rows):
        axis, side, plane_axes = SURFACES[ret.surface]
        lo, hi = [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]
        for k, a in enumerate(plane_axes):
            lo[a], hi[a] = ret.position[k], ret.position[k] + ret.size[k]
        lo[axis] = hi[axis] = 0.0 if side == 0 else (lx, ly, lz)[axis]
        data = {"flow_m3s": row["flow_m3s"]}
        if row["mean_C"] is not None:
            data["mean_C"] = row["mean_C"]
        out.append({"name": ret.name, "kind": "return", "lower": tuple(lo), "upper": tuple(hi), "data": data})
    for o in scene.obstructions:
        lo, hi = box(o.position, o.size)
        out.append({"name": o.name, "kind": "obstruction", "lower": lo, "upper": hi,
                    "data": {"blockage": o.blockage}})
    for c in scene.containment:
        lo, hi = box((*c.position, 0.0), (*c.size, c.height))
        out.append({"name": c.name, "kind": "containment", "lower": lo, "upper": hi,
                    "data": {"leakage": c.leakage}})
    racks_by_name = {r.name: r for r in scene.racks}
    for row in (hybrid_rows or {}).get("rear_doors", []):
        from .equipment.faces import face_normal
        r = racks_by_name[row["rack"]]
        axis, sign = face_normal("back", r.facing)
        lo, hi = [float(v) for v in r.position], [float(a + b) for a, b in zip(r.position, r.size)]
        if sign > 0:
            lo[axis], hi[axis] = hi[axis], hi[axis] + r.rear_door.depth
        else:
            lo[axis], hi[axis] = lo[axis] - r.rear_door.depth, lo[axis]
        data = {k: float(v) for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        out.append({"name": row["name"], "kind": "rear_door", "lower": tuple(lo), "upper": tuple(hi), "data": data})
    rack_items = {item["name"]: item for item in out if item["kind"] == "rack"}
    for row in (hybrid_rows or {}).get("cold_plates", []):
        # per-rack liquid data on the rack's own block
        rack_items[row["name"]]["data"].update({
            k if k.startswith("liquid") else f"liquid_{k}": float(v)
            for k, v in row.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
    return out
