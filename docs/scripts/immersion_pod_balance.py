"""Room energy balance of geometries/immersion-pod.yaml: settling, storage and residual
oscillation (docs/immersion.md, "Why solver.window showed +2.0 +- 2.3 %").

    python3 docs/scripts/immersion_pod_balance.py [lts_steps] [global_steps] [out.json]

Defaults: 4000 and 3000 steps, no JSON file.  Float32, the scenario's cells.  About 6 minutes on a
shared 2-core CPU.

1. The coupled tank + room solve (``hall.solve``), printing the room balance (%) at the end of every
   100-step chunk of each room solve, and ``solver.window``.
2. From the settled state, with the same tank losses: ``lts_steps`` more steps with local time
   stepping (as in the solve); prints the balance every 200 steps and, from step 800 on, its mean,
   standard deviation, range, and the standard error from four batch means.
3. From the settled state: ``global_steps`` steps with one global time step (physical time), every
   20 steps; compares the heat the room removes beyond what it carries (balance x heat) with the
   rate at which the room air's heat content (rho cp sum T V) falls.
"""

import dataclasses
import json
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import thermo.hall as hall
import thermo.scene
from thermo.solve import Solver


def continue_room(model, state, numerics, steps, chunk):
    """Records (step, time, balance %, heat content J, rack intake mean/max) every ``chunk`` steps."""
    solver = Solver(model.problem, numerics, chunk=chunk, coupling=model.coupling, layout=model.layout)
    balance_probe, rack_probe = hall._balance_probe(model, model.coupling), hall._rack_probe(model)
    volume = jnp.asarray(np.asarray(model.problem.geometry.fluid, float) * np.asarray(model.grid.cell_volume(), float),
                         state.temperature.dtype)
    rho_cp = float(model.problem.fluid.density) * float(model.problem.fluid.heat_capacity)
    content = jax.jit(lambda s: jnp.sum(s.temperature * volume))

    def record(n, state):
        balance, _ = balance_probe(solver.problem, state)
        return {"step": n, "time": float(state.time), "balance": float(balance),
                "heat_content_J": rho_cp * float(content(state)), "racks": np.asarray(rack_probe(state)).tolist()}

    records, n = [record(0, state)], 0
    while n < steps:
        state, diag = solver.run_chunk(state, chunk)
        n += int(diag["steps"])
        records.append(record(n, state))
    return records


def main(argv):
    lts_steps = int(argv[0]) if argv else 4000
    global_steps = int(argv[1]) if len(argv) > 1 else 3000
    scene = thermo.scene.load("geometries/immersion-pod.yaml")
    model = hall.build(scene, dtype=np.float32)
    room = []
    start = time.perf_counter()
    result = hall.solve(model, progress=lambda rec, _: room.append(rec) if "energy_balance_pct" in rec else None)
    s = result.summary
    print(f"coupled solve: {time.perf_counter() - start:.0f} s; {s['solver']['reason']}")
    print("room balance (%) at the end of each 100-step chunk (the step count restarts with each room solve):")
    print(" ".join(f"{r['step']}:{r['energy_balance_pct']:+.3f}" for r in room))
    print("solver.window:", s["solver"]["window"])
    heat = float(np.sum(model.racks.power)) + hall.source_heat(model.problem)
    print(f"room heat carried {heat:.1f} W; tank_coupling: {s['tank_coupling']['history']}")

    lts = continue_room(model, result.state, model.numerics, lts_steps, 100)
    print("local time stepping, balance (%) every 200 steps:",
          " ".join(f"{r['step']}:{r['balance']:+.4f}" for r in lts[::2]))
    b = np.array([r["balance"] for r in lts if r["step"] >= 800])
    batches = b[:len(b) // 4 * 4].reshape(4, -1).mean(axis=1)
    peak = np.array([r["racks"][len(r["racks"]) // 2:] for r in lts if r["step"] >= 800])
    print(f"  from step 800: {len(b)} samples, mean {b.mean():+.4f} %, std {b.std():.4f} %, "
          f"range {b.min():+.4f} .. {b.max():+.4f} %, standard error (4 batch means) "
          f"{batches.std(ddof=1) / 2:.4f} %; rack intake max band {np.max(np.ptp(peak, axis=0)):.3f} K")

    glob = continue_room(model, result.state, dataclasses.replace(model.numerics, local_time_step=1.0),
                         global_steps, 20)
    t = np.array([r["time"] for r in glob])
    content = np.array([r["heat_content_J"] for r in glob])
    excess = 0.5 * (np.array([r["balance"] for r in glob[1:]]) + np.array([r["balance"] for r in glob[:-1]])) \
        * heat / 100.0
    storage = np.diff(content) / np.diff(t)
    print(f"global time step: {t[-1] - t[0]:.1f} s simulated, balance {glob[0]['balance']:+.4f} -> "
          f"{glob[-1]['balance']:+.4f} %; removed beyond carried {excess.mean():.3f} W, heat content rate "
          f"{storage.mean():+.3f} W, sum {excess.mean() + storage.mean():+.3f} W")
    if len(argv) > 2:
        with open(argv[2], "w") as f:
            json.dump({"room": room, "window": s["solver"]["window"], "lts": lts, "global": glob}, f, default=float)


if __name__ == "__main__":
    main(sys.argv[1:])
