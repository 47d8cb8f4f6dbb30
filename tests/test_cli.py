"""The ``thermo`` command line, called in-process through ``thermo.cli.main``."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import jax
import pytest

from thermo import cli

ROOT = Path(__file__).resolve().parents[1]
HALL_SMALL = ROOT / "geometries" / "hall-small.yaml"


def _has_gpu():
    try:
        return bool(jax.devices("gpu"))
    except RuntimeError:
        return False


def test_bench_tiny_size_writes_consistent_records(tmp_path, capsys):
    out = tmp_path / "b" / "bench.json"
    rc = cli.main(["bench", "--sizes", "6", "--steps", "3", "--repeats", "2", "--json", str(out)])
    assert rc == 0
    records = json.loads(out.read_text())
    assert isinstance(records, list) and len(records) == 1
    r = records[0]
    for key in ("n", "cells", "device", "precision", "compile_s", "step_s", "mcell_steps_per_s",
                "poisson_iters", "peak_mem_mb"):
        assert key in r, key
    assert r["n"] == 6 and r["cells"] == 216 and r["precision"] == "f32" and r["device"] == "cpu"
    assert 0 < r["step_s_min"] <= r["step_s"] < r["compile_s"]
    assert r["cpu_s_per_step"] > 0
    assert r["mcell_steps_per_s"] == pytest.approx(216 / r["step_s"] / 1e6)
    assert 1 <= r["poisson_iters"] <= 60  # the Poisson cap of the bench numerics
    assert r["peak_mem_mb"] >= 0 and math.isfinite(r["peak_mem_mb"])
    text = capsys.readouterr().out
    assert "Mcell-steps/s" in text and "216" in text
    assert jax.config.jax_enable_x64 is False  # main() leaves JAX as it found it


def test_bench_rejects_bad_sizes(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["bench", "--sizes", "0"])
    assert info.value.code == 2
    assert "at least 1" in capsys.readouterr().err


@pytest.mark.skipif(_has_gpu(), reason="this machine has a GPU")
def test_gpu_request_without_gpu_is_a_clear_error(capsys):
    rc = cli.main(["bench", "--sizes", "4", "--device", "gpu"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "error: --device gpu: no GPU" in err and "Traceback" not in err


def test_memory_check_names_the_bytes_needed():
    device = jax.devices("cpu")[0]
    free = cli.available_memory_bytes(device)
    assert free is not None and free > 0
    with pytest.raises(cli.UserError, match=rf"needs about {10 * free} bytes"):
        cli.check_memory(10 * free, device)
    assert cli.check_memory(1, device) == pytest.approx(free, rel=0.5)


def test_numbers_never_display_as_nan():
    assert cli._fmt(float("nan")) == "n/a" and cli._fmt(None) == "n/a" and cli._fmt(float("inf")) == "n/a"
    assert cli._fmt(21.456, 1) == "21.5"


def test_missing_scenario_file_exit_2(tmp_path, capsys):
    pytest.importorskip("thermo.scene")
    rc = cli.main(["check", str(tmp_path / "nope.yaml")])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "does not exist" in err and "Traceback" not in err


def test_bad_scenario_exit_2_names_object_and_field(tmp_path, capsys):
    pytest.importorskip("thermo.scene")
    text = HALL_SMALL.read_text().replace("power: 8 kW", "power: -8 kW", 1)
    assert text != HALL_SMALL.read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    rc = cli.main(["run", str(bad), "--out", str(tmp_path / "out")])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "power" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_existing_output_needs_force(tmp_path, capsys):
    pytest.importorskip("thermo.scene")
    (tmp_path / "out").mkdir()
    rc = cli.main(["run", str(HALL_SMALL), "--out", str(tmp_path / "out"), "--cell", "0.6"])
    assert rc == 2
    assert "already exists; use --force" in capsys.readouterr().err




def test_check_prints_counts_grid_and_memory(capsys):
    rc = cli.main(["check", str(HALL_SMALL), "--cell", "0.6"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "racks" in out and "12" in out
    assert re.search(r"grid shape\s*\S*\s*16 x 14 x \d+", out)  # 9.6 x 8.4 m at 0.6 m
    assert "memory estimate" in out and "bytes" in out


def test_run_end_to_end_writes_the_output_folder(tmp_path, capsys):
    out = tmp_path / "hs"
    rc = cli.main(["run", str(HALL_SMALL), "--cell", "0.6", "--max-steps", "60", "--out", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "A01" in text and "B06" in text and "RCI_HI" in text
    assert "did not converge" in text  # 60 steps cannot settle the hall
    assert "nan" not in text.lower()
    summary = json.loads((out / "summary.json").read_text())
    from thermo.io.summary import validate

    assert validate(summary) == []
    assert summary["converged"] is False and summary["status"] == "not_converged"
    assert [r["name"] for r in summary["racks"]] == [f"{row}{i:02d}" for row in "AB" for i in range(1, 7)]
    for rack in summary["racks"]:
        assert 17.0 < rack["inlet_mean_C"] <= rack["inlet_max_C"] < 60.0
    import pyvista as pv

    fields = pv.read(out / "fields.vtr")
    assert fields.n_cells == summary["grid"]["cells"] == math.prod(summary["grid"]["shape"])
    assert {"velocity", "temperature", "pressure", "solid_fraction"} <= set(fields.cell_data.keys())
    # 12 racks of 0.6 x 1.2 x 2.0 m: solid volume 17.28 m^3
    volumes = fields.compute_cell_sizes(length=False, area=False)["Volume"]
    assert float((fields.cell_data["solid_fraction"] * volumes).sum()) == pytest.approx(17.28, rel=1e-3)
    equipment = pv.read(out / "equipment.vtm")
    a01 = equipment["A01"]
    assert a01.field_data["inlet_max_C"][0] == pytest.approx(summary["racks"][0]["inlet_max_C"], rel=1e-6)
    assert (out / "plots" / "rack_intakes.png").stat().st_size > 5000
    assert "| A01 |" in (out / "report.md").read_text()
    # a second run into the same folder is refused, with --force it replaces it
    assert cli.main(["run", str(HALL_SMALL), "--cell", "0.6", "--max-steps", "50", "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err


def test_transient_run_writes_series(tmp_path, capsys):
    text = HALL_SMALL.read_text() + ("\ntransient: {end_time: 30 s, report_every: 10 s}\n"
                                     "events:\n  - {time: 0.5 s, rack: A01, power: 16 kW}\n")
    scenario = tmp_path / "step.yaml"
    scenario.write_text(text)
    out = tmp_path / "tr"
    # the steady start marches with implicit steps; the transient itself stays explicit
    rc = cli.main(["run", str(scenario), "--cell", "0.6", "--transient", "1.0", "--report-every", "0.5",
                   "--max-steps", "60", "--pseudo-time", "implicit", "--out", str(out)])
    assert rc == 0, capsys.readouterr()
    text = capsys.readouterr().out
    assert "no rack intake exceeded the allowable limit" in text and "did not converge" in text
    summary = json.loads((out / "summary.json").read_text())
    times = summary["transient"]["times_s"]
    assert times[0] == 0.0 and times[-1] == pytest.approx(1.0) and len(times) == 3
    assert summary["status"] == "not_converged" and summary["solver"]["reason"].startswith("steady start")
    assert (summary["solver"]["pseudo_time"], summary["solver"]["cfl"]) == ("explicit", 0.45)
    assert summary["solver"]["steady_start_pseudo_time"] == "implicit"
    assert set(summary["transient"]["rack_inlet_max_C"]) == {r["name"] for r in summary["racks"]}
    import pyvista as pv

    reader = pv.get_reader(str(out / "fields.pvd"))
    assert reader.time_values == pytest.approx(times)
    assert (out / "plots" / "intake_timeseries.png").stat().st_size > 5000


def test_divergence_exits_3_and_writes_nothing(tmp_path, capsys, monkeypatch):
    import thermo.hall
    from thermo.solve import SolverDiverged

    def blow_up(model, progress=None, max_steps=None, **options):
        raise SolverDiverged("solution diverged (non-finite values) by step 40, t = 3 s")

    monkeypatch.setattr(thermo.hall, "solve", blow_up)
    out = tmp_path / "out"
    rc = cli.main(["run", str(HALL_SMALL), "--cell", "0.6", "--out", str(out)])
    assert rc == 3
    captured = capsys.readouterr()
    text = captured.err      # an error: on stderr, as every other error (issue 21)
    assert "diverged" in text and "No output was written" in text and "diverged" not in captured.out
    assert list(tmp_path.iterdir()) == []


def test_turbulence_flag_replaces_the_scenarios_model(tmp_path, capsys, monkeypatch):
    import thermo.hall
    from thermo.solve import SolverDiverged

    used = []

    def capture(model, progress=None, max_steps=None, **options):
        used.append((model.scene.solver.turbulence, model.numerics.turbulence))
        raise SolverDiverged("stopped by the test before any step")

    monkeypatch.setattr(thermo.hall, "solve", capture)
    out = tmp_path / "out"
    assert cli.main(["run", str(HALL_SMALL), "--cell", "0.6", "--turbulence", "mixing_length", "--out", str(out)]) == 3
    assert cli.main(["run", str(HALL_SMALL), "--cell", "0.6", "--out", str(out)]) == 3
    assert used == [("mixing_length", "mixing_length"), ("zero_equation", "zero_equation")]
    capsys.readouterr()
    with pytest.raises(SystemExit):
        cli.main(["run", str(HALL_SMALL), "--turbulence", "k_epsilon"])
    assert "k_epsilon" in capsys.readouterr().err


def test_pseudo_time_flags_reach_the_numerics(tmp_path, capsys, monkeypatch):
    import thermo.hall
    from thermo.solve import SolverDiverged

    used = []

    def capture(model, progress=None, max_steps=None, **options):
        used.append((model.numerics.pseudo_time, model.numerics.cfl, model.numerics.local_time_step))
        raise SolverDiverged("stopped by the test before any step")

    monkeypatch.setattr(thermo.hall, "solve", capture)
    out = tmp_path / "out"
    base = ["run", str(HALL_SMALL), "--cell", "0.6", "--out", str(out)]
    assert cli.main([*base, "--pseudo-time", "implicit"]) == 3
    assert cli.main([*base, "--pseudo-time", "implicit", "--cfl", "3"]) == 3
    assert used == [("implicit", 5.0, 1.0), ("implicit", 3.0, 1.0)]
    capsys.readouterr()
    assert cli.main([*base, "--cfl", "3"]) == 2          # explicit above 1: a scenario error, no traceback
    assert "solver: cfl" in capsys.readouterr().err


def test_coarse_correction_flag_reaches_the_scene_and_refuses_a_mesh(tmp_path, capsys, monkeypatch):
    import thermo.hall
    from thermo.solve import SolverDiverged

    used = []

    def capture(model, progress=None, max_steps=None, **options):
        used.append(model.scene.solver.coarse_correction)
        raise SolverDiverged("stopped by the test before any step")

    monkeypatch.setattr(thermo.hall, "solve", capture)
    base = ["run", str(HALL_SMALL), "--cell", "0.6", "--out", str(tmp_path / "out")]
    assert cli.main([*base, "--coarse-correction"]) == 3
    assert cli.main([*base, "--no-coarse-correction"]) == 3
    assert used == [True, False]
    capsys.readouterr()
    assert cli.main([*base, "--coarse-correction", "--devices", "2"]) == 2
    assert "coarse_correction runs on one device" in capsys.readouterr().err


def test_check_f64_doubles_the_memory_estimate_and_restores_x64(capsys):
    def estimate(precision):
        assert cli.main(["check", str(HALL_SMALL), "--cell", "0.6", "--precision", precision]) == 0
        match = re.search(r"memory estimate\s*\S*\s*([\d,]+) bytes", capsys.readouterr().out)
        return int(match.group(1).replace(",", ""))

    f32, f64 = estimate("f32"), estimate("f64")
    assert f64 > f32
    assert jax.config.jax_enable_x64 is False


def test_check_refuses_a_grid_larger_than_memory(capsys, monkeypatch):
    monkeypatch.setattr(cli, "available_memory_bytes", lambda device: 1000)
    rc = cli.main(["check", str(HALL_SMALL), "--cell", "0.6"])
    assert rc == 2
    err = capsys.readouterr().err
    assert re.search(r"error: the grid needs about \d+ bytes .* has 1000 bytes", err)


def test_result_tables_show_racks_coolers_and_never_nan():
    import io

    from rich.console import Console

    buffer = io.StringIO()
    summary = {"scenario": "s", "racks": [{"name": "A01", "inlet_mean_C": 21.04, "inlet_max_C": None,
                                           "exhaust_C": float("nan"),
                                           "ashrae": {"class": "A2", "recommended": False, "allowable": True}}],
               "coolers": [{"name": "CRAH-1", "supply_C": 18.0, "return_C": 29.96, "flow_m3s": 4.0, "load_kW": 57.3,
                            "utilization": 0.57, "running": False}],
               "metrics": {"RCI_HI": 97.5, "racks_outside_recommended": 1}, "energy_balance_pct": 0.012}
    cli.print_results(summary, Console(file=buffer, width=200))
    text = buffer.getvalue()
    assert re.search(r"A01\s*│\s*21\.0\s*│\s*n/a\s*│\s*n/a\s*│\s*A2 outside recommended", text)
    assert re.search(r"CRAH-1\s*│\s*18\.0\s*│\s*30\.0\s*│\s*4\.00\s*│\s*57\.3\s*│\s*0\.57\s*│\s*no", text)
    assert re.search(r"racks_outside_recommended\s*│\s*1\s", text) and "0.01" in text
    assert "nan" not in text.lower()


STUDY_B = ROOT / "docs" / "studies" / "small-s08-workload-smooth.yaml"


def test_gradient_memory_is_checked_apart_from_the_forward_solve():
    from thermo import memory

    cells, device = 10_000, jax.devices("cpu")[0]
    forward, backward = memory.estimate_bytes(cells), memory.estimate_gradient_bytes(cells)
    assert backward - memory.FIXED_BYTES == pytest.approx(cells * memory.GRADIENT_BYTES_PER_CELL_F32)
    assert memory.estimate_gradient_bytes(cells, 8) - memory.FIXED_BYTES == pytest.approx(
        2 * (backward - memory.FIXED_BYTES))
    between = (forward + backward) // 2
    assert memory.check_fits((100, 10, 10), 4, device, free=between) == forward
    with pytest.raises(memory.GridTooLarge, match="backward pass of a design gradient.*finite_difference"):
        memory.check_fits((100, 10, 10), 4, device, free=between, gradient=True)


def test_check_reports_and_refuses_the_memory_of_an_adjoint_study(capsys, monkeypatch):
    assert cli.main(["check", str(STUDY_B), "--cell", "0.6"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"optimize \(adjoint, f64, 16 x 14 x \d+\)\s*│\s*[\d,]+ bytes .* for the adjoint gradient", out)
    # enough for the forward solve (490 B/cell in f32) but not for the f64 backward pass (8,000 B/cell)
    from thermo import memory

    monkeypatch.setattr(cli, "available_memory_bytes", lambda device: memory.FIXED_BYTES + 1344 * 2000)
    assert cli.main(["check", str(STUDY_B), "--cell", "0.6"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "optimize: the grid needs about" in err and "backward pass of a design gradient" in err


def test_bench_records_with_a_missing_quantity_are_written_as_strict_json(tmp_path):
    """A Newton solve has no Poisson iterations per step (NaN): the --json file says null, not NaN."""
    import json as _json
    from thermo.cli import _console, _write_json

    target = tmp_path / "records.json"
    _write_json([{"case": "x", "poisson_iters": float("nan"), "steps": 3}], target, _console())
    assert _json.loads(target.read_text()) == [{"case": "x", "poisson_iters": None, "steps": 3}]
