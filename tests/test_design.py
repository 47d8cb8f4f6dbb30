"""Design parameters (thermo.design), their rasterization, write-back and optimizer pieces.

The fast tests here solve nothing: they check that the design model reproduces the
hall build exactly at the scenario's values, that moving objects enter the fields
continuously and differentiably, that parameters are named and validated, and that an
optimized scenario is written back faithfully.  The gradient-vs-finite-difference
tests, the optimize command and the batched solve are ``slow`` (the adjoint alone
compiles for minutes on a 2-core CPU): ``pytest -m slow tests/test_design.py``.

Status when written (see docs/gradients.md and docs/optimization.md): the slow tests were not
seen to pass.  The float32 gradient check fails (the float32 march at the design point does not
reach its tolerance, so the adjoint refuses), and the optimize run's trial point did not converge;
the float64 checks did not finish on the loaded machine.
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import thermo
import thermo.hall
import thermo.scene
from thermo import design
from thermo.scene import ScenarioError
from thermo.scene.movable import box_face_cover, box_solid, candidate_layer

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "design-tiny.yaml"


def _max_difference(a_problem, b_problem):
    """Largest difference between two problems' leaves (resistances only where the face is open)."""
    worst = 0.0
    flat_b = dict(jax.tree_util.tree_flatten_with_path(b_problem)[0])
    for path, a in jax.tree_util.tree_flatten_with_path(a_problem.replace(equipment=None))[0]:
        b = np.asarray(flat_b[path])
        d = np.abs(np.asarray(a) - b)
        if "resistance" in jax.tree_util.keystr(path):
            d = d * (b > 0)
        if d.size:
            worst = max(worst, float(d.max()))
    return worst


def test_design_problem_is_the_hall_problem_at_the_scenario_values(x64):
    scene = design.load(TINY, movable=["rack.A03", "cooler.CRAH"])
    model = scene.model(np.float64)
    reference = thermo.hall.build(scene.scene, cell_size=scene.cell_size, dtype=np.float64).problem
    assert _max_difference(model.problem(scene.values), reference) < 1e-9


def test_parameter_names_kinds_and_errors():
    scene = design.load(TINY, movable=["rack.A03"])
    params = scene.parameters()
    kinds = {scene.specs[n].kind for n in params}
    assert kinds == {"supply_temperature", "flow", "open_fraction", "power", "position", "height"}
    assert float(params["rack.A01.power"]) == 3000.0 and float(params["rack.A03.position"]) == pytest.approx(3.6)
    assert scene.bounds()["rack.A03.position"] == (3.0, 4.2)     # free travel between A02 and the wall
    with pytest.raises(ScenarioError, match="parameters: rack.A01.powr: unknown parameter"):
        scene.with_parameters({"rack.A01.powr": 1.0})
    assert scene.scene.racks[1].name == "A02"
    assert design.travel(scene.scene, "rack.A02") == (0, 2.4, 3.0)    # A01 touches it, A03 is 0.6 m away
    with pytest.raises(ScenarioError, match="rack A03: position: has no free space"):
        design.load(ROOT / "geometries" / "hall-small.yaml", movable=["rack.A03"])   # a row without gaps
    with pytest.raises(ScenarioError, match="must contain the current"):
        design.load(TINY, movable={"rack.A03": (3.7, 4.0)})


def test_with_solver_keeps_the_design_and_validates_the_setting():
    scene = design.load(TINY, movable=["rack.A03"]).with_parameters({"rack.A01.power": 2500.0})
    upwind = scene.with_solver(limiter="upwind")
    assert upwind.scene.solver.limiter == "upwind" and scene.scene.solver.limiter != "upwind"
    assert upwind.values == scene.values and upwind.bounds() == scene.bounds()
    assert upwind.model(np.float32).numerics_base.limiter == "upwind"
    with pytest.raises(ScenarioError, match="solver: limiter: must be one of"):
        scene.with_solver(limiter="superbee-ish")


def test_moving_box_fields_are_continuous_and_differentiable(x64):
    """Solid fractions, face closures and layer areas of a sliding box against central differences."""
    model = design.load(TINY, movable=["rack.A03"]).model(np.float64)
    grid = model.grid
    size = jnp.array([0.6, 0.8, 1.6])
    fixed = np.array([3.6, 2.4, 0.0])
    layer = candidate_layer(grid, 1, 2.4, -1, np.array([3.0, 2.4, 0.0]), np.array([4.8, 3.2, 1.6]))
    weights = [jnp.asarray(np.random.default_rng(k).random(s)) for k, s in
               enumerate([grid.shape, *(grid.face_shape(a) for a in range(3)), (len(layer.cells),)])]

    def measure(x):
        lower = jnp.array([0.0, 2.4, 0.0]).at[0].set(x)
        upper = lower + size
        total = jnp.sum(weights[0] * box_solid(grid, lower, upper))
        for a, cover in enumerate(box_face_cover(grid, lower, upper, 0, fixed, fixed + np.asarray(size))):
            total = total + jnp.sum(weights[1 + a] * cover)
        return total + jnp.sum(weights[4] * layer.areas(grid, lower, upper))

    x0 = 3.73      # between a grid line and a cell centre: no kink within +-h
    h = 1e-4
    fd = (measure(x0 + h) - measure(x0 - h)) / (2 * h)
    assert abs(float(jax.grad(measure)(x0)) - float(fd)) < 1e-6 * max(1.0, abs(float(fd)))
    # continuity across grid lines: small moves give small changes
    for x in np.asarray(grid.nodes[0])[(np.asarray(grid.nodes[0]) > 3.0) & (np.asarray(grid.nodes[0]) < 4.2)]:
        assert abs(float(measure(x + 1e-7)) - float(measure(x - 1e-7))) < 1e-4
    # the candidate layer's areas add up to the face area wherever the box is
    for x in (3.0, 3.37, 3.6, 4.2):
        lower = jnp.array([x, 2.4, 0.0])
        assert abs(float(jnp.sum(layer.areas(grid, lower, lower + size))) - 0.6 * 1.6) < 1e-12


def test_parameters_change_the_fields_they_should(x64):
    scene = design.load(TINY, movable=["rack.A03"])
    model = scene.model(np.float64)
    base = model.problem(scene.values)
    hotter = model.problem({**scene.values, "cooler.CRAH.supply_temperature": 20.0})
    assert float(hotter.equipment["cooler_setpoint"][0]) == 20.0
    more = model.problem({**scene.values, "rack.A01.power": 6000.0})
    # design rise 12 K: twice the power, twice the flow; the hall's mass sources stay balanced
    assert float(more.equipment["rack_flow"][0]) == pytest.approx(2 * float(base.equipment["rack_flow"][0]))
    volume = np.asarray(model.grid.cell_volume())
    assert abs(float(jnp.sum(more.sources.mass * volume)) - float(jnp.sum(base.sources.mass * volume))) < 1e-12
    opened = model.problem({**scene.values, "tile.T1.open_fraction": 0.6})
    assert float(jnp.sum(opened.geometry.open[2])) > float(jnp.sum(base.geometry.open[2]))


def test_write_back_and_reload(tmp_path, x64):
    from thermo import optimize as opt

    problem = opt.problem_from_scene(ROOT / "tests" / "data" / "design-tiny.yaml")
    assert problem.names == ["cooler.CRAH.supply_temperature", "cooler.CRAH.flow", "tile.T1.open_fraction",
                             "tile.T2.open_fraction", "tile.T3.open_fraction"]
    values = {"cooler.CRAH.supply_temperature": 21.5, "cooler.CRAH.flow": 0.75, "tile.T2.open_fraction": 0.55}
    path = opt.write_scenario(problem, values, tmp_path / "out.yaml")
    again = thermo.scene.load(path)
    crah = again.coolers[0]
    assert (crah.supply_temperature, crah.flow, crah.rated_flow) == (21.5, 0.75, 0.9)
    assert [t.open_fraction for t in again.tiles] == [0.4, 0.55, 0.4]
    assert again.optimize is not None and again.racks == problem.scene.scene.racks


def test_hall_small_rows_become_racks_when_one_moves(tmp_path):
    from thermo import optimize as opt

    scene = design.load(ROOT / "geometries" / "hall-small.yaml", movable=["rack.A06"])
    problem = opt.Problem(scene=scene, spec=None, names=["rack.A06.position", "rack.B01.power"],
                          lower=np.zeros(2), upper=np.ones(2), limit=None, dtype=np.float32)
    path = opt.write_scenario(problem, {"rack.A06.position": 6.3, "rack.B01.power": 9000.0}, tmp_path / "s.yaml")
    again = thermo.scene.load(path)
    racks = {r.name: r for r in again.racks}
    assert racks["A06"].position[0] == 6.3 and racks["B01"].power == 9000.0 and racks["B02"].power == 8000.0
    assert [r.name for r in again.racks] != [] and len(again.racks) == 12


def test_projection_keeps_the_total_power():
    from types import SimpleNamespace

    from thermo import optimize as opt

    spec = SimpleNamespace(fixed_total_power=True)
    problem = opt.Problem(scene=None, spec=spec, names=["a", "b", "c"], lower=np.array([0.0, 0.0, 0.0]),
                          upper=np.array([10.0, 10.0, 10.0]), limit=None, dtype=np.float64,
                          power_names=["a", "b", "c"], total_power=12.0)
    u = opt.project(problem, np.array([0.9, 0.8, -0.2]))
    x = problem.lower + u * (problem.upper - problem.lower)
    assert abs(x.sum() - 12.0) < 1e-9 and np.all(u >= 0) and np.all(u <= 1)
    # a long step below the box: the projection keeps the order of the variables (it does not clip first)
    u = opt.project(problem, np.array([-0.5, -1.0, -2.0]))
    assert abs((problem.lower + u * (problem.upper - problem.lower)).sum() - 12.0) < 1e-9 and u[0] > u[1] > u[2]


def test_line_search_warm_starts_only_from_accepted_points():
    """A rejected trial's steady state must not become the warm start (a hall can have several
    steady states; study (b) landed on another branch that way).  A stand-in evaluator on a
    quadratic records which points the optimizer accepts."""
    from types import SimpleNamespace

    from thermo import optimize as opt

    problem = opt.Problem(scene=None, spec=SimpleNamespace(fixed_total_power=False), names=["a", "b"],
                          lower=np.zeros(2), upper=np.ones(2), limit=None, dtype=np.float64,
                          power_names=[], total_power=None)

    class Quadratic:
        def __init__(self):
            self.problem, self.evaluated, self.accepted = problem, [], []

        def __call__(self, u):
            self.evaluated.append(np.array(u))
            return float(np.sum((u - 0.3) ** 2)), 2.0 * (u - 0.3)

        def accept(self, u):
            self.accepted.append(np.array(u))

    q = Quadratic()
    u, _ = opt.projected_gradient(q, np.array([0.9, 0.1]), iterations=6, step=2.0)
    assert np.allclose(u, 0.3, atol=0.05)
    objective = [float(np.sum((a - 0.3) ** 2)) for a in q.accepted]
    assert len(q.accepted) >= 3 and objective == sorted(objective, reverse=True)   # only descents accepted
    # the long first steps overshoot and are rejected: evaluated but never accepted
    rejected = [e for e in q.evaluated[1:] if not any(np.array_equal(e, a) for a in q.accepted)]
    assert rejected


def test_unconverged_trial_is_a_failed_step_for_lbfgsb():
    """L-BFGS-B cannot halve its step on an exception: an unconverged trial must come back as a
    value far above the accepted point's, so its line search backs off (the tiny-hall optimize
    run stopped with exit code 3 on one such trial)."""
    from types import SimpleNamespace

    from thermo import optimize as opt

    problem = opt.Problem(scene=None, spec=SimpleNamespace(fixed_total_power=False), names=["a"],
                          lower=np.zeros(1), upper=np.ones(1), limit=None, dtype=np.float64)

    class Flaky(opt.Evaluator):
        def __call__(self, u):
            if u[0] > 0.5:
                raise opt.NotConverged("the steady solve did not converge")
            return float((u[0] - 0.8) ** 2), np.array([2.0 * (u[0] - 0.8)])

    evaluate = Flaky(problem)
    with pytest.raises(opt.NotConverged):
        evaluate.or_failed_step(np.array([0.9]))        # nothing accepted yet: the error stands
    evaluate.accepted = evaluate(np.array([0.2]))
    value, g = evaluate.or_failed_step(np.array([0.9]))
    assert value > 100.0 * evaluate.accepted[0] and g == pytest.approx(evaluate.accepted[1])
    from scipy.optimize import minimize

    out = minimize(evaluate.or_failed_step, np.array([0.2]), jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)])
    assert 0.2 < out.x[0] <= 0.5 and out.fun < evaluate.accepted[0]


def test_optimize_tolerance_and_max_steps_reach_the_steady_options(tmp_path):
    import yaml

    from thermo import optimize as opt

    default = opt.problem_from_scene(TINY)
    assert default.options == design.default_options(np.float64)
    raw = yaml.safe_load(TINY.read_text())
    raw["optimize"].update(tolerance=1e-6, max_steps=12000, gradient="finite_difference", finite_difference_step=0.02)
    path = tmp_path / "tol.yaml"
    path.write_text(yaml.safe_dump(raw))
    problem = opt.problem_from_scene(path)
    options = problem.options
    assert (options.tol, options.max_steps) == (1e-6, 12000)
    assert (problem.spec.gradient, problem.spec.finite_difference_step) == ("finite_difference", 0.02)
    assert options.adjoint_tol == design.default_options(np.float64).adjoint_tol
    # the CLI's --gradient overrides the section
    assert opt.problem_from_scene(path, {"gradient": "adjoint", "method": None}).spec.gradient == "adjoint"
    from thermo import cli
    assert cli.build_parser().parse_args(["optimize", str(path), "--gradient", "adjoint"]).gradient == "adjoint"
    raw["optimize"]["tolerance"] = 0
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ScenarioError, match="tolerance"):
        opt.problem_from_scene(path)


def test_thermo_solve_is_callable_and_still_the_core_module():
    import thermo.solve as core

    assert callable(thermo.solve) and thermo.solve.Solver is core.Solver
    assert thermo.load is design.load and thermo.solve_batch is design.solve_batch


# ---------------------------------------------------------------------------------
# slow: solves, gradients against finite differences, optimize, batch
# ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gradients():
    """Adjoint gradients (float64, float32) and float64 central differences on the tiny hall.

    With first-order upwind advection: its steady state is smooth in every parameter, so central
    differences converge to the true derivative.  With a TVD limiter the face values have kinks
    (Koren's at r = 0, 1/4, 5/2, and every TVD limiter's where the downwind difference changes
    sign) and the differences average across them: 1.9e-3 to 5 % disagreement on this hall
    (docs/gradients.md), a property of the scheme, not of the adjoint."""
    from thermo.cases import design_gradients as dg

    base = dg.scene("upwind")
    with jax.enable_x64(True):
        fd, _ = dg.finite_differences(base)
        g64 = dg.adjoint_gradient(base, np.float64, list(dg.CHECKS))
        ones = dg.supply_sensitivity(base)
    g32 = dg.adjoint_gradient(base, np.float32, list(dg.CHECKS))
    return fd, g64, g32, ones


@pytest.mark.slow
def test_gradients_match_finite_differences_for_every_kind(gradients):
    fd, g64, g32, _ = gradients
    for name, reference in fd.items():
        e64 = abs(g64[name] - reference) / abs(reference)
        e32 = abs(g32[name] - reference) / abs(reference)
        assert e64 < 1e-3, f"{name}: float64 adjoint {g64[name]:.8g} vs FD {reference:.8g} (rel. error {e64:.2e})"
        # every kind within 1e-2 in float32, the small cooler-position derivative (0.07 K/m) included:
        # it was 9e-2 off before compensated temperature updates (docs/gradients.md)
        assert e32 < 1e-2, f"{name}: float32 adjoint {g32[name]:.6g} vs FD {reference:.8g} (rel. error {e32:.2e})"


@pytest.mark.slow
def test_every_intake_follows_the_supply_temperature(gradients):
    *_, ones = gradients
    assert np.all(np.abs(ones - 1.0) < 1e-4), f"d(rack inlet mean)/d(supply temperature) = {ones}"


@pytest.mark.slow
def test_optimize_cli_meets_its_constraints_on_the_tiny_hall(tmp_path):
    import json

    from thermo import cli

    out = tmp_path / "opt"
    assert cli.main(["optimize", str(TINY), "--out", str(out), "--max-iter", "3"]) == 0
    record = json.loads((out / "optimize.json").read_text())
    assert record["verification"]["satisfied"], record["verification"]
    assert record["after"]["objective"] < record["before"]["objective"]
    assert (out / "design-tiny-optimized.yaml").is_file() and (out / "intakes.png").is_file()


@pytest.mark.slow
def test_solve_batch_matches_sequential_solves(x64):
    scene = design.load(TINY)
    temps = np.array([17.0, 19.0])
    batch = design.solve_batch(scene, {"cooler.CRAH.supply_temperature": temps}, dtype=np.float64)
    assert np.all(np.asarray(batch.info.converged))
    for k, t in enumerate(temps):
        one = design.solve(scene.with_parameters({"cooler.CRAH.supply_temperature": t}), dtype=np.float64)
        assert np.max(np.abs(np.asarray(batch.rack_inlet_max[k]) - np.asarray(one.rack_inlet_max))) < 1e-6


def test_design_api_refuses_liquid_cooling_it_does_not_model():
    """Rear doors, cold plates and tanks are not in the design model yet: a clear refusal,
    not an answer without them."""
    with pytest.raises(ScenarioError, match="rear_door"):
        thermo.load(ROOT / "geometries" / "ai-pod.yaml")
    with pytest.raises(ScenarioError, match="tank"):
        thermo.load(ROOT / "geometries" / "immersion-pod.yaml")
