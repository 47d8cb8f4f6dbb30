"""Compensated float32 temperature updates (``State.temperature_residue``)."""

import jax
import jax.numpy as jnp
import numpy as np

from thermo.adjoint import SteadyOptions, steady_state
from thermo.cases.gradient_check import CHANNEL, NUMERICS, OPTIONS_64, as_arrays, heated_channel
from thermo.fields import compensated_sum, initial_state


def test_compensated_sum_keeps_increments_below_half_an_ulp():
    """4e-7 K is under half a float32 ulp of 25 degC (9.5e-7): a plain sum never moves,
    the compensated one adds up 10,000 of them, also after XLA has compiled it."""
    @jax.jit
    def march(value, residue):
        return jax.lax.fori_loop(0, 10000, lambda i, c: compensated_sum(c[0], jnp.float32(4e-7), c[1]),
                                 (value, residue))

    value, residue = march(jnp.full(4, 25.0, jnp.float32), jnp.zeros(4, jnp.float32))
    plain = jax.jit(lambda v: jax.lax.fori_loop(0, 10000, lambda i, c: c + jnp.float32(4e-7), v))(
        jnp.full(4, 25.0, jnp.float32))
    np.testing.assert_array_equal(np.asarray(plain), 25.0)
    total = np.asarray(value, np.float64) + np.asarray(residue, np.float64)
    np.testing.assert_allclose(total, 25.0 + 10000 * np.float64(np.float32(4e-7)), rtol=0, atol=2e-6)


def test_initial_state_carries_a_residue_in_float32_only(x64):
    grid = heated_channel(as_arrays(CHANNEL, np.float64)).grid
    assert initial_state(grid, 20.0, 0, jnp.float64).temperature_residue is None
    residue = initial_state(grid, 20.0, 0, jnp.float32).temperature_residue
    assert residue.dtype == jnp.float32 and residue.shape == grid.shape and not np.any(np.asarray(residue))


def test_float32_march_reaches_the_float64_temperatures(x64):
    """The heated channel marched 3,000 steps in float32: with the residue every cell is within
    1e-5 K of the float64 steady state; without it the march stalls 1e-4 K or more away (the
    increments are rounded away long before the slow modes have settled)."""
    exact, info = steady_state(heated_channel(as_arrays(CHANNEL, np.float64)), NUMERICS, options=OPTIONS_64)
    assert bool(info.converged)
    problem = heated_channel(as_arrays(CHANNEL, np.float32), np.float32)
    march = SteadyOptions(max_steps=3000, tol=1e-12, chunk=100)
    errors = {}
    for compensated in (True, False):
        start = initial_state(problem.grid, 20.0, 0, jnp.float32)
        if not compensated:
            start = start.replace(temperature_residue=None)
        state, _ = steady_state(problem, NUMERICS, start, options=march)
        errors[compensated] = float(np.max(np.abs(np.asarray(state.temperature, np.float64)
                                                  - np.asarray(exact.temperature))))
    assert errors[True] < 1e-5, errors
    assert errors[False] > 1e-4, errors
