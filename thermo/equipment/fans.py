"""Rack fan curves: the servers deliver the flow at which their fans' curve meets the room.

A rack with ``airflow: {fan_curve: [[Q, dp], ...]}`` has no fixed flow.  Its
fans deliver a static-pressure rise dp(Q) from the front face to the back face
that falls as the flow Q rises (data-sheet points, flow increasing, pressure
strictly decreasing).  The room sets the rise they must deliver: the pressure
of the air behind the rack minus that in front of it, each the area mean over
the cell layer outside that face,

    dp_room = rho (p_back - p_front)          (Pa; the solver's p is kinematic).

The operating point is where the two meet, Q = Q_fan(dp_room).  A contained
cold aisle fed by too few tiles is depressurized, the back pressure rises and
the fans deliver less; their heat P then leaves hotter,
T_exhaust = T_server_in + P / (rho cp Q) (:mod:`.rack`).

**The curve.**  Q_fan(dp) is the inverse of the data-sheet curve, interpolated
by a monotone piecewise cubic (Fritsch-Carlson / PCHIP: C1, no overshoot
between the points) in the pressure, and continued past both ends along the
end segments: below the last point's pressure (the room helps the fans) the
flow grows along the last segment, above the first point's pressure it falls
along the first segment towards zero.  ``speed`` s scales the curve by the
affinity laws, Q by s and dp by s^2, on the host.  The flow never goes below
``MIN_FLOW_FRACTION`` of the free delivery Q_free (the flow at dp = 0): a smooth
floor (softplus of width ``FLOOR_WIDTH_FRACTION`` Q_free) keeps it positive and
differentiable, so the exhaust temperature stays finite.  A rack at that floor
is *stalled*: its curve cannot meet the room's pressure, and the summary warns
(:func:`stalled`).  Reverse flow through a stalled rack is not modelled.

**Inside the steady solve.**  The coupling (``thermo.hall.make_coupling``)
evaluates the operating point before every step from the current state and
sets the rack's intake sink, exhaust source and exhaust jet from it, so the
flow settles with the solution in the same march: no outer iterations between
runs.  The coupling is a function of the state alone, so the flow the rack had
in the previous step is read back from the state: the projection makes the
velocity satisfy div(u) = s to the Poisson tolerance, so the net volume flux
into the intake layer's cells is the sink the previous step applied.  Cells of
that layer that also carry another sink or source (another fan rack's layer,
any other equipment) are left out of the read-back; the uniform spreading of
the sink over the face gives the flow from the rest.  The new flow is then
under-relaxed towards the curve,

    Q_new = Q_prev + RELAXATION (Q_fan(dp_room) - Q_prev),

which keeps the loop between the fans and the room's pressure stable; its
fixed point is on the curve whatever the factor.  A sealed aisle answers a
change of flow with a large change of pressure, and in an incompressible
march most of it is instantaneous: the projection accelerates the air in the
leaks at once, a pressure spike of about K dQ / dt, and an explicit fan loop
that sees it swings from step to step (a sealed cold aisle at 0.2 % leakage
did, between +500 and -150 Pa).  The flow step is therefore damped by that
response,

    Q_new = Q_prev + RELAXATION (Q_fan(dp_room) - Q_prev) / (1 + RELAXATION |dQ_fan/ddp| K / dt),

with K the pressure rise across each rack when every fan rack's flow rises by
1 m^3/s in a step of 1 s (one pressure solve at build time,
:func:`inertial_response`) and dt the step's global time step (local time
steps only make the spike smaller).  This is stable whatever K; the fans then
settle in about 1 / RELAXATION + |dQ_fan/ddp| K / dt steps (~50 to a few
hundred), far fewer than the march needs for the temperatures.  The
first step of a march (``state.step == 0``: air at rest, nothing to read back)
starts the fans on their curve, at free delivery: starting them at the floor
instead let the fixed tile flow of a sealed cold aisle blow out through its
leaks at tens of m/s before the fans had spun up, and the march diverged.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..scene.errors import ScenarioError
from .faces import jet_acceleration

MIN_FLOW_FRACTION = 0.05      # of the free delivery: the flow of a stalled rack
FLOOR_WIDTH_FRACTION = 0.01   # of the free delivery: width of the smooth floor
MAX_FLOW_FACTOR = 2.0        # x free delivery: the most a room pushing air through a rack gives it
RELAXATION = 0.02             # share of the gap to the curve the flow closes per step (undamped)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class FanSet:
    """The fan-curve racks of a hall as sparse arrays (numpy, a pytree).

    Attributes:
      rack: (F,) rack number (position in ``scene.racks``) of each fan-curve rack.
      knot_pressure, knot_flow, knot_slope: (F, K) the inverse curve Q(dp) at its knots,
        pressure ascending (Pa), flow (m^3/s) and dQ/ddp (m^3/s/Pa), speed applied;
        shorter curves are padded with knots on their end line.
      free_flow, min_flow: (F,) flow at zero pressure rise and the floor (m^3/s).
      leakage: (F,) blanking leakage fraction (the room sees (1 - f) Q).
      intake_cells, intake_rate, intake_area, intake_fan: the cells in front of the front
        faces, volume source per unit room flow (1/m^3), face area (m^2), fan number.
      exhaust_cells, exhaust_rate, exhaust_area, exhaust_fan: the same behind the back faces.
      intake_total, exhaust_total: (F,) face areas (m^2).
      jet_faces, jet_coefficient, jet_fan: per axis, the exhaust layer's far faces, the
        acceleration per (room flow)^2 (m/s^2 per (m^3/s)^2) and the fan number.
      read_cells, read_fan: intake cells the previous flow is read back from.
      read_faces: per axis (M, 2) flat indices of each read cell's lower and upper face.
      read_area: per axis (M,) geometric area of those faces (m^2).
      read_share: (F,) share of the intake sink that falls in the read cells.
      stiffness: (F,) K, the instantaneous pressure rise across each rack (Pa) per 1 m^3/s
        more server flow of every fan rack at once, in a step of 1 s (:func:`inertial_response`).
    """

    rack: object
    knot_pressure: object
    knot_flow: object
    knot_slope: object
    free_flow: object
    min_flow: object
    leakage: object
    intake_cells: object
    intake_rate: object
    intake_area: object
    intake_fan: object
    intake_total: object
    exhaust_cells: object
    exhaust_rate: object
    exhaust_area: object
    exhaust_fan: object
    exhaust_total: object
    jet_faces: tuple
    jet_coefficient: tuple
    jet_fan: tuple
    read_cells: object
    read_fan: object
    read_faces: tuple
    read_area: tuple
    read_share: object
    stiffness: object

    @property
    def count(self) -> int:
        return int(self.rack.shape[0])


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class FanPoint:
    """Where the fans of each fan-curve rack run, (F,) arrays.

    Attributes:
      flow: server flow applied this step (m^3/s).
      pressure: pressure rise the room asks of the fans, rho (p_back - p_front) (Pa).
      curve_flow: the curve's flow at that rise, with the floor (m^3/s): the target.
      raw_flow: the curve's flow at that rise without the floor (m^3/s; <= 0 past shut-off).
      delivered: the flow read back from the state (m^3/s): what the previous step applied.
    """

    flow: object
    pressure: object
    curve_flow: object
    raw_flow: object
    delivered: object


def pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Knot derivatives of the monotone cubic through (x, y) (x increasing, y strictly
    monotone): weighted harmonic means of the neighbouring secants inside (Fritsch and
    Butland), the end secants at the ends, so the curve continues along its end segments."""
    h = np.diff(x)
    d = np.diff(y) / h
    m = np.empty_like(y)
    m[0], m[-1] = d[0], d[-1]
    for k in range(1, len(y) - 1):
        w1, w2 = 2.0 * h[k] + h[k - 1], h[k] + 2.0 * h[k - 1]
        m[k] = (w1 + w2) / (w1 / d[k - 1] + w2 / d[k])
    return m


def curve_knots(curve, speed: float = 1.0):
    """(pressure (Pa, ascending), flow (m^3/s), dQ/ddp) knots of the inverse of ``curve``
    ([[flow, pressure], ...] as in the scenario) at ``speed`` (affinity laws)."""
    points = np.asarray(curve, float)[::-1]
    pressure, flow = points[:, 1] * speed**2, points[:, 0] * speed
    return pressure, flow, pchip_slopes(pressure, flow)


def _padded(knots, size: int):
    """``knots`` extended to ``size`` knots along the line of their last segment (an exact
    continuation: a Hermite cubic between points of a line with the line's slope is the line)."""
    p, q, m = knots
    extra = size - len(p)
    if extra <= 0:
        return p, q, m
    step = np.arange(1, extra + 1, dtype=float)
    p_new = p[-1] + step
    return (np.concatenate([p, p_new]), np.concatenate([q, q[-1] + m[-1] * step]),
            np.concatenate([m, np.full(extra, m[-1])]))


def curve_flow(fans: FanSet, pressure):
    """The curves' flow (m^3/s) at pressure rises ``pressure`` (Pa), (F,), without the floor."""
    p_k = jnp.asarray(fans.knot_pressure, pressure.dtype)
    q_k = jnp.asarray(fans.knot_flow, pressure.dtype)
    m_k = jnp.asarray(fans.knot_slope, pressure.dtype)
    j = jnp.sum(pressure[:, None] > p_k[:, 1:-1], axis=1)

    def at(a, i):
        return jnp.take_along_axis(a, i[:, None], axis=1)[:, 0]

    p0, p1, q0, q1, m0, m1 = at(p_k, j), at(p_k, j + 1), at(q_k, j), at(q_k, j + 1), at(m_k, j), at(m_k, j + 1)
    h = p1 - p0
    t = (pressure - p0) / h
    t2, t3 = t * t, t * t * t
    inside = ((2 * t3 - 3 * t2 + 1) * q0 + (t3 - 2 * t2 + t) * h * m0 + (-2 * t3 + 3 * t2) * q1
              + (t3 - t2) * h * m1)
    low = q_k[:, 0] + m_k[:, 0] * (pressure - p_k[:, 0])
    high = q_k[:, -1] + m_k[:, -1] * (pressure - p_k[:, -1])
    return jnp.where(pressure < p_k[:, 0], low, jnp.where(pressure > p_k[:, -1], high, inside))


def floored(fans: FanSet, flow):
    """``flow`` (m^3/s) between the smooth floor at ``min_flow`` (min_flow + w softplus((Q -
    min_flow) / w)) and the smooth cap at ``MAX_FLOW_FACTOR`` x free delivery (width 10 w)."""
    width = jnp.asarray(FLOOR_WIDTH_FRACTION * fans.free_flow, flow.dtype)
    low = jnp.asarray(fans.min_flow, flow.dtype)
    high = jnp.asarray(MAX_FLOW_FACTOR * fans.free_flow, flow.dtype)
    flow = high - 10.0 * width * jax.nn.softplus((high - flow) / (10.0 * width))
    return low + width * jax.nn.softplus((flow - low) / width)


def face_pressures(fans: FanSet, fluid, pressure):
    """(front, back) area-mean static pressure (Pa) of each fan rack's layers from the
    kinematic ``pressure`` field (m^2/s^2)."""
    p = jnp.reshape(pressure, (-1,))
    n = fans.count

    def mean(cells, area, fan, total):
        w = jnp.asarray(area, p.dtype)
        return jax.ops.segment_sum(w * p[cells], fan, num_segments=n) / jnp.asarray(total, p.dtype)

    rho = jnp.asarray(fluid.density, p.dtype)
    front = mean(fans.intake_cells, fans.intake_area, fans.intake_fan, fans.intake_total)
    back = mean(fans.exhaust_cells, fans.exhaust_area, fans.exhaust_fan, fans.exhaust_total)
    return rho * front, rho * back


def delivered_flow(fans: FanSet, problem, state):
    """Server flow (m^3/s) per fan rack that the state carries into the read-back cells of its
    intake layer (the net volume flux in, scaled by the share of the sink there, over 1 - f)."""
    dtype = state.temperature.dtype
    net = jnp.zeros(fans.read_cells.shape, dtype)
    for a in range(3):
        u = jnp.reshape(state.velocity[a], (-1,))
        o = jnp.reshape(problem.geometry.open[a], (-1,))
        lo, hi = fans.read_faces[a][:, 0], fans.read_faces[a][:, 1]
        net = net + jnp.asarray(fans.read_area[a], dtype) * (o[hi] * u[hi] - o[lo] * u[lo])
    into = -jax.ops.segment_sum(net, fans.read_fan, num_segments=fans.count) / jnp.asarray(fans.read_share, dtype)
    return into / jnp.asarray(np.maximum(1.0 - fans.leakage, 1e-6), dtype)


def operating_point(fans: FanSet, problem, state, dt) -> FanPoint:
    """The :class:`FanPoint` of every fan rack in ``state`` (see module docstring); ``dt``:
    the global time step (s) of the step about to be taken."""
    front, back = face_pressures(fans, problem.fluid, state.pressure)
    rise = back - front
    raw, slope = jax.jvp(lambda p: curve_flow(fans, p), (rise,), (jnp.ones_like(rise),))
    target = floored(fans, raw)
    delivered = delivered_flow(fans, problem, state)
    dtype = rise.dtype
    previous = jnp.clip(delivered, jnp.asarray(fans.min_flow, dtype),
                        jnp.asarray(MAX_FLOW_FACTOR * fans.free_flow, dtype))
    # a march starts from air at rest, where nothing can be read back: the fans start on
    # their curve (at free delivery, as the room has no pressure yet) as fixed-flow racks do
    previous = jnp.where(state.step == 0, target, previous)
    stiffness = jnp.asarray(fans.stiffness, dtype) / jnp.maximum(jnp.asarray(dt, dtype), 1e-9)
    flow = previous + RELAXATION * (target - previous) / (1.0 + RELAXATION * jnp.abs(slope) * stiffness)
    return FanPoint(flow=flow, pressure=rise, curve_flow=target, raw_flow=raw, delivered=delivered)


def apply_fans(fans: FanSet, sources, flow):
    """``sources`` with each fan rack's intake sink, exhaust source and exhaust jet for server
    flows ``flow`` (m^3/s, (F,)); the room sees (1 - f) of it."""
    from dataclasses import replace

    room = flow * jnp.asarray(1.0 - fans.leakage, flow.dtype)
    mass = jnp.reshape(sources.mass, (-1,))
    mass = mass.at[fans.intake_cells].add(-(room[fans.intake_fan] * jnp.asarray(fans.intake_rate, flow.dtype))
                                          .astype(mass.dtype))
    mass = mass.at[fans.exhaust_cells].add((room[fans.exhaust_fan] * jnp.asarray(fans.exhaust_rate, flow.dtype))
                                           .astype(mass.dtype))
    momentum = list(sources.momentum)
    for a in range(3):
        if len(fans.jet_faces[a]):
            f = jnp.reshape(momentum[a], (-1,))
            jet = room[fans.jet_fan[a]] ** 2 * jnp.asarray(fans.jet_coefficient[a], flow.dtype)
            momentum[a] = jnp.reshape(f.at[fans.jet_faces[a]].add(jet.astype(f.dtype)), momentum[a].shape)
    return replace(sources, mass=jnp.reshape(mass, sources.mass.shape), momentum=tuple(momentum))


def inertial_response(fans: FanSet, problem):
    """(F,) K of :class:`FanSet` for ``problem``: rho (p_back - p_front) (Pa) of the pressure
    that the projection adds when every fan rack's server flow rises by 1 m^3/s in a step of
    1 s: one solve of the pressure equation (:mod:`thermo.physics.projection`) with that
    change of the intake sinks and exhaust sources on its right-hand side.  Solving it for
    all racks at once gives each rack the sum of its neighbours' responses, the in-phase
    mode in which the racks of a shared aisle swing together."""
    from ..physics import poisson
    from ..physics.projection import pressure_operator

    dtype = problem.geometry.fluid.dtype
    grid = problem.grid
    volume = jnp.reshape(grid.cell_volume(), (-1,)).astype(dtype)
    room = jnp.asarray(1.0 - fans.leakage, dtype)
    change = jnp.zeros(volume.shape, dtype)
    change = change.at[fans.intake_cells].add(-room[fans.intake_fan] * jnp.asarray(fans.intake_rate, dtype))
    change = change.at[fans.exhaust_cells].add(room[fans.exhaust_fan] * jnp.asarray(fans.exhaust_rate, dtype))
    hierarchy = poisson.build_hierarchy(pressure_operator(grid, problem.geometry.open, problem.boundaries))
    response, _, _ = poisson.solve(hierarchy, jnp.reshape(change * volume, grid.shape), tol=1e-6, max_iter=200)
    front, back = face_pressures(fans, problem.fluid, response)
    return jnp.abs(back - front)


def stalled(fans: FanSet, raw_flow) -> np.ndarray:
    """(F,) bool: the curve gives no more than the floor flow at the room's pressure rise."""
    return np.asarray(raw_flow, float) <= np.asarray(fans.min_flow, float)


def shut_off_pressure(fans: FanSet) -> np.ndarray:
    """(F,) pressure rise (Pa) at which each curve (continued along its first segment) gives no flow."""
    p, q, m = (np.asarray(a, float) for a in (fans.knot_pressure, fans.knot_flow, fans.knot_slope))
    # the highest-pressure knot of the curve proper is the lowest-flow point; padding follows it
    # along the same line, so the line through any padded end knot reaches zero flow at the same place
    return p[:, -1] - q[:, -1] / m[:, -1]


def _cell_faces(grid, cells):
    """Per axis: (M, 2) flat indices of the lower and upper faces of ``cells`` and (M,) their areas."""
    shape = grid.shape
    ijk = np.unravel_index(cells, shape)
    widths = [np.diff(np.asarray(x, float)) for x in grid.nodes]
    faces, areas = [], []
    for a in range(3):
        fshape = grid.face_shape(a)
        lo = list(ijk)
        hi = list(ijk)
        hi[a] = ijk[a] + 1
        faces.append(np.stack([np.ravel_multi_index(tuple(lo), fshape), np.ravel_multi_index(tuple(hi), fshape)],
                              axis=1).astype(np.int64))
        b, c = [x for x in range(3) if x != a]
        areas.append(widths[b][ijk[b]] * widths[c][ijk[c]])
    return tuple(faces), tuple(areas)


def build_fans(scene, fields, rack_layers) -> FanSet | None:
    """The :class:`FanSet` of the fan-curve racks of ``scene`` (None without any).

    Call after every other piece of equipment has written its sinks and sources into
    ``fields`` (the read-back leaves out cells that carry any); fan racks write none there."""
    chosen = [k for k, r in enumerate(scene.racks) if r.airflow.fan_curve is not None]
    if not chosen:
        return None
    grid = fields.grid
    volume = fields.volume.reshape(-1)
    knots = [curve_knots(scene.racks[k].airflow.fan_curve, scene.racks[k].airflow.speed or 1.0) for k in chosen]
    size = max(len(kn[0]) for kn in knots)
    knots = [_padded(kn, size) for kn in knots]
    free = np.array([scene.rack_flow(scene.racks[k]) for k in chosen])

    # which fan layers hold each cell (a cell in two of them cannot tell their flows apart)
    owners: dict = {}
    for i, k in enumerate(chosen):
        front, back = rack_layers[k]
        for side, layer in (("front", front), ("back", back)):
            for c in layer.cells:
                owners.setdefault(int(c), set()).add((i, side))
    background = fields.mass.reshape(-1)

    parts = {key: [] for key in ("ic", "ir", "ia", "if", "ec", "er", "ea", "ef", "rc", "rf")}
    jets = [([], [], []) for _ in range(3)]
    share, in_total, out_total = [], [], []
    for i, k in enumerate(chosen):
        rack = scene.racks[k]
        front, back = rack_layers[k]
        label = f"rack {rack.name}"
        if not len(front.cells) or not len(back.cells):
            raise ScenarioError(label, "airflow.fan_curve", "its front or back face has no air in front of it on "
                                "this grid; a fan-curve rack needs both")
        parts["ic"].append(front.cells)
        parts["ir"].append(front.areas / front.area / volume[front.cells])
        parts["ia"].append(front.areas)
        parts["if"].append(np.full(len(front.cells), i))
        parts["ec"].append(back.cells)
        parts["er"].append(back.areas / back.area / volume[back.cells])
        parts["ea"].append(back.areas)
        parts["ef"].append(np.full(len(back.cells), i))
        in_total.append(front.area)
        out_total.append(back.area)
        coefficient = jet_acceleration(grid, back, 1.0)
        jets[back.axis][0].append(back.far_faces)
        jets[back.axis][1].append(coefficient)
        jets[back.axis][2].append(np.full(len(back.far_faces), i))
        alone = np.array([owners[int(c)] == {(i, "front")} and background[c] == 0.0 for c in front.cells])
        if not np.any(alone):
            raise ScenarioError(label, "airflow.fan_curve", "every grid cell in front of it also carries another "
                                "rack's or unit's flow at this grid, so its own flow cannot be followed; use a "
                                "smaller cell (--cell) or move it apart")
        parts["rc"].append(front.cells[alone])
        parts["rf"].append(np.full(int(np.sum(alone)), i))
        share.append(float(np.sum(front.areas[alone]) / front.area))

    cat = lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)  # noqa: E731
    read_cells = cat(parts["rc"], np.int64)
    read_faces, read_area = _cell_faces(grid, read_cells)
    return FanSet(
        rack=np.array(chosen, np.int32),
        knot_pressure=np.stack([kn[0] for kn in knots]), knot_flow=np.stack([kn[1] for kn in knots]),
        knot_slope=np.stack([kn[2] for kn in knots]),
        free_flow=free, min_flow=MIN_FLOW_FRACTION * free,
        leakage=np.array([scene.racks[k].blanking_leakage for k in chosen], float),
        intake_cells=cat(parts["ic"], np.int64), intake_rate=cat(parts["ir"], float),
        intake_area=cat(parts["ia"], float), intake_fan=cat(parts["if"], np.int32), intake_total=np.array(in_total),
        exhaust_cells=cat(parts["ec"], np.int64), exhaust_rate=cat(parts["er"], float),
        exhaust_area=cat(parts["ea"], float), exhaust_fan=cat(parts["ef"], np.int32),
        exhaust_total=np.array(out_total),
        jet_faces=tuple(cat(j[0], np.int64) for j in jets), jet_coefficient=tuple(cat(j[1], float) for j in jets),
        jet_fan=tuple(cat(j[2], np.int32) for j in jets),
        read_cells=read_cells, read_fan=cat(parts["rf"], np.int32), read_faces=read_faces, read_area=read_area,
        read_share=np.array(share), stiffness=np.zeros(len(chosen)))
