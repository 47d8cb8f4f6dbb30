"""Immersion tanks: liquids, scenario checks, surface correlations, the tank interior solve."""

from __future__ import annotations

import copy
import csv
import math
from pathlib import Path

import numpy as np
import pytest

import thermo.scene
from thermo.equipment import immersion as im
from thermo.liquids import FC40, LIQUIDS, PAO4
from thermo.scene import ScenarioError
from thermo.scene import schema as s


# ---------------------------------------------------------------------------------
# liquids
# ---------------------------------------------------------------------------------

def test_liquids_reproduce_their_datasheet_points():
    assert PAO4.kinematic_viscosity(40.0) == pytest.approx(19.0e-6, rel=1e-9)
    assert PAO4.kinematic_viscosity(100.0) == pytest.approx(4.1e-6, rel=1e-9)
    assert PAO4.density(15.6) == pytest.approx(0.820 * 999.0)    # specific gravity 0.820 at 15.6/15.6 degC
    assert FC40.kinematic_viscosity(60.0) == pytest.approx(2.2e-6)
    assert FC40.density(25.0) == pytest.approx(1855.0)
    # thinner and lighter when warmer
    assert PAO4.kinematic_viscosity(60.0) < PAO4.kinematic_viscosity(50.0) < PAO4.kinematic_viscosity(40.0)
    assert FC40.density(50.0) < FC40.density(25.0)


def test_liquids_are_the_values_of_their_source_table():
    # validation/reference/dielectric_liquids.csv records each property we use next to its source:
    # the code and the table must not drift apart
    path = Path(__file__).resolve().parents[1] / "validation" / "reference" / "dielectric_liquids.csv"
    with open(path, newline="") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    used = {(r["liquid"], r["property"], r["at_C"]): float(r["value_used"]) for r in rows}
    for liquid in LIQUIDS.values():
        # every constant and every datasheet point has its row
        assert used[(liquid.key, "density", f"{liquid.density_temperature:g}")] == pytest.approx(liquid.density_ref,
                                                                                                rel=1e-4)
        assert used[(liquid.key, "expansion", "")] == pytest.approx(liquid.expansion)
        assert used[(liquid.key, "heat_capacity", "")] == pytest.approx(liquid.heat_capacity)
        assert used[(liquid.key, "conductivity", "")] == pytest.approx(liquid.conductivity)
        for temperature, nu in liquid.viscosity_points:
            assert used[(liquid.key, "kinematic_viscosity", f"{temperature:g}")] == pytest.approx(nu)
    # and every row at a temperature is what the liquid evaluates there (to the table's rounding)
    for (key, prop, at), value in used.items():
        liquid, t = LIQUIDS[key], float(at or "nan")
        expected = {"density": lambda: liquid.density(t),
                    "kinematic_viscosity": lambda: liquid.kinematic_viscosity(t) / 1e-6,
                    "dynamic_viscosity": lambda: liquid.kinematic_viscosity(t) * liquid.density(t) / 1e-3,
                    "prandtl": lambda: liquid.prandtl(t)}.get(prop) if at else None
        if expected is not None:
            assert value == pytest.approx(expected(), rel=1e-3), (key, prop, at)


def test_liquid_prandtl_numbers_are_those_of_dielectric_liquids():
    for liquid in LIQUIDS.values():
        pr = liquid.prandtl(40.0)
        assert 30.0 < pr < 400.0, (liquid.key, pr)
        fluid = liquid.fluid(40.0)
        assert float(fluid.viscosity) / float(fluid.diffusivity) == pytest.approx(pr)


# ---------------------------------------------------------------------------------
# correlations and the heat exchanger
# ---------------------------------------------------------------------------------

def test_counterflow_effectiveness_limits():
    assert im.hx_effectiveness(2.0, 1.0, 1e12) == pytest.approx(1.0 - math.exp(-2.0), rel=1e-6)
    assert im.hx_effectiveness(2.0, 1.0, 1.0) == pytest.approx(2.0 / 3.0)
    assert im.hx_effectiveness(3.0, 2.0, 5.0) == pytest.approx(im.hx_effectiveness(3.0, 5.0, 2.0))


def test_churchill_chu_matches_the_laminar_limit_for_air():
    # Ra ~ 1e8 (laminar): Churchill-Chu within a few % of the classic 0.59 Ra^(1/4)
    air = im.air_props(s.Air(), 30.0)
    height, dt = 0.5, 10.0
    ra = 9.81 * air.beta * dt * height ** 3 / (air.nu * air.alpha)
    assert 1e7 < ra < 1e9
    h = im.h_vertical(air, dt, height)
    assert h == pytest.approx(0.59 * ra ** 0.25 * air.k / height, rel=0.1)


def test_surface_conductance_balances_its_layers():
    spec = im.SurfaceSpec(area=np.ones(5), height=1.0, wall_height=1.2, plate_length=0.3, headspace=0.15,
                          wall_resistance=0.006 / 16.0, emissivity=0.9, open_to_room=np.array([1, 1, 1, 1, 0], bool))
    q, u = im.surface_conductance(spec, PAO4, 40.0, s.Air(), np.full(5, 45.0), np.full(5, 25.0))
    # warm tank, cool room: heat flows out, a few W/(m^2 K) (air-side convection plus radiation)
    assert np.all(q[:4] > 0) and 3.0 < u[0] < 15.0
    assert u[4] == 0.0 and q[4] == 0.0            # a face against no room air is adiabatic
    # the lid path has the headspace in series: less than a side wall
    spec_lid = im.SurfaceSpec(**{**spec.__dict__, "open_to_room": np.ones(5, bool)})
    _, u2 = im.surface_conductance(spec_lid, PAO4, 40.0, s.Air(), np.full(5, 45.0), np.full(5, 25.0))
    assert 0 < u2[4] < u2[0]
    # reversing the temperatures reverses the flux
    q3, _ = im.surface_conductance(spec_lid, PAO4, 40.0, s.Air(), np.full(5, 25.0), np.full(5, 45.0))
    assert np.all(q3 < 0)


# ---------------------------------------------------------------------------------
# scenario checks
# ---------------------------------------------------------------------------------

def pod_dict():
    return {
        "name": "pod",
        "room": {"size": [6.0, 4.0, 3.0]},
        "racks": [{"name": "R1", "position": [5.0, 1.0], "size": [0.6, 1.2, 2.0], "facing": "-x", "power": "5 kW",
                   "airflow": {"design_rise": "12 K"}}],
        "tanks": [{"name": "T1", "position": [1.0, 1.0], "size": [2.0, 0.8, 1.2], "liquid": "pao4",
                   "fill_height": 1.0,
                   "servers": {"count": 10, "power": "5 kW", "size": [0.05, 0.5, 0.7], "elevation": 0.1},
                   "circulation": {"flow": "5 l/s", "supply_temperature": "35 degC"}}],
    }


def test_pod_dict_is_valid():
    scene = thermo.scene.from_dict(pod_dict())
    assert scene.counts()["tanks"] == 1 and scene.tanks[0].position == (1.0, 1.0, 0.0)


@pytest.mark.parametrize("change, field", [
    (lambda t: t.update(liquid="water"), "liquid"),
    (lambda t: t.update(position=[5.0, 1.0]), "position"),              # outside the room
    (lambda t: t.update(position=[4.5, 1.0]), "position"),              # overlaps rack R1
    (lambda t: t["servers"].update(count=50), "servers.size"),          # 50 x 0.05 m > 2.0 m
    (lambda t: t["servers"].update(size=[0.05, 0.9, 0.7]), "servers.size"),
    (lambda t: t["servers"].update(elevation=0.5), "servers.size"),     # sticks out of the liquid
    (lambda t: t.update(fill_height=1.3), "fill_height"),
    (lambda t: t["servers"].update(power="-5 kW"), "servers.power"),
    (lambda t: t["circulation"].update(flow="-1 l/s"), "circulation.flow"),
    (lambda t: t["circulation"].update(approach="3 K"), "circulation.supply_temperature"),
    (lambda t: t["circulation"].update(supply_temperature=None, approach="3 K"),
     "circulation.facility_supply_temperature"),
])
def test_bad_tanks_name_the_tank_and_field(change, field):
    raw = copy.deepcopy(pod_dict())
    change(raw["tanks"][0])
    raw["tanks"][0]["circulation"] = {k: v for k, v in raw["tanks"][0]["circulation"].items() if v is not None}
    with pytest.raises(ScenarioError) as info:
        thermo.scene.from_dict(raw)
    assert info.value.object == "tank T1"
    assert info.value.field == field


def test_immersion_pod_example_is_valid():
    scene = thermo.scene.load(Path(__file__).resolve().parents[1] / "geometries" / "immersion-pod.yaml")
    assert len(scene.tanks) == 4
    assert all(t.servers.count * t.servers.power == pytest.approx(100e3, rel=1e-3) for t in scene.tanks)


# ---------------------------------------------------------------------------------
# the tank interior (tiny grid)
# ---------------------------------------------------------------------------------

def small_tank(liquid="pao4", **circulation):
    circ = {"flow": 0.002, "supply_temperature": 35.0}
    circ.update(circulation)
    if "approach" in circulation or "ua" in circulation:
        circ.pop("supply_temperature")
    return s.Tank(name="T", position=(0.0, 0.0, 0.0), size=(0.8, 0.5, 0.6), liquid=liquid, fill_height=0.5,
                  cell=0.1, servers={"count": 4, "power": 3000.0, "size": (0.06, 0.3, 0.3), "elevation": 0.1},
                  circulation=circ)


_SOLVED = {}


def solved(liquid):
    """(model, result) of the small tank in ``liquid`` against 24 degC air (cached)."""
    if liquid not in _SOLVED:
        model = im.build_tank(small_tank(liquid), s.Air())
        _SOLVED[liquid] = (model, im.solve_tank(model, 24.0, max_steps=3000, window=5))
    return _SOLVED[liquid]


@pytest.mark.parametrize("liquid", ["pao4", pytest.param("fc40", marks=pytest.mark.slow)])
def test_tank_energy_closes(liquid):
    model, r = solved(liquid)
    assert r.converged, r
    # server power = HX load + surface loss, within 0.5 %
    assert abs(r.server_power - r.hx_load - r.surface_loss) / r.server_power < 0.005
    # the outlet is warmer than the supply by (P - surface loss) / (rho cp Q), to the 0.5 % closure
    rise = (r.server_power - r.surface_loss) / (model.rho_cp * model.flow)
    assert r.outlet_temperature - r.supply_temperature == pytest.approx(rise, rel=5e-3)
    assert r.max_temperature > r.outlet_temperature > r.supply_temperature == pytest.approx(35.0)
    assert 0 < r.surface_loss < 0.05 * r.server_power


@pytest.mark.slow
def test_warmer_room_air_reduces_the_surface_loss():
    model, cold = solved("pao4")
    warm = im.solve_tank(model, 30.0, max_steps=3000, window=5)
    assert warm.surface_loss < cold.surface_loss
    assert abs(warm.server_power - warm.hx_load - warm.surface_loss) / warm.server_power < 0.005


@pytest.mark.slow
def test_facility_water_hx_sets_the_supply():
    tank = small_tank(facility_supply_temperature=30.0, facility_flow=0.002, ua=4000.0)
    model = im.build_tank(tank, s.Air())
    model.state = solved("pao4")[0].state
    r = im.solve_tank(model, 24.0, max_steps=8000, window=10)
    assert r.converged, r
    eps = im.hx_effectiveness(4000.0, model.rho_cp * 0.002, im.WATER_RHO_CP * 0.002)
    c_min = min(model.rho_cp, im.WATER_RHO_CP) * 0.002
    # a settled result is a window mean, where the relaxed supply may lag: within the 0.5 % closure
    assert r.hx_load == pytest.approx(eps * c_min * (r.outlet_temperature - 30.0), rel=5e-3)
    assert r.facility_return_temperature == pytest.approx(30.0 + r.hx_load / (im.WATER_RHO_CP * 0.002), rel=1e-6)
    assert abs(r.energy_closure_pct) < 0.5


# ---------------------------------------------------------------------------------
# tank and room together (slow: two compiled problems and outer iterations)
# ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_small_room_with_a_tank_closes_both_balances(tmp_path):
    import thermo.hall
    from thermo.io.results import write_run

    raw = {"name": "one-tank", "air": {"reference_temperature": 24.0}, "room": {"size": [4.0, 3.0, 2.5]},
           "grid": {"max_cell": 0.25},
           "coolers": [{"name": "IRC", "type": "inrow", "position": [3.2, 1.0], "size": [0.6, 1.0, 2.0],
                        "facing": "-x", "flow": 0.6, "supply_temperature": 20.0}],
           "tanks": [{**small_tank().model_dump(), "position": [0.8, 1.0]}]}
    scene = thermo.scene.from_dict(raw)
    model = thermo.hall.build(scene)
    result = thermo.hall.solve(model, max_steps=6000)
    tank = result.summary["tanks"][0]
    assert abs(tank["energy_closure_pct"]) < 0.5
    assert tank["hx_load_kW"] + tank["surface_loss_kW"] == pytest.approx(tank["server_power_kW"], rel=5e-3)
    assert result.summary["tank_coupling"]["outer_iterations"] >= 1
    # the room air around the tank is warmer than the supply, and the loss heats it
    assert min(tank["air_C_by_face"].values()) > 20.0
    out, summary = write_run(tmp_path / "run", problem=model.problem, state=result.state, summary=result.summary,
                             equipment=result.equipment, tracer_names=model.tracer_names,
                             extra_fields=result.extra_fields)
    assert (out / "tank_T.vtr").exists() and "tank_T.vtr" in summary["files"]
    import pyvista as pv
    mesh = pv.read(str(out / "tank_T.vtr"))
    assert mesh.bounds[0] == pytest.approx(0.8) and "temperature" in mesh.cell_data
    blocks = pv.read(str(out / "equipment.vtm"))
    assert "hx_load_kW" in blocks["T"].field_data
