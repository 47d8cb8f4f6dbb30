"""Metric definitions against the worked examples of datacenter_metrics.json (copied unchanged from
../shared/reference/ into validation/reference/)."""

import json
from pathlib import Path

import numpy as np
import pytest

from thermo import metrics as m

REFERENCE = Path(__file__).resolve().parents[1] / "validation" / "reference" / "datacenter_metrics.json"


@pytest.fixture(scope="module")
def ref():
    return json.loads(REFERENCE.read_text())


def test_rci_worked_example(ref):
    ex = ref["RCI"]["worked_example"]
    hi, _ = m.rci(ex["RCI_HI_intakes_degC"], ashrae_class="A1")
    _, lo = m.rci(ex["RCI_LO_intakes_degC"], ashrae_class="A1")
    assert hi == pytest.approx(ex["RCI_HI_percent"], abs=0.01)
    assert lo == pytest.approx(ex["RCI_LO_percent"], abs=0.01)


def test_rci_all_within_recommended_is_100():
    assert m.rci([18.5, 22.0, 26.9]) == (100.0, 100.0)


def test_rci_weights_count_each_intake_by_area():
    # one hot intake with twice the weight counts twice
    heavy, _ = m.rci([28.0, 20.0], weights=[2.0, 1.0])
    plain, _ = m.rci([28.0, 28.0, 20.0])
    assert heavy == pytest.approx(plain)


def test_rti_worked_example(ref):
    ex = ref["RTI"]["worked_example"]
    assert m.rti(ex["T_return_degC"], ex["T_supply_degC"], ex["dT_equip_K"]) == pytest.approx(ex["RTI_percent"], abs=0.01)


def test_shi_rhi_worked_example(ref):
    ex = ref["SHI_RHI"]["worked_example"]
    shi, rhi = m.shi_rhi(ex["T_in_degC"], ex["T_out_degC"], np.ones(3), ex["T_ref_degC"])
    assert shi == pytest.approx(ex["SHI"], abs=1e-4)
    assert rhi == pytest.approx(ex["RHI"], abs=1e-4)


def test_ashrae_limits_match_reference(ref):
    table = ref["ASHRAE_TC9.9_thermal_classes"]
    for cls, limits in table["allowable_degC"].items():
        assert tuple(limits) == m.ALLOWABLE[cls]
    assert m.RECOMMENDED["A1"] == tuple(table["recommended_envelope_A1_to_A4_degC"])
    assert m.RECOMMENDED["H1"] == tuple(table["recommended_envelope_H1_degC"])


@pytest.mark.parametrize("t_max, t_min, cls, rec, allow", [
    (26.0, 18.0, "A1", True, True), (28.0, 18.0, "A1", False, True), (33.0, 18.0, "A1", False, False),
    (33.0, 18.0, "A2", False, True), (23.0, 18.0, "H1", False, True), (20.0, 14.0, "A1", False, False),
    (20.0, 17.98, "A1", True, True),
])
def test_ashrae_status(t_max, t_min, cls, rec, allow):
    status = m.ashrae_status(t_max, t_min, cls)
    assert status == {"class": cls, "recommended": rec, "allowable": allow}


def test_ride_through_interpolates_first_crossing():
    times = [0.0, 10.0, 20.0, 30.0]
    inlets = [[20.0, 21.0], [25.0, 30.0], [31.0, 34.0], [35.0, 36.0]]
    assert m.ride_through(times, inlets, 32.0) == pytest.approx(10.0 + 10.0 * 2.0 / 4.0)
    assert m.ride_through(times, [[20.0]] * 4, 32.0) is None


def test_rack_crossing_times_and_time_after_event():
    times = [0.0, 10.0, 20.0, 30.0]
    inlets = [[30.0, 31.0], [31.0, 33.0], [34.0, 34.0], [35.0, 35.0]]
    # rack 2 crosses 32 degC half-way through 0..10 s (31 -> 33), rack 1 a third of the way through 10..20 s
    crossings = m.rack_crossing_times(times, inlets, 32.0)
    assert crossings == pytest.approx([10.0 + 10.0 / 3.0, 5.0])
    assert m.ride_through(times, inlets, 32.0) == pytest.approx(5.0)
    assert m.rack_crossing_times(times, [[20.0, 40.0]] * 4, 32.0) == [None, 0.0]
    # measured from the last event at or before the crossing
    assert m.time_after_event(61.5, [0.0, 60.0, 90.0]) == (pytest.approx(1.5), 1)
    assert m.time_after_event(5.0, [10.0]) == (None, None)
    assert m.time_after_event(None, [10.0]) == (None, None)

