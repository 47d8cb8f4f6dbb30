"""Gradients of the steady state (``thermo.adjoint``) against central finite differences.

The problems live in :mod:`thermo.cases.gradient_check` (which also prints the
numbers quoted in docs/gradients.md).  All float64 cases share one grid shape
(16 x 16 x 1 cells), numerics and options, so the steady march and the
adjoint compile once for the module; the float32 case and the coupled case
compile their own.  Finite differences use the same forward solve, converged
to change rates below 1e-8, with steps of 1e-3 relative.
"""

from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from thermo.adjoint import AdjointNotConverged, AdjointNotConvergedWarning, SteadyOptions
from thermo.cases.gradient_check import (CAVITY, CHANNEL, HEATED, OPTIONS_64, SHAPE, as_arrays, cavity,
                                         central_differences, heated_channel, hot_wall_flux, inlet_pressure,
                                         objective, outlet_temperature)


def _check(gradient, reference, rtol, what):
    for key, fd in reference.items():
        adj = float(gradient[key])
        error = abs(adj - fd) / max(abs(fd), 1e-12)
        assert error < rtol, (f"d({what})/d({key}): adjoint {adj:.8g}, finite differences {fd:.8g} "
                              f"(relative error {error:.2e})")


def test_heated_channel_outlet_temperature(x64):
    reports = []
    f = objective(heated_channel, outlet_temperature, on_adjoint=reports.append)
    gradient = jax.grad(f)(as_arrays(CHANNEL, np.float64))
    # an inflow temperature shift moves the whole (buoyancy-free) field with it
    assert abs(float(gradient["T_in"]) - 1.0) < 1e-6, float(gradient["T_in"])
    assert reports and reports[-1].converged and reports[-1].iterations > 0
    _check(gradient, central_differences(f, CHANNEL), 1e-4, "outlet temperature")


def test_channel_pressure_drop_and_baffle_open_fraction(x64):
    """Pressure is a function of the state, and the open fraction changes the pressure operator."""
    f = objective(heated_channel, inlet_pressure)
    gradient = jax.grad(f)(as_arrays(CHANNEL, np.float64))
    reference = central_differences(f, CHANNEL, keys=("U", "open"))
    assert reference["open"] < 0  # opening the baffle lowers the pressure drop
    _check(gradient, reference, 1e-4, "inlet pressure")


def test_cavity_hot_wall_flux(x64):
    f = objective(cavity, hot_wall_flux)
    gradient = jax.grad(f)(as_arrays(CAVITY, np.float64))
    _check(gradient, central_differences(f, CAVITY), 1e-4, "hot-wall heat flux")


def _feedback(problem, state):
    """Equipment that reacts to the flow: the heater's output rises by 5 %/K of the mean
    temperature of the cells it heats (above 20 degC)."""
    heated = jnp.zeros(SHAPE, state.temperature.dtype).at[HEATED].set(1.0)
    probe = jnp.sum(state.temperature * heated) / jnp.sum(heated)
    return problem.replace(sources=replace(problem.sources,
                                           heat=problem.sources.heat * (1.0 + 0.05 * (probe - 20.0))))


@pytest.mark.slow   # 80 s on this 2-core machine: the coupled march and its adjoint compile apart
def test_coupling_is_differentiated(x64):
    coupled = objective(heated_channel, outlet_temperature, coupling=_feedback)
    gradient = jax.grad(coupled)(as_arrays(CHANNEL, np.float64))
    uncoupled = jax.grad(objective(heated_channel, outlet_temperature))(as_arrays(CHANNEL, np.float64))
    assert float(gradient["q"]) > 1.01 * float(uncoupled["q"])  # the feedback amplifies the heater
    _check(gradient, central_differences(coupled, CHANNEL, keys=("q", "U")), 1e-4,
           "outlet temperature with feedback")


@pytest.mark.slow   # 43 s on the 2-core CI machine; the float64 gradient tests above stay in the default suite
def test_float32_gradient_matches_float64(x64):
    measure = lambda s, p: inlet_pressure(s) + outlet_temperature(s)  # noqa: E731
    g64 = jax.grad(objective(heated_channel, measure))(as_arrays(CHANNEL, np.float64))
    g32 = jax.grad(objective(heated_channel, measure, np.float32))(as_arrays(CHANNEL, np.float32))
    assert all(g32[k].dtype == np.float32 for k in g32)
    _check(g32, {k: float(v) for k, v in g64.items()}, 0.02, "inlet pressure + outlet temperature, float32")


def test_unconverged_adjoint_raises(x64):
    # GMRES stops after whole restart cycles (41 products here), the first one past the budget
    short = SteadyOptions(**{**OPTIONS_64.__dict__, "adjoint_max_steps": 30})
    f = objective(heated_channel, outlet_temperature, options=short)
    with pytest.raises(AdjointNotConverged, match="adjoint did not converge in 41 iterations"):
        jax.grad(f)(as_arrays(CHANNEL, np.float64))


@pytest.mark.slow
def test_fixed_point_adjoint_matches_gmres(x64):
    """The Neumann-series adjoint (the pre-GMRES method, kept as an option) gives the same gradient."""
    point = as_arrays(CHANNEL, np.float64)
    g_krylov = jax.grad(objective(heated_channel, outlet_temperature))(point)
    fixed = SteadyOptions(**{**OPTIONS_64.__dict__, "adjoint_method": "fixed_point"})
    g_fixed = jax.grad(objective(heated_channel, outlet_temperature, options=fixed))(point)
    _check(g_krylov, {k: float(v) for k, v in g_fixed.items()}, 1e-5, "outlet temperature, fixed point")


@pytest.mark.slow
def test_local_time_stepping_gives_the_same_gradient(x64):
    """Local pseudo-time steps change the march, not the steady state, so not its gradient either
    (the linearised step holds the steady state's multipliers)."""
    from thermo.cases.gradient_check import NUMERICS

    point = as_arrays(CHANNEL, np.float64)
    reports = []
    g_global = jax.grad(objective(heated_channel, outlet_temperature))(point)
    local = replace(NUMERICS, local_time_step=4.0)
    g_local = jax.grad(objective(heated_channel, outlet_temperature, numerics=local, on_adjoint=reports.append))(point)
    assert reports[-1].converged
    _check(g_local, {k: float(v) for k, v in g_global.items()}, 1e-5, "outlet temperature, local time steps")


def test_unconverged_adjoint_nan_policy_warns(x64):
    short = SteadyOptions(**{**OPTIONS_64.__dict__, "adjoint_max_steps": 30, "on_failure": "nan"})
    f = objective(heated_channel, outlet_temperature, options=short)
    with pytest.warns(AdjointNotConvergedWarning):
        gradient = jax.grad(f)(as_arrays(CHANNEL, np.float64))
    assert all(np.isnan(float(v)) for v in gradient.values())


def test_unconverged_steady_state_has_no_gradient(x64):
    short = SteadyOptions(**{**OPTIONS_64.__dict__, "max_steps": 100})
    f = objective(heated_channel, outlet_temperature, options=short)
    with pytest.raises(AdjointNotConverged, match="steady state did not converge"):
        jax.grad(f)(as_arrays(CHANNEL, np.float64))
