"""Sensor probes: trilinear interpolation over fluid cells, the sensors CSV file, and
``thermo run --sensors`` (issue 23, part A)."""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import thermo.hall
import thermo.scene
from thermo import cli
from thermo.grid import Grid, stretched_nodes
from thermo.io.sensors import SensorError, compare, read_sensors
from thermo.probes import ProbeError, probe, probe_stencil

ROOT = Path(__file__).resolve().parents[1]
HALL_SMALL = ROOT / "geometries" / "hall-small.yaml"


def _stretched_grid():
    return Grid((stretched_nodes(9, 3.0, 1.3), stretched_nodes(7, 2.0, 1.25, origin=-0.5),
                 np.array([0.0, 0.1, 0.35, 0.8, 1.6, 2.5])))


def _linear(grid):
    centres = [np.asarray(grid.centres(a)) for a in range(3)]
    x, y, z = np.meshgrid(*centres, indexing="ij")
    return 20.0 + 1.5 * x - 0.7 * y + 2.3 * z, lambda p: 20.0 + 1.5 * p[..., 0] - 0.7 * p[..., 1] + 2.3 * p[..., 2]


def test_probe_is_exact_for_a_linear_field_on_a_stretched_grid(x64):
    grid = _stretched_grid()
    field, exact = _linear(grid)
    centres = [np.asarray(grid.centres(a)) for a in range(3)]
    rng = np.random.default_rng(3)
    points = np.stack([rng.uniform(c[0], c[-1], 40) for c in centres], axis=1)
    points[:3] = [[c[0] for c in centres], [c[-1] for c in centres], [c[4 % len(c)] for c in centres]]
    stencil = probe_stencil(grid, points)
    np.testing.assert_allclose(np.asarray(probe(stencil, jnp.asarray(field))), exact(points), rtol=0, atol=1e-10)
    assert np.allclose(stencil.weights.sum(axis=1), 1.0)


def test_probe_clamps_to_the_first_and_last_centres_next_to_walls(x64):
    grid = _stretched_grid()
    field, exact = _linear(grid)
    lo, hi = grid.extent
    centres = [np.asarray(grid.centres(a)) for a in range(3)]
    inside = np.array([1.4, 0.3, 1.0])
    corner = np.array([lo[0], hi[1], lo[2]])                     # on three walls at once
    clamped = np.array([centres[0][0], centres[1][-1], centres[2][0]])
    points = np.array([corner, [lo[0], inside[1], inside[2]], [inside[0], inside[1], hi[2]]])
    expected = np.array([exact(clamped), exact(np.array([centres[0][0], inside[1], inside[2]])),
                         exact(np.array([inside[0], inside[1], centres[2][-1]]))])
    values = np.asarray(probe(probe_stencil(grid, points), jnp.asarray(field)))
    np.testing.assert_allclose(values, expected, atol=1e-10)
    assert not np.isclose(values[0], exact(corner))              # no extrapolation beyond the centres


def test_probe_reads_fluid_cells_only_and_its_gradient_is_the_weights(x64):
    grid = _stretched_grid()
    field, _ = _linear(grid)
    fluid = np.ones(grid.shape)
    point = np.array([[1.45, 0.35, 0.9]])
    plain = probe_stencil(grid, point)
    solid_cell = np.unravel_index(plain.cells[0, np.argmax(plain.weights[0])], grid.shape)
    fluid[solid_cell] = 0.0
    stencil = probe_stencil(grid, point, fluid)
    polluted = field.copy()
    polluted[solid_cell] = 1e6                                    # what a solid cell may hold
    value = float(probe(stencil, jnp.asarray(polluted))[0])
    corners = polluted.reshape(-1)[stencil.cells[0]][stencil.weights[0] > 0]
    assert corners.min() <= value <= corners.max() < 1e5
    assert np.isclose(stencil.weights.sum(), 1.0) and stencil.weights[0, np.argmax(plain.weights[0])] == 0.0
    gradient = jax.grad(lambda t: probe(stencil, t)[0])(jnp.asarray(field))
    expected = np.zeros(grid.cells)
    np.add.at(expected, stencil.cells[0], stencil.weights[0])
    np.testing.assert_allclose(np.asarray(gradient).reshape(-1), expected, atol=1e-12)


def test_probe_refuses_points_outside_the_grid_or_inside_solids():
    grid = _stretched_grid()
    with pytest.raises(ProbeError, match="point 2 .* outside the grid along z"):
        probe_stencil(grid, [[1.0, 0.0, 1.0], [1.0, 0.0, 2.6]])
    with pytest.raises(ProbeError, match="no fluid cell"):
        probe_stencil(grid, [[1.0, 0.0, 1.0]], np.zeros(grid.shape))


# --------------------------------------------------------------------------------
# the sensors file
# --------------------------------------------------------------------------------

GOOD = """name,x,y,z,temperature_C,weight
# three heights on the front of A02 (the cold aisle is y 3.6..4.8)
A02-low,3.9,3.6,0.15,19.2,1
A02-mid,3.9,3.6,1.0,19.8,2

A02-top,3.9,3.6,1.75,21.4,
plenum-free,1.0,1.0,2.9,24.0,0.5
"""


def _file(tmp_path, text, name="sensors.csv"):
    path = tmp_path / name
    (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    return path


def test_sensors_file_reads_names_points_readings_and_weights(tmp_path):
    scene = thermo.scene.load(HALL_SMALL)
    sensors = read_sensors(_file(tmp_path, GOOD), scene)
    assert [s.name for s in sensors] == ["A02-low", "A02-mid", "A02-top", "plenum-free"]
    assert sensors[1].point == (3.9, 3.6, 1.0) and sensors[1].temperature_C == 19.8 and sensors[1].weight == 2.0
    assert sensors[2].weight == 1.0 and sensors[3].weight == 0.5        # an empty weight is the default
    assert [s.row for s in sensors] == [3, 4, 6, 7]                      # file line numbers


@pytest.mark.parametrize("text, message", [
    ("x,y,z,temperature_C\n1,1,1,20\n", "row 1: header: missing column name"),
    ("name,x,y,temperature_C\nS,1,1,20\n", "row 1: header: missing column z"),
    ("name,x,y,z,temperature_C,unit\nS,1,1,1,20,C\n", "row 1: header: unknown column 'unit'"),
    ("name,x,y,z,temperature_C,x\nS,1,1,1,20,1\n", "row 1: header: column 'x' appears twice"),
    ("S1,1.0,1.0,1.0,20.0\n", "row 1: header: the first line must name the columns"),
    ("name,x,y,z,temperature_C\nS,1,one,1,20\n", "row 2: y: not a number (got 'one')"),
    ("name,x,y,z,temperature_C\nS,1,1,1,nan\n", "row 2: temperature_C: must be a finite number (got 'nan')"),
    ("name,x,y,z,temperature_C\nS,inf,1,1,20\n", "row 2: x: must be a finite number (got 'inf')"),
    ("name,x,y,z,temperature_C\nS,1,1,1,20\nT,1,2,1,20\nS,2,2,1,21\n", "row 4: name: duplicate of row 2 (got 'S')"),
    ("name,x,y,z,temperature_C\nS,1,1,1,-300\n", "row 2: temperature_C: below absolute zero"),
    ("name,x,y,z,temperature_C\nS,1,1,1,295.15\n", "row 2: temperature_C: outside -50..150 C"),
    ("name,x,y,z,temperature_C,weight\nS,1,1,1,20,0\n", "row 2: weight: must be > 0 (got 0)"),
    ("name,x,y,z,temperature_C\nS,1,1,1\n", "row 2: 4 values where the header has 5 columns"),
    ("name,x,y,z,temperature_C\n,1,1,1,20\n", "row 2: name: must not be empty"),
    ("", "the file is empty"),
    ("name,x,y,z,temperature_C\n", "a header but no sensor lines"),
])
def test_bad_sensors_files_name_row_and_column(tmp_path, text, message):
    path = _file(tmp_path, text)
    with pytest.raises(SensorError) as error:
        read_sensors(path)
    assert str(error.value).startswith(f"sensors {path}: ")
    assert message in str(error.value)


def test_binary_and_non_utf8_sensors_files_are_one_line_errors(tmp_path):
    for data, what in ((b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary"), (b"name,x\n\xff\xfe,1\n", "not UTF-8")):
        with pytest.raises(SensorError) as error:
            read_sensors(_file(tmp_path, data))
        assert what in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(SensorError, match="cannot read the file"):
        read_sensors(tmp_path / "missing.csv")


@pytest.mark.parametrize("row, message", [
    ("S,10.0,1,1,20", "row 2: x: outside the room, 0..9.6 m (got 10)"),
    ("S,1,1,-0.1,20", "row 2: z: outside the room, 0..3 m (got -0.1)"),
    ("S,3.3,3.0,1.0,20", "row 2: x, y, z: inside rack A01, which occupies (3, 2.4, 0)..(3.6, 3.6, 2) m"),
])
def test_sensors_outside_the_room_or_inside_a_rack_are_errors(tmp_path, row, message):
    scene = thermo.scene.load(HALL_SMALL)
    with pytest.raises(SensorError) as error:
        read_sensors(_file(tmp_path, "name,x,y,z,temperature_C\n" + row + "\n"), scene)
    assert message in str(error.value)


def test_sensors_in_a_raised_floor_plenum_are_in_the_room(tmp_path):
    scene = thermo.scene.load(ROOT / "geometries" / "hall-raised-floor.yaml")
    depth = scene.plenum_depth
    sensors = read_sensors(_file(tmp_path, f"name,x,y,z,temperature_C\nP,1,1,{-depth / 2},17\n"), scene)
    assert sensors[0].z == -depth / 2
    with pytest.raises(SensorError, match="z: outside the room and its plenums"):
        read_sensors(_file(tmp_path, f"name,x,y,z,temperature_C\nP,1,1,{-depth - 0.1},17\n"), scene)


# --------------------------------------------------------------------------------
# readings of a solution
# --------------------------------------------------------------------------------

def test_compare_reads_the_solution_at_the_sensors(tmp_path):
    scene = thermo.scene.load(HALL_SMALL)
    model = thermo.hall.build(scene, cell_size=0.6)
    result = thermo.hall.solve(model, max_steps=60, capture_index=False)
    centres = [np.asarray(model.grid.centres(a)) for a in range(3)]
    i, j, k = 4, 7, 2                                         # a fluid cell in the cold aisle
    assert float(np.asarray(model.problem.geometry.fluid)[i, j, k]) == 1.0
    text = (f"name,x,y,z,temperature_C\ncentre,{centres[0][i]:.17g},{centres[1][j]:.17g},{centres[2][k]:.17g},25\n"
            "A02-front,3.9,3.6,1.0,19\n")
    sensors = read_sensors(_file(tmp_path, text), scene)
    out = compare(model, result.state, sensors, "sensors.csv")
    temperature = np.asarray(result.state.temperature, float)
    assert out["sensors"][0]["temperature_C"] == pytest.approx(temperature[i, j, k], abs=1e-5)
    for row in out["sensors"]:
        assert row["error_K"] == pytest.approx(row["temperature_C"] - row["measured_C"])
        assert set(row) >= {"name", "x", "y", "z", "temperature_C", "measured_C", "error_K"}
    errors = [abs(r["error_K"]) for r in out["sensors"]]
    stats = out["sensor_errors"]
    assert stats["count"] == 2 and stats["mean_abs_K"] == pytest.approx(np.mean(errors))
    assert stats["max_abs_K"] == pytest.approx(max(errors)) and stats["file"] == "sensors.csv"


def test_run_with_the_scenarios_sensors_file_reports_them(tmp_path, capsys):
    (tmp_path / "readings").mkdir()
    _file(tmp_path / "readings", GOOD)
    scenario = tmp_path / "hall.yaml"
    scenario.write_text(HALL_SMALL.read_text() + "\nsensors: readings/sensors.csv\n")
    out = tmp_path / "run"
    assert cli.main(["run", str(scenario), "--cell", "0.6", "--max-steps", "60", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Sensors" in text and "A02-mid" in text and "mean-abs error" in text
    summary = json.loads((out / "summary.json").read_text())
    assert [s["name"] for s in summary["sensors"]] == ["A02-low", "A02-mid", "A02-top", "plenum-free"]
    for s in summary["sensors"]:
        assert 17.0 < s["temperature_C"] < 60.0
        assert s["error_K"] == pytest.approx(s["temperature_C"] - s["measured_C"])
    assert summary["sensor_errors"]["count"] == 4
    report = (out / "report.md").read_text()
    assert "## Sensors" in report and "| A02-top |" in report and "Mean-abs error" in report


def test_run_with_a_bad_sensors_file_stops_before_solving(tmp_path, capsys):
    bad = _file(tmp_path, "name,x,y,z,temperature_C\nS,3.3,3.0,1.0,20\n")
    out = tmp_path / "run"
    assert cli.main(["run", str(HALL_SMALL), "--cell", "0.6", "--sensors", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"error: sensors {bad}: row 2: x, y, z: inside rack A01" in err and "Traceback" not in err
    assert not out.exists()


def test_check_validates_the_scenarios_sensors_file(tmp_path, capsys):
    _file(tmp_path, GOOD)
    scenario = tmp_path / "hall.yaml"
    scenario.write_text(HALL_SMALL.read_text() + "\nsensors: sensors.csv\n")
    assert cli.main(["check", str(scenario), "--cell", "0.6"]) == 0
    assert "sensors" in capsys.readouterr().out
    _file(tmp_path, "name,x,y,z,temperature_C\nS,1,1,1,20\nS,1,2,1,20\n")
    assert cli.main(["check", str(scenario), "--cell", "0.6"]) == 2
    assert "row 3: name: duplicate of row 2" in capsys.readouterr().err
