"""Hybrid cooling of a hall: rear doors, cold plates and CDUs in the per-step coupling.

:class:`HybridSet` holds the three equipment sets (pytrees of plain arrays).
In the coupling (:func:`air_exhaust`) the cold-plate loop gives each rack's
air-side power P (1 - capture); the rack exhaust temperature follows from
it (:mod:`.rack`); a rear door then cools that exhaust stream before the
room receives it.  :func:`water_heat` is the heat carried away by water
(doors + CDUs), the liquid term of the hall energy balance.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from . import rack as rack_model
from .cdu import CduSet, build_cdus, solve_loop
from .cold_plate import PlateSet, build_plates
from .rear_door import DoorSet, build_doors, door_exchange


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class HybridSet:
    """Rear doors, cold plates and CDUs of a hall (each possibly empty)."""

    doors: DoorSet
    plates: PlateSet
    cdus: CduSet

    @property
    def active(self) -> bool:
        return self.doors.count > 0 or self.plates.count > 0


def _inlet(scene, loop, given):
    if given is not None:
        return given
    return next(lp.supply_temperature for lp in scene.facility.loops if lp.name == loop)


def build_hybrid(scene, fields, rack_layers) -> HybridSet:
    """Doors (with their air-side resistance written into ``fields``), plates and CDUs of ``scene``."""
    from ..scene.liquid_checks import served_racks

    served = [served_racks(scene, c) for c in scene.cdus]
    cdu_of = {name: i for i, names in enumerate(served) for name in names}
    doors = build_doors(scene, fields, [b for _, b in rack_layers],
                        lambda r: _inlet(scene, r.rear_door.loop, r.rear_door.water_temperature))
    plates = build_plates(scene, cdu_of)
    cdus = build_cdus(scene, served, lambda c: _inlet(scene, c.loop, c.facility_temperature))
    return HybridSet(doors=doors, plates=plates, cdus=cdus)


def air_exhaust(hybrid: HybridSet, racks, intake_mean, power, fluid) -> tuple:
    """(temperature (degC) of the air each rack returns to the room, details dict).

    details: ``server_exhaust`` (degC, before any door), ``air_power`` (W), ``loop``
    (:func:`~.cdu.solve_loop`), and for doors ``door_air_out``, ``door_load`` (W),
    ``door_water_out`` (degC), ``door_air_flow`` (m^3/s)."""
    loop = solve_loop(hybrid.plates, hybrid.cdus, power)
    air_power = loop["air_power"]
    server = rack_model.exhaust_temperature(racks, intake_mean, air_power, fluid)
    out = server
    details = {"server_exhaust": server, "air_power": air_power, "loop": loop}
    doors = hybrid.doors
    if doors.count:
        air_flow = jnp.asarray(racks.flow)[doors.rack] * (1.0 - jnp.asarray(racks.leakage)[doors.rack])
        t_out, q, t_w = door_exchange(doors, server[doors.rack], air_flow, fluid)
        out = out.at[doors.rack].set(t_out)
        details.update(door_air_out=t_out, door_load=q, door_water_out=t_w, door_air_flow=air_flow)
    return out, details


def water_heat(details: dict):
    """Heat (W) carried away by water: rear-door loads + CDU loads (from :func:`air_exhaust` details)."""
    total = jnp.sum(details["loop"].get("heat_exchanged", jnp.zeros(0)))
    if "door_load" in details:
        total = total + jnp.sum(details["door_load"])
    return total


def _f(x):
    x = float(x)
    return x if np.isfinite(x) else None


def summary_rows(hybrid: HybridSet, scene, details: dict, air_density: float) -> dict:
    """Summary rows (plain floats) from :func:`air_exhaust` details (numpy):
    ``rear_doors``, ``cold_plates`` (per liquid rack) and ``cdus`` (see docs/outputs.md)."""
    from .rear_door import fan_power, pressure_drop

    out = {"rear_doors": [], "cold_plates": [], "cdus": []}
    doors = hybrid.doors
    if doors.count:
        flow = np.asarray(details["door_air_flow"])
        dp = np.asarray(pressure_drop(doors, flow, air_density))
        fans = np.asarray(fan_power(doors, flow, air_density))
        server = np.asarray(details["server_exhaust"])
        for i in range(doors.count):
            k = int(doors.rack[i])
            r = scene.racks[k]
            out["rear_doors"].append({
                "name": f"{r.name}-door", "rack": r.name, "load_kW": float(details["door_load"][i]) / 1e3,
                "air_in_C": _f(server[k]), "air_out_C": _f(details["door_air_out"][i]),
                "air_flow_m3s": float(flow[i]), "water_in_C": float(doors.water_temperature[i]),
                "water_out_C": _f(details["door_water_out"][i]), "water_flow_l_s": 1e3 * float(doors.water_flow[i]),
                "ua_W_K": float(doors.ua[i]), "pressure_drop_Pa": float(dp[i]), "fan_power_kW": float(fans[i]) / 1e3,
                "loop": r.rear_door.loop})
    loop = details["loop"]
    plates = hybrid.plates
    for i in range(plates.count):
        r = scene.racks[int(plates.rack[i])]
        out["cold_plates"].append({
            "name": r.name, "cdu": scene.cdus[int(plates.cdu[i])].name, "capture": float(loop["capture"][i]),
            "liquid_kW": float(loop["captured"][i]) / 1e3, "coolant_flow_l_s": 1e3 * float(plates.flow[i]),
            "coolant_supply_C": _f(loop["supply_C"][i]), "coolant_return_C": _f(loop["return_C"][i]),
            "case_C": _f(loop["case_C"][i])})
    cdus = hybrid.cdus
    for i, c in enumerate(scene.cdus):
        out["cdus"].append({
            "name": c.name, "load_kW": float(loop["load"][i]) / 1e3,
            "heat_exchanged_kW": float(loop["heat_exchanged"][i]) / 1e3,
            "coolant_supply_C": _f(loop["cdu_supply_C"][i]), "coolant_return_C": _f(loop["cdu_return_C"][i]),
            "coolant_flow_l_s": 1e3 * float(cdus.coolant_flow[i]),
            "facility_supply_C": float(cdus.facility_temperature[i]),
            "facility_return_C": _f(loop["facility_return_C"][i]),
            "facility_flow_l_s": 1e3 * float(cdus.facility_flow[i]),
            "approach_K": _f(loop["cdu_supply_C"][i] - cdus.facility_temperature[i]),
            "ua_W_K": float(cdus.ua[i]), "pump_power_kW": float(cdus.pump_power[i]) / 1e3, "loop": c.loop})
    return out


def loads_by_loop(scene, rows: dict, crah_loads_W, room_air_W: float) -> dict:
    """Heat (W) per facility loop: CRAH coils and air leaving through the room's openings
    (``room_air_W``) to the CRAH loop, rear doors and CDUs to their loops."""
    fac = scene.facility
    crah = fac.crah_loop or next((lp.name for lp in fac.loops if lp.type == "chiller"), None)
    loads: dict = {}

    def add(loop, w):
        loads.setdefault(loop, []).append(float(w))

    if crah is not None:
        add(crah, float(np.sum(crah_loads_W)) + max(room_air_W, 0.0))
    for d in rows["rear_doors"]:
        add(d["loop"], d["load_kW"] * 1e3)
    for c in rows["cdus"]:
        add(c["loop"], c["load_kW"] * 1e3)
    return loads
