"""Time events of a transient: cooling units failing or restored, rack power steps.

The schedule is evaluated inside the compiled loop from the simulated time,
so a transient runs as one program with no host round trips at event times.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np


@dataclass(frozen=True)
class Schedule:
    """Events as arrays.

    Attributes:
      cooler_time, cooler_unit, cooler_running: time (s), unit index, new state (0/1).
      rack_time, rack_index, rack_power: time (s), rack index, new power (W).
    """

    cooler_time: np.ndarray
    cooler_unit: np.ndarray
    cooler_running: np.ndarray
    rack_time: np.ndarray
    rack_index: np.ndarray
    rack_power: np.ndarray

    @property
    def has_cooler_events(self) -> bool:
        return len(self.cooler_time) > 0


def build_schedule(scene) -> Schedule:
    """The :class:`Schedule` of ``scene.events`` (in time order)."""
    racks = {r.name: k for k, r in enumerate(scene.racks)}
    coolers = {c.name: k for k, c in enumerate(scene.coolers)}
    ct, cu, cr, rt, ri, rp = [], [], [], [], [], []
    for e in scene.events:
        if e.cooler is not None:
            ct.append(e.time); cu.append(coolers[e.cooler]); cr.append(0.0 if e.action == "fail" else 1.0)
        else:
            rt.append(e.time); ri.append(racks[e.rack]); rp.append(e.power)
    return Schedule(np.array(ct, float), np.array(cu, np.int32), np.array(cr, float),
                    np.array(rt, float), np.array(ri, np.int32), np.array(rp, float))


def running_at(schedule: Schedule, n_units: int, time):
    """0/1 per cooling unit at ``time`` (s), as a jax array."""
    running = jnp.ones(n_units, jnp.asarray(time).dtype)
    for t, k, value in zip(schedule.cooler_time, schedule.cooler_unit, schedule.cooler_running):
        running = jnp.where(time >= t, running.at[k].set(value), running)
    return running


def power_at(schedule: Schedule, rated_power, time):
    """Rack powers (W) at ``time`` (s), as a jax array."""
    power = jnp.asarray(rated_power, jnp.asarray(time).dtype)
    for t, k, value in zip(schedule.rack_time, schedule.rack_index, schedule.rack_power):
        power = jnp.where(time >= t, power.at[k].set(value), power)
    return power


def running_at_host(schedule: Schedule, n_units: int, time: float) -> np.ndarray:
    """0/1 per unit at ``time`` (numpy, for reports)."""
    running = np.ones(n_units)
    for t, k, value in zip(schedule.cooler_time, schedule.cooler_unit, schedule.cooler_running):
        if time >= t:
            running[k] = value
    return running


def power_at_host(schedule: Schedule, rated_power, time: float) -> np.ndarray:
    """Rack powers (W) at ``time`` (numpy, for reports)."""
    power = np.array(rated_power, float)
    for t, k, value in zip(schedule.rack_time, schedule.rack_index, schedule.rack_power):
        if time >= t:
            power[k] = value
    return power
