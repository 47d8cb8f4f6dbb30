"""Rear doors, cold plates, CDUs and facility energy: the models, the scenario checks and
one coupled hall (ai-pod on a coarse grid)."""

from pathlib import Path

import numpy as np
import pytest
import yaml

import thermo.hall
import thermo.scene
from thermo.equipment import cdu as cdu_model
from thermo.equipment import cold_plate, hx, rear_door
from thermo.equipment.facility import facility_energy
from thermo.problem import Fluid
from thermo.scene import ScenarioError, schema

ROOT = Path(__file__).resolve().parents[1]
AIR = Fluid(density=1.19, heat_capacity=1006.0)
RHO_CP_AIR = 1.19 * 1006.0


def pod_dict():
    return yaml.safe_load((ROOT / "geometries" / "ai-pod.yaml").read_text())


# ---------------------------------------------------------------- effectiveness-NTU

@pytest.mark.parametrize("code, ntu, cr, expected", [
    (hx.CROSSFLOW_UNMIXED, 1.0, 1.0, 0.47622), (hx.CROSSFLOW_UNMIXED, 5.0, 0.25, 0.95907),
    (hx.COUNTERFLOW, 2.0, 1.0, 0.66667), (hx.COUNTERFLOW, 3.0, 0.5, 0.87443),
    (hx.PARALLEL, 1.0, 0.75, 0.47213), (hx.CROSSFLOW_CMAX_MIXED, 2.0, 0.5, 0.70201),
    (hx.CROSSFLOW_CMIN_MIXED, 3.0, 0.25, 0.87883), (hx.CROSSFLOW_UNMIXED, 2.0, 0.0, 0.86466),
])
def test_effectiveness_matches_reference_rows(code, ntu, cr, expected):
    # rows of validation/reference/hx_effectiveness_ntu.csv (5 decimals)
    assert float(hx.effectiveness(ntu, cr, code)) == pytest.approx(expected, abs=2e-5)


def test_ntu_inversion_round_trip_and_unreachable_effectiveness():
    for code in range(5):
        ntu = hx.ntu_from_effectiveness(float(hx.effectiveness(1.7, 0.6, code)), 0.6, code)
        assert ntu == pytest.approx(1.7, rel=1e-3)
    with pytest.raises(ValueError, match="not reachable"):
        hx.ntu_from_effectiveness(0.7, 1.0, hx.PARALLEL)        # parallel flow tops out at 0.5 for Cr = 1


def door_set(ua, c_w, t_w, arrangement="crossflow_unmixed"):
    from thermo.equipment.ratings import DOOR_ARRANGEMENT
    code, mixed = DOOR_ARRANGEMENT[arrangement]
    f = lambda v: np.atleast_1d(np.asarray(v, np.float32))  # noqa: E731
    return rear_door.DoorSet(rack=np.zeros(1, np.int32), ua=f(ua), water_capacity=f(c_w), water_temperature=f(t_w),
                             water_flow=f(c_w / 4.17e6), arrangement=np.array([code], np.int32),
                             mixed=np.array([mixed], np.int32), loss_coefficient=f(12.0), area=f(1.2),
                             fan_efficiency=f(0.0))


@pytest.mark.parametrize("arrangement", ["crossflow_unmixed", "counterflow", "crossflow_air_mixed",
                                         "crossflow_water_mixed", "parallel"])
def test_door_heat_leaves_the_air_and_enters_the_water(arrangement):
    doors = door_set(6000.0, 5000.0, 18.0, arrangement)
    t_out, q, t_w = (float(v[0]) for v in rear_door.door_exchange(doors, np.array([37.0], np.float32),
                                                                   np.array([2.0], np.float32), AIR))
    c_air = RHO_CP_AIR * 2.0
    assert 0 < q < c_air * (37.0 - 18.0)
    assert c_air * (37.0 - t_out) == pytest.approx(q, rel=1e-5)
    assert 5000.0 * (t_w - 18.0) == pytest.approx(q, rel=1e-5)


def test_door_with_warmer_water_heats_the_air_and_pressure_drop_is_quadratic():
    doors = door_set(6000.0, 5000.0, 30.0)
    t_out, q, _ = rear_door.door_exchange(doors, np.array([25.0], np.float32), np.array([2.0], np.float32), AIR)
    assert float(q[0]) < 0 and float(t_out[0]) > 25.0
    dp1 = float(rear_door.pressure_drop(doors, np.array([1.0]), 1.19)[0])
    dp2 = float(rear_door.pressure_drop(doors, np.array([2.0]), 1.19)[0])
    assert dp1 == pytest.approx(0.5 * 12.0 * 1.19 * (1.0 / 1.2) ** 2, rel=1e-6)
    assert dp2 == pytest.approx(4.0 * dp1, rel=1e-6)


# ---------------------------------------------------------------- cold plates and CDU

def liquid_scene(capture, resistance=None, approach=3.0, facility_flow="20 l/s"):
    raw = pod_dict()
    for row in raw["rows"]:
        row["liquid"] = {**row["liquid"], "capture": capture}
        if resistance is not None:
            row["liquid"]["resistance"] = resistance
    raw["cdus"][0]["rating"]["approach"] = approach
    raw["cdus"][0]["facility_flow"] = facility_flow
    return thermo.scene.from_dict(raw)


def built_loop(scene):
    from thermo.equipment.assembly import FieldArrays
    from thermo.equipment.hybrid import build_hybrid
    from thermo.equipment.rack import build_racks
    from thermo.scene.gridgen import generate_grid
    fields = FieldArrays(generate_grid(scene, 0.6), scene.air.reference_temperature)
    racks, layers = build_racks(scene, fields)
    return build_hybrid(scene, fields, layers), racks


def test_cdu_meets_its_rated_approach_and_closes_the_loop():
    scene = liquid_scene(0.8)
    hybrid, racks = built_loop(scene)
    power = np.full(8, 800e3 / 8 / 0.8)             # the rated 800 kW into the coolant
    loop = cdu_model.solve_loop(hybrid.plates, hybrid.cdus, power)
    assert float(loop["load"][0]) == pytest.approx(800e3, rel=1e-5)
    assert float(loop["cdu_supply_C"][0]) - 30.0 == pytest.approx(3.0, abs=2e-3)   # the rated approach
    assert float(loop["heat_exchanged"][0]) == pytest.approx(800e3, rel=1e-4)
    c_c = 998.0 * 4182.0 * 8 * 2.3e-3
    assert float(loop["cdu_return_C"][0] - loop["cdu_supply_C"][0]) == pytest.approx(800e3 / c_c, rel=1e-4)
    np.testing.assert_allclose(np.asarray(loop["air_power"]), power * 0.2, rtol=1e-6)


def test_capture_table_depends_on_coolant_temperature_and_the_loop_is_self_consistent():
    table = {"flows": [1e-3, 3e-3], "temperatures": [25.0, 45.0], "values": [[0.85, 0.65], [0.9, 0.7]]}
    hybrid, _ = built_loop(liquid_scene(table))
    loop = cdu_model.solve_loop(hybrid.plates, hybrid.cdus, np.full(8, 120e3))
    t = float(loop["supply_C"][0])
    w_flow = (2.3e-3 - 1e-3) / 2e-3
    w_t = (t - 25.0) / 20.0
    expected = (1 - w_flow) * (0.85 + w_t * (0.65 - 0.85)) + w_flow * (0.9 + w_t * (0.7 - 0.9))
    assert float(loop["capture"][0]) == pytest.approx(expected, abs=1e-5)


def test_case_temperature_from_power_law_and_table():
    law = {"reference": 0.012, "reference_flow": 2.5e-5, "exponent": 0.6}
    hybrid, _ = built_loop(liquid_scene(0.8, law))
    loop = cdu_model.solve_loop(hybrid.plates, hybrid.cdus, np.full(8, 120e3))
    r = 0.012 * (2.3e-3 / 64 / 2.5e-5) ** -0.6
    assert float(loop["case_C"][0]) == pytest.approx(float(loop["supply_C"][0]) + 96e3 / 64 * r, rel=1e-5)
    table = {"flows": [2e-5, 4e-5], "values": [0.012, 0.008]}
    hybrid, _ = built_loop(liquid_scene(0.8, table))
    r = float(cold_plate.plate_resistance(hybrid.plates)[0])
    assert r == pytest.approx(0.012 + (2.3e-3 / 64 - 2e-5) / 2e-5 * (0.008 - 0.012), rel=1e-5)


# ---------------------------------------------------------------- facility and PUE

def test_pue_worked_example_of_the_docs():
    """docs/liquid-cooling.md, "PUE: a worked example": the hand calculation gives 134.759 kW, PUE 1.3476."""
    fac = schema.Facility(
        ambient_temperature=35.0, ups_efficiency=0.95, distribution_loss=0.02,
        loops=[schema.Loop(name="chw", type="chiller", supply_temperature=15.0, carnot_fraction=0.5,
                           evaporator_approach=5.0, condenser_approach=10.0, fan_power_per_kw=0.02, pump_power=3e3),
               schema.Loop(name="ww", type="dry_cooler", supply_temperature=32.0, approach=6.0,
                           evaporator_approach=4.0, condenser_approach=10.0, fan_power_per_kw=0.02, pump_power=2e3)])
    r = facility_energy(fac, 100e3, {"chw": 40e3, "ww": [45e3, 15e3]}, {"crah_fans": 2e3}, {"cdu_pumps": 1.5e3})
    assert r["loops"][0]["cop"] == pytest.approx(4.045, abs=1e-4)
    assert r["loops"][1]["cop"] == pytest.approx(8.8574, abs=1e-4)
    assert r["cooling_W"] == pytest.approx(27496.0, abs=1.0)
    assert r["total_W"] == pytest.approx(134759.2, abs=1.0)
    assert r["pue"] == pytest.approx(1.34759, abs=1e-5)


def test_dry_cooler_free_cooling_has_no_compressor():
    fac = schema.Facility(ambient_temperature=20.0, loops=[schema.Loop(name="ww", type="dry_cooler",
                                                                       supply_temperature=32.0, approach=6.0)])
    r = facility_energy(fac, 100e3, {"ww": 100e3}, {}, {})
    assert r["loops"][0]["free_cooling"] and r["loops"][0]["compressor_W"] == 0.0
    with pytest.raises(KeyError):
        facility_energy(fac, 100e3, {"tank_loop": 1e3}, {}, {})


# ---------------------------------------------------------------- scenario errors

def error_of(mutate):
    raw = pod_dict()
    mutate(raw)
    with pytest.raises(ScenarioError) as info:
        thermo.scene.from_dict(raw)
    return info.value


def test_error_negative_water_flow():
    e = error_of(lambda r: r["rows"][0]["rear_door"].update(water_flow=-1e-3))
    assert e.object == "row A" and e.field == "rear_door.water_flow"


def test_error_capture_outside_0_1():
    e = error_of(lambda r: r["rows"][1].update(liquid={**r["rows"][1]["liquid"], "capture": 1.2}))
    assert e.object == "row B" and e.field.startswith("liquid.capture")


def test_error_cdu_serves_unknown_racks():
    e = error_of(lambda r: r["cdus"][0].update(racks=["Z*"]))
    assert (e.object, e.field) == ("cdu CDU1", "racks") and "Z*" in e.message


def test_error_liquid_rack_without_cdu():
    e = error_of(lambda r: r["cdus"][0].update(racks=["A*"]))
    assert (e.object, e.field) == ("rack B01", "liquid")


def test_error_cdu_cannot_meet_its_approach():
    # 2 l/s of facility water cannot take 800 kW within a 3 K approach
    e = error_of(lambda r: r["cdus"][0].update(facility_flow="2 l/s"))
    assert (e.object, e.field) == ("cdu CDU1", "rating.approach")


def test_error_impossible_door_rating_and_unknown_loop():
    e = error_of(lambda r: r["rows"][0]["rear_door"]["rating"].update(duty="300 kW"))
    assert (e.object, e.field) == ("rack A01", "rear_door.rating.duty")
    e = error_of(lambda r: r["rows"][0]["rear_door"].update(loop="glycol"))
    assert (e.object, e.field) == ("rack A01", "rear_door.loop") and "glycol" in e.message


def test_rear_doors_list_mounts_a_door_on_one_rack_and_rejects_a_missing_rack():
    raw = yaml.safe_load((ROOT / "geometries" / "rdhx-row.yaml").read_text())
    door = raw["rows"][0].pop("rear_door")
    raw["rear_doors"] = [{**door, "rack": "D03"}]
    scene = thermo.scene.from_dict(raw)
    assert [r.name for r in scene.racks if r.rear_door is not None] == ["D03"]
    assert scene.racks[2].rear_door.water_flow == pytest.approx(1.2e-3)
    raw["rear_doors"] = [{**door, "rack": "D09"}]
    with pytest.raises(ScenarioError) as info:
        thermo.scene.from_dict(raw)
    assert (info.value.object, info.value.field) == ("rear_door #1", "rack") and "D09" in info.value.message


def test_error_cdu_serving_air_cooled_rack():
    def mutate(r):
        r["rows"][1].pop("liquid")
        r["cdus"][0]["racks"] = ["A*", "B01"]
    e = error_of(mutate)
    assert (e.object, e.field) == ("cdu CDU1", "racks") and "B01" in e.message


# ---------------------------------------------------------------- a coupled hall

@pytest.fixture(scope="module")
def pod():
    """ai-pod on 0.6 m cells, 600 steps: the door and loop bookkeeping holds in any state."""
    model = thermo.hall.build(thermo.scene.load(ROOT / "geometries" / "ai-pod.yaml"), cell_size=0.6)
    return model, thermo.hall.solve(model, max_steps=600, capture_index=False)


@pytest.mark.slow
def test_pod_air_and_liquid_energy_balance_at_steady_state():
    model = thermo.hall.build(thermo.scene.load(ROOT / "geometries" / "ai-pod.yaml"), cell_size=0.6)
    result = thermo.hall.solve(model, max_steps=4000, capture_index=False)
    s = result.summary
    assert result.converged, s["solver"]["reason"]
    assert abs(s["energy_balance_pct"]) < 0.5, s["solver"]


def test_pod_splits_rack_heat_between_air_and_liquid(pod):
    _, result = pod
    s = result.summary
    assert s["metrics"]["air_heat_kW"] == pytest.approx(8 * 24.0, rel=1e-5)
    assert sum(c["load_kW"] for c in s["cdus"]) == pytest.approx(8 * 96.0, rel=1e-5)


def test_pod_rear_doors_cool_the_exhaust_exactly(pod):
    _, result = pod
    for d in result.summary["rear_doors"]:
        air = RHO_CP_AIR * d["air_flow_m3s"] * (d["air_in_C"] - d["air_out_C"]) / 1e3
        water = 998.0 * 4182.0 * d["water_flow_l_s"] / 1e3 * (d["water_out_C"] - d["water_in_C"]) / 1e3
        assert air == pytest.approx(d["load_kW"], rel=1e-4)
        assert water == pytest.approx(d["load_kW"], rel=1e-4)
        assert d["pressure_drop_Pa"] == pytest.approx(20.0, rel=1e-6)   # rated 20 Pa at the rack's 1.4 m3/s


def test_pod_summary_has_facility_and_vtk_blocks(pod):
    _, result = pod
    s = result.summary
    assert s["facility"]["pue"] == pytest.approx(s["facility"]["total_W"] / s["facility"]["it_W"])
    assert 1.0 < s["metrics"]["pue"] < 2.0
    kinds = [e["kind"] for e in result.equipment]
    assert kinds.count("rear_door") == 8
    door = next(e for e in result.equipment if e["kind"] == "rear_door")
    assert {"load_kW", "water_out_C", "air_out_C"} <= set(door["data"])
    rack = next(e for e in result.equipment if e["kind"] == "rack")
    assert {"liquid_kW", "liquid_case_C", "liquid_capture"} <= set(rack["data"])


@pytest.mark.slow
def test_rear_door_validation_case_passes_in_float32():
    from validation.cases import rear_door as case
    result = case.run(True, np.float32)
    assert result.checks and all(c.passed for c in result.checks), [c.describe() for c in result.checks]


def test_pue_worked_example_of_the_validation_case():
    from validation.cases import liquid_halls
    r = liquid_halls.worked_example()
    assert r["total_W"] / 1e3 == pytest.approx(liquid_halls.WORKED_TOTAL_KW, rel=1e-5)


def test_air_and_liquid_balance_of_an_immersion_hall():
    """The validation case's air + liquid balance from a summary: the room removes what it carried
    (rack + applied tank losses) times (1 + balance), plus the tanks' HX loads, against rack + servers."""
    from validation.cases import liquid_halls
    summary = {"energy_balance_pct": 1.0,
               "metrics": {"rack_heat_kW": 5.0, "tank_server_power_kW": 400.0, "tank_hx_load_kW": 396.0},
               "tank_coupling": {"loss_applied_to_room_kW": [1.0, 1.0, 1.0, 1.0]}}
    # removed 9.0 x 1.01 + 396.0 = 405.09 kW against 405 kW
    assert liquid_halls.air_and_liquid_balance_pct(summary) == pytest.approx(100 * 0.09 / 405.0, rel=1e-12)
    assert "immersion-pod" in liquid_halls.TANK_HALLS
