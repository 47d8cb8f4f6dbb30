"""The steady Newton-Krylov solver (thermo.solvers): its Krylov method against dense algebra,
the smooth limiter's slope form against its ratio form, and a hall solved by Newton against
the pseudo-time march's fixed point of the same scheme."""

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import thermo.scene as scene_api
from thermo import hall
from thermo.operators import smooth, smooth_increment, tvd_interior_faces
from thermo.solvers.krylov import gmres

DATA = Path(__file__).parent / "data"


def test_gmres_solves_a_nonsymmetric_system_to_its_tolerance(x64):
    rng = np.random.default_rng(3)
    n = 120
    matrix = np.eye(n) + 0.6 * rng.standard_normal((n, n)) / np.sqrt(n) + np.diag(np.linspace(0, 3, n))
    b = rng.standard_normal(n)
    solve = jax.jit(lambda b, tol: gmres(lambda v: jnp.asarray(matrix) @ v, b, restart=25, max_cycles=20, tol=tol))
    x, products, relative = solve(jnp.asarray(b), 1e-10)
    exact = np.linalg.solve(matrix, b)
    assert float(relative) <= 1e-10
    assert np.max(np.abs(np.asarray(x) - exact)) < 1e-8 * np.max(np.abs(exact))
    # a looser tolerance stops earlier, and the count is what the loop did (products < restarts x cycles)
    _, fewer, loose = solve(jnp.asarray(b), 1e-3)
    assert float(loose) <= 1e-3 and 0 < int(fewer) < int(products) <= 25 * 20 + 20


def test_gmres_is_exact_in_as_many_products_as_the_space_has_dimensions(x64):
    rng = np.random.default_rng(5)
    matrix = rng.standard_normal((8, 8)) + 8 * np.eye(8)
    b = rng.standard_normal(8)
    x, products, relative = gmres(lambda v: jnp.asarray(matrix) @ v, jnp.asarray(b), restart=8, max_cycles=1, tol=1e-14)
    np.testing.assert_allclose(np.asarray(x), np.linalg.solve(matrix, b), rtol=1e-10)
    assert int(products) <= 9


def test_smooth_slope_form_equals_the_ratio_form(x64):
    rng = np.random.default_rng(1)
    up = rng.standard_normal(2000) * 10.0 ** rng.uniform(-6, 3, 2000)
    down = rng.standard_normal(2000) * 10.0 ** rng.uniform(-6, 3, 2000)
    ratio_form = 0.5 * np.asarray(smooth(jnp.asarray(up / down))) * down
    np.testing.assert_allclose(np.asarray(smooth_increment(jnp.asarray(up), jnp.asarray(down))), ratio_form,
                               rtol=1e-12, atol=1e-300)


def test_smooth_limiter_derivative_is_finite_on_flat_and_still_fields():
    """A uniform temperature and a field at rest: the ratio form's tangent overflowed to NaN in
    float32 there, which a Newton-Krylov solve cannot survive."""
    flux = jnp.asarray(np.r_[np.ones(5), -np.ones(5)], jnp.float32)
    for q in (jnp.full(11, 18.0, jnp.float32), jnp.zeros(11, jnp.float32),
              jnp.asarray(np.r_[np.zeros(6), np.ones(5) * 1e-7], jnp.float32)):
        values, tangent = jax.jvp(lambda f: tvd_interior_faces(f, flux, 0, smooth), (q,), (jnp.ones_like(q),))
        assert np.all(np.isfinite(np.asarray(tangent))), q
        np.testing.assert_allclose(np.asarray(tangent), 1.0, atol=1e-6)   # a uniform shift moves every face value by it


@pytest.fixture(scope="module")
def tiny_newton():
    scene = scene_api.load(DATA / "design-tiny.yaml").with_solver(method="newton")
    model = hall.build(scene)
    return model, hall.solve(model, capture_index=False)


def test_newton_converges_and_reports_its_iterations(tiny_newton):
    model, result = tiny_newton
    solver = result.summary["solver"]
    assert model.scene.solver.limiter == "smooth"          # method newton picks the smooth scheme
    assert result.converged and solver["method"] == "newton", solver["reason"]
    assert solver["newton_iterations"] >= 1 and solver["krylov_iterations"] >= solver["newton_iterations"]
    assert max(solver["residual_momentum"], solver["residual_temperature"]) <= solver["residual_tolerance"]
    history = solver["residual_history"]
    assert history[0]["kind"] == "start" and history[-1]["kind"] in ("newton", "march")
    assert abs(result.summary["energy_balance_pct"]) <= hall.NEWTON_BALANCE_PCT


def test_newton_state_is_the_march_fixed_point(tiny_newton):
    """The march of the same (smooth) scheme, continued from Newton's answer, stays on it: the
    rack intakes move by less than 0.02 K (float32) while the march converges by its own test."""
    model, result = tiny_newton
    march = dataclasses.replace(model, scene=model.scene.with_solver(method="march", limiter="smooth"))
    marched = hall.solve(march, state=result.state, capture_index=False, max_steps=3000)
    assert marched.converged, marched.summary["solver"]["reason"]
    newton_intakes = np.array([r["inlet_mean_C"] for r in result.summary["racks"]])
    march_intakes = np.array([r["inlet_mean_C"] for r in marched.summary["racks"]])
    assert np.max(np.abs(newton_intakes - march_intakes)) < 0.02, (newton_intakes, march_intakes)


def test_newton_that_cannot_converge_hands_over_to_the_march_and_says_so(tiny_newton):
    model, _ = tiny_newton
    scene = model.scene.with_solver(method="newton", newton_max_iterations=1, newton_tolerance=1e-9)
    # the same fields and coupling (so the compiled programs are reused), other solver settings
    result = hall.solve(dataclasses.replace(model, scene=scene), capture_index=False, max_steps=400)
    solver = result.summary["solver"]
    assert solver["method"] == "march" and solver["newton"]["newton_iterations"] == 1
    assert solver["reason"].startswith("Newton-Krylov did not converge")
    assert "march" in solver["reason"]


def test_a_diverged_solve_carries_its_state_so_the_message_can_say_where(tiny_newton):
    """Both steady solvers attach the state to SolverDiverged; thermo.diagnostics then names the
    first non-finite quantity and where it is (the CLI prints it)."""
    from thermo.diagnostics import describe_non_finite
    from thermo.solve import SolverDiverged

    model, result = tiny_newton
    temperature = np.asarray(result.state.temperature).copy()
    fluid_cells = np.argwhere(np.asarray(model.problem.geometry.fluid) > 0)
    cell = fluid_cells[len(fluid_cells) // 2]
    temperature[tuple(cell)] = np.nan
    poisoned = result.state.replace(temperature=jnp.asarray(temperature))
    with pytest.raises(SolverDiverged) as caught:
        hall.solve(model, state=poisoned, capture_index=False)
    assert caught.value.state is not None
    text = describe_non_finite(model, caught.value.state)
    assert text is not None and "non-finite" in text


def test_a_start_is_stepped_before_it_is_judged(tiny_newton):
    """The steady residuals leave out boundary face values and continuity, which every step imposes:
    a warm start from another hall (hall-small's answer given to hall-small-s08, tile flow 0.8x)
    passed as converged in zero iterations.  The solve now steps once before judging."""
    from thermo.solvers.newton import NewtonOptions, solve_steady

    model, result = tiny_newton
    _, report = solve_steady(model.problem, model.numerics, result.state, model.coupling,
                             NewtonOptions(max_iterations=2))
    assert report.march_steps >= 1 and report.converged
