"""Rack fan curves (issue 23, part B): the curve, its schema, and a contained cold aisle with
too few tiles whose racks run where their curves meet the aisle's depression."""

import copy

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import thermo.hall
import thermo.scene
from thermo.equipment import fans as fan_model
from thermo.scene import ScenarioError
from thermo.scene.load import free_delivery

CURVE = [[0.0, 60.0], [0.3, 45.0], [0.6, 0.0]]          # m^3/s, Pa: a rack of server fans
WEAK = [[0.0, 2.5], [0.2, 1.5], [0.4, 0.0]]             # shut-off 2.5 Pa: cannot hold a starved aisle


def _curve_set(curves, speeds=None):
    """A FanSet holding only the curves (enough for curve_flow and floored)."""
    speeds = speeds or [1.0] * len(curves)
    knots = [fan_model.curve_knots(c, s) for c, s in zip(curves, speeds)]
    size = max(len(k[0]) for k in knots)
    knots = [fan_model._padded(k, size) for k in knots]
    free = np.array([free_delivery(c, s) for c, s in zip(curves, speeds)])
    empty = np.zeros(0)
    return fan_model.FanSet(
        rack=np.arange(len(curves)), knot_pressure=np.stack([k[0] for k in knots]),
        knot_flow=np.stack([k[1] for k in knots]), knot_slope=np.stack([k[2] for k in knots]),
        free_flow=free, min_flow=fan_model.MIN_FLOW_FRACTION * free, leakage=np.zeros(len(curves)),
        intake_cells=empty, intake_rate=empty, intake_area=empty, intake_fan=empty, intake_total=empty,
        exhaust_cells=empty, exhaust_rate=empty, exhaust_area=empty, exhaust_fan=empty, exhaust_total=empty,
        jet_faces=(empty,) * 3, jet_coefficient=(empty,) * 3, jet_fan=(empty,) * 3, read_cells=empty,
        read_fan=empty, read_faces=(empty,) * 3, read_area=(empty,) * 3, read_share=empty,
        stiffness=np.zeros(len(curves)))


def _flows(fans, pressures):
    return np.asarray(fan_model.curve_flow(fans, jnp.asarray(pressures, jnp.float32)))


def test_curve_passes_its_points_is_monotone_smooth_and_extrapolates_along_its_end_segments():
    five = [[0.0, 300.0], [0.2, 280.0], [0.5, 200.0], [0.8, 90.0], [1.0, 0.0]]
    fans = _curve_set([five, CURVE])               # different lengths: the shorter one is padded
    for k, curve in enumerate((five, CURVE)):
        for q, p in curve:
            assert _flows(fans, [p, p])[k] == pytest.approx(q, abs=1e-5)
    p = np.linspace(-50.0, 350.0, 801)
    q = np.stack([_flows(fans, [x, x]) for x in p])
    assert np.all(np.diff(q, axis=0) <= 1e-6)                              # flow falls as pressure rises
    # C1: the slope just left and right of each interior point agrees (a piecewise-linear curve's jumps
    # 0.0025 -> 0.0027 -> 0.00375 -> 0.01 m^3/s/Pa here)
    for _, knot in five[1:-1]:
        left, right = (float(jax.jvp(lambda x: fan_model.curve_flow(fans, x), (jnp.full(2, knot + d, jnp.float32),),
                                     (jnp.ones(2, jnp.float32),))[1][0]) for d in (-1e-3, 1e-3))
        assert left == pytest.approx(right, rel=1e-3)
    # past the ends: along the end segments (1 m^3/s per 450 Pa, 0.2 per 20 Pa)
    assert _flows(fans, [-45.0, -45.0]) == pytest.approx([1.0 + 45.0 * 0.2 / 90.0, 0.6 + 45.0 * 0.3 / 45.0], abs=1e-5)
    assert _flows(fans, [320.0, 70.0]) == pytest.approx([-20.0 * 0.2 / 20.0, -10.0 * 0.3 / 15.0], abs=1e-5)
    assert free_delivery(five) == pytest.approx(1.0) and free_delivery([[0, 100], [0.5, 20]]) == pytest.approx(0.625)


def test_speed_scales_the_curve_by_the_affinity_laws():
    slow, full = _curve_set([CURVE], [0.7]), _curve_set([CURVE])
    for p in (0.0, 10.0, 30.0, 55.0):
        assert _flows(slow, [0.49 * p])[0] == pytest.approx(0.7 * _flows(full, [p])[0], abs=1e-6)
    assert slow.free_flow[0] == pytest.approx(0.42)


def test_floor_keeps_the_flow_positive_and_the_cap_bounds_it():
    fans = _curve_set([CURVE])
    raw = jnp.asarray([-1.0, 0.0, 0.03, 0.3, 0.6, 5.0], jnp.float32)
    out = np.array([float(fan_model.floored(fans, raw[i:i + 1])[0]) for i in range(6)])
    assert np.all(out >= fans.min_flow[0] - 1e-7) and out[0] == pytest.approx(0.03, abs=1e-4)
    assert out[3] == pytest.approx(0.3, abs=1e-5) and out[4] == pytest.approx(0.6, abs=1e-4)
    assert out[5] == pytest.approx(fan_model.MAX_FLOW_FACTOR * 0.6, abs=1e-3)
    assert np.all(np.diff(out) > 0)


RACK = {"name": "A01", "position": [1.0, 1.0], "size": [0.6, 1.2, 2.0], "facing": "+y", "power": "5 kW"}


@pytest.mark.parametrize("airflow, field, message", [
    ({"fan_curve": [[0, 300]]}, "airflow.fan_curve", "needs at least 2 points"),
    ({"fan_curve": [[0, 300], [0.5, 400]]}, "airflow.fan_curve", "point 2: static pressure must decrease strictly"),
    ({"fan_curve": [[0.5, 300], [0.4, 100]]}, "airflow.fan_curve", "point 2: flow must increase"),
    ({"fan_curve": [[0, 300], [1, -5]]}, "airflow.fan_curve", "point 2: static pressure must be >= 0 (got -5 Pa)"),
    ({"fan_curve": [[0, "3 m"], [1, 0]]}, "airflow.fan_curve[0][1]", "expected pressure"),
    ({"fan_curve": [[0, 300], [1, 0]], "flow": 1.0}, "airflow", "give exactly one of flow, flow_per_kw, design_rise, "
                                                                 "fan_curve (got flow, fan_curve)"),
    ({"flow": 1.0, "speed": 0.5}, "airflow.speed", "give it with fan_curve"),
    ({"fan_curve": [[0, 300], [1, 0]], "speed": 0}, "airflow.speed", "must be > 0"),
])
def test_bad_fan_curves_name_the_rack_and_field(airflow, field, message):
    raw = {"name": "t", "room": {"size": [4, 4, 3]}, "racks": [{**RACK, "airflow": airflow}]}
    with pytest.raises(ScenarioError) as error:
        thermo.scene.from_dict(raw)
    assert error.value.object == "rack A01" and error.value.field == field and message in error.value.message


def test_fan_curves_in_units_and_the_nominal_flow_is_the_free_delivery():
    raw = {"name": "t", "room": {"size": [4, 4, 3]},
           "racks": [{**RACK, "airflow": {"fan_curve": [["0 cfm", "0.5 inH2O"], ["1000 cfm", 0]], "speed": 0.8}}]}
    scene = thermo.scene.from_dict(raw)
    rack = scene.racks[0]
    assert rack.airflow.fan_curve[1][0] == pytest.approx(0.4719, rel=1e-3)
    assert rack.airflow.fan_curve[0][1] == pytest.approx(124.54, rel=1e-3)
    assert scene.rack_flow(rack) == pytest.approx(0.8 * 0.4719, rel=1e-3)


# --------------------------------------------------------------------------------
# a contained cold aisle fed by too few tiles
# --------------------------------------------------------------------------------

TILE_FLOW = 2.16      # m^3/s: 60 % of the six racks' free delivery (2 x 3 x 0.6 m^3/s)


def _aisle(weak: bool) -> dict:
    """Two rows of three racks around a contained cold aisle (2 % leakage) whose floor opening
    delivers TILE_FLOW at 18 degC; ceiling returns over the hot aisles."""
    raw = {
        "name": "fan-aisle", "room": {"size": [5.4, 6.0, 3.0]}, "solver": {"turbulence": "mixing_length"},
        "rows": [{"name": "A", "count": 3, "start": [1.8, 1.2], "size": [0.6, 1.2, 2.0], "facing": "+y",
                  "power": "6 kW", "airflow": {"fan_curve": CURVE}},
                 {"name": "B", "count": 3, "start": [1.8, 3.6], "size": [0.6, 1.2, 2.0], "facing": "-y",
                  "power": "6 kW", "airflow": {"fan_curve": CURVE}}],
        "tiles": [{"name": "cold-aisle", "position": [1.8, 2.4], "size": [1.8, 1.2], "flow": TILE_FLOW,
                   "temperature": 18}],
        "returns": [{"name": "R-A", "surface": "ceiling", "position": [1.8, 0.0], "size": [1.8, 1.2]},
                    {"name": "R-B", "surface": "ceiling", "position": [1.8, 4.8], "size": [1.8, 1.2]}],
        "containment": [{"name": "CA", "kind": "cold_aisle", "position": [1.8, 2.4], "size": [1.8, 1.2],
                         "height": 2.0}],
    }
    if weak:      # B03 gets fans too weak for the aisle's depression, and a small load
        raw["rows"][1].update(count=2)
        raw["racks"] = [{"name": "B03", "position": [3.0, 3.6], "size": [0.6, 1.2, 2.0], "facing": "-y",
                         "power": "1 kW", "airflow": {"fan_curve": WEAK}}]
    return raw


@pytest.fixture(scope="module")
def starved():
    model = thermo.hall.build(thermo.scene.from_dict(_aisle(weak=True)), cell_size=0.4)
    return model, thermo.hall.solve(model, max_steps=9000, capture_index=False)


def test_starved_aisle_racks_run_on_their_curves_and_the_energy_balances(starved):
    model, result = starved
    summary = result.summary
    assert result.converged, summary["solver"]["reason"]
    assert abs(summary["energy_balance_pct"]) < 0.25
    fans = model.fans
    rows = {r["name"]: r for r in summary["racks"]}
    strong = [rows[n] for n in ("A01", "A02", "A03", "B01", "B02")]
    for row in strong:
        # the aisle is depressurized: the fans deliver a rise and less than their free 0.6 m^3/s
        assert 2.0 < row["fan_pressure_Pa"] < 45.0 and 0.3 < row["fan_flow_m3s"] < 0.59
        assert row["flow_m3s"] == row["fan_flow_m3s"] and row["fan_stalled"] is False
    # each operating point lies on its curve: the curve's flow at the reported pressure rise
    order = [summary["racks"][k]["name"] for k in np.asarray(fans.rack)]
    pressures = np.array([rows[n]["fan_pressure_Pa"] for n in order], np.float32)
    on_curve = np.asarray(fan_model.floored(fans, fan_model.curve_flow(fans, jnp.asarray(pressures))))
    for name, q in zip(order, on_curve):
        assert rows[name]["fan_flow_m3s"] == pytest.approx(float(q), abs=0.005 * 0.6), name
    # and between the data-sheet points around it (the interpolation is monotone)
    for row in strong:
        assert 0.3 < row["fan_flow_m3s"] and 0.0 < row["fan_pressure_Pa"] < 45.0
    # what the state carries is what the coupling applies: the read-back flow is the flow
    point = model.fan_point(model.problem, result.state)
    np.testing.assert_allclose(np.asarray(point.delivered), np.asarray(point.flow), rtol=2e-3)
    # mass: the racks draw the tile flow plus what leaks into the aisle; all of it leaves by the returns
    total = sum(r["flow_m3s"] for r in summary["racks"])
    assert total > TILE_FLOW + 0.3
    assert sum(r["flow_m3s"] for r in summary["returns"]) == pytest.approx(TILE_FLOW, rel=2e-3)
    # each rack's heat leaves in its (reduced) flow: exhaust = inlet + P / (rho cp Q)
    rho_cp = 1.19 * 1006.0
    for row in summary["racks"]:
        rise = 1e3 * row["power_kW"] / (rho_cp * row["flow_m3s"])
        assert row["exhaust_C"] - row["inlet_mean_C"] == pytest.approx(rise, rel=1e-4)


def test_a_rack_whose_curve_cannot_meet_the_aisle_says_so(starved):
    _, result = starved
    summary = result.summary
    b03 = next(r for r in summary["racks"] if r["name"] == "B03")
    assert b03["fan_stalled"] is True and b03["fan_pressure_Pa"] > 2.5     # above its shut-off pressure
    assert b03["flow_m3s"] == pytest.approx(fan_model.MIN_FLOW_FRACTION * 0.4, rel=0.05)
    assert b03["exhaust_C"] - b03["inlet_mean_C"] > 30.0                 # its 1 kW leaves in a trickle
    warnings = [w for w in summary["warnings"] if w.startswith("rack B03:")]
    assert len(warnings) == 1 and "cannot meet the room's pressure" in warnings[0]
    assert "shut-off pressure of 2.5 Pa" in warnings[0]
    assert not any(w.startswith("rack A0") for w in summary["warnings"])
    from thermo.io.report import render_report
    assert "STALLED" in render_report(summary)


def test_optimize_refuses_fan_curves_by_name(tmp_path):
    import yaml

    from thermo.optimize import problem_from_scene

    raw = copy.deepcopy(_aisle(weak=False))
    raw["optimize"] = {"parameters": [{"name": "tile.cold-aisle.flow", "lower": 1.0, "upper": 4.0}]}
    path = tmp_path / "fan.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ScenarioError) as error:
        problem_from_scene(path)
    assert error.value.object == "rack A01" and error.value.field == "airflow.fan_curve"


def test_terminal_rack_table_shows_operating_points_and_the_stall(starved):
    import io

    from rich.console import Console

    from thermo.cli import print_results

    buffer = io.StringIO()
    print_results(starved[1].summary, Console(file=buffer, width=160, color_system=None))
    text = buffer.getvalue()
    assert "fan dp (Pa)" in text and "flow (m3/s)" in text
    b03 = next(line for line in text.splitlines() if "B03" in line)
    assert "stalled" in b03 and "0.020" in b03


def test_a_fan_rack_whose_intake_cells_all_carry_another_racks_flow_is_refused():
    # two fan-curve racks face each other across a 0.6 m aisle: at 0.6 m cells both draw from one cell layer
    raw = {"name": "t", "room": {"size": [3.0, 4.2, 3.0]},
           "racks": [{**RACK, "name": "A01", "position": [1.2, 0.6], "airflow": {"fan_curve": CURVE}},
                     {**RACK, "name": "B01", "position": [1.2, 2.4], "facing": "-y",
                      "airflow": {"fan_curve": CURVE}}],
           "tiles": [{"name": "T", "position": [0.0, 0.0], "size": [0.6, 0.6], "flow": 0.5, "temperature": 18}],
           "returns": [{"name": "R", "surface": "ceiling", "position": [2.4, 3.6], "size": [0.6, 0.6]}]}
    scene = thermo.scene.from_dict(raw)
    with pytest.raises(ScenarioError) as error:
        thermo.hall.build(scene, cell_size=0.6)
    assert error.value.object == "rack A01" and error.value.field == "airflow.fan_curve"
    assert "smaller cell" in error.value.message
    model = thermo.hall.build(scene, cell_size=0.2)               # three cells across: each its own layer
    assert model.fans.count == 2 and np.all(model.fans.read_share == 1.0)
