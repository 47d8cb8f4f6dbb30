"""``thermo bench --case/--racks`` and the generated large hall."""

import json
import re

import numpy as np
import pytest

from thermo import cli
from thermo.bench_hall import case_names
from thermo.scene import from_dict
from thermo.scene.generate import generated_hall
from thermo.scene.gridgen import generate_grid


def test_generated_hall_of_200_racks_is_valid_and_large():
    scene = from_dict(generated_hall(200))
    counts = scene.counts()
    assert counts["racks"] == 200 and counts["tiles"] > 0 and counts["coolers"] >= 2 and counts["returns"] > 0
    rack_flow = sum(scene.rack_flow(r) for r in scene.racks)
    cooler_flow = sum(c.flow for c in scene.coolers)
    assert 1.0 < cooler_flow / rack_flow < 1.5, f"CRAH airflow {cooler_flow:.1f} m3/s for racks' {rack_flow:.1f}"
    assert generate_grid(scene, 0.05).cells >= 20_000_000
    assert np.isclose(sum(r.power for r in scene.racks), 200 * 8.667e3, rtol=0.01)


def test_generated_hall_keeps_the_count_with_a_partial_last_row():
    scene = from_dict(generated_hall(30, per_row=8))
    assert len(scene.racks) == 30
    with pytest.raises(ValueError, match="racks and per_row must be at least 1"):
        generated_hall(0)


def test_bench_unknown_case_names_the_cases(capsys):
    assert cli.main(["bench", "--case", "no-such-hall"]) == 2
    err = capsys.readouterr().err
    assert "--case 'no-such-hall'" in err and "hall-small" in err and "Traceback" not in err
    assert "hall-small" in case_names()


def test_bench_refuses_a_generated_hall_too_large_for_memory(capsys, monkeypatch):
    monkeypatch.setattr(cli, "available_memory_bytes", lambda device: 4 * 1024 ** 3)
    assert cli.main(["bench", "--racks", "200", "--cell", "0.05"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert re.search(r"case generated-200-racks at --cell 0.05 is \d+ x \d+ x \d+ = [\d,]+ cells", err), err


@pytest.mark.slow
def test_bench_case_records_time_to_steady_state(tmp_path):
    path = tmp_path / "b.json"
    assert cli.main(["bench", "--case", "hall-small", "--cell", "0.6", "--max-steps", "350",
                     "--json", str(path)]) == 0
    (record,) = json.loads(path.read_text())
    assert record["case"] == "hall-small" and record["steps"] == 350 and record["coarse_steps"] == 0
    assert record["solve_s"] > 0 and record["compile_s"] > 0 and record["mcell_steps_per_s"] > 0
    assert 300 < record["step_bytes_per_cell"] < 1000 and record["poisson_iters"] >= 1


def test_generated_hall_prints_as_yaml_that_loads(capsys):
    from thermo.scene import loads
    from thermo.scene.generate import main

    main(["30", "--per-row", "8", "--cell", "0.3"])
    scene = loads(capsys.readouterr().out)
    assert len(scene.racks) == 30 and scene.grid.max_cell == 0.3
