"""Each boundary condition and source against an analytic answer.

All cases are 2-D channels or boxes (one cell thick in z, free-slip there) in
float64 with unit properties, sharing grid shapes so the step compiles once.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from thermo.boundary import Boundaries, set_patch, wall_plane
from thermo.grid import uniform_grid
from thermo.physics.projection import face_volume_flux
from thermo.problem import Fluid, block_cells, make_problem, no_sources, open_geometry
from thermo.solve import Numerics, Solver

UNIT = Fluid(density=1.0, heat_capacity=1.0, viscosity=1.0, prandtl=1.0, turbulent_prandtl=1.0,
             expansion=0.0, reference_temperature=0.0, gravity=np.zeros(3))
SHAPE = (32, 16, 1)
LENGTHS = (4.0, 1.0, 0.0625)


def _planes(shape, n_tracers=0, slip_walls=False):
    return [
        [wall_plane(shape, 0, n_tracers), wall_plane(shape, 0, n_tracers)],
        [wall_plane(shape, 1, n_tracers, slip=slip_walls), wall_plane(shape, 1, n_tracers, slip=slip_walls)],
        [wall_plane(shape, 2, n_tracers, slip=True), wall_plane(shape, 2, n_tracers, slip=True)],
    ]


def _bounds(planes):
    return Boundaries(tuple(tuple(p) for p in planes))


def _channel(slip_walls, n_tracers=1, inflow_temperature=25.0, inflow_tracer=1.0):
    grid = uniform_grid(SHAPE, LENGTHS)
    planes = _planes(grid.shape, n_tracers, slip_walls)
    everywhere = np.ones(planes[0][0].inflow.shape, bool)
    planes[0][0] = set_patch(planes[0][0], everywhere, kind="inflow", velocity=1.0,
                             temperature=inflow_temperature, tracer=[inflow_tracer] * n_tracers)
    planes[0][1] = set_patch(planes[0][1], everywhere, kind="outflow", pressure=0.0, temperature=0.0)
    # Pe = U L / kappa = 40: the inflow flushes the initial state in a few flow-through times
    fluid = Fluid(**{**UNIT.__dict__, "prandtl": 10.0})
    return make_problem(grid, fluid, _bounds(planes), n_tracers=n_tracers).astype(np.float64)


def _steady(problem, initial_temperature=0.0, **kwargs):
    solver = Solver(problem, Numerics(poisson_tol=1e-10), chunk=200)
    state, report = solver.steady(solver.initial_state(initial_temperature),
                                  max_steps=kwargs.pop("max_steps", 40000), tol=kwargs.pop("tol", 1e-5),
                                  **kwargs)
    assert report.converged, report.reason
    return state


@pytest.fixture(scope="module")
def no_slip_channel():
    with __import__("jax").enable_x64(True):
        problem = _channel(slip_walls=False)
        state = _steady(problem)
        yield problem, state


def test_no_slip_channel_develops_poiseuille_profile(no_slip_channel):
    """Inflow + outflow + no-slip walls: u(y) -> 6 U y (H - y) / H^2 downstream."""
    problem, state = no_slip_channel
    y = np.asarray(problem.grid.centres(1))
    u = np.asarray(state.velocity[0])[24, :, 0]  # x = 3 H
    exact = 6.0 * y * (1.0 - y)
    assert np.max(np.abs(u - exact)) < 0.01


def test_inflow_temperature_and_tracer_fill_the_channel(no_slip_channel):
    problem, state = no_slip_channel
    np.testing.assert_allclose(np.asarray(state.temperature), 25.0, atol=1e-4)
    np.testing.assert_allclose(np.asarray(state.tracers[0]), 1.0, atol=1e-5)


def test_outflow_carries_the_inflow_mass(no_slip_channel):
    problem, state = no_slip_channel
    flux = face_volume_flux(state.velocity, problem.grid, problem.geometry.open)
    inflow = float(jnp.sum(flux[0][0]))
    outflow = float(jnp.sum(flux[0][-1]))
    assert inflow == pytest.approx(LENGTHS[1] * LENGTHS[2], rel=1e-12)
    assert outflow == pytest.approx(inflow, rel=1e-8)


def test_free_slip_walls_keep_plug_flow(x64):
    state = _steady(_channel(slip_walls=True))
    u = np.asarray(state.velocity[0])
    np.testing.assert_allclose(u, 1.0, atol=1e-7)
    np.testing.assert_allclose(np.asarray(state.velocity[1]), 0.0, atol=1e-7)


def _closed_box(planes_edit, sources=None):
    grid = uniform_grid(SHAPE, LENGTHS)
    planes = _planes(grid.shape)
    planes_edit(planes)
    return make_problem(grid, UNIT, _bounds(planes), sources=sources).astype(np.float64)


def test_fixed_temperature_walls_give_linear_conduction(x64):
    def edit(planes):
        planes[1][0] = wall_plane(SHAPE, 1, temperature=10.0)
        planes[1][1] = wall_plane(SHAPE, 1, temperature=20.0)
    problem = _closed_box(edit)
    state = _steady(problem)
    y = np.asarray(problem.grid.centres(1))
    np.testing.assert_allclose(np.asarray(state.temperature)[5, :, 0], 10.0 + 10.0 * y, atol=1e-5)


def test_fixed_heat_flux_wall_sets_the_gradient(x64):
    q = 3.0  # W/m^2 into the fluid; k = rho cp kappa = 1 W/(m K)

    def edit(planes):
        planes[1][0] = wall_plane(SHAPE, 1, heat_flux=q)
        planes[1][1] = wall_plane(SHAPE, 1, temperature=20.0)
    problem = _closed_box(edit)
    state = _steady(problem)
    y = np.asarray(problem.grid.centres(1))
    np.testing.assert_allclose(np.asarray(state.temperature)[3, :, 0], 20.0 + q * (1.0 - y), atol=1e-5)


def test_adiabatic_box_stores_a_heat_source_exactly(x64):
    grid = uniform_grid(SHAPE, LENGTHS)
    sources = no_sources(grid)
    heat = np.zeros(SHAPE)
    heat[4:10, 3:8] = 2.0  # W/m^3
    sources = sources.__class__(**{**sources.__dict__, "heat": heat})
    problem = _closed_box(lambda planes: None, sources)
    solver = Solver(problem, Numerics(fixed_dt=1e-3, poisson_tol=1e-10), chunk=100)
    state = solver.initial_state(0.0)
    state, _ = solver.run_chunk(state, 300)
    volume = np.asarray(grid.cell_volume())
    stored = float(np.sum(np.asarray(state.temperature) * volume))  # rho cp = 1
    released = float(np.sum(heat * volume)) * float(state.time)
    assert stored == pytest.approx(released, rel=1e-10)


def test_mass_source_leaves_through_the_outflow(x64):
    grid = uniform_grid(SHAPE, LENGTHS)
    sources = no_sources(grid)
    mass = np.zeros(SHAPE)
    mass[2:6, 4:12] = 0.5  # 1/s
    mass_temperature = np.full(SHAPE, 30.0)
    sources = sources.__class__(**{**sources.__dict__, "mass": mass, "mass_temperature": mass_temperature})

    def edit(planes):
        top = np.zeros(planes[1][1].inflow.shape, bool)
        top[26:30] = True
        planes[1][1] = set_patch(planes[1][1], top, kind="outflow", pressure=0.0, temperature=0.0)
    problem = _closed_box(edit, sources)
    # the box starts full of fluid at the source temperature: mixing in more of
    # it must not change the temperature anywhere (a wrong source or sink term would)
    state = _steady(problem, initial_temperature=30.0)
    flux = face_volume_flux(state.velocity, grid, problem.geometry.open)
    injected = float(np.sum(mass * np.asarray(grid.cell_volume())))
    assert float(jnp.sum(flux[1][:, -1])) == pytest.approx(injected, rel=1e-8)
    np.testing.assert_allclose(np.asarray(state.temperature), 30.0, atol=1e-9)


def test_backflow_through_an_opening_carries_its_temperature(x64):
    """Two openings at different pressures: air enters through the high-pressure
    one at its backflow temperature and fills the box."""
    def edit(planes):
        top = np.zeros(planes[1][1].inflow.shape, bool)
        top[2:6] = True
        planes[1][1] = set_patch(planes[1][1], top, kind="outflow", pressure=5.0, temperature=30.0)
        other = np.zeros(planes[1][1].inflow.shape, bool)
        other[26:30] = True
        planes[1][1] = set_patch(planes[1][1], other, kind="outflow", pressure=0.0, temperature=0.0)
    # low viscosity and diffusivity, so that advection carries the heat (cell Peclet > 1)
    fluid = jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), Fluid(**{**UNIT.__dict__, "viscosity": 0.01}))
    problem = _closed_box(edit).replace(fluid=fluid)
    solver = Solver(problem, Numerics(poisson_tol=1e-10), chunk=200)
    state, _ = solver.run_chunk(solver.initial_state(20.0), 4000)
    flux = np.asarray(face_volume_flux(state.velocity, problem.grid, problem.geometry.open)[1])[:, -1, 0]
    assert np.all(flux[2:6] < 0) and np.all(flux[26:30] > 0)  # in through the high-pressure opening
    assert np.sum(flux) == pytest.approx(0.0, abs=1e-9)
    temperature = np.asarray(state.temperature)[:, :, 0]
    assert np.all(temperature[2:6, -1] > 29.9)      # entering air is at the backflow temperature
    assert np.all(temperature[26:30, -1] > 29.0)    # and it crosses the box to the other opening
    # bounded: the limiter keeps values inside the range of the data (to within
    # 0.1 % of it: dimension-by-dimension limiting is not strictly bounded in 2-D)
    assert temperature.min() >= 20.0 - 0.01 and temperature.max() <= 30.0 + 0.01


def test_blocked_cells_carry_no_flow(x64):
    grid = uniform_grid(SHAPE, LENGTHS)
    geometry = block_cells(open_geometry(grid), grid, (1.5, 0.25, 0.0), (2.0, 0.75, 1.0))
    problem = _channel(slip_walls=False).replace(geometry=geometry)
    state = _steady(problem)
    for axis in range(3):
        closed = np.asarray(geometry.open[axis]) == 0
        assert np.all(np.asarray(state.velocity[axis])[closed] == 0.0)
    flux = face_volume_flux(state.velocity, grid, geometry.open)
    assert float(jnp.sum(flux[0][-1])) == pytest.approx(LENGTHS[1] * LENGTHS[2], rel=1e-8)
    # flow speeds up in the gap beside the block
    assert float(np.max(np.asarray(state.velocity[0])[12:16])) > 1.5


def test_moving_lid_drags_the_fluid(x64):
    def edit(planes):
        planes[1][1] = set_patch(planes[1][1], np.ones(planes[1][1].inflow.shape, bool),
                                 wall_velocity=[1.0, 0.0, 0.0])
    problem = _closed_box(edit)
    state = _steady(problem)
    u = np.asarray(state.velocity[0])[16, :, 0]
    assert u[-1] > 0.3 and u[2] < 0.0  # shear layer under the lid, return flow below
