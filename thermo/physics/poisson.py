"""Matrix-free variable-coefficient Poisson solver: multigrid-preconditioned CG.

The operator is the symmetric positive (semi-)definite finite-volume matrix

    (A p)_c = sum over faces f of c:  k_f (p_c - p_nb(f))  +  d_c p_c

with face conductances ``k_f`` (open area over centre distance, m) on interior
faces and a diagonal ``d_c`` that carries Dirichlet faces (fixed-pressure
openings, walls of the wall-distance equation).  Dead cells (all faces
closed) are given the identity so the matrix stays non-singular there.

Preconditioner: one geometric-multigrid V-cycle.  Cells are aggregated in
pairs along every axis with more than one cell (odd sizes keep a single cell
at the end), restriction sums, prolongation injects (R = P^T), the coarse
operator is the rediscretised one (face conductances of the aggregated faces
summed and halved along the coarsened axis, which is what halving the
centre distance and quadrupling the area gives), damped-Jacobi smoothing with
equal pre- and post-sweeps, and a dense solve on the coarsest level.  The
V-cycle is then symmetric positive definite, as CG requires.  With no
Dirichlet face the problem is singular: right-hand sides and iterates are kept
at zero mean over the live cells (this also stops float32 drift).

The solve is wrapped in :func:`jax.lax.custom_linear_solve`, so gradients go
through it as a second (transposed, here identical) linear solve.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jax import lax

from ..operators import pad, take

COARSEST_CELLS = 512


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class PoissonLevel:
    """One level of the operator.

    Attributes:
      conductance: three face arrays of conductances (m); the array for axis a
        has n_a + 1 entries along a and is zero on the two boundary faces
        (Dirichlet boundary faces live in ``diagonal_extra``).
      diagonal_extra: Dirichlet conductances per cell (m).
      dead: 1.0 where a cell takes no part (all faces closed), else 0.0.
    """

    conductance: tuple
    diagonal_extra: object
    dead: object

    @property
    def shape(self):
        return self.dead.shape

    def diagonal(self):
        d = self.diagonal_extra + self.dead
        for axis, k in enumerate(self.conductance):
            d = d + take(k, axis, 0, -1) + take(k, axis, 1)
        return d

    def apply(self, p, diagonal=None):
        """A p (see module docstring), as one expression over a zero-padded copy of p.

        (Written this way on purpose: XLA fuses it into a single pass; a form
        built from padded flux arrays ran ~20x slower on CPU.)
        """
        if diagonal is None:
            diagonal = self.diagonal()
        padded = jnp.pad(p, 1)
        out = diagonal * p
        for axis, k in enumerate(self.conductance):
            inner = [slice(1, -1)] * 3
            lo, hi = list(inner), list(inner)
            lo[axis] = slice(0, -2)
            hi[axis] = slice(2, None)
            out = out - take(k, axis, 0, -1) * padded[tuple(lo)] - take(k, axis, 1) * padded[tuple(hi)]
        return out


def _pair_sum(a, axis):
    """Sum neighbouring pairs along ``axis`` (an odd last entry stays alone).

    Strided slices rather than reshape-and-reduce: XLA turns them into one
    elementwise kernel (the reduce form ran several times slower on CPU).
    """
    n = a.shape[axis]
    if n % 2:
        a = pad(a, axis, 0, 1)
    m = a.shape[axis]
    even = lax.slice_in_dim(a, 0, m, 2, axis)
    odd = lax.slice_in_dim(a, 1, m, 2, axis)
    return even + odd


def _coarsened_axes(shape):
    return tuple(axis for axis, n in enumerate(shape) if n > 2)


def coarsen(level: PoissonLevel) -> PoissonLevel:
    """The next coarser level (aggregation by two along every axis with more than two cells)."""
    axes = _coarsened_axes(level.shape)
    conductance = []
    for axis, k in enumerate(level.conductance):
        if axis in axes:
            n = level.shape[axis]
            faces = lax.slice_in_dim(k, 0, n + 1, 2, axis)  # fine faces 0, 2, 4, ...
            if n % 2:
                faces = jnp.concatenate([faces, take(k, axis, n)], axis=axis)
            k = 0.5 * faces
        for other in axes:
            if other != axis:
                k = _pair_sum(k, other)
        conductance.append(k)
    extra = level.diagonal_extra
    live = 1.0 - level.dead
    for axis in axes:
        extra = _pair_sum(extra, axis)
        live = _pair_sum(live, axis)
    dead = jnp.where(live > 0.5, 0.0, 1.0).astype(level.dead.dtype)
    return PoissonLevel(tuple(conductance), 0.5 * extra, dead)


def restrict(r, fine_shape):
    for axis in _coarsened_axes(fine_shape):
        r = _pair_sum(r, axis)
    return r


def prolong(e, fine_shape):
    for axis in _coarsened_axes(fine_shape):
        e = jnp.repeat(e, 2, axis=axis)
        e = take(e, axis, 0, fine_shape[axis])
    return e


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Hierarchy:
    """Multigrid levels (finest first) and the coarsest-level inverse."""

    levels: tuple
    coarse_inverse: object
    singular: object  # 1.0 when no Dirichlet face exists (pure Neumann)
    live: object      # fine-level live mask


def _dense_matrix(level: PoissonLevel):
    n = level.dead.size
    eye = jnp.eye(n, dtype=level.dead.dtype).reshape((n,) + level.shape)
    cols = jax.vmap(level.apply)(eye)
    return cols.reshape(n, n).T


def build_hierarchy(level: PoissonLevel, max_levels: int = 12) -> Hierarchy:
    levels = [level]
    while len(levels) < max_levels:
        current = levels[-1]
        if current.dead.size <= COARSEST_CELLS or not _coarsened_axes(current.shape):
            break
        levels.append(coarsen(current))
    coarse = levels[-1]
    singular = jnp.where(jnp.sum(level.diagonal_extra) > 0, 0.0, 1.0).astype(level.dead.dtype)
    matrix = _dense_matrix(coarse)
    live = (1.0 - coarse.dead).reshape(-1)
    # fix the constant null space of the pure-Neumann problem by adding
    # c * 1 1^T over the live cells (a no-op when Dirichlet faces exist)
    scale = jnp.mean(jnp.diag(matrix)) / jnp.maximum(jnp.sum(live), 1.0)
    matrix = matrix + singular * scale * jnp.outer(live, live)
    inverse = jnp.linalg.inv(matrix)
    return Hierarchy(tuple(levels), inverse, singular, 1.0 - level.dead)


def _remove_mean(x, live, singular):
    mean = jnp.sum(x * live) / jnp.maximum(jnp.sum(live), 1.0)
    return x - singular * mean * live


def v_cycle(hierarchy: Hierarchy, rhs, sweeps: int = 2, omega: float = 0.8):
    """One symmetric V-cycle for A e = rhs from a zero initial guess."""
    levels = hierarchy.levels

    def smooth(level, diagonal, inv_diag, b, x, count):
        # A loop, even for one or two sweeps: its boundary makes XLA keep each
        # sweep's result in memory.  Unrolled, XLA fused whole chains of sweeps
        # and levels into kernels that recompute neighbours (3-5x slower on CPU).
        def sweep(_, x):
            return x + inv_diag * (b - level.apply(x, diagonal))
        return lax.fori_loop(0, count, sweep, x)

    def cycle(index, b):
        level = levels[index]
        if index == len(levels) - 1:
            x = hierarchy.coarse_inverse @ b.reshape(-1)
            return x.reshape(b.shape)
        diagonal = level.diagonal()
        inv_diag = omega / diagonal
        x = smooth(level, diagonal, inv_diag, b, inv_diag * b, sweeps - 1)
        r = b - level.apply(x, diagonal)
        x = x + prolong(cycle(index + 1, restrict(r, level.shape)), level.shape)
        return smooth(level, diagonal, inv_diag, b, x, sweeps)

    return cycle(0, rhs)


def _pcg(hierarchy, operator, b, x0, tol, max_iter, sweeps):
    live, singular = hierarchy.live, hierarchy.singular
    b = _remove_mean(b, live, singular)
    b_norm = jnp.sqrt(jnp.sum(b * b))

    def precondition(r):
        return _remove_mean(v_cycle(hierarchy, r, sweeps), live, singular)

    x = x0
    ax0 = operator(x)
    r = b - ax0
    # A residual cannot be computed more accurately than the rounding of A x:
    # in float32 a warm start from an O(1) pressure against a tiny right-hand
    # side could otherwise never meet a purely relative target (and CG then
    # ran on into a breakdown).
    eps = jnp.finfo(b.dtype).eps
    target = jnp.maximum(tol * b_norm, 16.0 * eps * jnp.maximum(b_norm, jnp.sqrt(jnp.sum(ax0 * ax0))))
    z = precondition(r)
    d = z
    rz = jnp.sum(r * z)

    def cond(carry):
        it, x, r, d, rz, rnorm, healthy = carry
        return (rnorm > target) & (it < max_iter) & healthy

    def body(carry):
        it, x, r, d, rz, rnorm, _ = carry
        ad = operator(d)
        curvature = jnp.sum(d * ad)
        # stop (keeping the last iterate) if rounding has destroyed the A-conjugacy
        healthy = (curvature > 0) & jnp.isfinite(curvature) & (rz > 0)
        alpha = jnp.where(healthy, rz / jnp.where(healthy, curvature, 1.0), 0.0)
        x_new = x + alpha * d
        r_new = r - alpha * ad
        z = precondition(r_new)
        rz_new = jnp.sum(r_new * z)
        beta = jnp.where(healthy, rz_new / jnp.where(rz > 0, rz, 1.0), 0.0)
        d = z + beta * d
        rnorm_new = jnp.sqrt(jnp.sum(r_new * r_new))
        healthy = healthy & jnp.isfinite(rnorm_new)
        return (it + 1, jnp.where(healthy, x_new, x), jnp.where(healthy, r_new, r), d,
                rz_new, jnp.where(healthy, rnorm_new, rnorm), healthy)

    carry = (jnp.asarray(0, jnp.int32), x, r, d, rz, jnp.sqrt(jnp.sum(r * r)), jnp.asarray(True))
    it, x, r, _, _, rnorm, _ = lax.while_loop(cond, body, carry)
    return _remove_mean(x, live, singular), it, rnorm / jnp.maximum(b_norm, jnp.finfo(b.dtype).tiny)


def solve(hierarchy: Hierarchy, b, x0=None, tol: float = 1e-6, max_iter: int = 200, sweeps: int = 2):
    """Solve A x = b with MG-preconditioned CG, warm-started from ``x0``.

    Returns ``(x, iterations, relative_residual)``.  Differentiable in ``b``
    (and, through the implicit-function rule, in the operator's coefficients
    via the caller's use of :func:`jax.lax.custom_linear_solve`).
    """
    level = hierarchy.levels[0]
    if x0 is None:
        x0 = jnp.zeros_like(b)
    operator = level.apply

    def linear_solve(_matvec, rhs):
        x, it, rel = _pcg(hierarchy, operator, rhs, lax.stop_gradient(x0), tol, max_iter, sweeps)
        return x, (it, rel)

    def transpose_solve(_vecmat, rhs):
        x, it, rel = _pcg(hierarchy, operator, rhs, jnp.zeros_like(rhs), tol, max_iter, sweeps)
        return x, (it, rel)

    x, (it, rel) = lax.custom_linear_solve(
        operator, b, linear_solve, transpose_solve, symmetric=True, has_aux=True)
    return x, it, rel
