"""Per-chunk trace of a hall's steady solve, to judge local-time-step limit cycles.

``python docs/scripts/local_step_trace.py CASE CELL TURBULENCE OUT.json [LOCAL_TIME_STEP]`` runs
``thermo.hall.solve`` on ``geometries/CASE.yaml`` at CELL m with the given turbulence model (and
``solver.local_time_step``, default the scenario's) and writes, after every 100-step chunk of the
coarse pre-solve and of the fine grid, the driver's record (step, change rates, ``monitor_change``:
the largest change of any rack intake or return temperature over the chunk) with the hottest rack
intake, then the outcome.  The traces in docs/data/probes/hall-small-0.1-*-trace.json are its
output (docs/performance.md, "Local-step limit cycles").
"""

import json
import sys
import time
from pathlib import Path

import numpy as np

from thermo import hall
from thermo.scene import load


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    case, cell, turbulence, out = argv[0], float(argv[1]), argv[2], Path(argv[3])
    changes = {"turbulence": turbulence}
    if len(argv) > 4:
        changes["local_time_step"] = float(argv[4])
    root = Path(__file__).resolve().parents[2]
    scene = load(root / "geometries" / f"{case}.yaml").with_solver(**changes)
    model = hall.build(scene, cell_size=cell, dtype=np.float32)
    trace, start = [], time.time()

    def progress(record, hottest):
        trace.append({**record, "hottest": hottest, "wall": time.time() - start})
        if len(trace) % 10 == 0:
            print(record["step"], f"{hottest:.3f}", f"{record['rate_velocity']:.3g}", f"{time.time() - start:.0f}s",
                  flush=True)
        out.write_text(json.dumps(trace))

    result = hall.solve(model, progress=progress)
    solver = result.summary["solver"]
    print(result.report.reason, result.report.steps, solver.get("local_time_step_off_at_step"), flush=True)
    out.write_text(json.dumps({"trace": trace, "reason": result.report.reason, "steps": result.report.steps,
                               "off": solver.get("local_time_step_off_at_step")}, default=str))


if __name__ == "__main__":
    main()
