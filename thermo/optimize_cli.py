"""``thermo optimize``: the command around :mod:`thermo.optimize`.

Writes into the output folder:

* ``<name>-optimized.yaml``: the optimized scenario (a normal scenario file);
* ``optimize.json``: settings, parameters before/after, the history of every
  evaluation (objective, penalty, maximum intake, cooling power, seconds), the
  design model's before/after rack inlet maxima and the verification (a fresh
  forward solve of the written file with its summary and constraint checks);
* ``history.png`` (objective and maximum intake per evaluation) and
  ``intakes.png`` (rack inlet maxima before, after, and verified).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def plot_history(history, path, title: str) -> None:
    """Objective (+ penalty) and maximum intake per evaluation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["evaluation"] for r in history]
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    ax[0].plot(n, [r["objective"] for r in history], "o-", label="objective")
    ax[0].plot(n, [r["value"] for r in history], ".--", label="objective + penalty")
    ax[0].set_xlabel("evaluation (steady solve + gradient)")
    ax[0].legend()
    ax[1].plot(n, [r["max_intake_C"] for r in history], "o-", color="C3")
    ax[1].set_xlabel("evaluation")
    ax[1].set_ylabel("max rack inlet (degC)")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_intakes(names, before, after, verified, limit, path, title: str) -> None:
    """Rack inlet maxima before and after (design model) and verified (fresh solve)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(6, 0.35 * len(names) + 2), 3.4))
    w = 0.28
    ax.bar(x - w, before, w, label="before")
    ax.bar(x, after, w, label="optimized (design model)")
    if verified is not None:
        ax.bar(x + w, verified, w, label="optimized (fresh solve)")
    if limit is not None:
        ax.axhline(limit, color="k", ls="--", lw=1, label=f"limit {limit:g} degC")
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=90, fontsize=7)
    ax.set_ylabel("rack inlet max (degC)")
    lo = min(min(before), min(after)) - 1.0
    ax.set_ylim(lo, max(max(before), max(after), limit or 0) + 1.0)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def optimize_command(args, console, load_scene) -> int:
    import jax

    from . import optimize as opt
    from .cli import check_design_grid, print_warnings
    from .io.outdir import atomic_directory, check_target, output_name

    plain = load_scene(args.scenario)
    out = Path(args.out) if args.out else Path("runs") / f"{output_name(plain.name)}-optimize"
    check_target(out, args.force, inputs=(args.scenario,))
    print_warnings(plain.warnings)
    precision = getattr(args, "precision", None)
    if plain.optimize is not None:    # the design grid's memory, counted before anything is built
        spec = plain.optimize
        check_design_grid(plain, args.cell or spec.cell, precision or spec.precision,
                          getattr(args, "gradient", None) or spec.gradient, jax.devices()[0])
    problem = opt.problem_from_scene(args.scenario, {
        "cell": args.cell, "precision": precision, "max_iterations": args.max_iter,
        "objective": args.objective, "method": args.method,
        "gradient": getattr(args, "gradient", None)})
    spec = problem.spec
    grid = problem.scene.model(problem.dtype).grid
    if spec.gradient == "adjoint":
        from .memory import GridTooLarge, check_fits

        try:
            check_fits(grid.shape, np.dtype(problem.dtype).itemsize, jax.devices()[0], gradient=True,
                       what=f"the design grid of {plain.name}")
        except GridTooLarge as error:
            console.print(f"[red]error: optimize[/red]: {error}", markup=True)
            return 2
    console.print(f"[bold]{plain.name}[/bold]: optimize {spec.objective} over {len(problem.names)} parameters "
                  f"({spec.method}, {spec.max_iterations} iterations), grid {' x '.join(map(str, grid.shape))} "
                  f"({grid.cells:,} cells), {spec.precision}")
    if problem.limit is not None:
        console.print(f"constraint: every rack inlet max <= {problem.limit:g} degC (kept "
                      f"{spec.intake_margin:g} K below by a penalty)" +
                      ("; cooler loads <= capacity" if spec.capacity and plain.coolers else ""))

    options = problem.options
    if spec.gradient == "finite_difference":
        gradient = (f"finite differences ({len(problem.names) + 1} steady solves per evaluation, step "
                    f"{spec.finite_difference_step:g} x bound range)")
    else:
        gradient = f"adjoint ({options.adjoint_method}) to {options.adjoint_tol:g}"
    console.print(f"steady solve per evaluation: change rates below {options.tol:g} within "
                  f"{options.max_steps:,} steps; gradient: {gradient}")
    failures = []

    def progress(record):
        if "failed" in record:
            failures.append(record)
            console.print(f"  trial point not converged ({record['failed']}), no gradient; "
                          f"({record['seconds']:.1f} s)", markup=False)
            return
        console.print(f"  eval {record['evaluation']:3d}: objective {record['objective']:.4f}  "
                      f"penalty {record['penalty']:.3g}  max intake {record['max_intake_C']:.2f} C  "
                      f"cooling {record['cooling_power_kW']:.2f} kW  |grad| {record['gradient_norm']:.3g}  "
                      f"({record['seconds']:.1f} s)", markup=False)

    from .adjoint import AdjointNotConverged

    import time

    started = time.perf_counter()
    try:
        with jax.enable_x64(problem.dtype == np.float64):
            values, history, message = opt.run(problem, progress)
    except (RuntimeError, AdjointNotConverged) as error:
        # a steady solve without a converged state has no gradient: say so, write nothing
        console.print(f"[red]error: the optimization stopped[/red]: {error}. No output was written "
                      "(try tighter bounds, a coarser --cell, or more solver steps).")
        return 3
    optimize_seconds = time.perf_counter() - started
    first, best = history[0], min(history, key=lambda r: r["value"])
    console.print(f"optimizer: {message}; best of {len(history)} evaluations: objective "
                  f"{first['objective']:.4f} -> {best['objective']:.4f}")
    with atomic_directory(out, args.force) as tmp:
        path = opt.write_scenario(problem, values, tmp / f"{output_name(plain.name)}-optimized.yaml")
        verification = None
        if not args.no_verify:
            console.print("verifying: fresh forward solve of the optimized scenario ...")
            verification = opt.verify(path, problem)
        verify_seconds = time.perf_counter() - started - optimize_seconds
        names = [r.name for r in plain.racks]
        verified = [r["inlet_max_C"] for r in verification["summary"]["racks"]] if verification else None
        record = {
            "scenario": plain.name, "source": str(args.scenario), "settings": spec.model_dump(),
            "grid_shape": list(grid.shape), "cells": int(grid.cells), "message": message,
            "steady_options": {"tol": options.tol, "max_steps": options.max_steps, "adjoint_tol": options.adjoint_tol,
                               "gradient": spec.gradient},
            "optimize_seconds": optimize_seconds, "verify_seconds": verify_seconds,
            "parameters": {n: {"before": float(problem.scene.values[n]), "after": values[n],
                               "bounds": [float(lo), float(hi)]}
                           for n, lo, hi in zip(problem.names, problem.lower, problem.upper)},
            "before": {k: first[k] for k in ("objective", "max_intake_C", "cooling_power_kW", "penalty",
                                              "rack_inlet_max_C")},
            "after": {k: best[k] for k in ("objective", "max_intake_C", "cooling_power_kW", "penalty",
                                            "rack_inlet_max_C")},
            "history": history,
            "failed_evaluations": failures,
            "verification": None if verification is None else verification["checks"],
            "verification_summary": None if verification is None else verification["summary"],
        }
        (tmp / "optimize.json").write_text(json.dumps(record, indent=1, allow_nan=False) + "\n")
        plot_history(history, tmp / "history.png", f"{plain.name}: {spec.objective}")
        plot_intakes(names, first["rack_inlet_max_C"], best["rack_inlet_max_C"], verified, problem.limit,
                     tmp / "intakes.png", plain.name)
    console.print(f"objective {first['objective']:.4f} -> {best['objective']:.4f}; max intake "
                  f"{first['max_intake_C']:.2f} -> {best['max_intake_C']:.2f} C; cooling power "
                  f"{first['cooling_power_kW']:.2f} -> {best['cooling_power_kW']:.2f} kW")
    if verification is not None:
        checks = verification["checks"]
        color = "green" if checks["satisfied"] else "red"
        console.print(f"[{color}]verification (fresh solve): {json.dumps(checks)}[/{color}]")
    console.print(f"outputs written to [bold]{out}[/bold]")
    return 0
