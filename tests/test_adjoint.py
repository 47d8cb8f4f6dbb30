"""Gradients of the steady state (``thermo.adjoint``) against central finite differences.

All float64 cases share one grid shape (16 x 16 x 1 cells), numerics and
options, so the steady march and the adjoint compile once for the module;
the float32 case compiles its own pair.  Finite differences use the same
forward solve, converged to rates below 1e-8, with steps of 1e-3 relative.
"""

from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from thermo.adjoint import AdjointNotConverged, AdjointNotConvergedWarning, SteadyOptions, steady_state
from thermo.boundary import Boundaries, set_patch, wall_plane
from thermo.cases.cavity import natural_convection_cavity
from thermo.grid import uniform_grid
from thermo.problem import Fluid, make_problem
from thermo.solve import Numerics

SHAPE = (16, 16, 1)
NUMERICS = Numerics(poisson_tol=1e-10)
OPTIONS = SteadyOptions(max_steps=20000, tol=1e-8, chunk=100, adjoint_tol=1e-8)
FD_RELATIVE_STEP = 1e-3
HEATED = (slice(4, 8), slice(4, 10), slice(None))      # cells of the heat source
BAFFLE = (8, slice(0, 10), 0)                          # x-faces of the partly open baffle


def _channel(dtype):
    """2 m x 1 m channel: uniform inflow at x = 0, outflow at x = 2 m, no-slip walls (Re = Pe = 20)."""
    grid = uniform_grid(SHAPE, (2.0, 1.0, 0.125))
    fluid = Fluid(density=1.0, heat_capacity=1.0, viscosity=0.05, prandtl=1.0, turbulent_prandtl=1.0,
                  expansion=0.0, reference_temperature=20.0, gravity=np.zeros(3))
    planes = [[wall_plane(SHAPE, 0), wall_plane(SHAPE, 0)], [wall_plane(SHAPE, 1), wall_plane(SHAPE, 1)],
              [wall_plane(SHAPE, 2, slip=True), wall_plane(SHAPE, 2, slip=True)]]
    everywhere = np.ones(planes[0][0].inflow.shape, bool)
    planes[0][0] = set_patch(planes[0][0], everywhere, kind="inflow", velocity=1.0, temperature=20.0)
    planes[0][1] = set_patch(planes[0][1], everywhere, kind="outflow", pressure=0.0, temperature=20.0)
    return make_problem(grid, fluid, Boundaries(tuple(tuple(p) for p in planes))).astype(dtype)


def heated_channel(params, dtype=np.float64):
    """The channel with inflow temperature ``T_in`` (degC), inflow speed ``U`` (m/s), heat source
    ``q`` (W/m^3 over HEATED; unit rho cp) and a baffle of open fraction ``open`` (0..1)."""
    base = _channel(dtype)
    inlet = base.boundaries.plane(0, 0)
    inlet = replace(inlet, temperature=jnp.full_like(inlet.temperature, params["T_in"]),
                    velocity=inlet.inflow * params["U"])
    heat = jnp.zeros(SHAPE, dtype).at[HEATED].set(1.0) * params["q"]
    open_x = base.geometry.open[0].at[BAFFLE].set(params["open"])
    return base.replace(boundaries=base.boundaries.with_plane(0, 0, inlet),
                        sources=replace(base.sources, heat=heat),
                        geometry=replace(base.geometry, open=(open_x, *base.geometry.open[1:])))


CHANNEL = {"T_in": 20.0, "U": 1.0, "q": 5.0, "open": 0.5}


def outlet_temperature(state):
    """Mean temperature (degC) of the cells next to the outlet."""
    return jnp.mean(state.temperature[-1])


def inlet_pressure(state):
    """Mean kinematic pressure (m^2/s^2) of the cells next to the inlet: the pressure drop to the outlet."""
    return jnp.mean(state.pressure[0])


def cavity(params, dtype=np.float64):
    """de Vahl Davis cavity (Ra = 1e3, 16 x 16) with hot-wall temperature ``T_hot`` and gravity ``g``."""
    base = natural_convection_cavity(16, 1e3, dtype=dtype)
    hot = base.boundaries.plane(0, 0)
    hot = replace(hot, temperature=jnp.full_like(hot.temperature, params["T_hot"]))
    fluid = replace(base.fluid, gravity=jnp.zeros(3, dtype).at[1].set(-params["g"]))
    return base.replace(boundaries=base.boundaries.with_plane(0, 0, hot), fluid=fluid)


CAVITY = {"T_hot": 1.0, "g": 1e3 * 0.71}


def hot_wall_flux(state, problem):
    """Mean conductive heat flux out of the hot wall, (T_wall - T_cell) / (dx/2) (K/m)."""
    half = 0.5 * (problem.grid.nodes[0][1] - problem.grid.nodes[0][0])
    wall = problem.boundaries.plane(0, 0).temperature
    return jnp.mean((wall - state.temperature[0]) / half)


def _as_arrays(params, dtype):
    return {k: jnp.asarray(v, dtype) for k, v in params.items()}


def _objective(build, measure, dtype=np.float64, options=OPTIONS, coupling=None, **kwargs):
    def f(params):
        problem = build(params, dtype)
        state, info = steady_state(problem, NUMERICS, coupling=coupling, options=options, **kwargs)
        return measure(state, problem)
    return f


def _central_differences(f, params, dtype=np.float64, keys=None):
    out = {}
    for key in keys or params:
        value = params[key]
        h = FD_RELATIVE_STEP * max(abs(value), 1.0)
        plus, minus = dict(params), dict(params)
        plus[key], minus[key] = value + h, value - h
        out[key] = (float(f(_as_arrays(plus, dtype))) - float(f(_as_arrays(minus, dtype)))) / (2 * h)
    return out


def _check(gradient, reference, rtol, what):
    for key, fd in reference.items():
        adj = float(gradient[key])
        error = abs(adj - fd) / max(abs(fd), 1e-12)
        assert error < rtol, f"d({what})/d({key}): adjoint {adj:.8g}, finite differences {fd:.8g} (relative error {error:.2e})"


def test_heated_channel_outlet_temperature(x64):
    reports = []
    f = _objective(heated_channel, lambda s, p: outlet_temperature(s), on_adjoint=reports.append)
    gradient = jax.grad(f)(_as_arrays(CHANNEL, np.float64))
    # an inflow temperature shift moves the whole (buoyancy-free) field with it
    assert abs(float(gradient["T_in"]) - 1.0) < 1e-6, float(gradient["T_in"])
    assert reports and reports[-1].converged and reports[-1].iterations > 0
    _check(gradient, _central_differences(f, CHANNEL), 1e-4, "outlet temperature")


def test_channel_pressure_drop_and_baffle_open_fraction(x64):
    """Pressure is a function of the state, and the open fraction changes the pressure operator."""
    f = _objective(heated_channel, lambda s, p: inlet_pressure(s))
    gradient = jax.grad(f)(_as_arrays(CHANNEL, np.float64))
    reference = _central_differences(f, CHANNEL, keys=("U", "open"))
    assert reference["open"] < 0  # opening the baffle lowers the pressure drop
    _check(gradient, reference, 1e-4, "inlet pressure")


def test_cavity_hot_wall_flux(x64):
    f = _objective(cavity, hot_wall_flux)
    gradient = jax.grad(f)(_as_arrays(CAVITY, np.float64))
    _check(gradient, _central_differences(f, CAVITY), 1e-4, "hot-wall heat flux")


def _feedback(problem, state):
    """Equipment that reacts to the flow: the heater's output rises by 5 %/K of the mean
    temperature of the cells it heats (above 20 degC)."""
    heated = jnp.zeros(SHAPE, state.temperature.dtype).at[HEATED].set(1.0)
    probe = jnp.sum(state.temperature * heated) / jnp.sum(heated)
    return problem.replace(sources=replace(problem.sources,
                                           heat=problem.sources.heat * (1.0 + 0.05 * (probe - 20.0))))


def test_coupling_is_differentiated(x64):
    f = _objective(heated_channel, lambda s, p: outlet_temperature(s), coupling=_feedback)
    params = {"q": CHANNEL["q"], "U": CHANNEL["U"]}
    full = lambda p: f({**_as_arrays(CHANNEL, np.float64), **p})  # noqa: E731
    gradient = jax.grad(full)(_as_arrays(params, np.float64))
    uncoupled = jax.grad(_objective(heated_channel, lambda s, p: outlet_temperature(s)))(
        _as_arrays(CHANNEL, np.float64))
    assert float(gradient["q"]) > 1.01 * float(uncoupled["q"])  # the feedback amplifies the heater
    _check(gradient, _central_differences(full, params), 1e-4, "outlet temperature with feedback")


def test_float32_gradient_matches_float64(x64):
    f64 = _objective(heated_channel, lambda s, p: inlet_pressure(s) + outlet_temperature(s))
    g64 = jax.grad(f64)(_as_arrays(CHANNEL, np.float64))
    options = SteadyOptions(max_steps=20000, tol=1e-5, chunk=100, adjoint_tol=1e-4)
    f32 = _objective(heated_channel, lambda s, p: inlet_pressure(s) + outlet_temperature(s), np.float32, options)
    g32 = jax.grad(f32)(_as_arrays(CHANNEL, np.float32))
    assert all(g32[k].dtype == np.float32 for k in g32)
    _check(g32, {k: float(v) for k, v in g64.items()}, 0.02, "inlet pressure + outlet temperature, float32")


def test_unconverged_adjoint_raises(x64):
    short = SteadyOptions(**{**OPTIONS.__dict__, "adjoint_max_steps": 100})
    f = _objective(heated_channel, lambda s, p: outlet_temperature(s), options=short)
    with pytest.raises(AdjointNotConverged, match="adjoint did not converge in 100 iterations"):
        jax.grad(f)(_as_arrays(CHANNEL, np.float64))


def test_unconverged_adjoint_nan_policy_warns(x64):
    short = SteadyOptions(**{**OPTIONS.__dict__, "adjoint_max_steps": 100, "on_failure": "nan"})
    f = _objective(heated_channel, lambda s, p: outlet_temperature(s), options=short)
    with pytest.warns(AdjointNotConvergedWarning):
        gradient = jax.grad(f)(_as_arrays(CHANNEL, np.float64))
    assert all(np.isnan(float(v)) for v in gradient.values())


def test_unconverged_steady_state_has_no_gradient(x64):
    short = SteadyOptions(**{**OPTIONS.__dict__, "max_steps": 100})
    f = _objective(heated_channel, lambda s, p: outlet_temperature(s), options=short)
    with pytest.raises(AdjointNotConverged, match="steady state did not converge"):
        jax.grad(f)(_as_arrays(CHANNEL, np.float64))
