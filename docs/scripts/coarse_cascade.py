"""A hall solved on a coarse grid, interpolated, then solved on the fine grid (issue 6 probe).

    python3 docs/scripts/coarse_cascade.py COARSE_CELL FINE_LTS COARSE_LTS [SCENARIO [FINE_CELL]]

COARSE_CELL (m): the pre-solve's cells; FINE_LTS / COARSE_LTS: ``solver.local_time_step`` on
each level (1 = one global pseudo-time step); SCENARIO defaults to geometries/hall-small.yaml
and FINE_CELL to 0.1 m.  Prints the residuals every 500 steps, the steps and seconds of each
level and the rack intakes.  Logs in docs/data/probes/hall-small-0.1-from-0.2-*.log.
"""
import sys, time, json
from dataclasses import replace
import numpy as np
import thermo
from thermo import hall
from thermo.scene.load import load as load_scene

coarse_cell, fine_lts, coarse_lts = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
path = sys.argv[4] if len(sys.argv) > 4 else str(__import__("pathlib").Path(__file__).resolve().parents[2] / "geometries" / "hall-small.yaml")
fine_cell = float(sys.argv[5]) if len(sys.argv) > 5 else 0.1
scene = load_scene(path)
t0 = time.perf_counter()
coarse = hall.build(scene, cell_size=coarse_cell)
coarse.numerics = replace(coarse.numerics, local_time_step=coarse_lts)
def prog(rec, tmax):
    if rec["step"] % 500 == 1 or rec["step"] % 500 == 0:
        print(f"  {rec['step']:6d} rv={rec['rate_velocity']:.3g} rt={rec['rate_temperature']:.3g} "
              f"mon={rec['monitor_change']:.3f} bal={rec['energy_balance_pct']:+.3f} tmax={tmax:.2f} "
              f"t={time.perf_counter()-t0:.0f}s", flush=True)
rc = hall.solve(coarse, progress=prog, capture_index=False, coarse_start=None)
print("coarse", coarse.cells, rc.summary["solver"]["steps"], f"{time.perf_counter()-t0:.1f}s", rc.summary["solver"]["reason"][:100], flush=True)
fine = hall.build(scene, cell_size=fine_cell)
fine.numerics = replace(fine.numerics, local_time_step=fine_lts)
state = hall.interpolate_state(rc.state, coarse.grid, fine.grid, fine.problem.geometry.open)
t1 = time.perf_counter()
rf = hall.solve(fine, progress=prog, capture_index=False, state=state)
s = rf.summary
print("fine", fine.cells, s["solver"]["steps"], f"fine {time.perf_counter()-t1:.1f}s total {time.perf_counter()-t0:.1f}s", s["solver"]["reason"], flush=True)
racks = s["racks"]
print(list(racks[0].keys()))
print(json.dumps({r["name"]: [round(v, 2) for k, v in r.items() if "inlet" in k and isinstance(v, float)] for r in racks}))
