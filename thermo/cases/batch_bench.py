"""Batched what-ifs: ``thermo.solve_batch`` (one vmapped steady solve) against N sequential solves.

On ``tests/data/design-tiny.yaml``: N variants of the cooler supply temperature
and one rack's power, each solved from still air to the same tolerance.  Both
paths are compiled before timing (the batched program compiles once per N).
``python -m thermo.cases.batch_bench [--sizes 2 4 8] [--precision f32|f64] [--limiter L] [--json FILE]``
prints seconds per variant both ways and the agreement of the answers.

What to expect: the batched march runs until its slowest variant has converged
(finished variants keep stepping at their fixed point), and on a CPU a batch of N
does about N times the arithmetic of one solve, so the gain comes only from
fewer, larger kernels; on a GPU, where a small hall leaves the device mostly idle,
the batch fills it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import numpy as np

from .. import design

SCENARIO = Path(__file__).resolve().parents[2] / "tests" / "data" / "design-tiny.yaml"


def variants(n: int) -> dict:
    """N what-ifs: supply temperature 17..19 degC and rack A03 power 4..5 kW.  (The range
    used before, 16..20 degC and 3..5 kW, holds variants without a steady state on this
    hall: A03 at 3 kW with 16 degC supply (Koren and upwind) or 19 degC (upwind) still had
    change rates of 0.03-0.3 after 40,000 steps, and so did 20 degC with 5 kW under Koren,
    so such solves ran to the step cap; docs/performance.md.)"""
    return {"cooler.CRAH.supply_temperature": np.linspace(17.0, 19.0, n),
            "rack.A03.power": np.linspace(4000.0, 5000.0, n)}


def run(sizes, dtype, limiter=None) -> list:
    scene = design.load(SCENARIO)
    if limiter is not None:
        scene = scene.with_solver(limiter=limiter)
    records = []
    for n in sizes:
        v = variants(n)
        jax.block_until_ready(design.solve_batch(scene, v, dtype=dtype).rack_inlet_max)   # compile
        t0 = time.perf_counter()
        batch = design.solve_batch(scene, v, dtype=dtype)
        jax.block_until_ready(batch.rack_inlet_max)
        t_batch = time.perf_counter() - t0
        one = lambda k: design.solve(scene.with_parameters({key: x[k] for key, x in v.items()}),  # noqa: E731
                                     dtype=dtype)
        jax.block_until_ready(one(0).rack_inlet_max)   # compile
        t0 = time.perf_counter()
        singles = [one(k) for k in range(n)]
        jax.block_until_ready(singles[-1].rack_inlet_max)
        t_seq = time.perf_counter() - t0
        diff = max(float(np.max(np.abs(np.asarray(batch.rack_inlet_max[k]) - np.asarray(s.rack_inlet_max))))
                   for k, s in enumerate(singles))
        rec = {"n": n, "batch_s": t_batch, "sequential_s": t_seq, "speedup": t_seq / t_batch,
               "batch_steps": int(np.max(np.asarray(batch.info.steps))),
               "sequential_steps": [int(s.info.steps) for s in singles],
               "all_converged": bool(np.all(np.asarray(batch.info.converged))), "max_difference_C": diff,
               "cells": int(scene.model(dtype).grid.cells), "dtype": np.dtype(dtype).name,
               "device": jax.devices()[0].device_kind}
        records.append(rec)
        print(f"N = {n}: batch {t_batch:.2f} s ({rec['batch_steps']} steps), sequential {t_seq:.2f} s "
              f"(steps {rec['sequential_steps']}), speedup {rec['speedup']:.2f}, max |difference| "
              f"{diff:.2e} K, converged {rec['all_converged']}", flush=True)
    return records


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--precision", choices=("f32", "f64"), default="f32")
    parser.add_argument("--json", default=None)
    parser.add_argument("--limiter", default=None, help="override the scenario's solver.limiter (e.g. upwind)")
    args = parser.parse_args(argv)
    dtype = np.float64 if args.precision == "f64" else np.float32
    with jax.enable_x64(dtype == np.float64):
        records = run(args.sizes, dtype, args.limiter)
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1) + "\n")


if __name__ == "__main__":
    main()
