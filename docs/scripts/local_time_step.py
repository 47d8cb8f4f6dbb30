"""Steps and CPU time to a steady state of an example hall with one pseudo-time step
everywhere (local_time_step = 1) and with local time stepping, side by side.

    python3 docs/scripts/local_time_step.py geometries/hall-small.yaml 0.2 1 10

Arguments: scenario, cell size (m), then the local_time_step values to compare.
Prints steps, wall and process CPU seconds (compile included), the stop reason,
the energy balance and the first and last three racks' intake mean and max (degC).
"""

import dataclasses
import sys
import time

from thermo import hall
from thermo.scene.load import load


def main(argv):
    name, cell = argv[0], float(argv[1])
    for ratio in [float(x) for x in argv[2:]]:
        model = hall.build(load(name), cell_size=cell)
        model.numerics = dataclasses.replace(model.numerics, local_time_step=ratio)
        cpu, wall = time.process_time(), time.time()
        summary = hall.solve(model, capture_index=False, coarse_start=None).summary
        racks = [(r["name"], round(r["inlet_mean_C"], 2), round(r["inlet_max_C"], 2)) for r in summary["racks"]]
        print(f"local_time_step={ratio:g} steps={summary['solver']['steps']} wall={time.time() - wall:.1f}s "
              f"cpu={time.process_time() - cpu:.1f}s reason={summary['solver']['reason'][:60]} "
              f"balance={summary['energy_balance_pct']:.3f}%", flush=True)
        print("   ", racks[:3], racks[-3:], flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
