"""Energy balance of the liquid-cooled example halls, and the PUE worked example.

For ``geometries/rdhx-row.yaml``, ``ai-pod.yaml`` and ``mixed-hall.yaml`` the
steady state must close the hall energy balance

    (enthalpy out - in through the room's openings) + CRAH coil loads
      + rear-door water loads + CDU loads  =  rack power

to within 0.5 % of the rack power (full runs: each scenario's own cell
size; ``--quick``: 0.6 m cells).

For the immersion example ``geometries/immersion-pod.yaml`` (tank interiors
on their own grids, coupled to the room through the tanks' wall and lid
losses, docs/immersion.md) three balances must close within 0.5 %:

* the room: cooler loads + heat out through openings = rack power + the tank
  surface losses the last room solve carried (% of that heat);
* air plus liquid: the heat the room removes + the tanks' heat-exchanger
  loads = rack power + tank server power (% of that power);
* every tank: server power = heat-exchanger load + surface loss.

The room balance is that of the final state.  The room settles after the
outer iteration's warm restart by an exponential decay of the balance, not an
oscillation (``solver.window``: its drift is larger than its spread), so a
window mean would mix that transient into the answer.

The PUE of the worked example of docs/liquid-cooling.md must equal the hand
calculation printed there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import thermo.hall
import thermo.scene
from thermo.equipment.facility import facility_energy
from thermo.scene import schema

from ..checks import Check
from ..common import stopwatch
from ..report import CaseResult, markdown_table

NAME = "liquid_halls"
TITLE = "Liquid-cooled halls: air + liquid energy balance, PUE worked example"
GEOMETRIES = Path(__file__).resolve().parents[2] / "geometries"
HALLS = ("rdhx-row", "ai-pod", "mixed-hall")
TANK_HALLS = ("immersion-pod",)
BALANCE_TOLERANCE_PCT = 0.5
QUICK_CELL = 0.6
# docs/liquid-cooling.md, "PUE: a worked example" (hand calculation)
WORKED_TOTAL_KW = 134.759
WORKED_PUE = 1.34759


def worked_example() -> dict:
    """The facility of the docs' worked example evaluated by :func:`facility_energy`."""
    fac = schema.Facility(
        ambient_temperature=35.0, ups_efficiency=0.95, distribution_loss=0.02,
        loops=[schema.Loop(name="chw", type="chiller", supply_temperature=15.0, carnot_fraction=0.5,
                           evaporator_approach=5.0, condenser_approach=10.0, fan_power_per_kw=0.02, pump_power=3e3),
               schema.Loop(name="ww", type="dry_cooler", supply_temperature=32.0, approach=6.0,
                           evaporator_approach=4.0, condenser_approach=10.0, fan_power_per_kw=0.02, pump_power=2e3)])
    return facility_energy(fac, 100e3, {"chw": 40e3, "ww": 60e3}, {"crah_fans": 2e3}, {"cdu_pumps": 1.5e3})


def run(quick: bool, dtype) -> CaseResult:
    out = CaseResult(NAME, TITLE)
    rows = []
    with stopwatch(out):
        for name in HALLS:
            scene = thermo.scene.load(GEOMETRIES / f"{name}.yaml")
            model = thermo.hall.build(scene, cell_size=QUICK_CELL if quick else None, dtype=dtype)
            result = thermo.hall.solve(model, capture_index=False)
            s = result.summary
            grid = f"{model.cells} cells"
            out.checks.append(Check(NAME, f"{name}: energy balance (% of rack power)", s["energy_balance_pct"], 0.0,
                                    BALANCE_TOLERANCE_PCT, kind="absolute", grid=grid,
                                    note=s["solver"]["reason"][:60]))
            m = s["metrics"]
            rows.append((name, grid, f"{m['rack_heat_kW']:.1f}", f"{m.get('air_heat_kW', m['rack_heat_kW']):.1f}",
                         f"{m['cooling_load_kW']:.1f}", f"{sum(d['load_kW'] for d in s.get('rear_doors', [])):.1f}",
                         f"{sum(c['load_kW'] for c in s.get('cdus', [])):.1f}", f"{s['energy_balance_pct']:+.3f}",
                         f"{m.get('pue') or float('nan'):.3f}", f"{s['solver']['steps']}",
                         f"{s['solver']['seconds']:.0f}"))
        tank_rows = [_tank_hall(name, quick, dtype, out.checks) for name in TANK_HALLS]
        worked = worked_example()
        out.checks.append(Check(NAME, "PUE worked example: facility power (kW)", worked["total_W"] / 1e3,
                                WORKED_TOTAL_KW, 1e-5, grid="-", note="hand calculation in docs/liquid-cooling.md"))
        out.checks.append(Check(NAME, "PUE worked example: PUE", worked["pue"], WORKED_PUE, 1e-5, grid="-"))
    out.sections += [
        "Hall energy balance: heat leaving through the openings + CRAH loads + rear-door water loads + CDU loads "
        "against the rack power; rack heat split into air (P (1 - capture)) and liquid.",
        markdown_table(("hall", "grid", "rack kW", "air-side kW", "CRAH kW", "rear doors kW", "CDUs kW",
                        "balance %", "PUE", "steps", "solve s"), rows),
        "Immersion halls: room balance against rack power + the tank surface losses the room carried; "
        "air + liquid balance against rack + tank server power; tank closure = (server power - HX load - "
        "surface loss) / server power, the worst tank. `window` is the room balance over the last room "
        "solve's final chunks: mean, spread and drift (later half minus earlier half).",
        markdown_table(("hall", "grid", "rack kW", "tank servers kW", "tank HX kW", "surface loss kW (in room)",
                        "cooler kW", "room balance %", "window mean / std / drift %", "air + liquid %",
                        "worst tank closure %", "PUE", "room steps", "solve s"), tank_rows),
    ]
    return out


def air_and_liquid_balance_pct(summary: dict) -> float:
    """Energy balance (%) of a hall with immersion tanks, air and liquid together:
    (heat the room removes + the tanks' heat-exchanger loads - rack power - tank server power)
    / (rack power + tank server power).  The heat the room removes follows from its own balance,
    ``energy_balance_pct``, against the heat it carried (rack power + the tank surface losses of
    the last room solve, ``tank_coupling.loss_applied_to_room_kW``)."""
    m = summary["metrics"]
    room_heat = m["rack_heat_kW"] + sum(summary["tank_coupling"]["loss_applied_to_room_kW"])
    removed = room_heat * (1.0 + summary["energy_balance_pct"] / 100.0) + m["tank_hx_load_kW"]
    power = m["rack_heat_kW"] + m["tank_server_power_kW"]
    return 100.0 * (removed - power) / power


def _tank_hall(name: str, quick: bool, dtype, checks: list) -> tuple:
    """Solve the immersion hall ``name``, append its three balance checks, return its table row."""
    scene = thermo.scene.load(GEOMETRIES / f"{name}.yaml")
    model = thermo.hall.build(scene, cell_size=QUICK_CELL if quick else None, dtype=dtype)
    result = thermo.hall.solve(model, capture_index=False)
    s = result.summary
    grid = f"{model.cells} cells"
    window = s["solver"].get("window", {})
    air_liquid = air_and_liquid_balance_pct(s)
    closures = [t["energy_closure_pct"] for t in s["tanks"]]
    worst = max(closures, key=abs)
    checks.append(Check(NAME, f"{name}: room energy balance (% of rack heat + tank surface losses)",
                        s["energy_balance_pct"], 0.0, BALANCE_TOLERANCE_PCT, kind="absolute", grid=grid,
                        note=s["solver"]["reason"][:60]))
    checks.append(Check(NAME, f"{name}: air + liquid energy balance (% of rack + tank server power)",
                        air_liquid, 0.0, BALANCE_TOLERANCE_PCT, kind="absolute", grid=grid,
                        note=f"{len(closures)} tanks, {s['tank_coupling']['outer_iterations']} room solves"))
    checks.append(Check(NAME, f"{name}: worst tank energy closure (% of its server power)", worst, 0.0,
                        BALANCE_TOLERANCE_PCT, kind="absolute", grid=grid))
    m = s["metrics"]
    return (name, grid, f"{m['rack_heat_kW']:.1f}", f"{m['tank_server_power_kW']:.1f}",
            f"{m['tank_hx_load_kW']:.2f}",
            f"{m['tank_surface_loss_kW']:.2f} ({sum(s['tank_coupling']['loss_applied_to_room_kW']):.2f})",
            f"{m['cooling_load_kW']:.2f}", f"{s['energy_balance_pct']:+.3f}",
            f"{window.get('energy_balance_pct_mean', float('nan')):+.2f} / "
            f"{window.get('energy_balance_pct_std', float('nan')):.2f} / "
            f"{window.get('energy_balance_pct_drift', float('nan')):+.2f}",
            f"{air_liquid:+.3f}", f"{worst:+.3f}", f"{m.get('pue') or float('nan'):.3f}",
            f"{s['solver']['steps']}", f"{s['solver']['seconds']:.0f}")
