"""Where the fine march of a hall gets to its answer: rack intakes after every chunk against the final ones.

    python3 docs/scripts/fine_march_history.py CELL TURBULENCE CORRECTIONS(0|1) [COARSE|auto|none] [OUT.json|-] [SOLVER_JSON]

Solves geometries/hall-small.yaml as ``thermo run`` does (without the capture index) with the
rack probe of the hall driver wrapped, so that every chunk's intake means and maxima are kept;
prints per chunk the change rates, the largest intake change and the largest difference from the
final intakes.  SOLVER_JSON: further solver settings, e.g. '{"cfl": 0.8}'.
docs/performance.md, "Where the fine march gets to its answer", quotes it.
"""

import json
import sys
import time

import numpy as np

from thermo import hall
from thermo.scene import load


def main(argv):
    cell, turbulence, corrections = float(argv[0]), argv[1], argv[2] == "1"
    coarse = argv[3] if len(argv) > 3 else "auto"
    coarse = coarse if coarse == "auto" else (None if coarse == "none" else float(coarse))
    out = argv[4] if len(argv) > 4 and argv[4] != "-" else None   # "-": no file
    extra = json.loads(argv[5]) if len(argv) > 5 else {}
    scene = load("geometries/hall-small.yaml").with_solver(turbulence=turbulence, coarse_correction=corrections,
                                                           **extra)
    model = hall.build(scene, cell_size=cell)
    values, records = [], []
    rack_probe = hall._rack_probe

    def recording_probe(m):
        probe = rack_probe(m)

        def wrapped(state):
            v = probe(state)
            if m is model:          # not the coarse start's model
                values.append(np.asarray(v).copy())
            return v
        return wrapped

    hall._rack_probe = recording_probe
    start = time.perf_counter()
    result = hall.solve(model, progress=lambda record, hottest: records.append(
        dict(record, wall=time.perf_counter() - start, hottest=hottest)), capture_index=False, coarse_start=coarse)
    solver = result.summary["solver"]
    print("reason:", solver["reason"], "| steps", solver["steps"], "| seconds", round(solver["seconds"], 1),
          "| compile", round(solver["compile_seconds"], 1), "| coarse start", solver.get("coarse_start"))
    final = values[-1]
    fine = records[-(len(values) - 1):]      # values[0] is the probe before the first chunk
    for record, v in zip(fine, values[1:]):
        print(f"step {record['step']:6d} wall {record['wall']:7.1f} s  rates {record['rate_velocity']:.2e} / "
              f"{record['rate_temperature']:.2e}  change {record['monitor_change']:.3f} K  "
              f"from final {float(np.max(np.abs(v - final))):.3f} K  hottest {record['hottest']:.3f}")
    if out:
        with open(out, "w") as f:
            json.dump({"records": fine, "intakes": [v.tolist() for v in values],
                       "solver": {k: v for k, v in solver.items() if k != "history"}}, f, default=str)


if __name__ == "__main__":
    main(sys.argv[1:])
