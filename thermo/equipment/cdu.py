"""Coolant distribution units (CDUs) and the cold-plate loop they close.

A CDU serves a set of liquid racks (:mod:`.cold_plate`).  Its secondary
(coolant) flow is the sum of the racks' coolant flows, Q_c; its primary side
is facility water at flow Q_f entering at T_f,in.  With the heat Q the racks
put into the coolant, effectiveness-NTU (:mod:`.hx`) fixes the temperatures
at steady state:

    C_c = rho_c cp_c Q_c,  C_f = rho_f cp_f Q_f,  eps from UA / C_min and C_min / C_max,
    Q = eps C_min (T_c,return - T_f,in),  T_c,return = T_c,supply + Q / C_c
    =>  T_c,supply = T_f,in + Q (1 / (eps C_min) - 1 / C_c),
    T_f,return = T_f,in + Q / C_f,  approach = T_c,supply - T_f,in.

When the capture ratio depends on the coolant temperature, Q and
T_c,supply depend on each other; :func:`solve_loop` iterates this fixed
point (``LOOP_ITERATIONS`` times; the capture ratio changes by a few
percent per 10 K, so it converges to float precision).

Pump power: P_pump = Q_c dp / efficiency, dp the loop pressure drop at its flow.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from . import hx
from .cold_plate import PlateSet, capture_ratio, case_temperature
from .ratings import CDU_ARRANGEMENT, cdu_ua

LOOP_ITERATIONS = 12


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class CduSet:
    """All CDUs as arrays, one entry per CDU (a pytree).

    Attributes:
      ua (W/K); arrangement (:mod:`.hx` code, int);
      coolant_capacity: C_c (W/K); coolant_flow: Q_c (m^3/s);
      facility_capacity: C_f (W/K); facility_flow: Q_f (m^3/s);
      facility_temperature: T_f,in (degC); pump_power (W).
    """

    ua: object
    arrangement: object
    coolant_capacity: object
    coolant_flow: object
    facility_capacity: object
    facility_flow: object
    facility_temperature: object
    pump_power: object

    @property
    def count(self) -> int:
        return int(np.shape(self.ua)[0])


def build_cdus(scene, served: list, facility_inlet) -> CduSet:
    """The :class:`CduSet` of ``scene`` (numpy); ``served[i]``: rack names of CDU i;
    ``facility_inlet(cdu)``: its facility-water inlet temperature (degC)."""
    racks = {r.name: r for r in scene.racks}
    rows = []
    for c, names in zip(scene.cdus, served):
        q_c = sum(racks[n].liquid.flow for n in names)
        rows.append((cdu_ua(c, q_c), CDU_ARRANGEMENT[c.arrangement], c.coolant.density * c.coolant.heat_capacity * q_c,
                     q_c, c.facility_water.density * c.facility_water.heat_capacity * c.facility_flow,
                     c.facility_flow, facility_inlet(c), q_c * c.pump.pressure_drop / c.pump.efficiency))
    cols = list(zip(*rows)) if rows else [()] * 8
    return CduSet(*[np.array(col, np.int32 if i == 1 else float) for i, col in enumerate(cols)])


def supply_temperature(cdus: CduSet, load):
    """Coolant supply temperature (degC) of each CDU carrying ``load`` (W)."""
    c_min = jnp.minimum(cdus.coolant_capacity, cdus.facility_capacity)
    c_max = jnp.maximum(cdus.coolant_capacity, cdus.facility_capacity)
    eps = hx.effectiveness(cdus.ua / c_min, c_min / c_max, cdus.arrangement)
    return cdus.facility_temperature + load * (1.0 / (eps * c_min) - 1.0 / cdus.coolant_capacity)


def solve_loop(plates: PlateSet, cdus: CduSet, rack_power) -> dict:
    """The cold-plate loops at rack powers ``rack_power`` (W, all racks), as arrays:

    * per liquid rack: ``capture`` (0..1), ``captured`` (W), ``supply_C``, ``return_C``,
      ``case_C`` (degC, NaN without a resistance);
    * per CDU: ``load`` (W), ``supply_C``, ``return_C`` (coolant), ``facility_return_C`` (degC),
      ``heat_exchanged`` (W, eps C_min (T_c,return - T_f,in): equals ``load``);
    * ``air_power`` (W, all racks): the heat each rack puts into the air.
    """
    power = jnp.asarray(rack_power)
    if plates.count == 0:
        return {"air_power": power}
    p = power[plates.rack]
    n = cdus.count

    def iterate(_, t_supply):
        capture = capture_ratio(plates, t_supply[plates.cdu])
        load = jax.ops.segment_sum(capture * p, plates.cdu, num_segments=n)
        return supply_temperature(cdus, load)

    t_supply = jax.lax.fori_loop(0, LOOP_ITERATIONS, iterate, jnp.asarray(cdus.facility_temperature, p.dtype))
    capture = capture_ratio(plates, t_supply[plates.cdu])
    captured = capture * p
    load = jax.ops.segment_sum(captured, plates.cdu, num_segments=n)
    t_supply = supply_temperature(cdus, load)
    t_return = t_supply + load / cdus.coolant_capacity
    exchanged = hx.heat_transfer(cdus.coolant_capacity, t_return, cdus.facility_capacity,
                                 cdus.facility_temperature, cdus.ua, cdus.arrangement)
    rack_supply = t_supply[plates.cdu]
    rho_cp = cdus.coolant_capacity / cdus.coolant_flow
    return {
        "capture": capture, "captured": captured, "supply_C": rack_supply,
        "return_C": rack_supply + captured / (rho_cp[plates.cdu] * plates.flow),
        "case_C": case_temperature(plates, rack_supply, captured),
        "load": load, "cdu_supply_C": t_supply, "cdu_return_C": t_return,
        "facility_return_C": cdus.facility_temperature + load / cdus.facility_capacity,
        "heat_exchanged": exchanged,
        "air_power": power.at[plates.rack].add(-captured),
    }
