"""Stencils and the Poisson solver against analytic expressions and dense algebra."""

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp

from thermo.grid import stretched_nodes, uniform_grid
from thermo.operators import LIMITERS, tvd_interior_faces
from thermo.physics import poisson
from thermo.physics.projection import divergence, face_volume_flux
from thermo.problem import open_geometry


@pytest.mark.parametrize("limiter", ["koren", "smooth", "van_leer", "minmod"])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_tvd_reproduces_linear_profiles(x64, limiter, sign):
    x = np.arange(7.0)
    q = jnp.asarray(np.broadcast_to((2.0 * x + 1.0)[:, None, None], (7, 2, 3)))
    flux = jnp.full((6, 2, 3), sign)
    faces = tvd_interior_faces(q, flux, 0, LIMITERS[limiter])
    expected = 2.0 * (x[:-1] + 0.5) + 1.0
    np.testing.assert_allclose(np.asarray(faces[:, 0, 0]), expected, atol=1e-12)


@pytest.mark.parametrize("limiter", ["koren", "smooth", "van_leer", "minmod", "upwind"])
def test_tvd_face_values_stay_bounded(x64, limiter):
    rng = np.random.default_rng(3)
    q = jnp.asarray(rng.uniform(-1, 1, size=(3, 40, 2)))
    flux = jnp.asarray(rng.standard_normal((3, 39, 2)))
    faces = np.asarray(tvd_interior_faces(q, flux, 1, LIMITERS[limiter]))
    lo = np.minimum(np.asarray(q)[:, :-1], np.asarray(q)[:, 1:])
    hi = np.maximum(np.asarray(q)[:, :-1], np.asarray(q)[:, 1:])
    assert np.all(faces >= lo - 1e-12) and np.all(faces <= hi + 1e-12)


def test_smooth_limiter_is_tvd_second_order_and_continuously_differentiable(x64):
    import jax

    psi = LIMITERS["smooth"]
    r = jnp.linspace(-5.0, 50.0, 5501)
    values = np.asarray(psi(r))
    assert np.all(values >= 0.0) and np.all(values <= np.minimum(2.0 * np.maximum(np.asarray(r), 0.0), 2.0) + 1e-15)
    assert float(psi(jnp.asarray(1.0))) == pytest.approx(1.0)
    slope = np.asarray(jax.vmap(jax.grad(psi))(r))
    # psi' continuous: |psi''| <= 2, so neighbouring samples 0.01 apart differ by <= 0.02 (r = 0 included)
    assert np.max(np.abs(np.diff(slope))) < 0.05
    assert float(jax.grad(psi)(jnp.asarray(0.0))) == 0.0
    # Koren has the kinks the smooth limiter removes (its slope jumps by 2/3 at r = 1/4)
    koren_slope = np.asarray(jax.vmap(jax.grad(LIMITERS["koren"]))(r))
    assert np.max(np.abs(np.diff(koren_slope))) > 0.5
    assert float(jax.grad(psi)(jnp.asarray(1.0))) == pytest.approx(1.0)
    assert np.max(values) == pytest.approx(4.0 / 3.0, rel=1e-6)
    # a flat downwind difference gives a huge ratio: the limit 1, never NaN (value or slope)
    huge = jnp.asarray([1e20, 1e200, np.inf])
    np.testing.assert_allclose(np.asarray(psi(huge)), 1.0, rtol=1e-15)
    assert np.all(np.isfinite(np.asarray(jax.vmap(jax.grad(psi))(huge[:2]))))


def _random_level(shape, dirichlet, seed=0):
    rng = np.random.default_rng(seed)
    conductance = []
    for axis in range(3):
        face_shape = list(shape)
        face_shape[axis] += 1
        k = rng.uniform(0.5, 2.0, size=face_shape)
        index = [slice(None)] * 3
        index[axis] = 0
        k[tuple(index)] = 0.0
        index[axis] = -1
        k[tuple(index)] = 0.0
        conductance.append(jnp.asarray(k))
    extra = np.zeros(shape)
    if dirichlet:
        extra[0] = rng.uniform(1.0, 3.0, size=shape[1:])
    return poisson.PoissonLevel(tuple(conductance), jnp.asarray(extra), jnp.zeros(shape))


def _dense(level):
    shape = level.shape
    n = int(np.prod(shape))
    index = np.arange(n).reshape(shape)
    rows, cols, vals = [], [], []
    diag = np.asarray(level.diagonal_extra, float).reshape(-1).copy()
    for axis, k in enumerate(level.conductance):
        k = np.asarray(k)
        inner = [slice(None)] * 3
        inner[axis] = slice(1, -1)
        k_inner = k[tuple(inner)]
        lo = index[tuple(slice(0, -1) if a == axis else slice(None) for a in range(3))]
        hi = index[tuple(slice(1, None) if a == axis else slice(None) for a in range(3))]
        for a, b, c in zip(lo.ravel(), hi.ravel(), k_inner.ravel()):
            rows += [a, b]
            cols += [b, a]
            vals += [-c, -c]
            diag[a] += c
            diag[b] += c
    matrix = sp.coo_matrix((vals, (rows, cols)), shape=(n, n)).tocsr() + sp.diags(diag)
    return matrix.toarray()


def test_poisson_operator_matches_dense_assembly(x64):
    level = _random_level((4, 3, 5), dirichlet=True)
    dense = _dense(level)
    p = np.random.default_rng(1).standard_normal(level.shape)
    np.testing.assert_allclose(np.asarray(level.apply(jnp.asarray(p))).ravel(), dense @ p.ravel(), rtol=1e-12)
    np.testing.assert_allclose(dense, dense.T)
    np.testing.assert_allclose(np.asarray(level.diagonal()).ravel(), np.diag(dense), rtol=1e-12)


@pytest.mark.parametrize("dirichlet", [True, False])
def test_multigrid_cg_solves_variable_coefficient_problems(x64, dirichlet):
    level = _random_level((12, 10, 9), dirichlet=dirichlet, seed=4)
    hierarchy = poisson.build_hierarchy(level)
    assert len(hierarchy.levels) >= 2
    b = jnp.asarray(np.random.default_rng(2).standard_normal(level.shape))
    if not dirichlet:
        b = b - jnp.mean(b)
    x, iterations, residual = poisson.solve(hierarchy, b, tol=1e-10, max_iter=100)
    r = np.asarray(b - level.apply(x))
    assert np.linalg.norm(r) < 1e-9 * np.linalg.norm(np.asarray(b))
    assert int(iterations) < 40


def test_v_cycle_is_symmetric(x64):
    level = _random_level((8, 6, 5), dirichlet=True, seed=7)
    hierarchy = poisson.build_hierarchy(level)
    rng = np.random.default_rng(5)
    x = jnp.asarray(rng.standard_normal(level.shape))
    y = jnp.asarray(rng.standard_normal(level.shape))
    left = float(jnp.sum(x * poisson.v_cycle(hierarchy, y)))
    right = float(jnp.sum(y * poisson.v_cycle(hierarchy, x)))
    assert abs(left - right) < 1e-10 * abs(left)


def test_divergence_of_linear_field_on_stretched_grid(x64):
    from thermo.grid import Grid
    grid = Grid((stretched_nodes(6, 2.0, 3.0), np.linspace(0, 1, 5), np.array([0.0, 0.3, 0.5, 1.0])))
    geometry = open_geometry(grid)
    # u = 2x, v = -3y, w = 5z: divergence 4 everywhere
    x, y, z = (np.asarray(n) for n in grid.nodes)
    velocity = (
        jnp.asarray(np.broadcast_to(2.0 * x[:, None, None], grid.face_shape(0)).copy()),
        jnp.asarray(np.broadcast_to(-3.0 * y[None, :, None], grid.face_shape(1)).copy()),
        jnp.asarray(np.broadcast_to(5.0 * z[None, None, :], grid.face_shape(2)).copy()),
    )
    flux = face_volume_flux(velocity, grid, geometry.open)
    np.testing.assert_allclose(np.asarray(divergence(flux, grid)), 4.0, rtol=1e-12)


def test_uniform_grid_metrics():
    grid = uniform_grid((4, 2, 1), (2.0, 1.0, 0.5))
    assert grid.shape == (4, 2, 1) and grid.cells == 8
    np.testing.assert_allclose(np.asarray(grid.cell_volume()), 0.125)
    np.testing.assert_allclose(np.asarray(grid.centre_spacing(0)), [0.25, 0.5, 0.5, 0.5, 0.25])
