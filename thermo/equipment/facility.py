"""Facility energy: heat rejection of the water loops, fans, pumps, electrical losses, PUE.

Inputs are heat loads by loop name (W), so any stream can be added: CRAH
coils, rear doors, CDUs, and (elsewhere) tank heat exchangers.  For each
loop of ``facility.loops``:

* **chiller** (``type: chiller``): compressor power = load / COP with

      COP = min(max_cop, carnot_fraction x T_evap / (T_cond - T_evap)),
      T_evap = T_supply - evaporator_approach,  T_cond = T_ambient + condenser_approach

  (temperatures in K), the fraction-of-Carnot model of chiller performance
  (Gordon & Ng, *Cool Thermodynamics*, Cambridge International Science
  Publishing, 2000, ch. 2; a real chiller reaches 0.4 to 0.6 of Carnot at
  full load), or a fixed ``cop``.  Heat-rejection fans draw
  ``fan_power_per_kw`` x (load + compressor power).
* **dry cooler / cooling tower**: free cooling while T_ambient + approach <=
  T_supply (dry-bulb for a dry cooler, wet-bulb for a tower): fans draw
  ``fan_power_per_kw`` x load and no compressor runs.  Otherwise a trim
  chiller lifts the loop with the same COP relation (evaporating at
  T_supply - evaporator_approach, condensing at T_ambient + condenser_approach).
* ``pump_power`` (W) of each loop's facility pumps, counted while the loop carries load.

Electrical: UPS losses IT (1/eta_UPS - 1), distribution losses
``distribution_loss`` x IT.  Cooling power = compressors + heat-rejection
fans + loop pumps + CRAH fans + rear-door fans + CDU pumps.

    P_facility = IT + UPS losses + distribution losses + cooling power,   PUE = P_facility / IT.

Limits: steady full-load COP (no part-load curve), cooling equipment fed
outside the UPS, electrical losses not added to the cooling load.
"""

from __future__ import annotations

KELVIN = 273.15


def chiller_cop(loop, ambient_C: float) -> float:
    """COP (-) of a chiller making ``loop.supply_temperature`` with condenser air at ``ambient_C`` (degC)."""
    if loop.cop is not None:
        return float(loop.cop)
    t_evap = loop.supply_temperature - loop.evaporator_approach + KELVIN
    t_cond = ambient_C + loop.condenser_approach + KELVIN
    lift = t_cond - t_evap
    if lift <= 0:
        return float(loop.max_cop)
    return float(min(loop.max_cop, loop.carnot_fraction * t_evap / lift))


def loop_power(loop, load_W: float, facility) -> dict:
    """Power (W) of one loop carrying ``load_W``: {"compressor_W", "fans_W", "pumps_W", "cop",
    "free_cooling"} (see module docstring)."""
    load = max(float(load_W), 0.0)
    ambient = facility.ambient_temperature
    if loop.type == "chiller":
        cop = chiller_cop(loop, ambient)
        compressor = load / cop
        free = False
        fans = loop.fan_power_per_kw * (load + compressor)
    else:
        air = facility.wet_bulb_temperature if loop.type == "cooling_tower" else ambient
        free = air + loop.approach <= loop.supply_temperature
        cop = None if free else chiller_cop(loop, air)
        compressor = 0.0 if free else load / cop
        fans = loop.fan_power_per_kw * (load + compressor)
    return {"load_W": load, "compressor_W": compressor, "fans_W": fans,
            "pumps_W": float(loop.pump_power) if load > 0 else 0.0, "cop": cop, "free_cooling": bool(free)}


def facility_energy(facility, it_power_W: float, loads_by_loop: dict, fan_power_W: dict,
                    pump_power_W: dict) -> dict:
    """Facility power and PUE.

    Args:
      facility: the scenario's :class:`~thermo.scene.schema.Facility`.
      it_power_W: IT power (W).
      loads_by_loop: heat (W) delivered to each loop, keyed by loop name (lists of
        streams are summed); every loop named must exist.
      fan_power_W, pump_power_W: air-side fans and liquid-side pumps outside the loops
        (W), keyed by what they are (e.g. "crah_fans", "rear_door_fans", "cdu_pumps").

    Returns a dict (W and -): ``it_W``, ``ups_loss_W``, ``distribution_loss_W``,
    ``cooling_W`` (sum of the breakdown), ``breakdown`` {name: W}, ``loops`` [per loop:
    name, load_W, compressor_W, fans_W, pumps_W, cop, free_cooling], ``total_W``, ``pue``.
    """
    loops = {lp.name: lp for lp in facility.loops}
    unknown = [k for k in loads_by_loop if k not in loops]
    if unknown:
        raise KeyError(f"heat delivered to unknown loop(s) {unknown}; loops: {list(loops)}")
    rows, breakdown = [], {}
    for name, lp in loops.items():
        load = loads_by_loop.get(name, 0.0)
        load = float(sum(load)) if isinstance(load, (list, tuple)) else float(load)
        row = {"name": name, "type": lp.type, **loop_power(lp, load, facility)}
        rows.append(row)
        breakdown[f"{name}_compressors"] = row["compressor_W"]
        breakdown[f"{name}_heat_rejection_fans"] = row["fans_W"]
        breakdown[f"{name}_pumps"] = row["pumps_W"]
    breakdown.update({k: float(v) for k, v in fan_power_W.items()})
    breakdown.update({k: float(v) for k, v in pump_power_W.items()})
    it = float(it_power_W)
    ups = it * (1.0 / facility.ups_efficiency - 1.0)
    dist = it * facility.distribution_loss
    cooling = float(sum(breakdown.values()))
    total = it + ups + dist + cooling
    return {"it_W": it, "ups_loss_W": ups, "distribution_loss_W": dist, "cooling_W": cooling,
            "breakdown": breakdown, "loops": rows, "total_W": total, "pue": total / it if it > 0 else None}
