"""Run a small hall on one device and sharded over a device mesh; print the differences as JSON.

Run by tests/test_parallel.py in a subprocess, because the number of fake CPU
devices (``XLA_FLAGS=--xla_force_host_platform_device_count=4``) must be set
before JAX starts:

    python tests/sharded_run.py SCENARIO CELL STEPS MESH [MESH ...]
    python tests/sharded_run.py cavity N STEPS MESH [MESH ...]

(the second form: the buoyant cubic cavity of ``thermo bench`` at N^3 cells).  A
SCENARIO (or ``cavity``) ending in ``:implicit`` marches with implicit pseudo-time
steps at a Courant number of 5.

Prints one JSON object: the grid shape, the device count and, per mesh, the
largest absolute differences of temperature (K), velocity (m/s) and pressure
(Pa / density) from the single-device run, the largest magnitudes for scale,
the Poisson iteration counts, and the shardings the fields ended up with.
"""

import json
import sys
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import numpy as np  # noqa: E402

import thermo.hall  # noqa: E402
import thermo.scene  # noqa: E402
from thermo.cases.bench_cavity import bench_numerics, buoyant_cavity  # noqa: E402
from thermo.grid import uniform_grid  # noqa: E402
from thermo.parallel import Layout, parse_mesh  # noqa: E402
from thermo.solve import Solver  # noqa: E402


def run(model, steps, layout):
    solver = Solver(model.problem, model.numerics, chunk=steps, coupling=getattr(model, "coupling", None),
                    layout=layout)
    state, diag = solver.run_chunk(solver.initial_state(), steps)
    jax.block_until_ready(state)
    return state, int(diag["poisson_iterations"]), int(diag["steps"])


def main(scenario, cell, steps, meshes):
    scenario, _, pseudo_time = scenario.partition(":")
    if scenario == "cavity":
        n = int(cell)
        model = SimpleNamespace(problem=buoyant_cavity(n), numerics=bench_numerics(n),
                                grid=uniform_grid((n, n, n), (1.0, 1.0, 1.0)))
    else:
        model = thermo.hall.build(thermo.scene.load(scenario), cell_size=float(cell))
    if pseudo_time == "implicit":
        numerics = model.numerics
        model.numerics = replace(numerics, pseudo_time="implicit", cfl=5.0, local_time_step=1.0,
                                 max_dt=numerics.max_dt * 5.0 / numerics.cfl)
    steps = int(steps)
    reference, iterations, done = run(model, steps, None)
    out = {"grid": list(model.grid.shape), "devices": jax.device_count(), "steps": done,
           "poisson_iterations": iterations,
           "max_abs": {"temperature": float(np.max(np.abs(np.asarray(reference.temperature)))),
                       "velocity": max(float(np.max(np.abs(np.asarray(u)))) for u in reference.velocity),
                       "pressure": float(np.max(np.abs(np.asarray(reference.pressure))))},
           "meshes": {}}
    for text in meshes:
        layout = Layout.create(parse_mesh(text))
        layout.check_grid(model.grid.shape)
        state, iterations, done = run(model, steps, layout)
        out["meshes"][text] = {
            "steps": done, "poisson_iterations": iterations,
            "temperature": float(np.max(np.abs(np.asarray(state.temperature) - np.asarray(reference.temperature)))),
            "velocity": max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                            for a, b in zip(state.velocity, reference.velocity)),
            "pressure": float(np.max(np.abs(np.asarray(state.pressure) - np.asarray(reference.pressure)))),
            "temperature_sharding": str(state.temperature.sharding.spec),
            "devices_used": len(state.temperature.sharding.device_set),
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])
