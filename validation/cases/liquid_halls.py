"""Energy balance of the liquid-cooled example halls, and the PUE worked example.

For ``geometries/rdhx-row.yaml``, ``ai-pod.yaml`` and ``mixed-hall.yaml`` the
steady state must close the hall energy balance

    (enthalpy out - in through the room's openings) + CRAH coil loads
      + rear-door water loads + CDU loads  =  rack power

to within 0.5 % of the rack power (full runs: each scenario's own cell
size; ``--quick``: 0.6 m cells).  The PUE of the worked example of
docs/liquid-cooling.md must equal the hand calculation printed there.
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
        worked = worked_example()
        out.checks.append(Check(NAME, "PUE worked example: facility power (kW)", worked["total_W"] / 1e3,
                                WORKED_TOTAL_KW, 1e-5, grid="-", note="hand calculation in docs/liquid-cooling.md"))
        out.checks.append(Check(NAME, "PUE worked example: PUE", worked["pue"], WORKED_PUE, 1e-5, grid="-"))
    out.sections += [
        "Hall energy balance: heat leaving through the openings + CRAH loads + rear-door water loads + CDU loads "
        "against the rack power; rack heat split into air (P (1 - capture)) and liquid.",
        markdown_table(("hall", "grid", "rack kW", "air-side kW", "CRAH kW", "rear doors kW", "CDUs kW",
                        "balance %", "PUE", "steps", "solve s"), rows),
    ]
    return out
