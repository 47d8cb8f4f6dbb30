"""The output folder of a run: every file, written atomically.

Layout (see docs/outputs.md)::

    OUT/
      summary.json          machine-readable results
      report.md             tables and plots
      fields.vtr            final fields (cell data) for ParaView
      equipment.vtm         one block per object, + equipment/ (its .vtu blocks)
      tank_<name>.vtr       immersion tanks only: each tank interior on its own grid
      fields.pvd            transients only: the time series, + fields/fields_NNNN.vtr
      plots/*.png           plan slices, section, rack intakes, convergence, intake time series
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import plots, report, summary as summary_io, vtk
from .outdir import atomic_directory


def _ashrae_limits(racks):
    """(class, recommended, allowable) for the intake plots, from the first rack's ``ashrae`` entry.

    Numeric (low, high) pairs under ``recommended_range_C``/``allowable_range_C``
    are used when present; otherwise the class's ranges come from the ASHRAE table.
    """
    ashrae = racks[0].get("ashrae") if racks else None
    ashrae = ashrae if isinstance(ashrae, dict) else {}
    label = str(ashrae.get("class", "A1"))
    recommended = ashrae.get("recommended_range_C")
    allowable = ashrae.get("allowable_range_C")
    if label not in plots.ALLOWABLE and allowable is None:
        label = "A1"
    return (label, *plots.ashrae_bands(label, recommended, allowable))


def _write_plots(folder: Path, problem, state, summary, history, equipment) -> dict:
    folder.mkdir()
    grid = problem.grid
    images = {}
    limits = plots._temperature_limits(state, problem)
    top = float(np.asarray(grid.nodes[2])[-1])
    for height in plots.PLAN_HEIGHTS:
        if height < top:
            name = f"plan_z{height:.1f}m.png"
            plots.plan_slice(folder / name, grid, state, problem, height, equipment, limits)
            images[f"Plan at z = {height:g} m"] = f"plots/{name}"
    axis, position = plots.section_across_aisles(equipment, grid)
    plots.vertical_section(folder / "section.png", grid, state, problem, axis, position, equipment, limits)
    images[f"Section {'xy'[axis]} = {position:g} m"] = "plots/section.png"
    racks = summary.get("racks") or []
    label, recommended, allowable = _ashrae_limits(racks)
    if racks and all(r.get("inlet_mean_C") is not None and r.get("inlet_max_C") is not None for r in racks):
        plots.rack_intakes(folder / "rack_intakes.png", racks, label, recommended, allowable)
        images["Rack intake temperatures"] = "plots/rack_intakes.png"
    if history:
        plots.convergence(folder / "convergence.png", history)
        images["Convergence history"] = "plots/convergence.png"
    transient = summary.get("transient") or {}
    series = transient.get("rack_inlet_max_C") or {}
    if series and transient.get("times_s"):
        plots.intake_timeseries(folder / "intake_timeseries.png", transient["times_s"], series,
                                allowable[1], recommended[1], transient.get("events") or ())
        images["Rack intake maxima against time"] = "plots/intake_timeseries.png"
    return images


def write_run(target, *, problem, state, summary: dict, history=(), equipment=(), tracer_names=(),
              snapshots=None, converged: bool = True, reason: str = "", warnings=(), force: bool = False,
              extra_fields=()):
    """Write every output of a run into the folder ``target``, atomically.

    Args:
      target: output folder; must not exist unless ``force``.
      problem: the solved :class:`~thermo.problem.Problem` (grid, density, fluid fraction).
      state: the final :class:`~thermo.fields.State`.
      summary: the summary dict (see docs/outputs.md); finalized here.
      history: ``RunReport.history`` (steady runs), for the convergence plot.
      equipment: dicts ``name, kind, lower, upper (m), data`` for ``equipment.vtm``.
      tracer_names: names of the state's tracers, in order.
      snapshots: transient only, list of (time_s, State) for ``fields.pvd``.
      converged, reason, warnings: run status stamped into summary.json and report.md.
      force: replace an existing ``target``.
      extra_fields: (file name, problem, state) per extra field file (.vtr), e.g. tank interiors.

    Returns (path of the folder, the finalized summary dict).
    """
    final = summary_io.finalize(summary, converged, reason, warnings)
    files = ["summary.json", "report.md", "fields.vtr"]
    with atomic_directory(target, force) as staging:
        vtk.write_fields(staging / "fields.vtr", problem.grid, state, problem, tracer_names)
        for name, extra_problem, extra_state in extra_fields:
            vtk.write_fields(staging / name, extra_problem.grid, extra_state, extra_problem)
            files.append(name)
        if equipment:
            vtk.write_equipment(staging / "equipment.vtm", equipment)
            files.append("equipment.vtm")
        if snapshots:
            vtk.write_transient(staging, snapshots, problem, tracer_names, stem="fields")
            files.append("fields.pvd")
        images = _write_plots(staging / "plots", problem, state, final, history, equipment)
        files += list(images.values())
        final["files"] = files
        summary_io.write_summary(staging / "summary.json", final)
        report.write_report(staging / "report.md", final, images)
    return Path(target), final
