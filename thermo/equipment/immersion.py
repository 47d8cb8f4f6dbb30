"""Single-phase immersion tanks: the tank interior on its own grid, its surface loss to the room.

Interior (one :class:`TankModel` per tank): the liquid up to the fill height is
a closed box solved by the same finite-volume core (:class:`~thermo.solve.Solver`)
with the liquid's properties at the tank's film temperature
(:meth:`thermo.liquids.Liquid.fluid`):

* server blocks are porous boxes (``servers.open_fraction`` of every face
  through them open, Darcy drag nu / K with K = gap^2 / 12 of laminar flow
  between boards ``servers.channel_gap`` apart) releasing their power
  uniformly over their volume;
* pumped circulation: the flow enters as a volume source spread over the bottom
  cell layer (a distribution plate) at the heat-exchanger (HX) supply
  temperature and leaves as a sink in the top cell layer along the weir wall
  (the +y wall, or +x when y is the long axis) at the local temperature;
  HX load = rho cp Q (T_outlet - T_supply);
* walls are no-slip, the free surface is free-slip; the bottom is adiabatic
  (the tank stands on the floor); the four side walls (wetted height) and the
  free surface lose heat q = U (T_cell - T_air) (W/m^2), U the series
  conductance of :func:`surface_conductance`: liquid-side natural convection,
  steel wall, air-side natural convection plus radiation (the free surface
  through the headspace air layer and the lid).  U is re-evaluated from the
  face-mean temperatures between compiled chunks of steps (host side), as is
  the HX supply temperature when it follows from facility water.

Room: the tank is a solid box; each face's loss is released as heat in the
air layer of thickness :data:`AIR_LAYER` outside it (:class:`RoomTanks`), and
that layer's mean air temperature is the T_air of the next tank solve.

Correlations (Incropera, DeWitt, Bergman & Lavine, *Fundamentals of Heat and
Mass Transfer*, 6th ed., 2007, chapter 9): vertical walls, Churchill & Chu
(1975), eq. 9.26; upper surface of a hot plate / lower surface of a cold
plate, Lloyd & Moran (1974), eqs. 9.30-9.31 with L = area / perimeter; the
stable orientation, eq. 9.32; the headspace, a horizontal air layer heated
from below, Globe & Dropkin (1959), eq. 9.49 (conduction below Ra = 1708).
Radiation: grey surfaces, h_r = eps sigma (Ts^2 + Ta^2)(Ts + Ta) to the room,
parallel plates across the headspace.

Units SI, temperatures degC.
"""

from __future__ import annotations

import math
import time as _time
from dataclasses import dataclass, field, replace

import jax.numpy as jnp
import numpy as np

from ..boundary import Boundaries, wall_plane
from ..grid import Grid
from ..liquids import Liquid, liquid as get_liquid
from ..problem import Problem, make_problem, open_geometry, no_sources
from ..scene.rasterize import add_solid, box_cell_fraction
from ..solve import Numerics, Solver, SolverDiverged

SIGMA = 5.670374419e-8      # Stefan-Boltzmann constant (W/(m^2 K^4))
WATER_RHO_CP = 997.0 * 4180.0   # facility water near 25 degC (J/(m^3 K))
AIR_LAYER = 0.1             # thickness (m) of the room air layer that receives a face's loss
SUPPLY_RELAXATION = 0.25    # share of the HX supply correction applied per chunk of steps
TANK_CFL = 0.25            # fraction of the explicit stability limit used in tank interiors
FACES = ("-x", "+x", "-y", "+y", "top")
_PLANES = {"-x": (0, 0), "+x": (0, 1), "-y": (1, 0), "+y": (1, 1), "top": (2, 1)}


# ---------------------------------------------------------------------------------
# natural convection and radiation (host numpy, vectorised over faces)
# ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Props:
    """Constant properties for a correlation: conductivity k (W/(m K)), kinematic
    viscosity nu (m^2/s), diffusivity alpha (m^2/s), expansion beta (1/K)."""

    k: float
    nu: float
    alpha: float
    beta: float

    @property
    def prandtl(self) -> float:
        return self.nu / self.alpha


def air_props(air, film_temperature) -> Props:
    """Air (the scenario's ``air:`` section) with the ideal-gas expansion 1/T_film."""
    alpha = air.viscosity / air.prandtl
    return Props(k=air.density * air.heat_capacity * alpha, nu=air.viscosity, alpha=alpha,
                 beta=1.0 / (np.asarray(film_temperature) + 273.15))


def liquid_props(liq: Liquid, temperature: float) -> Props:
    return Props(k=liq.conductivity, nu=liq.kinematic_viscosity(temperature), alpha=liq.diffusivity(temperature),
                 beta=liq.expansion)


def _rayleigh(props: Props, dt, length, gravity=9.81):
    return gravity * props.beta * np.abs(dt) * length ** 3 / (props.nu * props.alpha)


def h_vertical(props: Props, dt, height):
    """Churchill & Chu (1975) average h (W/(m^2 K)) of a vertical plate of ``height`` (m), all Ra."""
    ra = _rayleigh(props, dt, height)
    pr = props.prandtl
    nu = (0.825 + 0.387 * ra ** (1 / 6) / (1 + (0.492 / pr) ** (9 / 16)) ** (8 / 27)) ** 2
    return nu * props.k / height


def h_horizontal(props: Props, dt, length, unstable):
    """Lloyd & Moran (1974) average h (W/(m^2 K)) of a horizontal plate, length = area/perimeter (m).
    ``unstable``: upper surface of a hot plate or lower surface of a cold one (eqs. 9.30-9.31);
    otherwise the stable orientation (eq. 9.32)."""
    ra = np.maximum(_rayleigh(props, dt, length), 1e-12)
    nu = np.where(unstable, np.where(ra < 1e7, 0.54 * ra ** 0.25, 0.15 * ra ** (1 / 3)), 0.27 * ra ** 0.25)
    return nu * props.k / length


def h_layer(props: Props, dt, gap):
    """Horizontal layer of ``gap`` (m) heated from below: Globe & Dropkin (1959), Nu = 0.069 Ra^(1/3)
    Pr^0.074, conduction (Nu = 1) when that is larger (below Ra ~ 1708).  h = Nu k / gap."""
    ra = _rayleigh(props, dt, gap)
    nu = np.maximum(1.0, 0.069 * ra ** (1 / 3) * props.prandtl ** 0.074)
    return nu * props.k / gap


def h_radiation(t1, t2, emissivity, between_plates=False):
    """Linearised grey radiation coefficient (W/(m^2 K)) between surfaces at t1, t2 (degC)."""
    a, b = np.asarray(t1) + 273.15, np.asarray(t2) + 273.15
    eps = emissivity / (2.0 - emissivity) if between_plates else emissivity   # 1/(1/e + 1/e - 1)
    return eps * SIGMA * (a * a + b * b) * (a + b)


def _solve_layer(flux_of, q, scale):
    """The x >= 0 with flux_of(x) = q >= 0 for an increasing ``flux_of``, by bracketing from
    ``scale`` and bisection (vectorised); here a layer's temperature drop (K) for a heat flux
    (W/m^2), or the heat flux for a total drop."""
    lo, hi = np.zeros_like(q), np.full_like(q, scale)
    for _ in range(60):
        grow = flux_of(hi) < q
        if not np.any(grow):
            break
        hi = np.where(grow, 2 * hi, hi)
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        below = flux_of(mid) < q
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class SurfaceSpec:
    """Geometry and materials of a tank's five losing faces (order :data:`FACES`).

    Attributes:
      area: (5,) face areas (m^2): wetted side walls and the free surface / lid.
      height: wetted wall height (m); wall_height: outer wall height (m) on the air side.
      plate_length: lid area / perimeter (m).
      headspace: gap between the free surface and the lid (m).
      wall_resistance: wall thickness / conductivity (m^2 K/W).
      emissivity: outer surfaces (and the headspace surfaces) (-).
      open_to_room: (5,) bool, False where the face touches no room air (it is adiabatic).
    """

    area: np.ndarray
    height: float
    wall_height: float
    plate_length: float
    headspace: float
    wall_resistance: float
    emissivity: float
    open_to_room: np.ndarray


def surface_conductance(spec: SurfaceSpec, liq: Liquid, film_temperature: float, air,
                        t_liquid, t_air):
    """Heat flux q (W/m^2, positive out of the liquid) and conductance U = q / (T_liquid - T_air)
    (W/(m^2 K)) of each face, from the face-mean liquid temperature ``t_liquid`` (5,) and the
    room air temperature ``t_air`` (5,) (degC), through the series of layers

    side walls: liquid (Churchill-Chu) | steel | air (Churchill-Chu) + radiation;
    free surface: liquid (lower surface of a cold plate) | headspace air layer (Globe-Dropkin)
    + radiation across it | steel lid | air (Lloyd-Moran) + radiation.

    Each layer's drop is found by bisection for a trial flux; the flux by bisection on the
    total drop.  Faces with ``open_to_room`` False get U = 0."""
    t_liquid, t_air = np.asarray(t_liquid, float), np.asarray(t_air, float)
    total = t_liquid - t_air
    sign = np.where(total >= 0, 1.0, -1.0)
    target = np.abs(total)
    lp = liquid_props(liq, film_temperature)
    side = np.array([True, True, True, True, False])
    up = sign > 0   # heat flows up through the lid: the unstable orientation on both sides of it

    def drops(q):
        # liquid side
        d_liq = _solve_layer(lambda d: np.where(side, h_vertical(lp, d, spec.height),
                                                h_horizontal(lp, d, spec.plate_length, up)) * d, q, 1.0)
        t1 = t_liquid - sign * d_liq
        d_head = np.zeros_like(q)
        if spec.headspace > 1e-3:
            def head(d):
                ap = air_props(air, t1 - sign * 0.5 * d)
                conv = np.where(up, h_layer(ap, d, spec.headspace), ap.k / spec.headspace)
                return (conv + h_radiation(t1, t1 - sign * d, spec.emissivity, True)) * d
            d_head = np.where(side, 0.0, _solve_layer(head, q, 1.0))
        d_wall = q * spec.wall_resistance
        t2 = t1 - sign * (d_head + d_wall)

        def outside(d):
            ts = t2 - sign * d
            ap = air_props(air, 0.5 * (ts + t_air))
            conv = np.where(side, h_vertical(ap, d, spec.wall_height), h_horizontal(ap, d, spec.plate_length, up))
            return (conv + h_radiation(ts, t_air, spec.emissivity)) * d
        d_air = _solve_layer(outside, q, 1.0)
        return d_liq + d_head + d_wall + d_air

    # the flux q >= 0 whose layer drops add up to the target, by the same bisection
    q = _solve_layer(drops, target, 10.0) * sign * spec.open_to_room
    u = np.where(np.abs(total) > 1e-9, q / np.where(np.abs(total) > 1e-9, total, 1.0), 0.0)
    return q, u


# ---------------------------------------------------------------------------------
# the tank interior
# ---------------------------------------------------------------------------------

def long_axis(tank) -> int:
    """0 if the tank is longer along x (servers stand side by side along x), else 1."""
    return 0 if tank.size[0] >= tank.size[1] else 1


def server_boxes(tank):
    """(lower, upper) of each server block in tank coordinates (m, origin at the tank's inner corner)."""
    srv = tank.servers
    ax = long_axis(tank)
    other = 1 - ax
    length = tank.size[ax]
    gap = (length - srv.count * srv.size[0]) / (srv.count + 1)
    boxes = []
    for k in range(srv.count):
        lo, hi = [0.0, 0.0, srv.elevation], [0.0, 0.0, srv.elevation + srv.size[2]]
        lo[ax] = gap + k * (srv.size[0] + gap)
        hi[ax] = lo[ax] + srv.size[0]
        lo[other] = 0.5 * (tank.size[other] - srv.size[1])
        hi[other] = lo[other] + srv.size[1]
        boxes.append((tuple(lo), tuple(hi)))
    return boxes


def tank_shape(tank) -> tuple:
    """Cells per axis of the tank grid: about ``tank.cell`` (m) cells, 6 to 48 per axis."""
    extent = (tank.size[0], tank.size[1], tank.fill_height)
    return tuple(int(min(48, max(6, round(e / tank.cell)))) for e in extent)


@dataclass
class TankModel:
    """One tank ready to solve (host object).

    Attributes:
      tank: the scenario's :class:`~thermo.scene.schema.Tank`; liquid: its :class:`~thermo.liquids.Liquid`.
      film_temperature: property evaluation temperature (degC).
      grid, problem (float32), numerics: the interior as a core problem.
      inlet_cells, outlet_cells: flat indices of the distribution plate and weir cells.
      outlet_weight: volume weights of ``outlet_cells`` (sum 1).
      server_power: total (W).  spec: :class:`SurfaceSpec`.  air: the scenario's air.
      state: last solved :class:`~thermo.fields.State` (warm start), or None.
    """

    tank: object
    liquid: Liquid
    film_temperature: float
    grid: Grid
    problem: Problem
    numerics: Numerics
    inlet_cells: np.ndarray
    outlet_cells: np.ndarray
    outlet_weight: np.ndarray
    server_power: float
    spec: SurfaceSpec
    air: object
    state: object = None

    @property
    def rho_cp(self) -> float:
        return float(self.problem.fluid.density) * float(self.problem.fluid.heat_capacity)

    @property
    def flow(self) -> float:
        return self.tank.circulation.flow


def film_estimate(tank) -> float:
    """Film temperature (degC) before any solve: the supply temperature (facility + approach, or
    facility + 5 K) plus half the rise P / (rho cp Q) at that temperature."""
    liq = get_liquid(tank.liquid)
    c = tank.circulation
    supply = c.supply_temperature if c.supply_temperature is not None else (
        c.facility_supply_temperature + (c.approach if c.approach is not None else 5.0))
    power = tank.servers.count * tank.servers.power
    rise = power / (liq.density(supply) * liq.heat_capacity * c.flow)
    return supply + 0.5 * rise


def build_tank(tank, air, film_temperature: float | None = None, open_to_room=None, dtype=np.float32) -> TankModel:
    """The interior problem of ``tank`` (see module docstring); properties at ``film_temperature``
    (degC, default :func:`film_estimate`); ``open_to_room`` (5,) bool marks the faces with room air."""
    liq = get_liquid(tank.liquid)
    film = film_estimate(tank) if film_temperature is None else float(film_temperature)
    shape = tank_shape(tank)
    lengths = (tank.size[0], tank.size[1], tank.fill_height)
    grid = Grid(tuple(np.linspace(0.0, length, n + 1) for n, length in zip(shape, lengths)))
    geometry = open_geometry(grid)
    opens = [np.array(o) for o in geometry.open]
    fluid_fraction = np.array(geometry.fluid)
    sources = no_sources(grid)
    heat = np.zeros(shape)
    volume = np.asarray(grid.cell_volume())
    srv = tank.servers
    liquid_fluid = liq.fluid(film, air.gravity)
    darcy = float(liquid_fluid.viscosity) * 12.0 / srv.channel_gap ** 2   # nu / K, K = gap^2 / 12 (1/s)
    resistance = [np.zeros(grid.face_shape(a)) for a in range(3)]
    for lo, hi in server_boxes(tank):
        add_solid(fluid_fraction, opens, grid, np.array(lo), np.array(hi), 1.0 - srv.open_fraction)
        covered = [np.ones(grid.face_shape(a)) for a in range(3)]
        add_solid(np.ones(shape), covered, grid, np.array(lo), np.array(hi), 1.0)
        for a in range(3):
            resistance[a] += darcy * (1.0 - covered[a])
        frac = box_cell_fraction(grid, lo, hi)
        block_volume = float(np.prod(np.subtract(hi, lo)))
        heat += srv.power * frac / block_volume
    # pumped circulation: distribution plate (bottom layer) in, weir (top layer along the far wall) out
    flow = tank.circulation.flow
    inlet = np.zeros(shape, bool)
    inlet[:, :, 0] = True
    outlet = np.zeros(shape, bool)
    weir_axis = 1 - long_axis(tank)
    if weir_axis == 1:
        outlet[:, -1, -1] = True
    else:
        outlet[-1, :, -1] = True
    mass = np.zeros(shape)
    mass[inlet] = flow / float(np.sum(volume[inlet]))
    mass[outlet] = -flow / float(np.sum(volume[outlet]))
    c = tank.circulation
    supply0 = c.supply_temperature if c.supply_temperature is not None else film
    mass_temperature = np.full(shape, supply0)
    sources = replace(sources, mass=mass, mass_temperature=mass_temperature, heat=heat,
                      resistance_linear=tuple(resistance))
    # walls no-slip; the free surface free-slip
    planes = [[wall_plane(shape, a) for _ in (0, 1)] for a in range(3)]
    planes[2][1] = wall_plane(shape, 2, slip=True)
    boundaries = Boundaries(tuple(tuple(p) for p in planes))
    geometry = replace(geometry, open=tuple(opens), fluid=fluid_fraction)
    problem = make_problem(grid, liquid_fluid, boundaries, geometry, sources).astype(dtype)
    # time-step cap while the flow starts from rest: the buoyant velocity of the mean rise over the depth
    rise = tank.servers.count * srv.power / (liq.density(film) * liq.heat_capacity * flow)
    buoyant = math.sqrt(air.gravity * liq.expansion * max(rise, 1.0) * tank.fill_height)
    cell = min(np.min(np.diff(x)) for x in grid.nodes)
    numerics = Numerics(turbulence=tank.turbulence, cfl=TANK_CFL, max_dt=TANK_CFL * cell / (0.5 * buoyant))
    area = np.array([tank.size[1] * tank.fill_height] * 2 + [tank.size[0] * tank.fill_height] * 2
                    + [tank.size[0] * tank.size[1]])
    spec = SurfaceSpec(area=area, height=tank.fill_height, wall_height=tank.size[2],
                       plate_length=tank.size[0] * tank.size[1] / (2 * (tank.size[0] + tank.size[1])),
                       headspace=tank.size[2] - tank.fill_height,
                       wall_resistance=tank.wall_thickness / tank.wall_conductivity, emissivity=tank.emissivity,
                       open_to_room=np.ones(5, bool) if open_to_room is None else np.asarray(open_to_room, bool))
    out_idx = np.flatnonzero(outlet.ravel())
    weights = volume.ravel()[out_idx]
    return TankModel(tank=tank, liquid=liq, film_temperature=film, grid=grid, problem=problem, numerics=numerics,
                     inlet_cells=np.flatnonzero(inlet.ravel()), outlet_cells=out_idx,
                     outlet_weight=weights / weights.sum(), server_power=float(srv.count * srv.power),
                     spec=spec, air=air)


def _face_cells(temperature: np.ndarray, face: str) -> np.ndarray:
    axis, side = _PLANES[face]
    return np.take(temperature, 0 if side == 0 else -1, axis=axis)


def _face_area_cells(grid: Grid, face: str) -> np.ndarray:
    axis, _ = _PLANES[face]
    others = [b for b in range(3) if b != axis]
    w = [np.diff(np.asarray(grid.nodes[b], float)) for b in others]
    return w[0][:, None] * w[1][None, :]


def supply_temperature(model: TankModel, t_outlet: float):
    """(HX supply temperature (degC), facility water return temperature (degC) or None) for a
    tank outlet (HX liquid inlet) at ``t_outlet``."""
    c = model.tank.circulation
    if c.supply_temperature is not None:
        return c.supply_temperature, None
    if c.approach is not None:
        return c.facility_supply_temperature + c.approach, None
    c_liq = model.rho_cp * c.flow
    c_w = WATER_RHO_CP * c.facility_flow
    eps = hx_effectiveness(c.ua, c_liq, c_w)
    q = eps * min(c_liq, c_w) * (t_outlet - c.facility_supply_temperature)
    return t_outlet - q / c_liq, c.facility_supply_temperature + q / c_w


def hx_effectiveness(ua: float, c_hot: float, c_cold: float) -> float:
    """Counterflow effectiveness from NTU = UA / C_min and C_r = C_min / C_max (Incropera table 11.3)."""
    c_min, c_max = min(c_hot, c_cold), max(c_hot, c_cold)
    ntu, cr = ua / c_min, c_min / c_max
    if abs(1.0 - cr) < 1e-9:
        return ntu / (1.0 + ntu)
    e = math.exp(-ntu * (1.0 - cr))
    return (1.0 - e) / (1.0 - cr * e)


@dataclass
class TankResult:
    """What a tank solve gives (temperatures degC, powers W).

    Attributes:
      name, liquid: tank name and liquid key; film_temperature: property temperature.
      server_power: heat released by the servers.
      hx_load: rho cp Q (T_outlet - T_supply), the heat the HX takes to the facility water.
      surface_loss: heat through walls and lid to the room (sum of ``face_loss``).
      face_loss: (5,) per face of :data:`FACES`; face_u: (5,) conductances (W/(m^2 K));
      t_air: (5,) room air temperatures the loss was computed against.
      max_temperature, outlet_temperature, supply_temperature, mean_temperature: liquid.
      facility_supply_temperature, facility_return_temperature: facility water (None if not modelled).
      pump_power: Q dp / efficiency (None without ``pressure_drop``).
      energy_closure_pct: 100 (server - hx - surface) / server.
      steps, seconds, converged, reason: the interior solve ("converged", "settled: ..." or why not).
      state, problem: the interior solution (for VTK).
    """

    name: str
    liquid: str
    film_temperature: float
    server_power: float
    hx_load: float
    surface_loss: float
    face_loss: np.ndarray
    face_u: np.ndarray
    t_air: np.ndarray
    max_temperature: float
    outlet_temperature: float
    supply_temperature: float
    mean_temperature: float
    facility_supply_temperature: float | None
    facility_return_temperature: float | None
    pump_power: float | None
    energy_closure_pct: float
    steps: int
    seconds: float
    converged: bool
    reason: str = ""
    state: object = field(repr=False, default=None)
    problem: object = field(repr=False, default=None)

    def row(self) -> dict:
        """The ``tanks[]`` entry of summary.json (see docs/outputs.md)."""
        return {
            "name": self.name, "liquid": self.liquid, "film_temperature_C": self.film_temperature,
            "server_power_kW": self.server_power / 1e3, "max_fluid_C": self.max_temperature,
            "outlet_C": self.outlet_temperature, "supply_C": self.supply_temperature,
            "mean_fluid_C": self.mean_temperature, "hx_load_kW": self.hx_load / 1e3,
            "surface_loss_kW": self.surface_loss / 1e3,
            "surface_loss_by_face_kW": {f: float(v) / 1e3 for f, v in zip(FACES, self.face_loss)},
            "air_C_by_face": {f: float(v) for f, v in zip(FACES, self.t_air)},
            "energy_closure_pct": self.energy_closure_pct,
            "facility_supply_C": self.facility_supply_temperature,
            "facility_return_C": self.facility_return_temperature,
            "pump_power_kW": None if self.pump_power is None else self.pump_power / 1e3,
            "interior": {"steps": self.steps, "seconds": self.seconds, "converged": self.converged,
                         "reason": self.reason,
                         "shape": list(self.problem.grid.shape) if self.problem is not None else None},
        }


def _set_boundary_flux(problem: Problem, fluxes: dict) -> Problem:
    """``problem`` with wall heat flux (W/m^2, into the liquid; the solver divides by rho cp) set on
    each face of ``fluxes``."""
    planes = [list(p) for p in problem.boundaries.planes]
    for face, flux in fluxes.items():
        axis, side = _PLANES[face]
        plane = planes[axis][side]
        planes[axis][side] = replace(plane, heat_flux=jnp.asarray(flux, plane.heat_flux.dtype))
    return problem.replace(boundaries=Boundaries(tuple(tuple(p) for p in planes)))


def _set_supply(problem: Problem, cells: np.ndarray, value: float) -> Problem:
    src = problem.sources
    flat = jnp.reshape(src.mass_temperature, (-1,)).at[jnp.asarray(cells)].set(value)
    return problem.replace(sources=replace(src, mass_temperature=jnp.reshape(flat, src.mass_temperature.shape)))


def solve_tank(model: TankModel, t_air, max_steps: int = 40000, tol: float = 2e-3,
               monitor_tol: float = 0.01, chunk: int = 100, progress=None, window: int = 20) -> TankResult:
    """Steady interior of ``model`` against room air at ``t_air`` (degC, scalar or (5,) per face).

    Between compiled chunks of ``chunk`` steps the surface conductances and the HX supply
    temperature are updated from the current state.  Converged when the solver's change
    rates are below ``tol`` and the maximum, outlet and mean temperatures changed by less
    than ``monitor_tol`` (K) over the last chunk, with the energy closure within 0.2 %; or
    settled: after ``2 window`` chunks, the last ``window`` chunk-end samples have a mean
    energy closure within 0.2 % and temperatures within a 0.5 K band.  A settled result
    reports the window means (outlet, supply, mean temperature, HX load, face losses) and
    the window's highest maximum temperature.
    Warm-starts from ``model.state``.  ``progress(record)`` after each chunk: a dict with
    ``tank``, ``step``, ``max_fluid_C``, ``outlet_C``, ``closure_pct``, ``rate_velocity``,
    ``rate_temperature``."""
    t_air = np.broadcast_to(np.asarray(t_air, float), (5,)).copy()
    solver = Solver(model.problem, model.numerics, chunk=chunk)
    state = model.state
    if state is None:
        t0 = film_estimate(model.tank) if model.tank.circulation.supply_temperature is None else model.film_temperature
        state = solver.initial_state(t0)
    volume = np.asarray(model.grid.cell_volume(), float)
    fluid_volume = volume * np.asarray(model.problem.geometry.fluid, float)
    areas = {f: _face_area_cells(model.grid, f) for f in FACES}
    start = _time.perf_counter()
    steps, converged, last = 0, False, None
    q = u = np.zeros(5)
    fw_return, evaluated_at, t_sup = None, None, None
    samples, how = [], f"reached max_steps ({max_steps})"
    while steps < max_steps:
        temperature = np.asarray(state.temperature, float)
        face_mean = np.array([np.sum(_face_cells(temperature, f) * areas[f]) / np.sum(areas[f]) for f in FACES])
        if evaluated_at is None or np.max(np.abs(face_mean - evaluated_at)) > 0.05:
            # the conductances change slowly: re-evaluate them when a face mean moved by 0.05 K
            q, u = surface_conductance(model.spec, model.liquid, model.film_temperature, model.air, face_mean, t_air)
            evaluated_at = face_mean
        fluxes = {f: -u[k] * (_face_cells(temperature, f) - t_air[k]) for k, f in enumerate(FACES)}
        t_out = float(np.dot(temperature.ravel()[model.outlet_cells], model.outlet_weight))
        target, fw_return = supply_temperature(model, t_out)
        # the supply follows the outlet through the HX; relaxed, so that plumes passing the weir do
        # not kick the inflow (the steady state is the same)
        t_sup = target if t_sup is None else t_sup + SUPPLY_RELAXATION * (target - t_sup)
        solver.problem = _set_supply(_set_boundary_flux(solver.problem, fluxes), model.inlet_cells, t_sup)
        state, diag = solver.run_chunk(state, min(chunk, max_steps - steps))
        steps += int(diag["steps"])
        if not bool(diag["finite"]):
            raise SolverDiverged(f"tank {model.tank.name}: the interior solution diverged by step {steps}")
        temperature = np.asarray(state.temperature, float)
        applied = sum(float(np.sum(-np.asarray(solver.problem.boundaries.plane(*_PLANES[f]).heat_flux) * areas[f]))
                      for f in FACES)
        t_out = float(np.dot(temperature.ravel()[model.outlet_cells], model.outlet_weight))
        hx = model.rho_cp * model.flow * (t_out - t_sup)
        closure = 100.0 * (model.server_power - hx - applied) / model.server_power
        face_loss = np.array([float(np.sum(-np.asarray(solver.problem.boundaries.plane(*_PLANES[f]).heat_flux)
                                           * areas[f])) for f in FACES])
        monitors = np.array([temperature.max(), t_out, np.sum(temperature * fluid_volume) / fluid_volume.sum()])
        change = np.inf if last is None else float(np.max(np.abs(monitors - last)))
        last = monitors
        samples = (samples + [np.concatenate([monitors, [t_sup, hx], face_loss])])[-window:]
        if progress is not None:
            progress({"tank": model.tank.name, "step": steps, "max_fluid_C": float(monitors[0]), "outlet_C": t_out,
                      "closure_pct": closure, "rate_velocity": float(diag["rate_velocity"]),
                      "rate_temperature": float(diag["rate_temperature"])})
        if (float(diag["rate_velocity"]) < tol and float(diag["rate_temperature"]) < tol and change < monitor_tol
                and abs(closure) < 0.2):
            converged, how = True, "converged"
            break
        # a buoyant interior often keeps a small unsteadiness (plumes over the servers): accept the
        # window mean once the window's energy closure is within 0.2 % and its temperatures within 0.5 K
        if len(samples) == window and steps >= 2 * window * chunk:
            table = np.array(samples)
            mean_closure = 100.0 * (model.server_power - table[:, 4].mean() - table[:, 5:].sum(axis=1).mean()) \
                / model.server_power
            if abs(mean_closure) < 0.2 and float(np.max(np.ptp(table[:, :3], axis=0))) < 0.5:
                converged, how = True, f"settled: mean of the last {window * chunk} steps"
                break
    model.state = state
    model.problem = solver.problem
    temperature = np.asarray(state.temperature, float)
    if how.startswith("settled"):
        table = np.array(samples)
        mean = table.mean(axis=0)
        t_max, t_out, t_mean, t_sup, hx = float(table[:, 0].max()), *(float(v) for v in mean[1:5])
        face_loss = mean[5:]
    else:
        face_loss = np.array([float(np.sum(-np.asarray(solver.problem.boundaries.plane(*_PLANES[f]).heat_flux)
                                           * areas[f])) for f in FACES])
        t_out = float(np.dot(temperature.ravel()[model.outlet_cells], model.outlet_weight))
        t_sup = float(np.asarray(solver.problem.sources.mass_temperature).ravel()[model.inlet_cells[0]])
        hx = model.rho_cp * model.flow * (t_out - t_sup)
        t_max = float(temperature[fluid_volume > 0].max())
        t_mean = float(np.sum(temperature * fluid_volume) / fluid_volume.sum())
    loss = float(face_loss.sum())
    c = model.tank.circulation
    if c.facility_flow is not None:   # the facility water takes the HX load
        fw_return = c.facility_supply_temperature + hx / (WATER_RHO_CP * c.facility_flow)
    pump = None if c.pressure_drop is None else c.flow * c.pressure_drop / c.pump_efficiency
    return TankResult(
        name=model.tank.name, liquid=model.liquid.key, film_temperature=model.film_temperature,
        server_power=model.server_power, hx_load=hx, surface_loss=loss, face_loss=face_loss, face_u=u,
        t_air=t_air, max_temperature=t_max, outlet_temperature=t_out, supply_temperature=t_sup, mean_temperature=t_mean,
        facility_supply_temperature=c.facility_supply_temperature, facility_return_temperature=fw_return,
        pump_power=pump, energy_closure_pct=100.0 * (model.server_power - hx - loss) / model.server_power,
        steps=steps, seconds=_time.perf_counter() - start, converged=converged, reason=how, state=state,
        problem=solver.problem)


def refresh_properties(model: TankModel, result: TankResult, dtype=None) -> TankModel:
    """``model`` rebuilt with properties at the solved film temperature (mean of supply and outlet),
    keeping the state as the warm start."""
    film = 0.5 * (result.supply_temperature + result.outlet_temperature)
    dtype = dtype or model.problem.geometry.fluid.dtype
    new = build_tank(model.tank, model.air, film, model.spec.open_to_room, dtype)
    new.state = model.state
    return new


# ---------------------------------------------------------------------------------
# the room side
# ---------------------------------------------------------------------------------

@dataclass
class RoomTanks:
    """Tanks as the room sees them: solids, and per tank and face the room cells that receive
    its loss and give its air temperature.

    Attributes:
      names: tank names; boxes: (lower, upper) outer boxes (m).
      cells: cells[t][f] flat room-cell indices of the air layer of face f of tank t.
      weights: matching air volumes (m^3) in those cells (overlap x fluid fraction).
      cell_volume: room cell volumes (m^3), flat.
      open_to_room: (T, 5) bool, faces with air outside.
      losses: (T, 5) the face losses (W) currently applied as room heat.
      models: :class:`TankModel` per tank (interior, with warm-start states).
    """

    names: list
    boxes: list
    cells: list
    weights: list
    cell_volume: np.ndarray
    open_to_room: np.ndarray
    losses: np.ndarray
    models: list = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.names)


def air_layer(lower, upper, face: str):
    """(lower, upper) of the air layer of thickness :data:`AIR_LAYER` outside ``face`` of a box."""
    lo, hi = list(lower), list(upper)
    axis, side = _PLANES[face]
    if side == 0:
        lo[axis], hi[axis] = lower[axis] - AIR_LAYER, lower[axis]
    else:
        lo[axis], hi[axis] = upper[axis], upper[axis] + AIR_LAYER
    return tuple(lo), tuple(hi)


def build_room_tanks(scene, fields, dtype=np.float32) -> RoomTanks:
    """Rasterize the scene's tanks into ``fields`` (solid boxes) and find their air layers."""
    grid = fields.grid
    boxes = []
    for t in scene.tanks:
        lower = np.asarray(t.position, float)
        upper = lower + np.asarray(t.size, float)
        add_solid(fields.fluid, fields.open, grid, lower, upper, 1.0)
        boxes.append((tuple(lower), tuple(upper)))
    volume = np.asarray(grid.cell_volume(), float)
    cells, weights, open_rows = [], [], []
    for (lower, upper), t in zip(boxes, scene.tanks):
        top = list(lower)
        top[2] = lower[2] + t.fill_height   # side walls lose heat over the wetted height
        wet_upper = (upper[0], upper[1], lower[2] + t.fill_height)
        c_row, w_row, o_row = [], [], []
        for face in FACES:
            lo, hi = air_layer(lower, upper if face == "top" else wet_upper, face)
            frac = box_cell_fraction(grid, lo, hi) * fields.fluid
            idx = np.flatnonzero(frac.ravel() > 0)
            w = (frac * volume).ravel()[idx]
            c_row.append(idx)
            w_row.append(w)
            o_row.append(bool(w.sum() > 1e-9))
        cells.append(c_row)
        weights.append(w_row)
        open_rows.append(o_row)
    models = [build_tank(t, scene.air, None, o, dtype) for t, o in zip(scene.tanks, open_rows)]
    return RoomTanks(names=[t.name for t in scene.tanks], boxes=boxes, cells=cells, weights=weights,
                     cell_volume=volume.ravel(), open_to_room=np.array(open_rows, bool).reshape(-1, 5),
                     losses=np.zeros((len(boxes), 5)), models=models)


def room_heat(tanks: RoomTanks, shape, losses=None) -> np.ndarray:
    """Room heat source (W/m^3), shape ``shape``: each face's loss spread over its air layer by volume."""
    losses = tanks.losses if losses is None else np.asarray(losses)
    heat = np.zeros(int(np.prod(shape)))
    for t in range(tanks.count):
        for f in range(5):
            w = tanks.weights[t][f]
            if w.sum() > 0:
                idx = tanks.cells[t][f]
                np.add.at(heat, idx, losses[t, f] * w / w.sum() / tanks.cell_volume[idx])
    return heat.reshape(shape)


def with_room_heat(tanks: RoomTanks, problem: Problem, losses=None) -> Problem:
    """``problem`` with the tanks' losses as its heat sources (replacing any there)."""
    if losses is not None:
        tanks.losses = np.asarray(losses, float)
    heat = room_heat(tanks, problem.grid.shape)
    src = problem.sources
    return problem.replace(sources=replace(src, heat=jnp.asarray(heat, src.heat.dtype)))


def air_temperatures(tanks: RoomTanks, temperature, fallback: float) -> np.ndarray:
    """(T, 5) volume-mean room air temperature (degC) of each face's air layer (``fallback`` where none)."""
    flat = np.asarray(temperature, float).ravel()
    out = np.full((tanks.count, 5), float(fallback))
    for t in range(tanks.count):
        for f in range(5):
            w = tanks.weights[t][f]
            if w.sum() > 0:
                out[t, f] = float(np.dot(flat[tanks.cells[t][f]], w) / w.sum())
    return out


def field_file_name(name: str) -> str:
    """The interior field file of tank ``name``: ``tank_<name>.vtr`` (characters other than
    letters, digits, '-' and '_' replaced by '_')."""
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)
    return f"tank_{safe}.vtr"


def placed_problem(problem: Problem, lower) -> Problem:
    """``problem`` with its grid moved to the tank's room position (m), so the interior field
    overlays the room in ParaView."""
    nodes = tuple(np.asarray(x, float) + float(o) for x, o in zip(problem.grid.nodes, lower))
    return problem.replace(grid=Grid(nodes))
