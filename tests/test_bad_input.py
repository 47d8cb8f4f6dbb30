"""Bad input, table-driven (issue 21): malformed scenarios and command lines.

Every case goes through the command line in-process (``thermo.cli.main``) and asserts the
exit code, that the one ``error:`` line names the object and the field (``OBJECT: FIELD:
what is wrong``), that no traceback and no pydantic wording reaches the user, and that no
output folder (nor a hidden partial one) appears.  Nothing here solves a hall: scenario
errors are raised at load, grid errors before any field is built; the zero-heat metrics are
tested on the summary functions.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from thermo import cli, metrics
from thermo.io import outdir

ROOT = Path(__file__).resolve().parents[1]
GEOMETRIES = ROOT / "geometries"
STUDY = ROOT / "docs" / "studies" / "small-s08-workload-smooth.yaml"
_BASES: dict = {}


def base(name: str = "hall-small") -> dict:
    if name not in _BASES:
        _BASES[name] = yaml.safe_load((GEOMETRIES / f"{name}.yaml").read_text())
    return copy.deepcopy(_BASES[name])


def _set(raw: dict, path: str, value) -> dict:
    """``raw`` with the value at ``path`` (``rows.0.power``) set; ``value`` DELETE removes it."""
    keys = [int(k) if k.isdigit() else k for k in path.split(".")]
    node = raw
    for k in keys[:-1]:
        node = node[k]
    if value is DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return raw


DELETE = object()
RACK = {"name": "X01", "position": [0.6, 0.6], "size": [0.6, 1.0, 2.0], "facing": "+y", "power": "8 kW",
        "airflow": {"design_rise": "12 K"}}


def with_rack(**changes) -> dict:
    raw = base()
    raw["racks"] = [{**RACK, **changes}]
    return raw


def with_racks(*racks) -> dict:
    raw = base()
    raw["racks"] = [{**RACK, **r} for r in racks]
    return raw


def with_item(section: str, item: dict, name: str = "hall-small") -> dict:
    raw = base(name)
    raw.setdefault(section, []).append(item)
    return raw


def cap_rows(power="8 kW", capture=None) -> dict:
    raw = base()
    raw["rows"][0]["liquid"] = {"capture": capture, "flow": "0.1 l/s"}
    return raw


CONTAINMENT = {"name": "C", "kind": "cold_aisle", "position": [3.0, 3.6], "size": [3.6, 1.2], "height": 2.0}

# (id, scenario dict or raw YAML text or bytes, object, field, words in the message)
SCENARIOS = [
    # quantities that are not finite, whichever way they are written
    ("viscosity-string-inf", _set(base(), "air.viscosity", "1e309"), "air", "viscosity", "not a finite number"),
    ("expansion-yaml-inf", _set(base(), "air.expansion", float("inf")), "air", "expansion", "not a finite number"),
    ("viscosity-nan", _set(base(), "air.viscosity", float("nan")), "air", "viscosity", "not a finite number"),
    ("tile-flow-with-unit-inf", _set(base(), "tiles.0.flow", "1e400 m3/s"), "tile cold-aisle", "flow",
     "not a finite number"),
    ("row-power-overflows-in-conversion", _set(base(), "rows.0.power", "1e308 kW"), "row A", "power",
     "not a finite number"),
    ("huge-integer", _set(base(), "rows.0.power", 10 ** 400), "row A", "power", "not a finite number"),
    # properties out of their physical range
    ("gravity-1e308", _set(base(), "air.gravity", 1e308), "air", "gravity", "plausible range"),
    ("density-zero", _set(base(), "air.density", 0), "air", "density", "must be > 0"),
    ("heat-capacity-negative-string", _set(base(), "air.heat_capacity", "-1006"), "air", "heat_capacity", "> 0"),
    ("prandtl-not-a-number", _set(base(), "air.prandtl", "abc"), "air", "prandtl", "cannot read 'abc'"),
    ("prandtl-with-a-unit", _set(base(), "air.prandtl", "0.7 m"), "air", "prandtl", "expected dimensionless"),
    ("expansion-huge", _set(base(), "air.expansion", 0.5), "air", "expansion", "plausible range"),
    # temperatures: above absolute zero and plausible for their role
    ("reference-below-absolute-zero", _set(base(), "air.reference_temperature", -300), "air",
     "reference_temperature", "absolute zero"),
    ("tile-minus-5-kelvin", _set(base(), "tiles.0.temperature", "-5 K"), "tile cold-aisle", "temperature",
     "absolute zero"),
    ("tile-150-degF", _set(base(), "tiles.0.temperature", "150 degF"), "tile cold-aisle", "temperature",
     "air in a data hall"),
    ("tile-temperature-wrong-unit", _set(base(), "tiles.0.temperature", "12 m"), "tile cold-aisle",
     "temperature", "not a temperature"),
    ("tile-temperature-a-difference", _set(base(), "tiles.0.temperature", "5 delta_degC"), "tile cold-aisle",
     "temperature", "difference"),
    ("tile-temperature-mapping", _set(base(), "tiles.0.temperature", {"value": 18}), "tile cold-aisle",
     "temperature", "expected a number"),
    ("cooler-supply-below-absolute-zero", _set(base("hall-raised-floor"), "coolers.0.supply_temperature",
                                               "-300 degC"), "cooler CRAH-W", "supply_temperature", "absolute zero"),
    ("cooler-supply-80-degC", _set(base("hall-raised-floor"), "coolers.0.supply_temperature", 80),
     "cooler CRAH-W", "supply_temperature", "air in a data hall"),
    ("chilled-water-minus-300", _set(base("ai-pod"), "facility.loops.0.supply_temperature", -300), "facility",
     "loops[0].supply_temperature", "absolute zero"),
    ("chilled-water-boiling", _set(base("ai-pod"), "facility.loops.0.supply_temperature", "120 degC"), "facility",
     "loops[0].supply_temperature", "liquid water"),
    ("ambient-100-degC", _set(base("ai-pod"), "facility.ambient_temperature", 100), "facility",
     "ambient_temperature", "outdoor air"),
    ("rear-door-water-minus-300", _set(base("rdhx-row"), "rows.0.rear_door.rating.water_temperature", -300),
     "row D", "rear_door.rating.water_temperature", "absolute zero"),
    ("tank-facility-water-150", _set(base("immersion-pod"), "tanks.0.circulation.facility_supply_temperature", 150),
     "tank T1", "circulation.facility_supply_temperature", "liquid water"),
    # powers and flows
    ("row-power-list-entry-negative", _set(base(), "rows.0.power", ["8 kW"] * 5 + ["-1 kW"]), "row A", "power[5]",
     ">= 0"),
    ("row-power-unreadable", _set(base(), "rows.0.power", "x"), "row A", "power", "cannot read 'x'"),
    ("row-power-bool", _set(base(), "rows.0.power", True), "row A", "power", "expected a number"),
    ("row-power-timestamp", yaml.safe_dump(base()).replace("power: 8 kW", "power: 2024-01-01", 1), "row A",
     "power", "expected a number"),
    ("ten-megawatt-rack", _set(base(), "rows.0.power", "10 MW"), "rack A01", "power", "faster than any cooling"),
    ("rack-air-too-hot", with_rack(airflow={"flow": "0.01 m3/s"}), "rack X01", "power", "warms it by"),
    ("rack-fixed-flow-gale", with_rack(airflow={"flow": "50 m3/s"}), "rack X01", "airflow.flow",
     "faster than any cooling"),
    ("tile-flow-gale", _set(base(), "tiles.0.flow", "200 m3/s"), "tile cold-aisle", "flow",
     "faster than any cooling"),
    ("tile-flow-negative", _set(base(), "tiles.0.flow", "-1 m3/s"), "tile cold-aisle", "flow", ">= 0"),
    ("cooler-flow-inf-cfm", _set(base("hall-raised-floor"), "coolers.0.flow", "1e400 cfm"), "cooler CRAH-W",
     "flow", "not a finite number"),
    ("cooler-flow-zero", _set(base("hall-raised-floor"), "coolers.0.flow", 0), "cooler CRAH-W", "flow", "> 0"),
    ("design-rise-500-K", _set(base(), "rows.0.airflow", {"design_rise": "500 K"}), "row A",
     "airflow.design_rise", "<= 100"),
    ("airflow-rule-missing", _set(base(), "rows.0.airflow", {}), "row A", "airflow", "exactly one"),
    # fractions below 1 where 1 makes no sense
    ("blanking-leakage-one", _set(base(), "rows.0.blanking_leakage", 1), "row A", "blanking_leakage", "< 1"),
    ("blanking-leakage-150-percent", _set(base(), "rows.0.blanking_leakage", "150 %"), "row A",
     "blanking_leakage", "<= 1"),
    ("containment-leakage-one", with_item("containment", {**CONTAINMENT, "leakage": 1}), "containment C",
     "leakage", "< 1"),
    ("capture-above-one", cap_rows(capture=1.5), "row A", "liquid.capture", "<= 1"),
    ("capture-table-entry-above-one", cap_rows(capture={"flows": [1e-4], "temperatures": [30],
                                                        "values": [[2]]}), "row A", "liquid.capture.values[0][0]",
     "<= 1"),
    # rows, counts and names
    ("row-count-billion", _set(base(), "rows.0.count", 10 ** 9), "row A", "count", "beyond the room"),
    ("row-count-zero", _set(base(), "rows.0.count", 0), "row A", "count", ">= 1"),
    ("row-count-words", _set(base(), "rows.0.count", "many"), "row A", "count", "whole number"),
    ("row-pitch-overlaps", _set(base(), "rows.0.pitch", 0.3), "row A", "pitch", "overlap"),
    ("row-facing-up", _set(base(), "rows.0.facing", "up"), "row A", "facing", "must be one of"),
    ("row-size-two-values", _set(base(), "rows.0.size", [0.6, 1.2]), "row A", "size[2]", "required"),
    ("tile-row-count-huge", _set(base("hall-raised-floor"), "tile_rows.0.count", 10 ** 6), "tile_row T1", "count",
     "beyond the room"),
    ("scenario-name-empty", _set(base(), "name", ""), "scenario", "name", "must not be empty"),
    ("unknown-top-level-key", _set(base(), "rakcs", []), "scenario", "rakcs", "unknown key"),
    ("unknown-rack-key", with_rack(powr=3), "rack X01", "powr", "unknown key"),
    ("racks-not-a-list", _set(base(), "racks", {"a": 1}), "scenario", "racks", "expected a list"),
    ("rack-not-a-mapping", _set(base(), "racks", [5]), "rack #1", "", "expected a mapping"),
    # the room and the grid
    ("room-1e300-m", _set(base(), "room.size", [1e300, 8.4, 3.0]), "room", "size[0]", "far beyond any data hall"),
    ("room-negative-height", _set(base(), "room.size", [9.6, 8.4, -3]), "room", "size[2]", "> 0"),
    ("room-missing", _set(base(), "room", DELETE), "scenario", "room", "required"),
    ("grid-max-cell-zero", _set(base(), "grid.max_cell", 0), "grid", "max_cell", "> 0"),
    ("grid-growth-ten", _set(base(), "grid.growth", 10), "grid", "growth", "<= 3"),
    ("grid-min-above-max", _set(base(), "grid.min_cell", 1.0), "grid", "min_cell", "<= max_cell"),
    ("solver-cfl-explicit-5", _set(base(), "solver", {"cfl": 5}), "solver", "cfl", "explicit stability"),
    ("solver-max-steps-negative", _set(base(), "solver", {"max_steps": -1}), "solver", "max_steps", "> 0"),
    # geometry
    ("rack-outside-room", with_rack(position=[9.5, 0.6]), "rack X01", "position", "outside the room"),
    ("intake-faces-a-wall", with_rack(position=[0.6, 7.4]), "rack X01", "facing", "flush against the room wall"),
    ("exhaust-against-a-wall", with_rack(position=[0.6, 0.0]), "rack X01", "facing", "its exhaust"),
    ("exhaust-against-a-rack", with_racks({"position": [0.6, 1.0]},
                                          {"name": "X02", "position": [0.6, 0.0], "facing": "-y"}),
     "rack X01", "position", "flush against rack X02"),
    ("intake-1-cm-from-wall", with_rack(position=[0.6, 7.39]), "rack X01", "position", "gap the grid closes"),
    ("obstruction-thinner-than-grid", with_item("obstructions", {"name": "P", "position": [0.5, 0.5, 2.5],
                                                                 "size": [1.0, 1.0, 0.01]}),
     "obstruction P", "size", "grid.min_cell"),
    ("containment-encloses-nothing", with_item("containment", {**CONTAINMENT, "position": [0.2, 0.2],
                                                               "size": [1.0, 1.0]}),
     "containment C", "position", "encloses no rack intake"),
    ("containment-cuts-racks", with_item("containment", {**CONTAINMENT, "position": [3.3, 3.0],
                                                         "size": [3.0, 1.8]}),
     "containment C", "position", "cut through rack"),
    ("containment-kind-unknown", with_item("containment", {**CONTAINMENT, "kind": "warm_aisle"}),
     "containment C", "kind", "must be one of"),
    # events and references
    ("event-after-transient", _set(base("hall-failure"), "events.0.time", "1e6 s"), "event 1", "time",
     "after the end"),
    ("event-unknown-cooler", _set(base("hall-failure"), "events.0.cooler", "CRAH-X"), "event 1", "cooler",
     "no cooler named"),
    # the file itself
    ("duplicate-key", (GEOMETRIES / "hall-small.yaml").read_text().replace(
        "    flow: 6.682594 m3/s\n", "    flow: 6.682594 m3/s\n    flow: 1 m3/s\n"), "scenario", "flow",
     "duplicate key: given on line"),
    ("binary-file", bytes(range(256)) * 4, "scenario", "", "binary file"),
    ("latin-1-file", "name: caf\xe9\nroom: {size: [1, 1, 1]}\n".encode("latin-1"), "scenario", "",
     "not UTF-8 text: byte 0xe9 on line 1"),
    ("nested-20000-deep", "name: x\nroom: " + "[" * 20000 + "]" * 20000 + "\n", "scenario", "", "nested more than"),
    ("nested-mappings", "name: x\nroom: " + "{a: " * 100 + "1" + "}" * 100 + "\n", "scenario", "", "nested more than"),
    ("alias-bomb", "".join([f"x0: &a [{', '.join(['1'] * 10)}]\n"] + [
        f"x{i + 1}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)])
     + "name: x\nroom: {size: [1, 1, 1]}\nracks: *i\n", "scenario", "", "more than 1,000,000 values"),
    ("not-a-mapping", "- just\n- a list\n", "scenario", "", "must be a mapping"),
    ("yaml-syntax", "name: x\nroom: {size: [1, 1\n", "scenario", "", "not valid YAML"),
    ("python-tag", "name: !!python/object:os.system x\nroom: {size: [1, 1, 1]}\n", "scenario", "",
     "not valid YAML"),
    ("binary-tag-power", yaml.safe_dump(base()).replace("power: 8 kW", "power: !!binary aGVsbG8=", 1), "row A",
     "power", "expected a number"),
]


@pytest.fixture(autouse=True)
def _never_builds_a_hall(request, monkeypatch):
    """A case that was accepted by mistake fails at once instead of solving for minutes."""
    if request.node.name.startswith(("test_malformed", "test_bad_command")):
        import thermo.hall

        def refuse(*args, **kwargs):
            raise AssertionError("the input was accepted: a hall model was built")

        monkeypatch.setattr(thermo.hall, "build", refuse)
        monkeypatch.setattr(thermo.hall, "solve", refuse)


def _write(tmp_path: Path, content) -> Path:
    path = tmp_path / "scenario.yaml"
    if isinstance(content, dict):
        path.write_text(yaml.safe_dump(content, sort_keys=False))
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def _assert_clean_error(err: str, obj: str, field: str, words: str):
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "no error printed"
    text = " ".join(err.split())     # rich wraps long lines
    prefix = f"error: {obj}: {field}: " if field else f"error: {obj}: "
    assert text.startswith(prefix), text
    assert words in text, text
    assert "Traceback" not in err and "function-after" not in err and "0x7f" not in err, err
    assert "pydantic" not in err and "validation error" not in err.lower(), err


@pytest.mark.parametrize("content, obj, field, words", [case[1:] for case in SCENARIOS],
                         ids=[case[0] for case in SCENARIOS])
def test_malformed_scenario_is_one_clear_error_and_writes_nothing(tmp_path, capsys, content, obj, field, words):
    scenario = _write(tmp_path, content)
    out = tmp_path / "out"
    rc = cli.main(["run", str(scenario), "--out", str(out), "--cell", "0.6", "--no-compile-cache"])
    captured = capsys.readouterr()
    assert rc == 2, captured.out + captured.err
    _assert_clean_error(captured.err, obj, field, words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenario.yaml"]     # no output, no hidden partial one


def test_the_fuzz_set_is_large_enough():
    assert len(SCENARIOS) >= 60 and len(COMMANDS) >= 20
    assert len({case[0] for case in SCENARIOS}) == len(SCENARIOS)


# ---------------------------------------------------------------- accepted, with a warning

WARNED = [
    ("supply-below-ashrae-allowable", _set(base(), "tiles.0.temperature", 12), "tile cold-aisle: temperature: ",
     "outside ASHRAE A1's allowable 15..32 degC"),
    ("one-megawatt-rack-in-a-96-kW-hall", with_rack(power="1 MW", airflow={"flow": "25 m3/s"}), "rack X01: power: ",
     "far more heat than this hall's cooling can carry"),
    ("fast-rack-fans", with_rack(airflow={"flow": "15 m3/s"}), "rack X01: airflow.flow: ", "unusually fast"),
    ("coolers-rated-below-the-heat", _set(_set(base("hall-raised-floor"), "coolers.0.capacity", "10 kW"),
                                          "coolers.1.capacity", "10 kW"), "racks: power: ", "rated capacity"),
]


@pytest.mark.parametrize("content, prefix, words", [case[1:] for case in WARNED], ids=[case[0] for case in WARNED])
def test_possible_but_unlikely_scenario_is_checked_with_a_warning(tmp_path, capsys, content, prefix, words):
    scenario = _write(tmp_path, content)
    rc = cli.main(["check", str(scenario), "--cell", "0.6"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    text = " ".join(captured.err.split())
    assert f"warning: {prefix}" in text and words in text, text
    assert "Traceback" not in captured.err


def test_ordinary_examples_carry_no_warning():
    import thermo.scene

    for name in ("hall-small", "hall-raised-floor", "hall-contained", "ai-pod", "mixed-hall", "immersion-pod"):
        assert thermo.scene.load(GEOMETRIES / f"{name}.yaml").warnings == (), name


# ---------------------------------------------------------------- command lines

def _run(argv, capsys):
    """(exit code, stderr) of ``thermo ARGV``, argparse's exits included."""
    try:
        rc = cli.main(argv)
    except SystemExit as stop:
        rc = stop.code
    return rc, capsys.readouterr().err


HALL = str(GEOMETRIES / "hall-small.yaml")

# (id, argv (TMP is the test's folder), words in the message: the flag or object and what is wrong)
COMMANDS = [
    ("cell-1e-9", ["check", HALL, "--cell", "1e-9"], ["--cell 1e-09", "cells", "more than the 2,147,483,647"]),
    ("run-cell-1e-9", ["run", HALL, "--cell", "1e-9", "--out", "TMP/out"], ["--cell 1e-09", "cells"]),
    ("cell-zero", ["check", HALL, "--cell", "0"], ["--cell", "must be a positive number"]),
    ("cell-negative", ["check", HALL, "--cell", "-1"], ["--cell", "must be a positive number"]),
    ("cell-nan", ["check", HALL, "--cell", "nan"], ["--cell", "must be a positive number"]),
    ("cell-inf", ["check", HALL, "--cell", "inf"], ["--cell", "must be a positive number"]),
    ("cell-text", ["check", HALL, "--cell", "fine"], ["--cell", "not a number"]),
    ("precision-f16", ["check", HALL, "--precision", "f16"], ["--precision", "invalid choice"]),
    ("devices-zero", ["check", HALL, "--devices", "0"], ["--devices", "at least 1"]),
    ("mesh-too-many-devices", ["check", HALL, "--cell", "0.6", "--mesh", "64x1x1"], ["mesh", "64"]),
    ("max-steps-zero", ["run", HALL, "--max-steps", "0"], ["--max-steps", "at least 1"]),
    ("transient-negative", ["run", HALL, "--transient", "-5"], ["--transient", "positive"]),
    ("cfl-5-explicit", ["run", HALL, "--cfl", "5", "--out", "TMP/out"], ["solver: cfl:", "explicit stability"]),
    ("bench-size-huge", ["bench", "--sizes", "100000"], ["--sizes 100000", "cells", "smaller --sizes"]),
    ("bench-size-zero", ["bench", "--sizes", "0"], ["--sizes", "at least 1"]),
    ("bench-unknown-case", ["bench", "--case", "no-such-hall"], ["no-such-hall"]),
    ("bench-racks-billion", ["bench", "--racks", "1000000000"], ["--racks 1000000000", "beyond the"]),
    ("bench-case-cell-tiny", ["bench", "--case", "hall-small", "--cell", "1e-7"], ["case hall-small", "cells"]),
    ("optimize-cell-tiny", ["optimize", str(STUDY), "--cell", "1e-9", "--out", "TMP/out"], ["optimize:", "cells"]),
    ("scenario-missing", ["check", "TMP/nope.yaml"], ["scenario file", "does not exist"]),
    ("scenario-is-a-folder", ["check", "TMP"], ["is not a file"]),
    ("out-under-proc", ["run", HALL, "--out", "/proc/thermo-out", "--cell", "0.6"], ["/proc", "operating system"]),
    ("out-below-a-file", ["run", HALL, "--out", "TMP/notes.txt/out", "--cell", "0.6"], ["which is a file"]),
    ("out-dot-force", ["run", HALL, "--out", ".", "--force", "--cell", "0.6"], ["the folder you are working in"]),
    ("out-above-cwd-force", ["run", HALL, "--out", "..", "--force", "--cell", "0.6"], ["a folder above"]),
    ("out-exists-no-force", ["run", HALL, "--out", "TMP/notes", "--cell", "0.6"], ["already exists; use --force"]),
    ("out-notes-force", ["run", HALL, "--out", "TMP/notes", "--force", "--cell", "0.6"], ["holds no thermo run"]),
    ("out-holds-the-scenario", ["run", "TMP/notes/hall.yaml", "--out", "TMP/notes", "--force", "--cell", "0.6"],
     ["holds the input", "hall.yaml"]),
    ("out-is-the-scenario", ["run", "TMP/notes/hall.yaml", "--out", "TMP/notes/hall.yaml", "--cell", "0.6"],
     ["is the input"]),
    ("out-is-a-file", ["run", HALL, "--out", "TMP/notes.txt", "--cell", "0.6"], ["exists and is not a folder"]),
]


@pytest.mark.parametrize("argv, words", [case[1:] for case in COMMANDS], ids=[case[0] for case in COMMANDS])
def test_bad_command_line_is_one_clear_error_and_writes_nothing(tmp_path, capsys, monkeypatch, argv, words):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.md").write_text("keep me\n")
    (tmp_path / "notes" / "hall.yaml").write_text((GEOMETRIES / "hall-small.yaml").read_text())
    (tmp_path / "notes.txt").write_text("a file\n")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    rc, err = _run([a.replace("TMP", str(tmp_path)) for a in argv], capsys)
    assert rc == 2, err
    text = " ".join(err.split())
    assert "error:" in text and "Traceback" not in err, err
    for word in words:
        assert word in text, text
    after = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    assert after == before        # nothing written, nothing deleted (the notes survive --force)
    assert not Path("runs").exists()


def test_grid_max_cell_in_the_scenario_is_counted_before_allocation(tmp_path, capsys):
    scenario = _write(tmp_path, _set(base(), "grid.max_cell", 1e-9))
    rc, err = _run(["check", str(scenario)], capsys)
    assert rc == 2 and "grid.max_cell 1e-09" in " ".join(err.split()) and "cells" in err


# ---------------------------------------------------------------- output folders

def test_output_name_stays_inside_runs():
    assert outdir.output_name("../../x") == "x"
    assert outdir.output_name("/etc/hall") == "etc_hall"
    assert outdir.output_name("..") == "scenario" and outdir.output_name("") == "scenario"
    assert outdir.output_name("a\\..\\b") == "a_b" and outdir.output_name("hall-small") == "hall-small"


def test_default_output_of_a_name_with_dots_is_under_runs(tmp_path, capsys, monkeypatch):
    raw = _set(base(), "name", "../../escaped")
    scenario = _write(tmp_path, raw)
    work = tmp_path / "a" / "b"
    (work / "runs" / "escaped").mkdir(parents=True)   # the sanitized default exists: refused, which shows the path
    monkeypatch.chdir(work)
    rc, err = _run(["run", str(scenario), "--cell", "0.6"], capsys)
    assert rc == 2 and "runs/escaped already exists" in " ".join(err.split())
    assert not (tmp_path / "escaped").exists()


def test_force_replaces_only_a_previous_run_and_folders_get_usual_permissions(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    (old / "summary.json").write_text(json.dumps({"schema_version": 1, "scenario": "s", "solver": {}}))
    assert outdir.is_thermo_output(old)
    with outdir.atomic_directory(old, force=True) as staging:
        (staging / "summary.json").write_text("{}")
    assert (old / "summary.json").read_text() == "{}"
    mask = os.umask(0)
    os.umask(mask)
    assert (old.stat().st_mode & 0o777) == 0o755 & ~mask
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "summary.json").write_text("my own summary, not thermo's\n")
    with pytest.raises(outdir.OutputExists, match="holds no thermo run"):
        outdir.check_target(notes, force=True)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert outdir.check_target(empty, force=True) == empty      # nothing to lose
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "notes", "old"]   # no hidden partial folder


def test_sigterm_is_an_interrupt_that_leaves_no_partial_folder(tmp_path):
    import signal

    restore = cli._terminate_as_interrupt()
    try:
        with pytest.raises(cli.Terminated):
            with outdir.atomic_directory(tmp_path / "out") as staging:
                (staging / "half.vtr").write_text("...")
                os.kill(os.getpid(), signal.SIGTERM)
    finally:
        restore()
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- a hall with no heat

def test_metrics_that_need_heat_are_not_applicable_without_it():
    assert np.isnan(metrics.rti(20.0, 18.0, 0.0))
    assert metrics.rti(30.0, 18.0, 12.0) == pytest.approx(100.0)
    shi, rhi = metrics.shi_rhi([18.0, 18.5], [18.0, 18.5], [1.0, 1.0], 18.0)
    assert np.isnan(shi) and np.isnan(rhi)
    shi, rhi = metrics.shi_rhi([19.0], [31.0], [1.0], 18.0)
    assert shi == pytest.approx(1 / 13) and rhi == pytest.approx(12 / 13)


def test_energy_balance_of_an_idle_hall_is_measured_against_the_supply():
    rho_cp = 1.19 * 1006.0
    # heated hall: against its heat, as before
    assert metrics.energy_balance_reference_W(96e3, 6.68, rho_cp) == 96e3
    # idle hall: against the supply's enthalpy flow per kelvin, not a 1 W floor (-100 % for 1 W of noise)
    reference = metrics.energy_balance_reference_W(0.0, 6.68, rho_cp)
    assert reference == pytest.approx(rho_cp * 6.68)
    assert metrics.energy_balance_pct(-1.0, 0.0, reference) == pytest.approx(-100.0 / reference)
    assert abs(metrics.energy_balance_pct(-1.0, 0.0, reference)) < 0.2       # settles (BALANCE_TOLERANCE_PCT)
    assert metrics.energy_balance_reference_W(0.0, 0.0, rho_cp) == 1.0


def test_an_idle_hall_reads_n_a_in_the_tables_and_null_in_summary_json(tmp_path):
    import io

    from rich.console import Console

    from thermo.io import report, summary as summary_io

    summary = {"scenario": "idle", "racks": [{"name": "A01", "inlet_mean_C": 18.0, "inlet_max_C": 18.1,
                                              "exhaust_C": 18.0, "power_kW": 0.0, "flow_m3s": 0.5,
                                              "ashrae": {"class": "A1", "recommended": True, "allowable": True}}],
               "metrics": {"RCI_HI": 100.0, "RTI": float(metrics.rti(18.0, 18.0, 0.0)), "SHI": None, "RHI": None},
               "energy_balance_pct": 0.01, "grid": {}, "solver": {"steps": 1, "seconds": 1.0, "converged": True}}
    buffer = io.StringIO()
    cli.print_results(summary, Console(file=buffer, width=200))
    text = buffer.getvalue()
    assert re.search(r"RTI\s*│\s*n/a", text) and re.search(r"SHI\s*│\s*n/a", text) and "nan" not in text.lower()
    final = summary_io.finalize({**summary, "metrics": {**summary["metrics"], "RTI": None}}, True)
    assert final["metrics"]["RTI"] is None and final["metrics"]["SHI"] is None and final["warnings"] == []
    report.write_report(tmp_path / "report.md", final, {})
    assert "n/a" in (tmp_path / "report.md").read_text()


# ---------------------------------------------------------------- divergence

def test_divergence_goes_to_stderr_and_names_the_likely_cause(tmp_path, capsys, monkeypatch):
    import thermo.hall
    from thermo.solve import SolverDiverged

    def blow_up(model, progress=None, max_steps=None, **options):
        raise SolverDiverged("hall 'x': the solution diverged by step 40")

    monkeypatch.setattr(thermo.hall, "solve", blow_up)
    raw = with_rack(airflow={"flow": "15 m3/s"})
    scenario = _write(tmp_path, raw)
    out = tmp_path / "out"
    rc = cli.main(["run", str(scenario), "--cell", "0.6", "--out", str(out), "--no-compile-cache"])
    captured = capsys.readouterr()
    assert rc == 3 and "diverged" not in captured.out
    text = " ".join(captured.err.split())
    assert "error: the solution diverged" in text and "likely cause" in text and "rack X01: airflow.flow" in text
    assert not out.exists()


def test_first_non_finite_names_the_quantity_the_cell_and_the_object():
    import thermo.scene
    from thermo.diagnostics import first_non_finite, object_at
    from thermo.grid import Grid

    grid = Grid((np.linspace(0, 9.6, 17), np.linspace(0, 8.4, 15), np.linspace(0, 3.0, 6)))
    temperature = np.full(grid.shape, 20.0)
    temperature[6, 5, 1] = np.nan
    temperature[10, 2, 3] = np.inf
    w = np.zeros(grid.face_shape(2))
    found = first_non_finite(grid, [("velocity z", w), ("temperature", temperature)])
    assert found.quantity == "temperature" and found.index == (6, 5, 1) and found.count == 2
    assert found.position == pytest.approx((6.5 * 0.6, 5.5 * 0.6, 0.9))
    assert first_non_finite(grid, [("temperature", np.zeros(grid.shape))]) is None
    scene = thermo.scene.load(GEOMETRIES / "hall-small.yaml")
    assert object_at(scene, (3.3, 3.0, 1.0)) == "rack A01"
    assert object_at(scene, (0.1, 0.1, 2.9), margin=0.6) is None
