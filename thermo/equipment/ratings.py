"""UA of rear doors and CDUs from their data-sheet rating points (numpy, build time).

Only :mod:`.hx` is needed, so the scenario checks (:mod:`thermo.scene.liquid_checks`)
use these functions to reject impossible ratings at load time, and the
equipment builders use the same ones to get UA.
"""

from __future__ import annotations

from . import hx

DOOR_ARRANGEMENT = {"crossflow_unmixed": (hx.CROSSFLOW_UNMIXED, 0), "counterflow": (hx.COUNTERFLOW, 0),
                    "parallel": (hx.PARALLEL, 0), "crossflow_air_mixed": (hx.CROSSFLOW_CMAX_MIXED, 1),
                    "crossflow_water_mixed": (hx.CROSSFLOW_CMAX_MIXED, 2)}
"""door arrangement -> (hx code, mixed stream: 0 none, 1 air, 2 water)."""


def door_arrangement_code(arrangement: str, c_air: float, c_water: float) -> int:
    """The :mod:`.hx` code of a door arrangement at given capacity rates (W/K)."""
    code, mixed = DOOR_ARRANGEMENT[arrangement]
    if mixed == 0:
        return code
    mixed_c, other_c = (c_air, c_water) if mixed == 1 else (c_water, c_air)
    return hx.CROSSFLOW_CMAX_MIXED if mixed_c >= other_c else hx.CROSSFLOW_CMIN_MIXED


def door_ua(door, air_rho_cp: float) -> float:
    """UA (W/K) of a :class:`~thermo.scene.schema.RearDoor`: ``ua`` or from its rating
    (air capacity rate from ``air_rho_cp``, J/(m^3 K)).  ValueError if the rating is impossible."""
    if door.ua is not None:
        return float(door.ua)
    r = door.rating
    c_air = air_rho_cp * r.air_flow
    c_water = door.water.density * door.water.heat_capacity * r.water_flow
    code = door_arrangement_code(door.arrangement, c_air, c_water)
    return hx.ua_from_rating(r.duty, c_air, r.air_temperature, c_water, r.water_temperature, code)


CDU_ARRANGEMENT = {"counterflow": hx.COUNTERFLOW, "parallel": hx.PARALLEL, "crossflow_unmixed": hx.CROSSFLOW_UNMIXED}


def cdu_ua(cdu, coolant_flow: float) -> float:
    """UA (W/K) of a :class:`~thermo.scene.schema.Cdu` serving racks with total coolant flow
    ``coolant_flow`` (m^3/s): ``ua`` or from its rating (load, approach = coolant supply -
    facility supply).  ValueError if the approach cannot be met at that load."""
    if cdu.ua is not None:
        return float(cdu.ua)
    r = cdu.rating
    c_cool = cdu.coolant.density * cdu.coolant.heat_capacity * coolant_flow
    c_fac = cdu.facility_water.density * cdu.facility_water.heat_capacity * cdu.facility_flow
    # facility supply at 0: coolant returns at approach + load / C_coolant
    t_return = r.approach + r.load / c_cool
    return hx.ua_from_rating(r.load, c_cool, t_return, c_fac, 0.0, CDU_ARRANGEMENT[cdu.arrangement])
