"""Outputs: VTK files read back with pyvista and meshio, plots, summary.json, report.md, atomic folders."""

from __future__ import annotations

import json
import os

import jax.numpy as jnp
import meshio
import numpy as np
import pytest
import pyvista as pv

from thermo.fields import initial_state
from thermo.grid import Grid
from thermo.io import plots, report, summary as summary_io, vtk
from thermo.io.outdir import OutputExists, atomic_directory
from thermo.io.results import write_run
from thermo.problem import Fluid, block_cells, make_problem, open_geometry

NODES = (np.array([0.0, 0.5, 1.5, 3.0, 4.0]), np.array([0.0, 1.0, 2.0, 2.5]), np.array([0.0, 0.6, 2.0]))
RACK = ((1.5, 1.0, 0.0), (3.0, 2.0, 2.0))
DENSITY = 1.2


def _case(temperature_offset=0.0):
    """A non-uniform 4x3x2 grid with one solid block and analytic fields.

    u = x (m/s) on x-faces, v = 2 y, w = -z; T = 20 + x + 10 y + 100 z (degC) at
    centres; kinematic p = x y; one tracer = z.
    """
    grid = Grid(tuple(n.copy() for n in NODES))
    geometry = block_cells(open_geometry(grid), grid, *RACK)
    problem = make_problem(grid, Fluid(density=DENSITY), geometry=geometry, n_tracers=1)
    xc, yc, zc = np.meshgrid(*(np.asarray(grid.centres(a)) for a in range(3)), indexing="ij")
    faces = []
    for axis, scale in enumerate((1.0, 2.0, -1.0)):
        coords = [np.asarray(grid.centres(a)) for a in range(3)]
        coords[axis] = np.asarray(grid.nodes[axis])
        mesh = np.meshgrid(*coords, indexing="ij")
        faces.append(jnp.asarray(scale * mesh[axis], jnp.float32))
    state = initial_state(grid, 20.0, n_tracers=1).replace(
        velocity=tuple(faces),
        temperature=jnp.asarray(20.0 + xc + 10 * yc + 100 * zc + temperature_offset, jnp.float32),
        pressure=jnp.asarray(xc * yc, jnp.float32),
        tracers=jnp.asarray(zc[None], jnp.float32),
        eddy_viscosity=jnp.full(grid.shape, 1e-3, jnp.float32),
        time=jnp.asarray(12.5, jnp.float32),
    )
    return grid, problem, state, (xc, yc, zc)


EQUIPMENT = [
    {"name": "A01", "kind": "rack", "lower": RACK[0], "upper": RACK[1],
     "data": {"inlet_mean_C": 21.5, "inlet_max_C": 24.0, "power_kW": 8.0}},
    {"name": "CRAH-1", "kind": "cooler", "lower": (0.0, 0.0, 0.0), "upper": (0.5, 1.0, 2.0),
     "data": {"load_kW": 7.9}},
]


def _summary(grid):
    return {
        "scenario": "synthetic",
        "racks": [{"name": "A01", "inlet_mean_C": 21.5, "inlet_max_C": 24.0, "exhaust_C": 33.5, "power_kW": 8.0,
                   "flow_m3s": 0.55, "ashrae": {"class": "A1", "recommended": True, "allowable": True}}],
        "coolers": [{"name": "CRAH-1", "load_kW": 7.9, "supply_C": 18.0}],
        "tiles": [], "returns": [],
        "metrics": {"RCI_HI": 100.0, "RCI_LO": 100.0, "RTI": np.float32(95.0)},
        "energy_balance_pct": np.float64(0.05),
        "grid": {"cells": grid.cells, "shape": grid.shape},
        "solver": {"steps": 400, "seconds": 2.0, "compile_seconds": 1.0, "converged": True, "reason": "converged"},
    }


HISTORY = [{"step": 50 * k, "time": 1.0 * k, "rate_velocity": 1.0 / k ** 2, "rate_temperature": 0.5 / k,
            "poisson_iterations": 4.0, "monitor_change": 2.0 / k} for k in range(1, 12)]


def _vtk_index(grid, i, j, k):
    nx, ny, _ = grid.shape
    return i + nx * (j + ny * k)


def test_fields_vtr_round_trip_names_shapes_values(tmp_path):
    grid, problem, state, (xc, yc, zc) = _case()
    path = vtk.write_fields(tmp_path / "fields.vtr", grid, state, problem, ["ci_A01"])
    mesh = pv.read(path)
    assert isinstance(mesh, pv.RectilinearGrid)
    for axis, coords in enumerate((mesh.x, mesh.y, mesh.z)):
        np.testing.assert_allclose(coords, NODES[axis])
    assert mesh.n_cells == grid.cells
    assert set(mesh.cell_data.keys()) == {"velocity", "speed", "pressure", "temperature", "eddy_viscosity",
                                          "solid_fraction", "ci_A01"}
    assert mesh.cell_data["velocity"].shape == (grid.cells, 3)
    nx, ny, nz = grid.shape
    for i, j, k in [(0, 0, 0), (3, 2, 1), (1, 2, 0), (2, 0, 1)]:
        c = _vtk_index(grid, i, j, k)
        x, y, z = xc[i, j, k], yc[i, j, k], zc[i, j, k]
        # Face values are linear, so the centre average is exact.
        np.testing.assert_allclose(mesh.cell_data["velocity"][c], [x, 2 * y, -z], rtol=1e-6)
        assert mesh.cell_data["speed"][c] == pytest.approx(np.sqrt(x * x + 4 * y * y + z * z), rel=1e-6)
        assert mesh.cell_data["temperature"][c] == pytest.approx(20 + x + 10 * y + 100 * z, rel=1e-6)
        assert mesh.cell_data["pressure"][c] == pytest.approx(DENSITY * x * y, rel=1e-6)  # Pa
        assert mesh.cell_data["ci_A01"][c] == pytest.approx(z, rel=1e-6)
    # The block covers cells i = 2 (x 1.5-3), j = 1 (y 1-2), k = 0 and 60 % of k = 1 (z 0.6-2 up to 2).
    solid = mesh.cell_data["solid_fraction"].reshape((nx, ny, nz), order="F")
    expected = np.zeros((nx, ny, nz))
    expected[2, 1, :] = 1.0
    np.testing.assert_allclose(solid, expected, atol=1e-12)
    assert mesh.field_data["time_s"][0] == pytest.approx(12.5)


def test_tracer_names_must_match_state(tmp_path):
    grid, problem, state, _ = _case()
    with pytest.raises(ValueError, match="tracer"):
        vtk.write_fields(tmp_path / "f.vtr", grid, state, problem, [])
    with pytest.raises(ValueError, match="clashes"):
        vtk.write_fields(tmp_path / "f.vtr", grid, state, problem, ["temperature"])


def test_equipment_vtm_read_by_pyvista_and_blocks_by_meshio(tmp_path):
    path = vtk.write_equipment(tmp_path / "equipment.vtm", EQUIPMENT)
    blocks = pv.read(path)
    assert isinstance(blocks, pv.MultiBlock)
    assert list(blocks.keys()) == ["A01", "CRAH-1"]
    rack = blocks["A01"]
    np.testing.assert_allclose(rack.bounds, [1.5, 3.0, 1.0, 2.0, 0.0, 2.0])
    assert rack.n_cells == 6  # the six faces
    np.testing.assert_allclose(rack.cell_data["inlet_mean_C"], 21.5)
    assert rack.field_data["inlet_max_C"][0] == pytest.approx(24.0)
    assert "load_kW" not in rack.cell_data and blocks["CRAH-1"].cell_data["load_kW"][0] == pytest.approx(7.9)
    # Faces enclose the box: total area 2 (ab + bc + ca).
    assert rack.compute_cell_sizes(length=False, volume=False)["Area"].sum() == pytest.approx(2 * (1.5 + 3 + 2))
    block_files = sorted((tmp_path / "equipment").glob("*.vtu"))
    assert len(block_files) == 2
    mesh = meshio.read(block_files[0])
    assert mesh.cells[0].type == "quad" and len(mesh.cells[0].data) == 6
    values = [np.asarray(v).ravel()[0] for k, v in mesh.cell_data.items() if k == "inlet_mean_C"]
    assert values == [pytest.approx(21.5)]


def test_equipment_rejects_duplicate_names_and_bad_boxes(tmp_path):
    with pytest.raises(ValueError, match="twice"):
        vtk.write_equipment(tmp_path / "e.vtm", [EQUIPMENT[0], EQUIPMENT[0]])
    bad = dict(EQUIPMENT[0], lower=(1, 1, 1), upper=(0, 2, 2))
    with pytest.raises(ValueError, match="lower"):
        vtk.write_equipment(tmp_path / "e.vtm", [bad])


def test_pvd_series_lists_times_and_files(tmp_path):
    grid, problem, state, _ = _case()
    _, _, later, _ = _case(temperature_offset=5.0)
    pvd = vtk.write_transient(tmp_path, [(0.0, state), (30.0, later)], problem, ["ci"])
    reader = pv.get_reader(str(pvd))
    assert reader.time_values == [0.0, 30.0]
    reader.set_active_time_value(30.0)
    mesh = reader.read()[0]
    first = pv.read(tmp_path / "fields" / "fields_0000.vtr")
    np.testing.assert_allclose(mesh.cell_data["temperature"] - first.cell_data["temperature"], 5.0, rtol=1e-5)


def test_summary_is_strict_json_and_marks_status():
    grid = _case()[0]
    raw = _summary(grid)
    raw["metrics"]["SHI"] = float("nan")
    final = summary_io.finalize(raw, converged=False, reason="reached max_steps")
    text = json.dumps(final, allow_nan=False)  # raises on NaN/inf
    back = json.loads(text)
    assert back["converged"] is False and back["status"] == "not_converged"
    assert back["solver"]["converged"] is False
    assert back["metrics"]["SHI"] is None
    assert any("metrics.SHI" in w for w in back["warnings"])
    assert any("did not converge" in w for w in back["warnings"])
    assert back["grid"]["shape"] == list(grid.shape)
    assert summary_io.validate(back) == []
    broken = dict(back)
    del broken["racks"]
    broken["solver"] = {"steps": 1}
    problems = summary_io.validate(broken)
    assert "missing key 'racks'" in problems and any("seconds" in p for p in problems)


def test_plots_are_nonempty_pngs(tmp_path):
    grid, problem, state, _ = _case()
    files = [
        plots.plan_slice(tmp_path / "plan.png", grid, state, problem, 1.0, EQUIPMENT),
        plots.vertical_section(tmp_path / "section.png", grid, state, problem, 0, 2.0, EQUIPMENT),
        plots.rack_intakes(tmp_path / "racks.png", _summary(grid)["racks"], "A2"),
        plots.convergence(tmp_path / "conv.png", HISTORY),
        plots.intake_timeseries(tmp_path / "ts.png", [0, 10, 20], {"A01": [20, 25, 30]}, 32.0, 27.0,
                                [{"time_s": 5.0, "name": "CRAH-1 fails"}]),
    ]
    for path in files:
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", path
        assert len(data) > 5000, path
    with pytest.raises(ValueError, match="outside the domain"):
        plots.plan_slice(tmp_path / "x.png", grid, state, problem, 5.0)
    with pytest.raises(ValueError, match="ASHRAE class"):
        plots.ashrae_bands("A9")
    assert plots.ashrae_bands("A2") == ((18.0, 27.0), (10.0, 35.0))


def test_section_across_aisles_is_normal_to_the_rows():
    grid = _case()[0]
    racks = [{"kind": "rack", "lower": (x, 1.0, 0.0), "upper": (x + 0.6, 2.0, 2.0)} for x in (0.0, 0.6, 1.2)]
    axis, position = plots.section_across_aisles(racks, grid)
    assert axis == 0 and position == pytest.approx(0.9)
    rotated = [{"kind": "rack", "lower": (1.0, y, 0.0), "upper": (2.0, y + 0.6, 2.0)} for y in (0.0, 0.6)]
    assert plots.section_across_aisles(rotated, grid) == (1, pytest.approx(0.6))


def test_report_has_tables_and_images():
    grid = _case()[0]
    final = summary_io.finalize(_summary(grid), converged=True)
    text = report.render_report(final, {"Rack intake temperatures": "plots/rack_intakes.png"})
    assert "| A01 | 21.5 | 24.0 | 33.5 | 8.0 | 0.550 |" in text
    assert "| CRAH-1 | 7.90 | 18.00 |" in text
    assert "| RTI | 95.00 |" in text
    assert "![Rack intake temperatures](plots/rack_intakes.png)" in text
    assert "did not converge" not in text
    assert "nan" not in text.lower()


def _write(target, force=False, **overrides):
    grid, problem, state, _ = _case()
    kwargs = dict(problem=problem, state=state, summary=_summary(grid), history=HISTORY, equipment=EQUIPMENT,
                  tracer_names=["ci"], force=force)
    kwargs.update(overrides)
    return write_run(target, **kwargs)


def test_write_run_produces_the_documented_folder(tmp_path):
    out, final = _write(tmp_path / "run")
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    expected = {"summary.json", "report.md", "fields.vtr", "equipment.vtm", "plots/section.png",
                "plots/plan_z0.5m.png", "plots/plan_z1.0m.png", "plots/plan_z1.8m.png",
                "plots/rack_intakes.png", "plots/convergence.png"}
    assert expected <= names
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk == final and on_disk["status"] == "converged"
    assert set(on_disk["files"]) <= names
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no staging leftovers


def test_transient_folder_has_series_and_timeseries_plot(tmp_path):
    grid, problem, state, _ = _case()
    summary = _summary(grid)
    summary["transient"] = {"times_s": [0.0, 30.0], "rack_inlet_max_C": {"A01": [24.0, 29.0]},
                            "ride_through_s": {"A01": 55.0}, "events": [{"time_s": 0.0, "name": "fail"}]}
    out, final = _write(tmp_path / "tr", snapshots=[(0.0, state), (30.0, state)], summary=summary, history=())
    assert (out / "fields.pvd").is_file() and (out / "fields" / "fields_0001.vtr").is_file()
    assert (out / "plots" / "intake_timeseries.png").stat().st_size > 5000
    assert not (out / "plots" / "convergence.png").exists()
    assert pv.get_reader(str(out / "fields.pvd")).time_values == [0.0, 30.0]


def test_existing_folder_needs_force_and_failures_keep_the_old_one(tmp_path):
    target = tmp_path / "run"
    _write(target)
    (target / "marker").write_text("old")
    with pytest.raises(OutputExists, match="--force"):
        _write(target)
    assert (target / "marker").read_text() == "old"
    # A failure while writing (bad tracer names) with --force keeps the good folder untouched.
    with pytest.raises(ValueError):
        _write(target, force=True, tracer_names=[])
    assert (target / "marker").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    # --force replaces it completely.
    _write(target, force=True)
    assert not (target / "marker").exists() and (target / "summary.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_failed_first_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_directory(tmp_path / "new") as staging:
            (staging / "half.txt").write_text("x")
            raise RuntimeError("solver blew up")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputExists, match="not a folder"):
        with atomic_directory(tmp_path / "file", force=True):
            pass
    assert os.path.isfile(tmp_path / "file")


def test_flat_objects_are_one_quad_and_unsolved_tracers_are_left_out(tmp_path):
    tile = {"name": "T1", "kind": "tile", "lower": (1.0, 1.0, 0.0), "upper": (1.6, 2.2, 0.0),
            "data": {"flow_m3s": 0.4}}
    blocks = pv.read(vtk.write_equipment(tmp_path / "e.vtm", [tile, EQUIPMENT[0]]))
    assert blocks["T1"].n_cells == 1 and blocks["A01"].n_cells == 6
    assert blocks["T1"].compute_cell_sizes(length=False, volume=False)["Area"][0] == pytest.approx(0.72)
    grid, problem, state, _ = _case()
    unsolved = state.replace(tracers=jnp.full((1, *grid.shape), jnp.nan, jnp.float32))
    arrays = vtk.field_arrays(grid, unsolved, problem, ["ci"])
    assert "ci" not in arrays and "temperature" in arrays
    none = state.replace(tracers=jnp.zeros((0, *grid.shape), jnp.float32))
    assert "ci" not in vtk.field_arrays(grid, none, problem, ["ci"])


def test_transient_text_names_events_and_ride_through():
    transient = {"times_s": [0.0, 60.0], "ride_through_s": None, "ride_through_limit_C": 32.0,
                 "events": [{"time_s": 10.0, "cooler": "CRAH-E", "action": "fail"},
                            {"time_s": 20.0, "rack": "A01", "power_kW": 16.0}]}
    assert report.ride_through_text(transient) == ("no rack intake exceeded the allowable limit (32.0 C) "
                                                    "during the transient")
    transient["ride_through_s"] = 41.25
    assert report.ride_through_text(transient).startswith("ride-through time: 41.2 s")
    # with the crossing rack and the event it follows, the time is counted from the event
    transient.update(ride_through_rack="A12", ride_through_after_event_s=21.25,
                     ride_through_event={"time_s": 20.0, "rack": "A01", "power_kW": 16.0})
    assert report.ride_through_text(transient) == (
        "ride-through time: 21.2 s after rack A01 to 16.0 kW at 20.0 s: rack A12's intake exceeded the allowable "
        "limit (32.0 C) at t = 41.2 s")
    text = report.render_report({"scenario": "x", "transient": transient})
    assert "event at 10.0 s: cooler CRAH-E fail" in text and "event at 20.0 s: rack A01 to 16.0 kW" in text
