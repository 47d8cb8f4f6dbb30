"""Scenario loading, units, validation errors, grid generation and rasterization."""

from pathlib import Path

import numpy as np
import pytest
import yaml

import thermo.scene
from thermo.grid import Grid
from thermo.scene import ScenarioError
from thermo.scene.gridgen import generate_grid
from thermo.scene.rasterize import add_solid, box_cell_fraction, face_layer, overlap_1d
from thermo.scene.units import UnitError, parse_quantity

ROOT = Path(__file__).resolve().parents[1]
GEOMETRIES = sorted((ROOT / "geometries").glob("*.yaml"))


def small_dict():
    return yaml.safe_load((ROOT / "geometries" / "hall-small.yaml").read_text())


# ---------------------------------------------------------------- units

@pytest.mark.parametrize("text, kind, expected", [
    ("8 kW", "power", 8000.0), ("1200 cfm", "flow", 0.566337), ("65 degF", "temperature", 18.3333),
    ("291.15 K", "temperature", 18.0), ("20 degF", "temperature_difference", 11.1111),
    ("12 K", "temperature_difference", 12.0), ("24 in", "length", 0.6096), ("2 ft", "length", 0.6096),
    ("25 %", "fraction", 0.25), ("0.05 inH2O", "pressure", 12.4544), ("1 ton", "power", 3516.85),
    ("3600 m3/h", "flow", 1.0), ("500 L/s", "flow", 0.5), (2.5, "length", 2.5),
])
def test_units_convert_to_si(text, kind, expected):
    assert parse_quantity(text, kind) == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("text, kind, words", [
    ("8 m", "power", "length"), ("12 furlongs", "length", "unknown unit"), ("hot", "temperature", "cannot read"),
    ("5 delta_degC", "temperature", "difference"),
])
def test_unit_errors_are_readable(text, kind, words):
    with pytest.raises(UnitError, match=words):
        parse_quantity(text, kind)


# ---------------------------------------------------------------- loading

@pytest.mark.parametrize("path", GEOMETRIES, ids=[p.stem for p in GEOMETRIES])
def test_examples_load(path):
    scene = thermo.scene.load(path)
    assert scene.name == path.stem
    if scene.tanks:   # an immersion example: its heat is in the tanks
        assert len(scene.tanks) >= 1
    else:
        assert scene.counts()["racks"] >= (12 if path.stem.startswith("hall-") else 1)


def test_hall_small_is_the_benchmark_case():
    scene = thermo.scene.load(ROOT / "geometries" / "hall-small.yaml")
    assert scene.room_size == (9.6, 8.4, 3.0)
    names = [r.name for r in scene.racks]
    assert names == [f"A{i:02d}" for i in range(1, 7)] + [f"B{i:02d}" for i in range(1, 7)]
    a1 = scene.racks[0]
    assert a1.position == (3.0, 2.4, 0.0) and a1.size == (0.6, 1.2, 2.0) and a1.facing == "+y"
    assert scene.racks[6].position == (3.0, 4.8, 0.0) and scene.racks[6].facing == "-y"
    assert scene.racks[5].position[0] == pytest.approx(6.0)
    rack_flow = sum(scene.rack_flow(r) for r in scene.racks)
    assert rack_flow == pytest.approx(12 * 8000 / (1.19 * 1006 * 12), rel=1e-9)
    assert scene.tiles[0].flow == pytest.approx(1.0 * rack_flow, rel=1e-6)
    s08 = thermo.scene.load(ROOT / "geometries" / "hall-small-s08.yaml")
    assert s08.tiles[0].flow == pytest.approx(0.8 * rack_flow, rel=1e-6)


def test_raised_floor_example_has_mixed_density():
    scene = thermo.scene.load(ROOT / "geometries" / "hall-raised-floor.yaml")
    powers = [r.power for r in scene.racks]
    assert len(powers) >= 20 and min(powers) == 5000 and max(powers) == 30000
    assert scene.plenum_depth == 0.6 and len(scene.coolers) == 2


def mutate(change):
    raw = small_dict()
    change(raw)
    return raw


def expect_error(raw, obj, field, words=""):
    with pytest.raises(ScenarioError) as info:
        thermo.scene.from_dict(raw)
    err = info.value
    assert err.object == obj, str(err)
    assert err.field == field, str(err)
    assert str(err).startswith(f"{obj}: {field}: "), str(err)
    assert words in str(err), str(err)
    return err


def _rack(raw, **kw):
    rack = {"name": "X01", "position": [0.6, 0.6], "size": [0.6, 1.0, 2.0], "facing": "+y", "power": "8 kW",
            "airflow": {"design_rise": "12 K"}}
    rack.update(kw)
    raw["racks"] = [rack]
    return raw


def test_error_negative_power():
    err = expect_error(_rack(small_dict(), name="B03", power="-8 kW"), "rack B03", "power", ">= 0")
    assert "got '-8 kW'" in str(err)


def test_error_unknown_key_names_allowed_keys():
    err = expect_error(_rack(small_dict(), powr=3), "rack X01", "powr", "unknown key")
    assert "power" in str(err)


def test_error_wrong_unit_kind():
    expect_error(_rack(small_dict(), power="8 m"), "rack X01", "power", "length")


def test_solver_limiter_reaches_the_hall_and_design_numerics():
    import thermo.design
    import thermo.hall

    raw = mutate(lambda r: r.setdefault("solver", {}).update(limiter="smooth"))
    scene = thermo.scene.from_dict(raw)
    assert thermo.hall.build(scene, cell_size=0.6).numerics.limiter == "smooth"
    design = thermo.design.load(ROOT / "tests" / "data" / "design-tiny.yaml")
    assert design.model(np.float32).numerics_base.limiter == design.scene.solver.limiter
    expect_error(mutate(lambda r: r.setdefault("solver", {}).update(limiter="superbee")), "solver", "limiter",
                 "smooth")


def test_error_row_power_list_length():
    def change(raw):
        raw["rows"][0]["power"] = ["8 kW"] * 5
    expect_error(mutate(change), "row A", "power", "5 entries for 6 racks")


def test_error_rack_outside_room():
    expect_error(_rack(small_dict(), position=[9.5, 0.6]), "rack X01", "position", "outside the room")


def test_error_overlapping_racks():
    expect_error(_rack(small_dict(), position=[3.3, 2.0]), "rack A01", "position", "overlaps rack X01")


def test_error_airflow_needs_exactly_one_rule():
    expect_error(_rack(small_dict(), airflow={"design_rise": 12, "flow": 0.5}), "rack X01", "airflow",
                 "exactly one")


def test_error_tile_without_flow():
    def change(raw):
        del raw["tiles"][0]["flow"]
    expect_error(mutate(change), "tile cold-aisle", "flow", "required")


def test_error_flows_cannot_balance_without_returns():
    def change(raw):
        raw["returns"] = []
    expect_error(mutate(change), "tiles", "flow", "no return opening")


def test_error_duplicate_names():
    def change(raw):
        raw["racks"] = [{"name": "A01", "position": [0.3, 0.3], "size": [0.6, 1.0, 2.0], "facing": "+y",
                         "power": 1000, "airflow": {"flow": 0.1}}]
    expect_error(mutate(change), "rack A01", "name", "already used")


def test_error_event_refers_to_missing_cooler():
    raw = yaml.safe_load((ROOT / "geometries" / "hall-failure.yaml").read_text())
    raw["events"][0]["cooler"] = "CRAH-X"
    expect_error(raw, "event 1", "cooler", "no cooler named 'CRAH-X'")


def test_error_containment_leakage_zero():
    raw = yaml.safe_load((ROOT / "geometries" / "hall-contained.yaml").read_text())
    raw["containment"][0]["leakage"] = 0
    expect_error(raw, "containment CA-1", "leakage", "> 0")


def test_error_downflow_without_raised_floor():
    def change(raw):
        raw["coolers"] = [{"name": "C1", "type": "downflow", "position": [0.2, 0.2], "size": [0.9, 2.0, 1.9],
                           "flow": 5, "supply_temperature": 18}]
    expect_error(mutate(change), "cooler C1", "type", "raised-floor")


def test_error_missing_room():
    def change(raw):
        del raw["room"]
    expect_error(mutate(change), "scenario", "room", "required")


def test_error_bad_yaml(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nroom: [1, 2\n")
    with pytest.raises(ScenarioError, match="not valid YAML"):
        thermo.scene.load(path)


# ---------------------------------------------------------------- grid

def test_hall_small_grid_snaps_to_faces():
    scene = thermo.scene.load(ROOT / "geometries" / "hall-small.yaml")
    grid = generate_grid(scene)
    assert grid.shape == (96, 84, 30)
    coarse = generate_grid(scene, 0.45)
    for axis, faces in ((0, [3.0, 6.6]), (1, [2.4, 3.6, 4.8, 6.0, 1.2, 7.2]), (2, [2.0])):
        for f in faces:
            assert np.min(np.abs(np.asarray(coarse.nodes[axis]) - f)) < 1e-9


def test_grid_respects_max_cell_and_growth():
    raw = small_dict()
    raw["racks"] = [{"name": "thin", "position": [1.0, 0.5], "size": [0.05, 0.6, 1.0], "facing": "+y",
                     "power": 100, "airflow": {"flow": 0.01}}]
    raw["grid"] = {"max_cell": 0.4, "growth": 1.3}
    grid = generate_grid(thermo.scene.from_dict(raw))
    w = np.diff(np.asarray(grid.nodes[0]))
    assert w.max() <= 0.4 + 1e-9
    assert np.max(w[1:] / w[:-1]) < 1.3 * 1.15 and np.max(w[:-1] / w[1:]) < 1.3 * 1.15


# ---------------------------------------------------------------- rasterization

def test_overlap_fractions_are_exact_and_continuous():
    edges = np.array([0.0, 0.5, 1.0, 2.0])
    np.testing.assert_allclose(overlap_1d(edges, 0.25, 1.5), [0.5, 1.0, 0.5])
    grid = Grid((np.linspace(0, 1, 11), np.linspace(0, 1, 6), np.linspace(0, 1, 3)))
    volumes = np.asarray(grid.cell_volume())
    for shift in np.linspace(0.0, 0.3, 7):
        frac = box_cell_fraction(grid, (0.13 + shift, 0.2, 0.0), (0.52 + shift, 0.7, 0.6))
        assert np.sum(frac * volumes) == pytest.approx(0.39 * 0.5 * 0.6, rel=1e-12)


def test_solid_and_face_layer():
    grid = Grid((np.linspace(0, 2, 11), np.linspace(0, 2, 11), np.linspace(0, 1, 6)))
    fluid = np.ones(grid.shape)
    opens = [np.ones(grid.face_shape(a)) for a in range(3)]
    add_solid(fluid, opens, grid, (0.4, 0.4, 0.0), (1.0, 1.2, 0.8))
    assert fluid.sum() == pytest.approx(grid.cells - 3 * 4 * 4)
    assert opens[1][2:5, 6, 0:4].max() == 0.0 and opens[1][2:5, 7, 0:4].min() == 1.0
    cells, areas = face_layer(grid, 1, 1.2, +1, (0.4, 0.4, 0.0), (1.0, 1.2, 0.8))
    assert len(cells) == 12 and areas.sum() == pytest.approx(0.6 * 0.8)
    ijk = np.unravel_index(cells, grid.shape)
    assert set(ijk[1]) == {6}


def test_with_solver_replaces_settings_and_validates_them():
    scene = thermo.scene.load(ROOT / "geometries" / "hall-small.yaml")
    changed = scene.with_solver(turbulence="mixing_length", max_steps=500)
    assert changed.solver.turbulence == "mixing_length" and changed.solver.max_steps == 500
    assert scene.solver.turbulence == "zero_equation"          # the original is untouched
    assert changed.racks == scene.racks and changed.name == scene.name
    # every other setting survives the round trip through validation unchanged (units included)
    assert changed.solver.model_dump() == {**scene.solver.model_dump(), "turbulence": "mixing_length", "max_steps": 500}
    with pytest.raises(ScenarioError) as error:
        scene.with_solver(cfl=-1.0)
    assert error.value.object == "solver" and error.value.field == "cfl"


def test_implicit_pseudo_time_reaches_the_hall_and_is_checked():
    import thermo.hall

    scene = thermo.scene.from_dict(mutate(lambda r: r.setdefault("solver", {}).update(pseudo_time="implicit")))
    assert scene.solver.cfl == 5.0               # IMPLICIT_CFL when the file gives none
    numerics = thermo.hall.build(scene, cell_size=0.6).numerics
    assert (numerics.pseudo_time, numerics.cfl, numerics.local_time_step) == ("implicit", 5.0, 1.0)
    assert scene.with_solver(cfl=3.0).solver.cfl == 3.0
    expect_error(mutate(lambda r: r.setdefault("solver", {}).update(cfl=3)), "solver", "cfl", "pseudo_time: implicit")
    expect_error(mutate(lambda r: r.setdefault("solver", {}).update(pseudo_time="implicit", local_time_step=4)),
                 "solver", "local_time_step", "leave local_time_step out")


def test_a_switch_of_pseudo_time_drops_the_file_s_step_settings():
    """``--pseudo-time`` on the command line (``Scene.with_solver``) must not keep a Courant number
    or local steps that the file chose for the other scheme (bug: ``--pseudo-time implicit`` on a
    file with ``cfl: 0.3, local_time_step: 4`` was refused, and with ``cfl`` alone ran at 0.3)."""
    import thermo.hall

    explicit = thermo.scene.from_dict(mutate(lambda r: r.setdefault("solver", {}).update(cfl=0.3, local_time_step=4)))
    implicit = explicit.with_solver(pseudo_time="implicit")
    assert implicit.solver.cfl == 5.0
    numerics = thermo.hall.build(implicit, cell_size=0.6).numerics
    assert (numerics.pseudo_time, numerics.cfl, numerics.local_time_step) == ("implicit", 5.0, 1.0)
    assert explicit.with_solver(pseudo_time="implicit", cfl=2.0).solver.cfl == 2.0
    back = implicit.with_solver(cfl=8.0).with_solver(pseudo_time="explicit")
    assert (back.solver.cfl, back.solver.local_time_step) == (0.45, 10.0)
    # the same scheme again keeps the file's settings
    assert explicit.with_solver(pseudo_time="explicit").solver.cfl == 0.3
