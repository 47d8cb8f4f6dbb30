"""Data-center thermal metrics (definitions: ../shared/reference/datacenter_metrics.json).

Pure functions of rack, cooler and opening temperatures and flows, plus the
Capture Index, which needs two passive scalars solved in the converged flow.

* ASHRAE TC 9.9 status of a rack: its *maximum* intake temperature inside the
  recommended envelope (18-27 degC for A1-A4, 18-22 degC for H1) and inside the
  allowable range of the scenario's class.
* RCI_HI / RCI_LO (Herrlin 2005), evaluated over every intake cell of every rack
  weighted by its face area (each cell face stands for one "intake"): 100 % when
  all intakes are within the recommended range.
* RTI = (T_return - T_supply) / dT_equipment x 100 % (Herrlin), flow-weighted means.
* SHI = sum m (T_in - T_ref) / sum m (T_out - T_ref), RHI = 1 - SHI (Sharma et
  al. 2002), T_ref the flow-weighted mean supply temperature.
* Capture indices (VanGilder & Shrivastava 2007), see :func:`capture_indices`.
* Energy balance: (return enthalpy flow) - (supply enthalpy flow) - (rack heat), in % of
  the rack heat, or of the supplied enthalpy flow per kelvin where that is larger (a hall
  with little or no heat), see :func:`energy_balance_pct`.

Metrics that need heat (RTI, SHI, RHI) are NaN (``null`` in summary.json, ``n/a`` in the
tables) in a hall whose racks put no heat into the air: not applicable, not a division by zero.
"""

from __future__ import annotations

import numpy as np

import jax
import jax.numpy as jnp
from jax import lax

RECOMMENDED = {"A1": (18.0, 27.0), "A2": (18.0, 27.0), "A3": (18.0, 27.0), "A4": (18.0, 27.0), "H1": (18.0, 22.0)}
ALLOWABLE = {"A1": (15.0, 32.0), "A2": (10.0, 35.0), "A3": (5.0, 40.0), "A4": (5.0, 45.0), "H1": (5.0, 25.0)}


TOLERANCE_K = 0.05


def ashrae_status(inlet_max_C: float, inlet_min_C: float, ashrae_class: str = "A1") -> dict:
    """{"class", "recommended", "allowable"}: whether every intake point of a rack (its
    min and max intake temperature, degC) lies in the class's recommended envelope and
    allowable range, to within ``TOLERANCE_K`` (0.05 K: supply air at exactly 18 degC
    must not fail the 18 degC lower limit by a numerical undershoot)."""
    lo, hi = RECOMMENDED[ashrae_class]
    alo, ahi = ALLOWABLE[ashrae_class]
    lo, alo, hi, ahi = lo - TOLERANCE_K, alo - TOLERANCE_K, hi + TOLERANCE_K, ahi + TOLERANCE_K
    return {"class": ashrae_class, "recommended": bool(lo <= inlet_min_C and inlet_max_C <= hi),
            "allowable": bool(alo <= inlet_min_C and inlet_max_C <= ahi)}


def rci(intake_C, weights=None, ashrae_class: str = "A1") -> tuple[float, float]:
    """(RCI_HI, RCI_LO) in % of intake temperatures ``intake_C`` (degC) with optional weights.

    >>> [round(x, 2) for x in rci([22, 24, 26, 28, 29.5, 31, 33])][0]
    61.43
    """
    t = np.asarray(intake_C, float)
    w = np.ones_like(t) if weights is None else np.asarray(weights, float)
    w = w / w.sum()
    lo, hi = RECOMMENDED[ashrae_class]
    alo, ahi = ALLOWABLE[ashrae_class]
    over = np.sum(w * np.maximum(t - hi, 0.0))
    under = np.sum(w * np.maximum(lo - t, 0.0))
    return float(100.0 * (1.0 - over / (ahi - hi))), float(100.0 * (1.0 - under / (lo - alo)))


def rti(return_C: float, supply_C: float, equipment_rise_K: float) -> float:
    """Return Temperature Index (%): (T_return - T_supply) / dT_equipment x 100; NaN (not
    applicable) when the equipment does not warm its air (idle racks, no heat)."""
    if not equipment_rise_K > 0:
        return float("nan")
    return float(100.0 * (return_C - supply_C) / equipment_rise_K)


def shi_rhi(inlet_C, outlet_C, mass_flows, reference_C: float) -> tuple[float, float]:
    """(SHI, RHI) from rack inlet and outlet means (degC), rack mass flows and the supply
    temperature; NaN (not applicable) when the racks put no heat into their air: SHI is a
    share of that heat's temperature rise."""
    m = np.asarray(mass_flows, float)
    inlet, outlet = np.asarray(inlet_C, float), np.asarray(outlet_C, float)
    if not np.sum(m * (outlet - inlet)) > 0:
        return float("nan"), float("nan")
    rise_in = np.sum(m * (inlet - reference_C))
    rise_out = np.sum(m * (outlet - reference_C))
    shi = float(rise_in / rise_out) if rise_out != 0 else float("nan")
    return shi, 1.0 - shi


#: Temperature change (K) of the supply air whose enthalpy flow scales the energy balance of a
#: hall with little or no heat: an imbalance of 0.2 % (``thermo.hall.BALANCE_TOLERANCE_PCT``)
#: is then a 0.002 K error of the mean return temperature, as in a heated hall it is 0.2 % of
#: the heat.
BALANCE_SCALE_RISE_K = 1.0


def energy_balance_reference_W(heat_W: float, supply_flow_m3s: float, rho_cp: float) -> float:
    """The heat flow (W) that the energy balance is measured against: the heat released in
    the hall (racks, tank surfaces), or the enthalpy flow of the supplied air per
    :data:`BALANCE_SCALE_RISE_K` where that is larger, so that an idle hall has a balance
    (its imbalance against the air it moves) instead of a division by zero; at least 1 W."""
    return float(max(heat_W, rho_cp * supply_flow_m3s * BALANCE_SCALE_RISE_K, 1.0))


def energy_balance_pct(removed_W, heat_W, reference_W):
    """(heat removed - heat released) in % of ``reference_W``
    (:func:`energy_balance_reference_W`); works on floats and traced JAX values."""
    return 100.0 * (removed_W - heat_W) / reference_W


def rack_crossing_times(times_s, inlet_max_C, limit_C: float) -> list:
    """Per rack, the first time (s) its intake exceeds ``limit_C`` (degC), linearly
    interpolated between samples; None for a rack that never does.
    ``inlet_max_C``: shape (times, racks)."""
    t = np.asarray(times_s, float)
    series = np.asarray(inlet_max_C, float)
    out = []
    for column in series.T:
        above = np.nonzero(column > limit_C)[0]
        if len(above) == 0:
            out.append(None)
            continue
        k = int(above[0])
        if k == 0:
            out.append(float(t[0]))
            continue
        f = (limit_C - column[k - 1]) / (column[k] - column[k - 1])
        out.append(float(t[k - 1] + f * (t[k] - t[k - 1])))
    return out


def ride_through(times_s, inlet_max_C, limit_C: float):
    """First time (s) any intake exceeds ``limit_C`` (degC): the earliest of
    :func:`rack_crossing_times`; None if none does.  ``inlet_max_C``: shape (times, racks)."""
    crossings = [c for c in rack_crossing_times(times_s, inlet_max_C, limit_C) if c is not None]
    return min(crossings) if crossings else None


def time_after_event(time_s, event_times_s):
    """(seconds since the last event at or before ``time_s``, that event's index); (None, None)
    when ``time_s`` is None or no event precedes it.  The ride-through an engineer quotes is
    the time from the failure, not from the start of the transient."""
    if time_s is None:
        return None, None
    before = [(t, k) for k, t in enumerate(event_times_s) if t <= time_s]
    if not before:
        return None, None
    t, k = max(before)
    return float(time_s - t), k


# --------------------------------------------------------------------------------
# capture indices: two passive scalars in the frozen flow
# --------------------------------------------------------------------------------

def capture_indices(model, state, tol: float = 1e-4, chunk: int = 200, max_steps: int = 40000):
    """Cold- and hot-aisle Capture Index per rack, and the two scalar fields.

    Cold-aisle CI of a rack: the fraction of the air it ingests that came from a
    cooling supply (tile or cooler supply) without passing through any rack.  Solved as
    a passive scalar c in the converged flow: c = 1 in supply air, 0 in rack exhaust
    air; the CI is the area-mean c over the rack's intake layer.

    Hot-aisle CI of a rack: the fraction of its exhaust that reaches a cooling return
    (cooler return or return opening) before any rack intake.  This is the probability
    field p of the *backward* (adjoint) transport problem, the same equation in the
    reversed flow: p = 1 in air drawn by returns, 0 in air drawn by racks; the CI is
    the area-mean p over the rack's exhaust layer.  One scalar gives every rack's CI,
    however many racks (instead of one tracer per rack).

    Both scalars are marched in pseudo-time (explicit, CFL-limited) with the velocity,
    eddy viscosity and sources frozen, until the largest change per flow-through time
    is below ``tol``.  Returns ``(cold_ci (R,), hot_ci (R,), fields (2, *cells), steps)``.
    """
    from .physics.scalar import ScalarBoundary, transport_tendency
    from .physics.projection import face_volume_flux
    from .operators import LIMITERS
    from .solve import stable_time_step
    from .grid import AXES

    dtype = state.temperature.dtype
    limiter = LIMITERS[model.numerics.limiter]
    racks, coolers = model.racks, model.coolers
    grid = model.problem.grid
    length = max(float(x[-1] - x[0]) for x in grid.nodes)

    def cells_mask(indices):
        m = jnp.zeros(grid.cells, dtype)
        if len(indices):
            m = m.at[jnp.asarray(indices)].set(1.0)
        return m.reshape(grid.shape)

    def boundaries(problem, kind):
        out = []
        for a in AXES:
            pair = []
            for side in (0, 1):
                p = problem.boundaries.plane(a, side)
                value = p.inflow if kind == "cold" else p.outflow
                pair.append(ScalarBoundary(dirichlet=jnp.zeros_like(p.inflow), value=value.astype(dtype),
                                           flux=jnp.zeros_like(p.inflow)))
            out.append(tuple(pair))
        return tuple(out)

    # the frozen flow's coefficients are set up inside the compiled chunk (a few operations per
    # 200 steps): set up outside it, each operation compiled a small program of its own
    @jax.jit
    def march(fields, problem, state):
        problem = model.coupling(problem, state)
        geometry, sources, fluid = problem.geometry, problem.sources, problem.fluid
        kappa = fluid.diffusivity + state.eddy_viscosity / fluid.turbulent_prandtl
        live = geometry.fluid > 0
        flux = face_volume_flux(state.velocity, grid, geometry.open)
        reverse = tuple(-q for q in flux)
        mass = sources.mass
        cooler_supply, cooler_return = cells_mask(coolers.supply_cells), cells_mask(coolers.return_cells)
        bc_cold, bc_hot = boundaries(problem, "cold"), boundaries(problem, "hot")
        dt = stable_time_step(problem, model.numerics, state.velocity, state.eddy_viscosity)
        speed = jnp.maximum(jnp.max(jnp.stack([jnp.max(jnp.abs(u)) for u in state.velocity])), 1e-6)
        flow_time = length / speed

        def body(_, carry):
            c, p, _ = carry
            c_new = jnp.where(live, c + dt * transport_tendency(c, flux, kappa, grid, geometry.open, bc_cold, limiter,
                                                                mass, cooler_supply, 0.0), 0.0)
            p_new = jnp.where(live, p + dt * transport_tendency(p, reverse, kappa, grid, geometry.open, bc_hot,
                                                                limiter, -mass, cooler_return, 0.0), 0.0)
            change = jnp.maximum(jnp.max(jnp.abs(c_new - c)), jnp.max(jnp.abs(p_new - p)))
            return c_new, p_new, change
        c, p, change = lax.fori_loop(0, chunk, body, (fields[0], fields[1], jnp.asarray(0.0, dtype)))
        return jnp.stack([c, p]), change * flow_time / dt

    fields = jnp.zeros((2, *grid.shape), dtype)
    steps = 0
    while steps < max_steps:
        fields, rate = march(fields, model.problem, state)
        steps += chunk
        if float(rate) < tol:
            break
    # per-rack area means on the host
    scalars = np.asarray(fields, float).reshape(2, -1)
    n = racks.count
    w_in = np.asarray(racks.intake_weight, float)
    intake_rack, exhaust_rack = np.asarray(racks.intake_rack), np.asarray(racks.exhaust_rack)
    cold = (np.bincount(intake_rack, w_in * scalars[0][np.asarray(racks.intake_cells)], minlength=n)
            / np.bincount(intake_rack, w_in, minlength=n))
    hot = (np.bincount(exhaust_rack, scalars[1][np.asarray(racks.exhaust_cells)], minlength=n)
           / np.bincount(exhaust_rack, minlength=n))
    return cold.astype(dtype), hot.astype(dtype), fields, steps


# --------------------------------------------------------------------------------
# energy balance
# --------------------------------------------------------------------------------

def boundary_heat_inflow(problem, state):
    """Heat entering through the six boundaries (W) as a float (see :func:`boundary_heat_inflow_jax`)."""
    return float(_boundary_heat_inflow_compiled(problem, state))


def boundary_heat_inflow_jax(problem, state):
    """Heat entering through the six boundaries (W), as the temperature equation counts it:
    advection (inflow faces carry the boundary temperature, outflow faces the cell's, backflow
    at openings the opening's backflow temperature), conduction into the first cell at
    fixed-temperature faces (inflow, isothermal walls) and given wall heat fluxes."""
    from .grid import AXES

    grid, fluid = problem.grid, problem.fluid
    rho_cp = fluid.density * fluid.heat_capacity
    kappa = fluid.diffusivity + state.eddy_viscosity / fluid.turbulent_prandtl
    total = 0.0
    for a in AXES:
        area = grid.face_area(a)
        spacing = grid.centre_spacing(a)
        for side in (0, 1):
            index = 0 if side == 0 else -1
            plane = problem.boundaries.plane(a, side)
            u = lax.index_in_dim(state.velocity[a], index, a, keepdims=False)
            o = lax.index_in_dim(problem.geometry.open[a], index, a, keepdims=False)
            face_area = jnp.broadcast_to(jnp.squeeze(area, a), u.shape)
            inward_q = o * face_area * u * (1.0 if side == 0 else -1.0)     # m^3/s into the domain
            cell_t = lax.index_in_dim(state.temperature, index, a, keepdims=False)
            cell_k = lax.index_in_dim(kappa, index, a, keepdims=False)
            carried = jnp.where(inward_q > 0, plane.temperature, cell_t)
            half = spacing[0] if side == 0 else spacing[-1]
            dirichlet = plane.inflow + plane.wall * plane.fixed_temperature
            conduction = o * face_area / half * cell_k * dirichlet * (plane.temperature - cell_t)
            given = face_area * plane.wall * (1.0 - plane.fixed_temperature) * plane.heat_flux / rho_cp
            total = total + jnp.sum(inward_q * carried + conduction + given)
    return total * rho_cp


# one program per grid shape instead of one small program per operation and face shape
_boundary_heat_inflow_compiled = jax.jit(boundary_heat_inflow_jax)
