"""Where the time of a hall step goes: a jax.profiler trace of compiled chunks, split by phase.

    python docs/scripts/profile_step.py [SCENARIO] [--cell SIZE] [--steps N]

Builds the hall, runs one chunk of N steps (compile and warm-up), then traces
another chunk with :func:`jax.profiler.trace` (perfetto JSON).  Every XLA
operation in the trace is attributed to the ``jax.named_scope`` of the step it
belongs to, read from the ``op_name`` metadata of the compiled module:
``momentum`` (predictor: advection, diffusion, buoyancy, resistances),
``pressure`` (right-hand side, MG-PCG solve, correction), ``scalars``
(temperature and tracers), ``coupling`` (equipment: rack exhausts, CRAH
supplies, tile jets), ``eddy_viscosity``, ``time_step`` (the CFL rule), and the
rest of the loop body (change rates, bookkeeping).  Times are the exclusive times of the operations
(nested loops and the executor are not counted twice), summed over threads.
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import thermo.hall  # noqa: E402
import thermo.scene  # noqa: E402
from thermo.solve import Solver, _run_chunk_compiled  # noqa: E402

PHASES = ("momentum", "pressure", "scalars", "coupling", "eddy_viscosity", "time_step")


def phase_of(op_name: str) -> str:
    """The phase of an operation from its op_name metadata ("jit(_run_chunk)/while/body/...")."""
    parts = op_name.split("/")
    for phase in PHASES:
        if phase in parts:
            return phase
    if "while/body" in op_name:
        return "rest of the step (change rates, loop bookkeeping)"
    return "outside the loop"


def op_phases(hlo_text: str) -> dict:
    phases = {}
    for line in hlo_text.splitlines():
        match = re.match(r"\s*(?:ROOT )?%?([\w.\-]+) = .*?metadata=\{[^}]*op_name=\"([^\"]+)\"", line)
        if match:
            phases[match.group(1)] = phase_of(match.group(2))
    return phases


def exclusive_times(events) -> dict:
    """Exclusive duration (us) per event name, per thread, from complete ('X') events."""
    by_thread = collections.defaultdict(list)
    for e in events:
        if e.get("ph") == "X" and "dur" in e:
            by_thread[(e.get("pid"), e.get("tid"))].append(e)
    out = collections.Counter()
    for evs in by_thread.values():
        evs.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack = []
        for e in evs:
            while stack and stack[-1]["ts"] + stack[-1]["dur"] <= e["ts"]:
                stack.pop()
            if stack:
                out[stack[-1]["name"]] -= e["dur"]
            out[e["name"]] += e["dur"]
            stack.append(e)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default=str(Path(__file__).resolve().parents[2] / "geometries"
                                                           / "hall-small.yaml"))
    parser.add_argument("--cell", type=float, default=None)
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args(argv)

    model = thermo.hall.build(thermo.scene.load(args.scenario), cell_size=args.cell)
    solver = Solver(model.problem, model.numerics, chunk=args.steps, coupling=model.coupling)
    state, _ = solver.run_chunk(solver.initial_state(), args.steps)
    jax.block_until_ready(state)
    start = time.perf_counter()
    state, _ = solver.run_chunk(state, args.steps)
    jax.block_until_ready(state)
    untraced = time.perf_counter() - start
    dtype = state.temperature.dtype
    hlo = _run_chunk_compiled.lower(model.numerics, model.coupling, solver.problem, solver.prepare(), state,
                                    jnp.asarray(args.steps, jnp.int32),
                                    jnp.asarray(np.finfo(np.dtype(dtype)).max, dtype)).compile().as_text()
    phases = op_phases(hlo)
    with tempfile.TemporaryDirectory() as folder:
        with jax.profiler.trace(folder, create_perfetto_trace=True):
            state, diag = solver.run_chunk(state, args.steps)
            jax.block_until_ready(state)
        trace = sorted(glob.glob(f"{folder}/**/*.trace.json.gz", recursive=True))[-1]
        with gzip.open(trace) as handle:
            data = json.load(handle)
    events = data["traceEvents"] if isinstance(data, dict) else data
    times = exclusive_times(events)
    split = collections.Counter()
    for name, us in times.items():
        if name in phases:
            split[phases[name]] += us
    total = sum(split.values())
    print(f"{Path(args.scenario).stem}: grid {' x '.join(map(str, model.grid.shape))} ({model.cells:,} cells), "
          f"{args.steps} steps, {untraced / args.steps * 1e3:.1f} ms/step untraced, "
          f"{int(diag['poisson_iterations']) / args.steps:.1f} Poisson it/step, JAX {jax.__version__}, "
          f"{jax.devices()[0].platform}")
    print("| phase | ms/step | share |\n|---|---|---|")
    for phase, us in split.most_common():
        print(f"| {phase} | {us / 1e3 / args.steps:.2f} | {100 * us / total:.0f} % |")
    print(f"| all XLA operations | {total / 1e3 / args.steps:.2f} | 100 % |")


if __name__ == "__main__":
    main()
