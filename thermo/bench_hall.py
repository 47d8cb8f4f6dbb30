"""``thermo bench --case NAME`` / ``--racks N``: time to a steady state of a data hall.

A case is an example hall (``geometries/NAME.yaml``) or a generated hall of N
racks (:func:`thermo.scene.generate.generated_hall`).  The hall is solved the way
``thermo run`` solves it (:func:`thermo.hall.solve`: a pre-solve on a 3x coarser
grid when the grid has 40,000 cells or more, interpolated as the start, then the
fine grid to convergence), without the capture-index post-processing.  Recorded
(times in s, memory in MiB):

* ``turbulence``: the scene's turbulence model (``thermo bench --turbulence`` replaces it);
* ``build_s``: scene to grid and fields;
* ``compile_s``: compiling and first-calling the steps (fine and coarse) and the
  precomputation (multigrid hierarchy, wall distance), reported apart;
* ``solve_s``: wall time of the steady solve without the compile time: coarse
  pre-solve, interpolation and fine solve, host-side convergence checks included;
* ``compile_cpu_s``, ``solve_cpu_s``: the process's CPU time (all threads) of the
  ahead-of-time compiles and of the solves (the latter includes the first calls:
  precomputation and one step per solve); on a shared machine they move less
  with other people's load than wall times do;
* ``steps`` (fine) and ``coarse_steps``; ``converged`` and ``reason``;
* ``step_s``: fine-grid time per step; ``mcell_steps_per_s``: all cell-steps
  (coarse and fine) over ``solve_s`` / 1e6;
* ``poisson_iters``: mean MG-PCG iterations per fine step;
* ``peak_mem_mb``: growth of the process's peak resident set;
  ``device_peak_mem_mb``: the device's peak bytes in use (GPUs);
* ``step_bytes_per_cell``: arguments + outputs + temporaries of the compiled
  fine chunk from XLA's ``memory_analysis()`` per cell (bytes), and its parts.
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from . import fas, hall
from .bench import _device_peak_mb, _max_rss_mb, check_precision, device_name
from .scene import load
from .scene.generate import generated_hall
from .scene.load import from_dict
from .solve import Solver, _run_chunk_compiled

GEOMETRIES = Path(__file__).resolve().parents[1] / "geometries"
COARSE_START_CELLS = 40000   # thermo.hall.solve's rule for coarse_start="auto"


def case_names(folder: Path = GEOMETRIES) -> list[str]:
    """The example halls: stems of the YAML files in ``geometries/``."""
    return sorted(p.stem for p in folder.glob("*.yaml"))


def case_scene(name: str | None = None, racks: int | None = None, folder: Path = GEOMETRIES):
    """The scene of an example hall (``name``: file stem in ``folder``) or of a generated hall of ``racks`` racks."""
    if racks is not None:
        return from_dict(generated_hall(racks))
    path = folder / f"{name}.yaml"
    if not path.is_file():
        raise ValueError(f"--case {name!r}: no geometries/{name}.yaml; the cases are {', '.join(case_names(folder))}")
    return load(path)


def step_memory(model) -> dict:
    """Compile the fine chunk ahead of time (the later call reuses it) and return XLA's
    memory analysis per cell (bytes) with the compile time (s).  With coarse-grid
    corrections (``solver.coarse_correction``) the chunk is the one with the cycle in it."""
    problem, numerics = model.problem, model.numerics
    start, cpu_start = time.perf_counter(), time.process_time()
    level = hall.coarse_level(model)
    if level is None:
        solver, hook, hook_args = Solver(problem, numerics), None, None
    else:
        solver = fas.TwoGridSolver(problem, numerics, level, coupling=model.coupling)
        hook, hook_args = solver.hook()
    pre = solver.prepare()
    state = solver.initial_state()
    dtype = state.temperature.dtype
    compiled = _run_chunk_compiled.lower(numerics, model.coupling, problem, pre, state, jnp.asarray(1, jnp.int32),
                                         jnp.asarray(np.finfo(np.dtype(dtype)).max, dtype), False, hook,
                                         hook_args).compile()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    analysis = compiled.memory_analysis()
    cells = model.cells
    out = {"compile_s": seconds, "compile_cpu_s": cpu_seconds}
    if analysis is None:
        return out
    parts = {"arguments": analysis.argument_size_in_bytes, "outputs": analysis.output_size_in_bytes,
             "temporaries": analysis.temp_size_in_bytes}
    out.update({f"step_{k}_bytes_per_cell": v / cells for k, v in parts.items()})
    out["step_bytes_per_cell"] = (sum(parts.values()) - analysis.alias_size_in_bytes) / cells
    return out


def bench_case(scene, cell: float | None = None, precision: str = "f32", max_steps: int | None = None,
               coarse_start: bool = True) -> dict:
    """Solve ``scene`` to a steady state and return one record (see the module docstring).

    ``cell``: cell size (m), default the scenario's; ``max_steps``: cap on the steps of
    each solve (coarse and fine), default the scenario's ``solver.max_steps``;
    ``coarse_start``: the 3x coarser pre-solve for grids of 40,000 cells or more.
    Raises :class:`thermo.solve.SolverDiverged` if the hall blows up.
    """
    dtype = check_precision(precision)
    device = jax.config.jax_default_device or jax.devices()[0]
    rss_before = _max_rss_mb()
    start = time.perf_counter()
    model = hall.build(scene, cell_size=cell, dtype=dtype)
    build_s = time.perf_counter() - start
    memory = step_memory(model)
    compile_s, compile_cpu_s = memory.pop("compile_s"), memory.pop("compile_cpu_s")
    coarse = None
    if coarse_start and model.cells >= COARSE_START_CELLS:
        h = float(max(np.max(np.diff(np.asarray(x))) for x in model.grid.nodes))
        coarse = hall.build(scene, cell_size=3.0 * h, dtype=dtype)
        coarse_memory = step_memory(coarse)
        compile_s += coarse_memory["compile_s"]
        compile_cpu_s += coarse_memory["compile_cpu_s"]

    # from here on the compiled steps are in JAX's cache: the first call of each solve
    # (its compile_seconds) only runs the precomputation and one step
    cpu_start = time.process_time()
    solve_s, coarse_steps, coarse_cells, state = 0.0, 0, 0, None
    if coarse is not None:
        result = hall.solve(coarse, capture_index=False, coarse_start=None, max_steps=max_steps)
        compile_s += result.report.compile_seconds
        solve_s += result.report.seconds - result.report.compile_seconds
        coarse_steps, coarse_cells = result.report.steps, coarse.cells
        begin = time.perf_counter()
        state = hall.interpolate_state(result.state, coarse.grid, model.grid, model.problem.geometry.open)
        solve_s += time.perf_counter() - begin
    result = hall.solve(model, capture_index=False, coarse_start=None, state=state, max_steps=max_steps)
    report = result.report
    compile_s += report.compile_seconds
    fine_s = report.seconds - report.compile_seconds
    solve_s += fine_s
    solve_cpu_s = time.process_time() - cpu_start
    cell_steps = model.cells * report.steps + coarse_cells * coarse_steps
    return {
        "case": scene.name,
        "cells": model.cells,
        "grid": list(model.grid.shape),
        "cell_m": cell if cell is not None else scene.grid.max_cell,
        "device": device_name(device),
        "precision": precision,
        "turbulence": scene.solver.turbulence,
        "pseudo_time": scene.solver.pseudo_time,
        "cfl": scene.solver.cfl,
        "build_s": build_s,
        "compile_s": compile_s,
        "solve_s": solve_s,
        "compile_cpu_s": compile_cpu_s,
        "solve_cpu_s": solve_cpu_s,
        "steps": report.steps,
        "coarse_steps": coarse_steps,
        "coarse_cells": coarse_cells,
        "coarse_correction": result.summary["solver"].get("coarse_correction"),
        # the steady solver that gave the answer, and Newton's work where it ran
        "method": result.summary["solver"].get("method"),
        "newton_iterations": (result.summary["solver"].get("newton_iterations")
                              or (result.summary["solver"].get("newton") or {}).get("newton_iterations")),
        "krylov_iterations": (result.summary["solver"].get("krylov_iterations")
                              or (result.summary["solver"].get("newton") or {}).get("krylov_iterations")),
        # the answer, to compare runs: [mean, max] intake temperature of every rack (degC)
        "rack_inlets_C": [[row["inlet_mean_C"], row["inlet_max_C"]] for row in result.summary.get("racks", [])],
        "converged": bool(report.converged),
        "reason": report.reason,
        "step_s": fine_s / max(report.steps - 1, 1),
        "mcell_steps_per_s": cell_steps / max(solve_s, 1e-12) / 1e6,
        "poisson_iters": report.poisson_iterations_per_step,
        "peak_mem_mb": max(_max_rss_mb() - rss_before, 0.0),
        "device_peak_mem_mb": _device_peak_mb(device),
        **memory,
        "jax_version": jax.__version__,
    }
