"""Pseudo-time stepping: the steady state does not depend on the step, so local
time stepping reaches the same state, in fewer steps."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from thermo.cases.gradient_check import CHANNEL, as_arrays, heated_channel
from thermo.solve import Numerics, Solver, precompute, relative_time_steps, stable_time_step, step

BAFFLE_RESISTANCE = 4.0   # 1/m: a porous baffle (quadratic loss) across the lower part of the channel


def _porous_channel():
    problem = heated_channel(as_arrays(CHANNEL, np.float64))
    quadratic = list(problem.sources.resistance_quadratic)
    quadratic[0] = jnp.asarray(quadratic[0]).at[8, 0:10, 0].set(BAFFLE_RESISTANCE)
    return problem.replace(sources=dataclasses.replace(problem.sources, resistance_quadratic=tuple(quadratic)))


def _steady(problem, local, tol=1e-8):
    solver = Solver(problem, Numerics(poisson_tol=1e-11, local_time_step=local), chunk=100)
    return solver.steady(max_steps=20000, tol=tol)


def assert_same_state(state, reference, tolerance=1e-6):
    """Velocity (m/s), temperature (K) and pressure within ``tolerance`` everywhere."""
    for a in range(3):
        assert float(jnp.max(jnp.abs(state.velocity[a] - reference.velocity[a]))) < tolerance
    assert float(jnp.max(jnp.abs(state.temperature - reference.temperature))) < tolerance
    assert float(jnp.max(jnp.abs(state.pressure - reference.pressure))) < tolerance


@pytest.fixture(scope="module")
def steady_channel():
    """(problem, uniform-step steady state, report), float64, shared by the tests below."""
    with jax.enable_x64(True):
        problem = _porous_channel()
        state, report = _steady(problem, 1.0)
        yield problem, state, report


def test_the_steady_state_is_a_fixed_point_of_every_time_step(steady_channel, x64):
    """A porous baffle and an outflow opening: both treat the pressure correction
    implicitly, so the converged state is left in place by a step 5x longer
    (an explicit correction gave the baffle a (1 + dt R) error in its pressure drop)."""
    problem, state, report = steady_channel
    assert report.converged
    numerics = Numerics(poisson_tol=1e-12)
    pre = precompute(problem, numerics)
    dt = float(stable_time_step(problem, numerics, state.velocity, state.eddy_viscosity))
    # compiled once for both steps: op-by-op dispatch of a whole step took 40 s
    one_step = jax.jit(lambda s, h: step(problem, numerics, pre, s, h))
    rates = []
    for factor in (1.0, 5.0):
        new, _ = one_step(state, jnp.asarray(factor * dt))
        rates.append(max(float(jnp.max(jnp.abs(n - o))) for n, o in zip(new.velocity, state.velocity))
                     / (factor * dt))
    # |du|/dt is the momentum residual (m/s^2); it must not grow with the step
    assert rates[1] < 2.0 * rates[0] + 1e-7, rates
    assert rates[1] < 1e-5, rates


def test_local_time_stepping_reaches_the_same_steady_state_in_fewer_steps(steady_channel, x64):
    problem, uniform, uniform_report = steady_channel
    local, local_report = _steady(problem, 8.0)
    assert local_report.converged
    assert local_report.steps < 0.8 * uniform_report.steps, (local_report.steps, uniform_report.steps)
    assert_same_state(local, uniform)


def test_multipliers_are_bounded_and_faces_take_the_smaller_cell(steady_channel, x64):
    problem, state, _ = steady_channel
    scale = relative_time_steps(problem, Numerics(local_time_step=5.0), state.velocity, state.eddy_viscosity)
    cell = np.asarray(scale.cell)
    assert cell.min() >= 1.0 and cell.max() <= 5.0 + 1e-12
    assert cell.max() > 1.5          # the channel has slow cells to speed up
    face_x = np.asarray(scale.face[0])
    np.testing.assert_allclose(face_x[1:-1], np.minimum(cell[:-1], cell[1:]))
    np.testing.assert_allclose(face_x[0], cell[0])


def test_local_time_step_is_refused_where_it_has_no_meaning():
    with pytest.raises(ValueError, match="local_time_step must be >= 1"):
        Numerics(local_time_step=0.5)
    with pytest.raises(ValueError, match="fixed_dt"):
        Numerics(local_time_step=4.0, fixed_dt=0.1)
    problem = heated_channel(as_arrays(CHANNEL, np.float32), np.float32)
    solver = Solver(problem, dataclasses.replace(Numerics(), local_time_step=4.0))
    with pytest.raises(ValueError, match="one time step everywhere"):
        solver.transient(None, end_time=1.0, report_every=0.5)


def test_implicit_steps_reach_the_same_steady_state_in_fewer_steps(steady_channel, x64):
    """Line-implicit steps at a Courant number of 5 (delta form, incremental pressure):
    the porous baffle, the outflow opening and the heat source give the explicit
    march's steady state, in under half its steps (2026-11-27: 301 against 1,501; local
    steps 8: 1,001)."""
    problem, uniform, uniform_report = steady_channel
    solver = Solver(problem, Numerics(poisson_tol=1e-11, pseudo_time="implicit", cfl=5.0), chunk=100)
    implicit, report = solver.steady(max_steps=20000, tol=1e-8)
    assert report.converged
    assert report.steps < 0.5 * uniform_report.steps, (report.steps, uniform_report.steps)
    assert_same_state(implicit, uniform)
