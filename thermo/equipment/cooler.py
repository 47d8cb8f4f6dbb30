"""Cooling units: CRAH/CRAC (downflow, upflow) and in-row coolers.

A unit is a solid box.  It removes its flow Q through the return face (the
cell layer outside it, or a duct from the ceiling plenum above it) at the
local temperature and supplies Q through the supply face, normal to it at
Q / A_supply, at the supply temperature

    T_supply = max(T_set, T_return - capacity / (rho cp Q)),

so the heat it removes, rho cp Q (T_return - T_supply), never exceeds its
capacity (the supply warms instead).  T_return is the area-mean temperature
of the return layer.  ``control: supply`` holds T_set at the supply
setpoint; ``control: return`` moves T_set between compiled chunks of steps
(an integral controller, :func:`return_control_update`) until the return
temperature reaches ``return_setpoint``, never below
``min_supply_temperature``.

Default faces: downflow return top / supply bottom (into the raised floor),
upflow return front / supply top, in-row return back / supply front.

Fan power follows the affinity laws, P_fan = P_rated (Q / Q_rated)^3; a
failed unit (event) stops its flow, cooling and fan.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..scene.load import return_face, return_from, supply_face
from ..scene.rasterize import add_solid
from .faces import add_flow, box_face_layer, jet_acceleration, plane_layer

UNLIMITED = 1e30


@dataclass(frozen=True)
class CoolerSet:
    """All cooling units as sparse arrays (numpy).

    Attributes:
      count: number of units.
      return_cells, return_weight, return_unit: return-layer cells, face areas (m^2), unit number.
      supply_cells, supply_unit: supply-layer cells and unit number.
      return_rate, supply_rate: mass source per cell at full flow (1/s; negative at returns).
      jet_faces, jet_unit, jet_accel: per axis, far faces of the supply layer, unit, acceleration at full flow.
      flow (m^3/s), setpoint (degC), capacity (W), fan_power (W, at rated_flow), rated_flow (m^3/s),
      return_control (1.0 where control = return), return_setpoint (degC), min_supply (degC): per unit.
      supply_probe: one supply cell per unit (where the controller's set temperature is stored).
    """

    count: int
    return_cells: np.ndarray
    return_weight: np.ndarray
    return_unit: np.ndarray
    supply_cells: np.ndarray
    supply_unit: np.ndarray
    return_rate: np.ndarray
    supply_rate: np.ndarray
    jet_faces: tuple
    jet_unit: tuple
    jet_accel: tuple
    flow: np.ndarray
    setpoint: np.ndarray
    capacity: np.ndarray
    fan_power: np.ndarray
    rated_flow: np.ndarray
    return_control: np.ndarray
    return_setpoint: np.ndarray
    min_supply: np.ndarray
    supply_probe: np.ndarray


def build_coolers(scene, fields) -> tuple[CoolerSet, list]:
    """Rasterize every cooling unit into ``fields``; returns the :class:`CoolerSet` and
    per unit its (return layer, supply layer)."""
    grid = fields.grid
    vol = fields.volume.reshape(-1)
    rc, rw, ru, sc, su, rr, sr = [], [], [], [], [], [], []
    jf, ju, ja = [[], [], []], [[], [], []], [[], [], []]
    layers = []
    lz = scene.room_size[2]
    for k, c in enumerate(scene.coolers):
        lower = np.asarray(c.position, float)
        upper = lower + np.asarray(c.size, float)
        add_solid(fields.fluid, fields.open, grid, lower, upper)
        if return_from(scene, c) == "ceiling_plenum":
            ret = plane_layer(grid, 2, lz, +1, lower, upper)
        else:
            ret = box_face_layer(grid, c.position, c.size, return_face(c), c.facing)
        sup = box_face_layer(grid, c.position, c.size, supply_face(c), c.facing)
        add_flow(fields, ret, -c.flow)
        add_flow(fields, sup, c.flow, c.supply_temperature)
        acc = jet_acceleration(grid, sup, c.flow)
        np.add.at(fields.momentum[sup.axis].reshape(-1), sup.far_faces, acc)
        rc.append(ret.cells); rw.append(ret.areas); ru.append(np.full(len(ret.cells), k))
        rr.append(-c.flow * ret.areas / ret.area / vol[ret.cells])
        sc.append(sup.cells); su.append(np.full(len(sup.cells), k))
        sr.append(c.flow * sup.areas / sup.area / vol[sup.cells])
        jf[sup.axis].append(sup.far_faces); ju[sup.axis].append(np.full(len(sup.cells), k)); ja[sup.axis].append(acc)
        layers.append((ret, sup))
    cat = lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)  # noqa: E731
    cs = scene.coolers
    coolers = CoolerSet(
        count=len(cs), return_cells=cat(rc, np.int64), return_weight=cat(rw, float), return_unit=cat(ru, np.int32),
        supply_cells=cat(sc, np.int64), supply_unit=cat(su, np.int32), return_rate=cat(rr, float),
        supply_rate=cat(sr, float), jet_faces=tuple(cat(x, np.int64) for x in jf),
        jet_unit=tuple(cat(x, np.int32) for x in ju), jet_accel=tuple(cat(x, float) for x in ja),
        flow=np.array([c.flow for c in cs], float), setpoint=np.array([c.supply_temperature for c in cs], float),
        capacity=np.array([c.capacity if c.capacity is not None else UNLIMITED for c in cs], float),
        fan_power=np.array([c.fan_power for c in cs], float),
        rated_flow=np.array([c.rated_flow if c.rated_flow is not None else c.flow for c in cs], float),
        return_control=np.array([1.0 if c.control == "return" else 0.0 for c in cs]),
        return_setpoint=np.array([c.return_setpoint if c.return_setpoint is not None else np.nan for c in cs]),
        min_supply=np.array([c.min_supply_temperature for c in cs], float),
        supply_probe=np.array([l[1].cells[0] for l in layers], np.int64))
    return coolers, layers


def return_temperatures(coolers: CoolerSet, temperature):
    """Area-mean return temperature per unit (degC)."""
    t = jnp.reshape(temperature, (-1,))[coolers.return_cells]
    w = jnp.asarray(coolers.return_weight, t.dtype)
    n = coolers.count
    return jax.ops.segment_sum(w * t, coolers.return_unit, num_segments=n) / jax.ops.segment_sum(
        w, coolers.return_unit, num_segments=n)


def supply_temperatures(coolers: CoolerSet, mass_temperature, t_return, fluid):
    """Supply temperature per unit (degC): the set temperature (setpoint, or the return
    controller's value stored at the unit's supply cells), raised where the load would
    exceed the capacity."""
    stored = jnp.reshape(mass_temperature, (-1,))[coolers.supply_probe]
    t_set = jnp.where(coolers.return_control > 0, stored, coolers.setpoint)
    rho_cp = fluid.density * fluid.heat_capacity
    return jnp.maximum(t_set, t_return - coolers.capacity / (rho_cp * coolers.flow))


def apply_units(coolers: CoolerSet, sources, t_supply, running=None):
    """``sources`` with supply temperatures set and, where ``running`` (0/1 per unit) is
    given, flows and supply jets scaled by it (failed units)."""
    t_flat = jnp.reshape(sources.mass_temperature, (-1,))
    t_flat = t_flat.at[coolers.supply_cells].set(t_supply[coolers.supply_unit].astype(t_flat.dtype))
    changes = {"mass_temperature": jnp.reshape(t_flat, sources.mass_temperature.shape)}
    if running is not None:
        m = jnp.reshape(sources.mass, (-1,))
        m = m.at[coolers.return_cells].add((running[coolers.return_unit] - 1.0) * coolers.return_rate)
        m = m.at[coolers.supply_cells].add((running[coolers.supply_unit] - 1.0) * coolers.supply_rate)
        changes["mass"] = jnp.reshape(m, sources.mass.shape)
        momentum = list(sources.momentum)
        for a in range(3):
            if len(coolers.jet_faces[a]):
                f = jnp.reshape(momentum[a], (-1,))
                f = f.at[coolers.jet_faces[a]].add((running[coolers.jet_unit[a]] - 1.0) * coolers.jet_accel[a])
                momentum[a] = jnp.reshape(f, momentum[a].shape)
        changes["momentum"] = tuple(momentum)
    from dataclasses import replace
    return replace(sources, **changes)


def unit_loads(coolers: CoolerSet, t_return, t_supply, fluid, running=None):
    """(load (W), fan power (W)) per unit."""
    on = np.ones(coolers.count) if running is None else running
    rho_cp = fluid.density * fluid.heat_capacity
    flow = coolers.flow * on
    load = rho_cp * flow * (t_return - t_supply)
    fan = coolers.fan_power * (flow / coolers.rated_flow) ** 3
    return load, fan


def return_control_update(coolers: CoolerSet, t_set, t_return, gain: float = 0.5):
    """One integral-controller update of the set supply temperature (degC, numpy) of
    return-controlled units: t_set - gain (T_return - return_setpoint), kept between
    ``min_supply_temperature`` and the return setpoint."""
    new = t_set - gain * (np.asarray(t_return) - coolers.return_setpoint)
    new = np.clip(new, coolers.min_supply, np.where(np.isnan(coolers.return_setpoint), new,
                                                   coolers.return_setpoint))
    return np.where(coolers.return_control > 0, new, t_set)
