"""The ``thermo`` command line: ``run``, ``check``, ``bench`` and ``optimize``.

Exit codes: 0 success (a run that did not converge is a success with a
warning, marked in summary.json); 2 a problem with the input or the request
(bad scenario, existing output folder, missing device, grid too large for
memory); 3 the solution diverged (no output is written).

This module is an application entry point: ``--precision f64`` runs the
command inside JAX's scoped float64 context and ``--device`` picks the
default device, before any JAX array is created; both are restored on exit.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

EXIT_OK, EXIT_USAGE, EXIT_DIVERGED = 0, 2, 3
PRECISIONS = {"f32": np.float32, "f64": np.float64}
TURBULENCE_MODELS = ("laminar", "mixing_length", "zero_equation")


class UserError(Exception):
    """A problem with what the user asked for: printed as ``error: ...``, exit code 2."""


# ---------------------------------------------------------------------------------
# the persistent compilation cache
# ---------------------------------------------------------------------------------

#: Largest size of the compilation cache (bytes); JAX drops the least recently used entries
#: beyond it.  A compiled hall chunk takes 0.2-1.3 MB (hall-small at 0.3-0.1 m, measured).
COMPILE_CACHE_MAX_BYTES = 2 * 1024**3
COMPILE_CACHE_OFF = ("off", "0", "no", "false", "none")


def compile_cache_folder(args, environ=os.environ) -> Path | None:
    """Where ``run``/``bench``/``optimize`` keep XLA's compiled programs between runs, or None.

    ``--no-compile-cache`` or ``THERMO_COMPILE_CACHE=off``: none.  Else ``--compile-cache
    DIR``, else ``THERMO_COMPILE_CACHE``, else ``$XDG_CACHE_HOME/thermo/xla`` (default
    ``~/.cache/thermo/xla``).  A rerun of the same scenario and grid then loads its compiled
    steps instead of compiling them again (hall-small at 0.3 m: 23 s -> 4 s; docs/performance.md)."""
    if getattr(args, "no_compile_cache", False):
        return None
    given = getattr(args, "compile_cache", None) or environ.get("THERMO_COMPILE_CACHE")
    if given is not None and given.strip().lower() in COMPILE_CACHE_OFF:
        return None
    if given:
        return Path(given).expanduser()
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "thermo" / "xla"


def enable_compile_cache(folder: Path | None) -> str | None:
    """Turn on JAX's persistent compilation cache in ``folder`` for this process; returns the
    folder in use, or None.  A folder the user gave JAX itself (``JAX_COMPILATION_CACHE_DIR``)
    wins.  JAX reads the setting at its first compile and keeps it for the process, so an
    in-process caller (tests, notebooks) that wants none sets ``THERMO_COMPILE_CACHE=off``.
    A folder that cannot be created leaves the cache off: caching saves time, it is never
    a reason for a run to fail."""
    import jax

    if jax.config.jax_compilation_cache_dir:
        return jax.config.jax_compilation_cache_dir
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    try:    # JAX bounds the folder's size (least recently used out) only with filelock installed
        import filelock  # noqa: F401
    except ImportError:
        pass
    else:
        jax.config.update("jax_compilation_cache_max_size", COMPILE_CACHE_MAX_BYTES)
    return str(folder)


# ---------------------------------------------------------------------------------
# devices and memory
# ---------------------------------------------------------------------------------

def select_device(kind: str):
    """The JAX device for ``--device cpu|gpu``; raises :class:`UserError` if there is none."""
    import jax

    # this process's own device: in a multi-host run jax.devices()[0] belongs to process 0
    if kind == "cpu":
        return jax.local_devices(backend="cpu")[0]
    try:
        devices = jax.local_devices(backend="gpu")
    except RuntimeError:
        devices = []
    if not devices:
        available = ", ".join(sorted({d.platform for d in jax.devices()}))
        raise UserError(f"--device gpu: no GPU is available to JAX on this machine (available: {available}); "
                        "install jax[cuda12] on a machine with an NVIDIA GPU, or use --device cpu")
    return devices[0]


def available_memory_bytes(device) -> int | None:
    """Memory (bytes) free for a new computation on ``device`` (:func:`thermo.memory.available_bytes`:
    CPU ``MemAvailable``, GPU ``bytes_limit - bytes_in_use``); None if unknown."""
    from .memory import available_bytes

    return available_bytes(device)


def _gib(n: int) -> str:
    return f"{n / 1024 ** 3:.2f} GiB"


def check_memory(needed: int, device) -> int | None:
    """Raise :class:`UserError` if ``needed`` bytes exceed what ``device`` has free; returns the free bytes."""
    free = available_memory_bytes(device)
    if free is not None and needed > free:
        raise UserError(f"the grid needs about {needed} bytes ({_gib(needed)}) but the {device.platform} device "
                        f"has {free} bytes ({_gib(free)}) available; use a coarser --cell")
    return free


# ---------------------------------------------------------------------------------
# formatting
# ---------------------------------------------------------------------------------

def _fmt(value, digits: int = 1) -> str:
    """A number for display; None and non-finite values show as 'n/a', never 'nan'."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{value:.{digits}f}" if math.isfinite(value) else "n/a"


def _ashrae_text(ashrae) -> str:
    if not isinstance(ashrae, dict):
        return "n/a" if ashrae is None else str(ashrae)
    label = ashrae.get("class", "")
    recommended, allowable = ashrae.get("recommended"), ashrae.get("allowable")
    if allowable is False:
        return f"[red]{label} outside allowable[/red]"
    if recommended is False:
        return f"[yellow]{label} outside recommended[/yellow]"
    if recommended is True:
        return f"[green]{label} ok[/green]"
    return str(label)


def _console(stderr: bool = False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Not a terminal (pipes, logs, tests): wide enough that tables are not squeezed.
    return Console(stderr=stderr, highlight=False, width=None if stream.isatty() else 140)


def print_results(summary: dict, console) -> None:
    """Rich tables of racks, cooling units and metrics from a summary dict (temperatures degC)."""
    from rich.table import Table

    racks = summary.get("racks") or []
    if racks:
        fans = any("fan_pressure_Pa" in rack for rack in racks)   # fan-curve racks: their operating points
        table = Table(title=f"Racks: {summary.get('scenario', '')}")
        columns = ["rack", "intake mean (C)", "intake max (C)", "exhaust (C)"]
        columns += ["flow (m3/s)", "fan dp (Pa)"] if fans else []
        for column in columns + ["ASHRAE"]:
            table.add_column(column, justify="left" if column in ("rack", "ASHRAE") else "right")
        for rack in racks:
            cells = [str(rack.get("name")), _fmt(rack.get("inlet_mean_C")), _fmt(rack.get("inlet_max_C")),
                     _fmt(rack.get("exhaust_C"))]
            if fans:
                dp = _fmt(rack.get("fan_pressure_Pa")) if "fan_pressure_Pa" in rack else "fixed"
                cells += [_fmt(rack.get("flow_m3s"), 3), f"[red]{dp} stalled[/red]" if rack.get("fan_stalled") else dp]
            table.add_row(*cells, _ashrae_text(rack.get("ashrae")))
        console.print(table)
    coolers = summary.get("coolers") or []
    if coolers:
        table = Table(title="Cooling units")
        for column in ("unit", "supply (C)", "return (C)", "flow (m3/s)", "load (kW)", "utilization", "running"):
            table.add_column(column, justify="left" if column == "unit" else "right")
        for unit in coolers:
            table.add_row(str(unit.get("name")), _fmt(unit.get("supply_C")), _fmt(unit.get("return_C")),
                          _fmt(unit.get("flow_m3s"), 2), _fmt(unit.get("load_kW")), _fmt(unit.get("utilization"), 2),
                          _fmt(unit.get("running")))
        console.print(table)
    tanks = summary.get("tanks") or []
    if tanks:
        table = Table(title="Immersion tanks")
        for column in ("tank", "liquid", "max fluid (C)", "outlet (C)", "supply (C)", "HX load (kW)",
                       "surface loss (kW)", "closure (%)"):
            table.add_column(column, justify="left" if column in ("tank", "liquid") else "right")
        for t in tanks:
            table.add_row(str(t.get("name")), str(t.get("liquid")), _fmt(t.get("max_fluid_C")), _fmt(t.get("outlet_C")),
                          _fmt(t.get("supply_C")), _fmt(t.get("hx_load_kW"), 2), _fmt(t.get("surface_loss_kW"), 3),
                          _fmt(t.get("energy_closure_pct"), 3))
        console.print(table)
    sensors = summary.get("sensors") or []
    if sensors:
        table = Table(title="Sensors: predicted against measured")
        for column in ("sensor", "x (m)", "y (m)", "z (m)", "predicted (C)", "measured (C)", "error (K)"):
            table.add_column(column, justify="left" if column == "sensor" else "right")
        for row in sensors:
            table.add_row(str(row.get("name")), _fmt(row.get("x"), 2), _fmt(row.get("y"), 2), _fmt(row.get("z"), 2),
                          _fmt(row.get("temperature_C"), 2), _fmt(row.get("measured_C"), 2),
                          _fmt(row.get("error_K"), 2))
        console.print(table)
        errors = summary.get("sensor_errors") or {}
        if errors:
            console.print(f"sensors: mean-abs error {_fmt(errors.get('mean_abs_K'), 2)} K, max-abs error "
                          f"{_fmt(errors.get('max_abs_K'), 2)} K ({errors.get('max_abs_sensor')}), bias "
                          f"{_fmt(errors.get('mean_K'), 2)} K over {errors.get('count')} sensors")
    metrics = dict(summary.get("metrics") or {})
    if "energy_balance_pct" in summary:
        metrics["energy balance (%)"] = summary["energy_balance_pct"]
    if metrics:
        table = Table(title="Metrics")
        table.add_column("metric")
        table.add_column("value", justify="right")
        for key, value in metrics.items():
            if not isinstance(value, (dict, list)):
                table.add_row(str(key), _fmt(value, 2))
        console.print(table)


# ---------------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------------

def _load_scene(path: str):
    """The validated scene in the file ``path``; a missing file is a :class:`UserError`."""
    import thermo.scene

    if not Path(path).is_file():
        raise UserError(f"scenario file {path} does not exist" if not Path(path).exists()
                        else f"scenario path {path} is not a file")
    return thermo.scene.load(path)


def _fit_grid(scene, args, device):
    """Before anything is allocated: the grid of ``scene`` at ``--cell``, its mesh layout
    (``--devices``/``--mesh``) and the memory check.  Returns (grid, layout, bytes needed,
    bytes free); a grid that does not fit, or a mesh that does not divide it, is a :class:`UserError`."""
    from .memory import GridTooLarge, check_fits
    from .scene.gridgen import generate_grid, planned_shape

    free = available_memory_bytes(device)
    cell = f"--cell {args.cell:g}" if args.cell else f"grid.max_cell {scene.grid.max_cell:g}"

    def fits(shape, devices):
        try:
            return check_fits(shape, np.dtype(PRECISIONS[args.precision]).itemsize, device, devices,
                              free=free, what=f"scenario {scene.name} at {cell}",
                              implicit=scene.solver.pseudo_time == "implicit",
                              coarse_correction=scene.solver.coarse_correction)
        except GridTooLarge as error:
            raise UserError(str(error)) from None

    # counted from the scenario and the flags before a node is made: --cell 1e-9 is refused
    # at once with the numbers (it once allocated 22 GiB of grid lines before this check)
    devices_asked = getattr(args, "devices", None) or 1
    fits(planned_shape(scene, args.cell), devices_asked if getattr(args, "mesh", None) is None else 1)
    grid = generate_grid(scene, args.cell)
    layout = _layout(args, grid, device, scene)
    needed = fits(grid.shape, 1 if layout is None else layout.size)
    return grid, layout, needed, free


def _build(scene, args, device):
    import jax
    import thermo.hall

    with jax.default_device(device):
        return thermo.hall.build(scene, cell_size=args.cell, dtype=PRECISIONS[args.precision])


def _layout(args, grid, device, scene):
    """The :class:`thermo.parallel.Layout` for ``--devices``/``--mesh`` (None for one device);
    a mesh that needs more devices than there are, or does not divide the grid, is a :class:`UserError`."""
    from .parallel import Layout, MeshError, mesh_shape

    try:
        shape = mesh_shape(getattr(args, "devices", None), getattr(args, "mesh", None))
        if shape is None:
            return None
        if scene.solver.coarse_correction:
            raise UserError("solver.coarse_correction runs on one device: leave out --devices/--mesh, or add "
                            "--no-coarse-correction")
        layout = Layout.create(shape, platform=device.platform)
        layout.check_grid(grid.shape, what=f"the grid at --cell {args.cell or 'default'}")
    except MeshError as error:
        raise UserError(str(error)) from None
    return layout


def cmd_check(args) -> int:
    """``thermo check``: validate, print counts, grid and memory; refuse a grid that does not fit."""
    from rich.table import Table

    console = _console()
    device = select_device(args.device)
    scene = _load_scene(args.scenario)
    print_warnings(scene.warnings)
    _, layout, needed, free = _fit_grid(scene, args, device)
    model = _build(scene, args, device)
    table = Table(title=f"Scenario {scene.name}: valid")
    table.add_column("item")
    table.add_column("value", justify="right")
    for kind, count in scene.counts().items():
        table.add_row(str(kind), str(count))
    shape = model.grid.shape
    table.add_row("grid shape", " x ".join(str(n) for n in shape))
    table.add_row("cells", f"{model.grid.cells:,}")
    table.add_row("precision", args.precision)
    if layout is not None:
        table.add_row("device mesh (x, y, z)", " x ".join(str(n) for n in layout.shape))
    table.add_row("memory estimate", f"{needed:,} bytes ({_gib(needed)})")
    table.add_row(f"available on {device.platform}", "unknown" if free is None else f"{free:,} bytes ({_gib(free)})")
    if scene.optimize is not None:
        table.add_row(*_gradient_memory_row(scene, args, device))
    if getattr(scene, "sensors", None) is not None:
        from .io.sensors import read_sensors, sensor_stencil
        sensors = read_sensors(scene.sensors, scene)
        sensor_stencil(model, sensors, scene.sensors)
        table.add_row("sensors", f"{len(sensors)} ({scene.sensors})")
    console.print(table)
    console.print("[green]ok[/green]: the scenario is valid and the grid fits in memory")
    return EXIT_OK


def _gradient_memory_row(scene, args, device) -> tuple[str, str]:
    """The ``thermo check`` row for a scenario with an ``optimize:`` section: the memory of the
    design gradient's backward pass on the design grid (``optimize.cell``, ``optimize.precision``,
    unless ``--cell`` is given), checked against the device; a finite-difference study needs only
    forward solves."""
    from .memory import GridTooLarge, check_fits, estimate_bytes
    from .scene.gridgen import generate_grid

    spec = scene.optimize
    cell = args.cell or spec.cell
    check_design_grid(scene, cell, spec.precision, spec.gradient, device)
    grid = generate_grid(scene, cell)
    label = f"optimize ({spec.gradient}, {spec.precision}, {' x '.join(map(str, grid.shape))})"
    itemsize = np.dtype(PRECISIONS[spec.precision]).itemsize
    if spec.gradient == "finite_difference":
        needed = estimate_bytes(grid.cells, itemsize)
        return label, f"{needed:,} bytes ({_gib(needed)}): forward solves only"
    try:
        needed = check_fits(grid.shape, itemsize, device, free=available_memory_bytes(device), gradient=True,
                            what=f"the design grid of {scene.name} at cell {cell or scene.grid.max_cell}")
    except GridTooLarge as error:
        raise UserError(f"optimize: {error}") from None
    return label, f"{needed:,} bytes ({_gib(needed)}) for the adjoint gradient"


def check_design_grid(scene, cell, precision: str, gradient: str, device) -> int:
    """Before any grid is made: the memory of ``thermo optimize``'s design grid at ``cell``
    (m; None: the scenario's) counted from the scenario alone, the adjoint's backward pass or
    forward solves only; a design grid that does not fit is a :class:`UserError`."""
    from .memory import GridTooLarge, check_fits
    from .scene.gridgen import planned_shape

    shape = planned_shape(scene, cell)
    try:
        return check_fits(shape, np.dtype(PRECISIONS[precision]).itemsize, device,
                          free=available_memory_bytes(device), gradient=gradient == "adjoint",
                          what=f"the design grid of {scene.name} at cell {cell or scene.grid.max_cell:g}")
    except GridTooLarge as error:
        raise UserError(f"optimize: {error}") from None


def _progress_display(console):
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                    TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=console, transient=False)


def _with_solver_flags(scene, args):
    """The scene with the command line's solver flags (--turbulence, --pseudo-time, --cfl,
    --coarse-correction)."""
    changes = {key: getattr(args, key) for key in ("turbulence", "pseudo_time", "cfl", "coarse_correction",
                                                     "method", "limiter")
               if getattr(args, key, None) is not None}
    return scene.with_solver(**changes) if changes else scene


def cmd_run(args) -> int:
    """``thermo run``: solve a scenario, show progress, print tables and write the output folder."""
    import jax

    from .io.outdir import check_target, output_name

    console = _console()
    device = select_device(args.device)
    scene = _with_solver_flags(_load_scene(args.scenario), args)
    out = Path(args.out) if args.out else Path("runs") / output_name(scene.name)
    check_target(out, args.force, inputs=(args.scenario, getattr(args, "sensors", None),
                                          getattr(scene, "sensors", None)))
    print_warnings(scene.warnings)

    import thermo.hall
    from .io.results import write_run
    from .solve import SolverDiverged

    _, layout, _, _ = _fit_grid(scene, args, device)
    sensors_path = getattr(args, "sensors", None) or getattr(scene, "sensors", None)
    sensors = None
    if sensors_path is not None:   # checked before the solve: a bad file costs no solve
        from .io.sensors import read_sensors
        sensors = read_sensors(sensors_path, scene)
    model = _build(scene, args, device)
    model.layout = layout
    if sensors is not None:
        from .io.sensors import sensor_stencil
        stencil = sensor_stencil(model, sensors, sensors_path)
    mesh_text = "" if model.layout is None else f", mesh {'x'.join(map(str, model.layout.shape))}"
    console.print(f"[bold]{scene.name}[/bold]: grid {' x '.join(map(str, model.grid.shape))} "
                  f"({model.grid.cells:,} cells), {args.precision}, {device.platform}{mesh_text}")

    scenario_transient = getattr(scene, "transient", None)
    transient = not args.steady and (args.transient is not None or scenario_transient is not None)
    end_time = args.transient if args.transient is not None else (
        scenario_transient.end_time if transient else None)
    every = args.report_every or (scenario_transient.report_every if scenario_transient is not None
                                  and args.transient is None else (end_time or 0.0) / 20.0)

    solver_spec = getattr(scene, "solver", None)
    total_steps = args.max_steps or getattr(solver_spec, "max_steps", None)
    progress_console = _console(stderr=True)
    with _progress_display(progress_console) as bar:
        steady_task = bar.add_task("steady", total=total_steps, info="compiling...")

        def steady_progress(record, rack_inlet_max_C):
            if "tank" in record:   # an immersion tank interior
                bar.update(steady_task, info=f"tank {record['tank']}: step {record['step']}  max fluid "
                           f"{_fmt(record['max_fluid_C'])} C  closure {record['closure_pct']:+.3f} %")
                return
            if "newton_iterations" in record:   # the Newton-Krylov steady solve
                bar.update(steady_task, completed=record["step"],
                           info=f"{record['kind']}: Newton {record['newton_iterations']}  Krylov "
                           f"{record['krylov_iterations']}  march {record['march_steps']}  residual u "
                           f"{record['momentum']:.1e} T {record['temperature']:.1e}  max intake "
                           f"{_fmt(rack_inlet_max_C)} C")
                return
            info = (f"step {record['step']}  rate u {record['rate_velocity']:.2e}  "
                    f"T {record['rate_temperature']:.2e}  Poisson {record['poisson_iterations']:.1f} it  "
                    f"max intake {_fmt(rack_inlet_max_C)} C")
            bar.update(steady_task, completed=record["step"], info=info)

        try:
            with jax.default_device(device):
                if not transient:
                    result = steady = thermo.hall.solve(model, progress=steady_progress, max_steps=args.max_steps)
                else:
                    steady = thermo.hall.solve(model, progress=steady_progress, max_steps=args.max_steps,
                                               capture_index=False)
                    task = bar.add_task("transient", total=end_time, info="compiling...")

                    def transient_progress(record, rack_inlet_max_C):
                        info = (f"t {record['time']:.1f} s  step {record.get('step', '')}  "
                                f"max intake {_fmt(rack_inlet_max_C)} C")
                        bar.update(task, completed=record["time"], info=info)

                    result = thermo.hall.solve_transient(model, end_time, every, progress=transient_progress,
                                                         initial=steady.state)
        except SolverDiverged as error:
            print_divergence(error, scene, model)
            return EXIT_DIVERGED

    if jax.process_index() != 0:  # multi-host: process 0 writes the outputs
        console.print(f"process {jax.process_index()}: solved; process 0 writes the outputs")
        return EXIT_OK
    # A transient is only as good as the steady state it starts from.
    converged = bool(steady.converged)
    reason = getattr(steady.report, "reason", "") or ""
    if transient and not converged:
        reason = f"steady start: {reason}" if reason else "steady start did not settle"
    if sensors is not None:
        from .io.sensors import compare
        result.summary.update(compare(model, result.state, sensors, sensors_path, stencil))
    _, summary = write_run(out, problem=model.problem, state=result.state, summary=result.summary,
                           history=steady.report.history, equipment=result.equipment,
                           tracer_names=model.tracer_names, snapshots=getattr(result, "snapshots", None),
                           converged=converged, reason=reason, force=args.force, warnings=scene.warnings,
                           extra_fields=getattr(result, "extra_fields", ()))
    print_results(summary, console)
    if summary.get("transient"):
        from .io.report import ride_through_text

        console.print(ride_through_text(summary["transient"]))
    averaged = (summary.get("solver") or {}).get("averaged")
    if averaged:
        console.print(averaged_text(averaged))
    if not converged:
        console.print(f"[yellow]warning: the solution did not converge ({reason or 'stopped early'}); "
                      "the numbers above are those of the last step. summary.json is marked "
                      "\"converged\": false.[/yellow]")
    for warning in summary.get("warnings", []):
        if "did not converge" not in warning and warning not in scene.warnings:   # those were printed first
            console.print(f"[yellow]warning: {warning}[/yellow]")
    console.print(f"outputs written to [bold]{out}[/bold]")
    return EXIT_OK


def print_warnings(warnings) -> None:
    """The scene's warnings (:attr:`thermo.scene.Scene.warnings`), one ``warning: OBJECT:
    FIELD: ...`` line each on stderr: what the scenario allows but probably does not mean."""
    console = _console(stderr=True)
    for warning in warnings:
        console.print(f"warning: {warning}", markup=False, style="yellow")


def divergence_text(error, scene, model=None) -> str:
    """The lines ``thermo run`` prints for a diverged solve: the solver's message, the first
    non-finite quantity and where (when the error carries the ``state`` it diverged in and
    the message does not say already: :func:`thermo.diagnostics.describe_non_finite`), and
    the scenario values that are the likely cause (:func:`thermo.diagnostics.likely_causes`)."""
    from .diagnostics import describe_non_finite, likely_causes

    message = str(error).rstrip(". ")
    lines = [f"error: the solution diverged: {message}. No output was written."]
    state = getattr(error, "state", None)
    if state is not None and model is not None and "non-finite" not in message:
        where = describe_non_finite(model, state)
        if where:
            lines.append(f"  {where}")
    causes = likely_causes(scene)
    if causes:
        lines.append("  likely cause" + ("s" if len(causes) > 1 else "") + " in the scenario: " + "; ".join(causes))
    else:
        lines.append("  no scenario value stands out: try a finer --cell, a smaller solver.cfl, or "
                     "--turbulence mixing_length")
    return "\n".join(lines)


def print_divergence(error, scene, model=None) -> None:
    """:func:`divergence_text` on stderr (stdout carries results, errors go to stderr)."""
    _console(stderr=True).print(divergence_text(error, scene, model), markup=False, style="red")


def averaged_text(averaged: dict) -> str:
    """One line for a statistically steady run: what the table's numbers are, and how far the
    instantaneous intakes swing (``summary["solver"]["averaged"]``)."""
    swings = {name: hi - lo for name, (lo, hi) in averaged.get("rack_inlet_max_range_C", {}).items()}
    widest = max(swings, key=swings.get) if swings else None
    text = (f"statistically steady: the numbers above are averages over the last {averaged['steps']:,} steps "
            f"(two {averaged['window_steps']:,}-step windows agreeing within {averaged['window_change_K']:.2f} K)")
    if widest is not None:
        lo, hi = averaged["rack_inlet_max_range_C"][widest]
        text += f"; instantaneous intake maxima swing most at {widest}: {lo:.1f} to {hi:.1f} C"
    return text


def _write_json(records, path: Path, console) -> None:
    """Bench records as strict JSON (a quantity a solver does not have, such as the Poisson
    iterations per step of a Newton solve, is NaN in the record and null in the file)."""
    from .io.summary import jsonable

    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False) as handle:
        json.dump(jsonable(records), handle, indent=1, allow_nan=False)
        handle.write("\n")
    os.replace(handle.name, path)
    console.print(f"records written to {path}")


def cmd_bench_case(args) -> int:
    """``thermo bench --case NAME`` / ``--racks N``: time to a steady state of a hall; one-row table."""
    from rich.table import Table

    from .bench_hall import bench_case, case_scene
    from .memory import GridTooLarge, check_fits
    from .scene.gridgen import generate_grid, planned_shape

    console = _console()
    try:
        scene = _with_solver_flags(case_scene(args.case, args.racks), args)
    except ValueError as error:
        raise UserError(str(error)) from None
    device = select_device(args.device)
    try:
        # counted before a node is made, then the grid itself
        check_fits(planned_shape(scene, args.cell), np.dtype(PRECISIONS[args.precision]).itemsize, device,
                   free=available_memory_bytes(device), what=f"case {scene.name} at --cell "
                   f"{args.cell or scene.grid.max_cell}", implicit=scene.solver.pseudo_time == "implicit",
                   coarse_correction=scene.solver.coarse_correction)
    except GridTooLarge as error:
        raise UserError(str(error)) from None
    grid = generate_grid(scene, args.cell)
    try:
        check_fits(grid.shape, np.dtype(PRECISIONS[args.precision]).itemsize, device,
                   free=available_memory_bytes(device), what=f"case {scene.name} at --cell {args.cell or scene.grid.max_cell}",
                   implicit=scene.solver.pseudo_time == "implicit",
                   coarse_correction=scene.solver.coarse_correction)
    except GridTooLarge as error:
        raise UserError(str(error)) from None
    console.print(f"{scene.name}: grid {' x '.join(map(str, grid.shape))} ({grid.cells:,} cells), {args.precision}, "
                  f"{device.platform}, {scene.solver.turbulence}, {scene.solver.pseudo_time} pseudo-time steps "
                  f"(cfl {scene.solver.cfl:g}); solving to a steady state"
                  + (f" (at most {args.max_steps} steps per solve)" if args.max_steps else ""))
    record = bench_case(scene, cell=args.cell, precision=args.precision, max_steps=args.max_steps,
                        coarse_start=not args.no_coarse_start)
    table = Table(title=f"thermo bench: {record['case']}, {args.precision}, time to a steady state")
    columns = ("case", "cells", "device", "compile (s)", "solve (s)", "solve CPU (s)", "steps (coarse + fine)",
               "converged",
               "step (ms)", "Mcell-steps/s", "Poisson it/step", "peak RSS +MB", "step B/cell", "device peak MB")
    for column in columns:
        table.add_column(column, justify="left" if column in ("case", "device", "converged") else "right")
    table.add_row(record["case"], f"{record['cells']:,}", record["device"], _fmt(record["compile_s"], 1),
                  _fmt(record["solve_s"], 1), _fmt(record["solve_cpu_s"], 1),
                  f"{record['coarse_steps']} + {record['steps']}",
                  _fmt(record["converged"]), _fmt(record["step_s"] * 1e3, 1), _fmt(record["mcell_steps_per_s"], 2),
                  _fmt(record["poisson_iters"], 1), _fmt(record["peak_mem_mb"], 0),
                  _fmt(record.get("step_bytes_per_cell"), 0), _fmt(record["device_peak_mem_mb"], 0))
    console.print(table)
    console.print(f"stopped: {record['reason']}")
    if args.json:
        _write_json([record], Path(args.json), console)
    return EXIT_OK


def cmd_bench(args) -> int:
    """``thermo bench``: cavity throughput per size; rich table and optional JSON records."""
    from rich.table import Table

    from .bench import run_bench

    if args.case is not None or args.racks is not None:
        return cmd_bench_case(args)
    from .memory import GridTooLarge, check_cell_count, check_fits

    device = select_device(args.device)
    for n in args.sizes:     # each cavity checked before the first is allocated
        try:
            check_cell_count((n, n, n), f"the bench cavity --sizes {n}", "use smaller --sizes")
            check_fits((n, n, n), np.dtype(PRECISIONS[args.precision]).itemsize, device,
                       free=available_memory_bytes(device), what=f"the bench cavity --sizes {n}")
        except GridTooLarge as error:
            raise UserError(str(error)) from None
    console = _console()
    turbulence = args.turbulence or "mixing_length"
    table = Table(title=f"thermo bench: buoyant cubic cavity, {args.precision}, {turbulence}, "
                        f"{args.steps} steps x {args.repeats} chunks")
    for column in ("N", "cells", "device", "compile (s)", "step (ms)", "best (ms)", "CPU (ms)", "Mcell-steps/s",
                   "Poisson it/step", "peak RSS +MB", "device peak MB"):
        table.add_column(column, justify="left" if column == "device" else "right")

    def progress(record):
        console.print(f"N = {record['n']}: {record['step_s'] * 1e3:.2f} ms/step, "
                      f"{record['mcell_steps_per_s']:.2f} Mcell-steps/s")

    records = run_bench(args.sizes, steps=args.steps, repeats=args.repeats, precision=args.precision,
                        turbulence=turbulence, progress=progress)
    for r in records:
        table.add_row(str(r["n"]), f"{r['cells']:,}", r["device"], _fmt(r["compile_s"], 1),
                      _fmt(r["step_s"] * 1e3, 2), _fmt(r["step_s_min"] * 1e3, 2), _fmt(r["cpu_s_per_step"] * 1e3, 2),
                      _fmt(r["mcell_steps_per_s"], 2), _fmt(r["poisson_iters"], 2),
                      _fmt(r["peak_mem_mb"], 0), _fmt(r["device_peak_mem_mb"], 0))
    console.print(table)
    if args.json:
        _write_json(records, Path(args.json), console)
    return EXIT_OK


def cmd_optimize(args) -> int:
    """``thermo optimize``: gradient-based design from the scenario's ``optimize:`` section."""
    from .optimize_cli import optimize_command

    return optimize_command(args, _console(), _load_scene)


# ---------------------------------------------------------------------------------
# parser and entry point
# ---------------------------------------------------------------------------------

def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the ``thermo`` command."""
    parser = argparse.ArgumentParser(prog="thermo", description="CFD-lite data-center cooling solver (JAX).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p, precision=True):
        p.add_argument("--cell", type=_positive_float, default=None, metavar="SIZE",
                       help="maximum cell size (m); default: the scenario's")
        if precision:
            p.add_argument("--precision", choices=sorted(PRECISIONS), default="f32",
                           help="floating-point precision (default f32)")
        p.add_argument("--device", choices=("cpu", "gpu"), default="cpu", help="where to compute (default cpu)")

    def parallel(p):
        p.add_argument("--devices", type=_positive_int, default=None, metavar="N",
                       help="shard the grid over N devices in slabs along x (same as --mesh Nx1x1)")
        p.add_argument("--mesh", default=None, metavar="AxBxC",
                       help="shard the grid over a device mesh, devices along x, y, z (e.g. 4x1x1, 2x2x1)")
        p.add_argument("--distributed", action="store_true",
                       help="multi-host: join the run through jax.distributed.initialize() (SLURM, or "
                            "JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES / JAX_PROCESS_ID) before anything else")

    def compile_cache_flags(p):
        p.add_argument("--compile-cache", default=None, metavar="DIR",
                       help="keep compiled programs in DIR for later runs (default THERMO_COMPILE_CACHE, "
                            "else ~/.cache/thermo/xla); a rerun on the same grid skips most of its compile time")
        p.add_argument("--no-compile-cache", action="store_true",
                       help="compile everything afresh and keep nothing (same as THERMO_COMPILE_CACHE=off)")

    def pseudo_time_flags(p, where=""):
        p.add_argument("--pseudo-time", dest="pseudo_time", choices=("explicit", "implicit"), default=None,
                       help="steady marching with explicit or line-implicit pseudo-time steps instead of the "
                            f"scenario's solver.pseudo_time{where}; implicit runs at Courant number 5 unless --cfl "
                            "(docs/performance.md)")
        p.add_argument("--cfl", type=_positive_float, default=None, metavar="C",
                       help=f"Courant number of the pseudo-time step instead of the scenario's solver.cfl{where}: "
                            "at most 1 explicit, 100 implicit")
        p.add_argument("--method", choices=("newton", "march"), default=None,
                       help=f"steady solver instead of the scenario's solver.method{where}: newton (Newton-Krylov "
                            "on the implicit pseudo-time step, the default) or march (pseudo-time marching with "
                            "time averaging)")
        p.add_argument("--limiter", choices=("smooth", "koren", "van_leer", "minmod", "upwind"), default=None,
                       help=f"advection limiter instead of the scenario's solver.limiter{where} (default smooth, "
                            "continuously differentiable; Newton needs a smooth scheme)")
        p.add_argument("--coarse-correction", dest="coarse_correction", action=argparse.BooleanOptionalAction,
                       default=None,
                       help=f"coarse-grid (FAS) corrections of the steady march on or off instead of the scenario's "
                            f"solver.coarse_correction{where} (one device; docs/performance.md)")

    run = sub.add_parser("run", help="solve a scenario and write fields, plots, summary.json and report.md")
    run.add_argument("scenario", help="scenario file (YAML)")
    run.add_argument("--out", default=None, metavar="DIR", help="output folder (default runs/<scenario name>)")
    common(run)
    parallel(run)
    run.add_argument("--force", action="store_true", help="replace an existing output folder")
    run.add_argument("--transient", type=_positive_float, default=None, metavar="SECONDS",
                     help="run a transient of this length (s) from the steady state, with the scenario's "
                          "events (default: the scenario's transient: section, if any)")
    run.add_argument("--report-every", type=_positive_float, default=None, metavar="SECONDS",
                     help="transient: interval between saved states (s); default the scenario's, "
                          "else transient/20")
    run.add_argument("--steady", action="store_true",
                     help="steady solve only, even if the scenario has a transient: section")
    run.add_argument("--max-steps", type=_positive_int, default=None, metavar="N",
                     help="stop the steady solve (also the one a transient starts from) after N steps; "
                          "reported as not converged if not settled; default the scenario's solver.max_steps")
    run.add_argument("--turbulence", choices=TURBULENCE_MODELS, default=None,
                     help="turbulence model instead of the scenario's solver.turbulence (mixing_length settles "
                          "hall-small at 0.1 m in about 3,200 steps where zero_equation needs 14,000; "
                          "docs/performance.md)")
    run.add_argument("--sensors", default=None, metavar="FILE.csv",
                     help="sensor readings (CSV: name,x,y,z,temperature_C[,weight]) to compare the solution with: "
                          "summary.json gets sensors and sensor_errors, the report a table; replaces the "
                          "scenario's sensors: file (docs/outputs.md)")
    pseudo_time_flags(run)
    compile_cache_flags(run)
    run.set_defaults(func=cmd_run)

    check = sub.add_parser("check", help="validate a scenario; print object counts, grid and memory estimate")
    check.add_argument("scenario", help="scenario file (YAML)")
    common(check)
    parallel(check)
    check.set_defaults(func=cmd_check)

    bench = sub.add_parser("bench", help="time the solver step on buoyant cubic cavities")
    bench.add_argument("--sizes", type=_positive_int, nargs="+", default=[32, 64, 128], metavar="N",
                       help="cells per axis (default 32 64 128)")
    bench.add_argument("--steps", type=_positive_int, default=20, help="steps per timed chunk (default 20)")
    bench.add_argument("--repeats", type=_positive_int, default=5, help="timed chunks per size (default 5)")
    bench.add_argument("--precision", choices=sorted(PRECISIONS), default="f32")
    bench.add_argument("--turbulence", choices=TURBULENCE_MODELS, default=None,
                       help="turbulence model: of the cavity (default mixing_length); with --case/--racks "
                            "instead of the scenario's")
    bench.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    pseudo_time_flags(bench, " (--case/--racks)")
    bench.add_argument("--json", default=None, metavar="FILE", help="write the records as a JSON list")
    hall_case = bench.add_mutually_exclusive_group()
    hall_case.add_argument("--case", default=None, metavar="NAME",
                           help="instead of the cavity: time an example hall (geometries/NAME.yaml) to a steady state")
    hall_case.add_argument("--racks", type=_positive_int, default=None, metavar="N",
                           help="instead of the cavity: time a generated raised-floor hall of N racks")
    bench.add_argument("--cell", type=_positive_float, default=None, metavar="SIZE",
                       help="--case/--racks: maximum cell size (m); default the scenario's")
    bench.add_argument("--max-steps", type=_positive_int, default=None, metavar="N",
                       help="--case/--racks: stop each solve (coarse and fine) after N steps")
    bench.add_argument("--no-coarse-start", action="store_true",
                       help="--case/--racks: no pre-solve on a 3x coarser grid")
    compile_cache_flags(bench)
    bench.set_defaults(func=cmd_bench)

    opt = sub.add_parser("optimize", help="optimize design parameters with adjoint gradients "
                                          "(the scenario's optimize: section)")
    opt.add_argument("scenario", help="scenario file (YAML) with an optimize: section")
    opt.add_argument("--out", default=None, metavar="DIR", help="output folder (default runs/<name>-optimize)")
    opt.add_argument("--cell", type=_positive_float, default=None, metavar="SIZE",
                     help="maximum cell size (m) of the design grid; default optimize.cell, else the scenario's")
    opt.add_argument("--precision", choices=sorted(PRECISIONS), default=None,
                     help="floating-point precision (default optimize.precision, f64)")
    opt.add_argument("--max-iter", type=_positive_int, default=None, metavar="N",
                     help="optimizer iterations (default optimize.max_iterations)")
    opt.add_argument("--objective", choices=("max_intake", "cooling_power"), default=None)
    opt.add_argument("--method", choices=("lbfgsb", "projected_gradient"), default=None)
    opt.add_argument("--gradient", choices=("adjoint", "finite_difference"), default=None,
                     help="how gradients are computed (default optimize.gradient, adjoint)")
    opt.add_argument("--no-verify", action="store_true", help="skip the fresh forward solve of the result")
    opt.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    opt.add_argument("--force", action="store_true", help="replace an existing output folder")
    compile_cache_flags(opt)
    opt.set_defaults(func=cmd_optimize)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that a half-written output folder is removed on the way
    out (:func:`thermo.io.outdir.atomic_directory`) and no hidden partial folder stays."""


def _terminate_as_interrupt():
    """Turn SIGTERM into :class:`Terminated` while a command runs; returns the function that
    puts the previous handler back (a no-op outside the main thread, where signals cannot be set)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def terminate(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    return lambda: signal.signal(signal.SIGTERM, previous)


def _wants_x64(args) -> bool:
    """float64 for ``--precision f64``; ``optimize`` defaults to its section's precision (f64)."""
    precision = getattr(args, "precision", "f32")
    if args.command == "optimize" and precision is None:
        return True     # the optimize section's precision decides; f32 runs inside stay f32 by dtype
    return precision == "f64"


def main(argv=None) -> int:
    """Entry point of the ``thermo`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    import jax

    if getattr(args, "distributed", False):
        from .parallel import initialize_distributed

        initialize_distributed(cpu=getattr(args, "device", "cpu") == "cpu")

    from .io.outdir import OutputPathError
    from .memory import GridTooLarge
    from .scene import ScenarioError

    if getattr(args, "func", None) in (cmd_run, cmd_bench, cmd_optimize):
        enable_compile_cache(compile_cache_folder(args))

    console = _console(stderr=True)
    restore_signal = _terminate_as_interrupt()
    device_before = jax.config.jax_default_device
    try:
        # float64 through JAX's scoped context, so main() called in-process
        # (tests, notebooks) leaves the global option as it found it
        with jax.enable_x64(_wants_x64(args)):
            jax.config.update("jax_default_device", select_device(args.device))
            return args.func(args)
    except (UserError, OutputPathError, ScenarioError, GridTooLarge) as error:
        console.print(f"error: {error}", markup=False)
        return EXIT_USAGE
    except KeyboardInterrupt as stop:
        console.print("interrupted; no output was written", markup=False)
        return 143 if isinstance(stop, Terminated) else 130
    finally:
        jax.config.update("jax_default_device", device_before)
        restore_signal()


if __name__ == "__main__":
    sys.exit(main())
