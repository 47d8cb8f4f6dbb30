"""Coarse-grid (FAS) corrections of the steady march: the transfer operators, the forcing
that makes the restricted state the coarse fixed point, and the march they speed up."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import thermo.hall as hall
from thermo import fas
from thermo.grid import Grid
from thermo.physics.projection import divergence, face_volume_flux
from thermo.scene import load
from thermo.solve import current_eddy_viscosity, steady_residuals


def _graded_grid():
    rng = np.random.default_rng(5)
    # odd and even cell counts, uneven widths
    return Grid(tuple(np.concatenate([[0.0], np.cumsum(0.5 + rng.random(n))]) for n in (7, 6, 5)))


def test_coarse_grid_keeps_every_other_line():
    grid = _graded_grid()
    coarse = fas.coarse_grid(grid)
    assert coarse.shape == (4, 3, 3)
    for fine_nodes, coarse_nodes in zip(grid.nodes, coarse.nodes):
        assert set(np.asarray(coarse_nodes)) <= set(np.asarray(fine_nodes))
        assert coarse_nodes[0] == fine_nodes[0] and coarse_nodes[-1] == fine_nodes[-1]
    with pytest.raises(ValueError, match="not lines of the fine grid"):
        fas.transfer(grid, Grid(tuple(np.linspace(x[0], x[-1], 3) for x in grid.nodes)))


def test_transfers_conserve_and_interpolate_exactly(x64):
    """Volume averages keep the integral of a cell field; the face restriction keeps every
    coarse cell's net outflow the sum of its fine cells'; interpolation reproduces linear
    fields exactly."""
    grid = _graded_grid()
    coarse = fas.coarse_grid(grid)
    t = fas.transfer(grid, coarse, np.float64)
    separable = jax.jit(fas.separable)           # one compile per shape, not one per operation
    rng = np.random.default_rng(1)
    cells = jnp.asarray(rng.standard_normal(grid.shape))
    integral = lambda f, g: float(jnp.sum(f * g.cell_volume()))  # noqa: E731
    np.testing.assert_allclose(integral(separable(cells, t.cell_average), coarse), integral(cells, grid),
                               rtol=1e-12)

    velocity = tuple(jnp.asarray(rng.standard_normal(grid.face_shape(a))) for a in range(3))
    fine_open = tuple(jnp.ones(grid.face_shape(a)) for a in range(3))
    coarse_open = tuple(jnp.ones(coarse.face_shape(a)) for a in range(3))
    state = fas.State(velocity=velocity, pressure=cells, temperature=cells, tracers=jnp.zeros((0, *grid.shape)),
                      eddy_viscosity=cells, time=jnp.asarray(0.0), step=jnp.asarray(0))
    fine = _open_problem(grid)
    restricted = jax.jit(fas.restrict_state)(t, fine, state, _open_problem(coarse))
    fine_outflow = divergence(face_volume_flux(velocity, grid, fine_open), grid) * grid.cell_volume()
    coarse_outflow = divergence(face_volume_flux(restricted.velocity, coarse, coarse_open), coarse) * coarse.cell_volume()
    summed = np.zeros(coarse.shape)
    index = [np.searchsorted(np.asarray(c), np.asarray(0.5 * (f[1:] + f[:-1]))) - 1 for f, c in zip(grid.nodes, coarse.nodes)]
    np.add.at(summed, np.ix_(*index), np.asarray(fine_outflow))
    np.testing.assert_allclose(np.asarray(coarse_outflow), summed, rtol=1e-10, atol=1e-10)

    def linear(points):
        x, y, z = np.meshgrid(*points, indexing="ij")
        return 2.0 * x - 3.0 * y + 0.5 * z + 1.0
    centres = lambda g: [np.asarray(g.centres(a)) for a in range(3)]  # noqa: E731
    inside = tuple(slice(1, -1) for _ in range(3))   # constant beyond the outermost centres
    np.testing.assert_allclose(np.asarray(separable(jnp.asarray(linear(centres(coarse))),
                                                    t.cell_interpolation))[inside],
                               linear(centres(grid))[inside], atol=1e-12)
    faces = [np.asarray(grid.nodes[0]), *centres(grid)[1:]]
    coarse_faces = [np.asarray(coarse.nodes[0]), *centres(coarse)[1:]]
    matrices = fas._face_matrices(t, 0, "face_interpolation", "cell_interpolation")
    np.testing.assert_allclose(np.asarray(separable(jnp.asarray(linear(coarse_faces)), matrices))[:, 1:-1, 1:-1],
                               linear(faces)[:, 1:-1, 1:-1], atol=1e-12)


def _open_problem(grid):
    from thermo.problem import make_problem
    return make_problem(grid)


def _level_at_any_size(model):
    """hall.coarse_level for a test grid below hall.CORRECTION_MIN_CELLS."""
    floor = hall.CORRECTION_MIN_CELLS
    hall.CORRECTION_MIN_CELLS = 0
    try:
        return hall.coarse_level(model)
    finally:
        hall.CORRECTION_MIN_CELLS = floor


@pytest.fixture(scope="module")
def hall_small_two_grid():
    """hall-small at 0.6 m (float64, mixing length) with its coarse level, and a state of random
    smooth-ish velocities, temperatures and pressures on it (the forcing is an identity that holds
    for any state, so no steps need compiling)."""
    with jax.enable_x64(True):
        scene = load("geometries/hall-small.yaml").with_solver(turbulence="mixing_length", coarse_correction=True)
        model = hall.build(scene, cell_size=0.6, dtype=np.float64)
        level = _level_at_any_size(model)
        solver = fas.TwoGridSolver(model.problem, model.numerics, level, chunk=20, coupling=model.coupling)
        rng = np.random.default_rng(7)
        state = solver.initial_state()
        geometry = model.problem.geometry
        velocity = tuple(jnp.where(geometry.open[a] > 0, rng.uniform(-0.5, 0.5, geometry.open[a].shape), 0.0)
                         for a in range(3))
        state = state.replace(velocity=velocity, temperature=state.temperature + rng.uniform(0, 8, model.grid.shape),
                              pressure=rng.uniform(-0.1, 0.1, model.grid.shape))
        yield model, level, solver, state


def test_forced_coarse_equations_have_the_restricted_residual(hall_small_two_grid, x64):
    """The tau correction: at the restricted state the forced coarse residuals are the
    restricted fine ones (momentum inside, at the ceiling returns, temperature), so a fine
    fixed point is a coarse one and a converged march is left alone."""
    model, level, solver, state = hall_small_two_grid
    pre = solver.prepare()
    t = solver.transfer

    @jax.jit
    def residuals(problem, coarse, state):
        fine = model.coupling(problem, state)
        start = fas.restrict_state(t, problem, state, coarse)
        start = start.replace(eddy_viscosity=current_eddy_viscosity(coarse, level.numerics, solver.coarse_pre,
                                                                    start.velocity))
        forced = fas.forced_problem(t, fine, model.numerics, pre, state, coarse, level.numerics, solver.coarse_pre,
                                    start, level.coupling)
        fine_momentum, fine_rate = steady_residuals(fine, model.numerics, pre, state)
        # the restricted fine residuals, as the forcing's docstring defines them
        wanted = tuple(jnp.where(coarse.geometry.open[a] > 0, fas._weighted(
            fine_momentum[a], problem.geometry.open[a], fas._face_matrices(t, a, "face_weighting", "cell_average")),
            0.0) for a in range(3))
        wanted_rate = jnp.where(coarse.geometry.fluid > 0, fas.separable(fine_rate, t.cell_average), 0.0)
        return (wanted, wanted_rate), steady_residuals(level.coupling(forced, start), level.numerics,
                                                       solver.coarse_pre, start)

    (wanted, wanted_rate), (coarse_momentum, coarse_rate) = residuals(model.problem, level.problem, state)
    opening_faces = 0
    for a in range(3):
        scale = float(jnp.max(jnp.abs(wanted[a])))
        assert scale > 1e-4            # the state is far from steady: the check is not 0 = 0
        np.testing.assert_allclose(np.asarray(coarse_momentum[a]), np.asarray(wanted[a]), atol=1e-9 * scale)
        opening_faces += int(np.count_nonzero(np.asarray(level.problem.boundaries.plane(a, 1).outflow)))
    assert opening_faces > 0           # the ceiling returns' balance is part of the check
    np.testing.assert_allclose(np.asarray(coarse_rate), np.asarray(wanted_rate),
                               atol=1e-9 * float(jnp.max(jnp.abs(wanted_rate))))


def test_coarse_correction_is_opt_in_for_large_grids_on_one_device():
    scene = load("geometries/hall-small.yaml")
    assert not scene.solver.coarse_correction
    assert _level_at_any_size(hall.build(scene, cell_size=0.6)) is None
    model = hall.build(scene.with_solver(coarse_correction=True), cell_size=0.6)
    assert model.cells < hall.CORRECTION_MIN_CELLS and hall.coarse_level(model) is None   # too small to pay
    level = _level_at_any_size(model)
    assert level.problem.grid.shape == fas.coarse_grid(model.grid).shape
    model.coarse_level, model.layout = None, object()
    with pytest.raises(ValueError, match="one device"):
        _level_at_any_size(model)


def test_memory_check_counts_the_coarse_level():
    from thermo.memory import GridTooLarge, check_fits, estimate_bytes

    shape = (100, 100, 100)
    plain, corrected = estimate_bytes(10 ** 6), estimate_bytes(10 ** 6, coarse_correction=True)
    assert corrected > plain
    free = (plain + corrected) // 2
    device = jax.devices("cpu")[0]
    check_fits(shape, 4, device, free=free)
    with pytest.raises(GridTooLarge):
        check_fits(shape, 4, device, free=free, coarse_correction=True)


def test_still_intakes_under_corrections_settle_only_with_small_change_rates():
    """The settled guard of the driver (``hall.still_window_verdict``): a window of still intakes
    under corrections whose change rates stay above 5 x tolerance turns the corrections off
    instead of stopping the run; without corrections, or with small rates, the run has settled."""
    tol, band = 2e-3, 0.1
    assert hall.still_window_verdict(0.02, band, 0.03, tol, corrections=True) == "corrections off"
    assert hall.still_window_verdict(0.02, band, 0.03, tol, corrections=False) == "settled"
    assert hall.still_window_verdict(0.02, band, 0.009, tol, corrections=True) == "settled"
    assert hall.still_window_verdict(0.12, band, 0.03, tol, corrections=True) is None
    assert hall.still_window_verdict(0.12, band, 1e-4, tol, corrections=False) is None
