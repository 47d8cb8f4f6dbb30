"""``thermo bench``: throughput of the solver step on buoyant cubic cavities.

For each size N the cavity of :mod:`thermo.cases.bench_cavity` at N^3 cells
is compiled and stepped on the default JAX device:

* ``compile_s``: wall time (s) of the first call, one step: precomputation
  (multigrid hierarchy, wall distance) plus tracing and XLA compilation;
* one warm-up chunk of ``steps`` steps, then ``repeats`` timed chunks, each of
  ``steps`` steps inside one compiled ``lax.while_loop``
  (:meth:`thermo.solve.Solver.run_chunk`); ``step_s`` is the median over
  chunks of chunk time / steps (s);
* ``step_s_min``: the fastest chunk's time per step (s), and ``cpu_s_per_step``:
  process CPU time (all threads) per step (s); on a shared machine these two
  move less with other people's load than the median wall time does;
* ``mcell_steps_per_s``: N^3 / step_s / 1e6;
* ``poisson_iters``: mean pressure-solve (MG-PCG) iterations per step over the timed chunks;
* ``peak_mem_mb``: growth (MiB) of the process's peak resident set size
  (``ru_maxrss``) while building and running this size; sizes run from
  small to large, so it is the extra host memory the size needed.  XLA
  allocates outside Python's allocator, so tracemalloc would see nothing;
* ``device_peak_mem_mb``: the device's ``peak_bytes_in_use`` (MiB) from
  ``memory_stats()`` where the backend reports it (GPUs), else ``None``.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from typing import Callable

import jax
import numpy as np

from .cases.bench_cavity import bench_numerics, buoyant_cavity
from .solve import Solver, SolverDiverged

PRECISIONS = {"f32": np.float32, "f64": np.float64}


def _max_rss_mb() -> float:
    """Peak resident set size of this process so far (MiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return peak / 1024.0 ** 2 if sys.platform == "darwin" else peak / 1024.0


def _device_peak_mb(device) -> float | None:
    """Peak bytes in use on ``device`` (MiB), or None where the backend has no memory stats."""
    try:
        stats = device.memory_stats()
    except Exception:  # backends without the API raise; that is "not available", not an error
        return None
    if not stats or "peak_bytes_in_use" not in stats:
        return None
    return stats["peak_bytes_in_use"] / 1024.0 ** 2


def device_name(device=None) -> str:
    """A short description of the JAX device, e.g. ``"cpu"`` or ``"gpu (NVIDIA H100 80GB HBM3)"``."""
    device = (jax.config.jax_default_device or jax.devices()[0]) if device is None else device
    kind = getattr(device, "device_kind", "") or ""
    return device.platform if kind.lower() == device.platform else f"{device.platform} ({kind})"


def check_precision(precision: str):
    """The numpy dtype for ``precision`` ("f32" or "f64"); float64 needs 64-bit JAX arrays enabled
    by the caller (``thermo bench --precision f64`` does it)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, not {precision!r}")
    dtype = PRECISIONS[precision]
    if jax.dtypes.canonicalize_dtype(dtype) != np.dtype(dtype):
        raise ValueError("precision f64 needs 64-bit JAX arrays enabled before any array is created "
                         "(the thermo CLI does this for --precision f64)")
    return dtype


def bench_size(n: int, steps: int = 20, repeats: int = 5, precision: str = "f32",
               turbulence: str = "mixing_length") -> dict:
    """Benchmark the cavity at ``n**3`` cells; returns one record (see module docstring for keys and units).

    Raises :class:`thermo.solve.SolverDiverged` if the cavity blows up while being timed.
    """
    if steps < 1 or repeats < 1:
        raise ValueError(f"steps and repeats must be at least 1 (got steps={steps}, repeats={repeats})")
    dtype = check_precision(precision)
    device = jax.config.jax_default_device or jax.devices()[0]
    rss_before = _max_rss_mb()

    problem = buoyant_cavity(n, dtype=dtype)
    solver = Solver(problem, bench_numerics(n, turbulence=turbulence), chunk=steps)
    state = solver.initial_state()

    start = time.perf_counter()
    state, diag = solver.run_chunk(state, 1)
    jax.block_until_ready(state)
    compile_s = time.perf_counter() - start

    state, diag = solver.run_chunk(state, steps)  # warm-up
    jax.block_until_ready(state)

    per_step, iterations, total = [], 0, 0
    cpu_start = time.process_time()
    for _ in range(repeats):
        start = time.perf_counter()
        state, diag = solver.run_chunk(state, steps)
        jax.block_until_ready(state)
        elapsed = time.perf_counter() - start
        done = int(diag["steps"])
        if not bool(diag["finite"]):
            raise SolverDiverged(f"bench cavity n={n} diverged while being timed")
        per_step.append(elapsed / max(done, 1))
        iterations += int(diag["poisson_iterations"])
        total += done

    cpu_s = time.process_time() - cpu_start
    step_s = statistics.median(per_step)
    cells = n ** 3
    return {
        "n": n,
        "cells": cells,
        "device": device_name(device),
        "precision": precision,
        "compile_s": compile_s,
        "step_s": step_s,
        "mcell_steps_per_s": cells / step_s / 1e6,
        "poisson_iters": iterations / max(total, 1),
        "step_s_min": min(per_step),
        "cpu_s_per_step": cpu_s / max(total, 1),
        "peak_mem_mb": max(_max_rss_mb() - rss_before, 0.0),
        "device_peak_mem_mb": _device_peak_mb(device),
        "steps_per_chunk": steps,
        "chunks": repeats,
        "turbulence": turbulence,
        "jax_version": jax.__version__,
    }


def run_bench(sizes=(32, 64, 128), steps: int = 20, repeats: int = 5, precision: str = "f32",
              turbulence: str = "mixing_length", progress: Callable | None = None) -> list[dict]:
    """Benchmark every size in ``sizes`` (cells per axis), smallest first.

    ``progress(record)`` is called after each size.  Returns the list of records.
    """
    records = []
    for n in sorted(int(s) for s in sizes):
        record = bench_size(n, steps=steps, repeats=repeats, precision=precision, turbulence=turbulence)
        records.append(record)
        if progress is not None:
            progress(record)
    return records
