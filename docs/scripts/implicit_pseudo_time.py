"""Steps and time to a steady state of an example hall with explicit pseudo-time steps
(the scenario's settings) and with implicit (line-implicit, ADI) steps at several Courant
numbers, one after the other in one process (issue 6 probe).

    python3 docs/scripts/implicit_pseudo_time.py geometries/hall-small.yaml 0.2 explicit 2 5 10 [--coarse] [--turbulence M]

Arguments: scenario, cell size (m), then runs: ``explicit`` (the scenario's solver
settings, local time stepping included) or a Courant number for ``pseudo_time:
implicit``.  ``--coarse``: thermo run's coarse start ("auto"), else from still air.
Prints steps, wall and process CPU seconds (compile included), the stop reason, the
energy balance, the hottest intake and the largest intake difference to the first run.
"""

import dataclasses
import sys
import time

from thermo import hall
from thermo.scene.load import load


def _progress(record, hottest):
    if record["step"] % 500 == 1:
        print(f"    step {record['step']}: velocity rate {record['rate_velocity']:.3g}, temperature rate "
              f"{record['rate_temperature']:.3g}, intake change {record.get('monitor_change', float('nan')):.3f} K, "
              f"hottest {hottest:.2f} C, Poisson {record.get('poisson_iterations', 0):.1f}, "
              f"{time.time():.0f}", flush=True)


def main(argv):
    coarse = "auto" if "--coarse" in argv else None
    turbulence = argv[argv.index("--turbulence") + 1] if "--turbulence" in argv else None
    argv = [a for a in argv if a != "--coarse" and a != turbulence and a != "--turbulence"]
    name, cell = argv[0], float(argv[1])
    first = None
    for run in argv[2:]:
        scene = load(name)
        solver = scene.solver.model_dump(exclude_unset=True)
        if turbulence:
            solver["turbulence"] = turbulence
        if run != "explicit":
            solver.pop("local_time_step", None)
            solver.update(pseudo_time="implicit", cfl=float(run))
        scene = dataclasses.replace(scene, solver=type(scene.solver)(**solver))
        model = hall.build(scene, cell_size=cell)
        cpu, wall = time.process_time(), time.time()
        summary = hall.solve(model, capture_index=False, coarse_start=coarse, progress=_progress).summary
        intakes = {r["name"]: (r["inlet_mean_C"], r["inlet_max_C"]) for r in summary["racks"]}
        first = first or intakes
        diff = max(max(abs(a - b) for a, b in zip(intakes[k], first[k])) for k in intakes)
        start = summary["solver"].get("coarse_start") or {}
        print(f"{run}: steps={summary['solver']['steps']} coarse={start.get('steps', 0)} "
              f"wall={time.time() - wall:.1f}s cpu={time.process_time() - cpu:.1f}s "
              f"reason={summary['solver']['reason'][:70]!r} balance={summary['energy_balance_pct']:.3f}% "
              f"hottest={max(v[1] for v in intakes.values()):.2f} max_diff_to_first={diff:.3f} K", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
