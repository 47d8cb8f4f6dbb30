"""Restarted GMRES for flat vectors, traceable (``lax`` loops only), with its work counted.

One Krylov method serves the forward Newton systems of :mod:`thermo.solvers.newton`
((I - dF/dx) delta = F(x) - x, products by ``jax.linearize``) and can serve any other
linear system given as a matrix-free product.  The Arnoldi process uses classical
Gram-Schmidt applied twice (as accurate as the modified process and two matrix
products with the basis instead of a loop over it); after every product the small
Hessenberg column is rotated into triangular form (Givens), which gives the residual
estimate, so a cycle stops as soon as the tolerance is met instead of filling its basis.  Every cycle ends with
the true residual ``b - A x`` (one more product), which decides convergence, so
round-off in the basis cannot fake it.
"""

from __future__ import annotations

from typing import Callable

import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.linalg import solve_triangular


def extend_basis(basis, w, j):
    """Orthonormalise the product ``w`` of basis vector ``j`` against vectors 0..j (classical
    Gram-Schmidt applied twice) and store it as vector j + 1; returns (basis, Hessenberg column)."""
    tiny = jnp.asarray(np.finfo(np.dtype(basis.dtype)).tiny, basis.dtype)
    known = jnp.arange(basis.shape[0]) <= j
    h = jnp.where(known, basis @ w, 0.0)
    w = w - h @ basis
    h2 = jnp.where(known, basis @ w, 0.0)
    w = w - h2 @ basis
    norm = jnp.linalg.norm(w)
    return basis.at[j + 1].set(w / jnp.maximum(norm, tiny)), (h + h2).at[j + 1].set(norm)


def gmres(matvec: Callable, b, x0=None, restart: int = 40, max_cycles: int = 4, tol: float = 1e-2):
    """Solve ``matvec(x) = b`` for a flat vector ``b`` by GMRES(``restart``).

    Stops when the relative residual ``|b - A x| / |b|`` is at most ``tol`` or after
    ``max_cycles`` restart cycles.  Returns (x, products with A, relative residual).
    A non-finite residual ends the loop (the caller reports it).
    """
    dtype = b.dtype
    tiny = jnp.asarray(np.finfo(np.dtype(dtype)).tiny, dtype)
    b_norm = jnp.maximum(jnp.linalg.norm(b), tiny)
    tol = jnp.asarray(tol, dtype)
    columns = jnp.arange(restart)

    def rotate_column(column, cosines, sines, j):
        """Apply the first j Givens rotations to a Hessenberg column (entries 0..j+1)."""
        def apply(i, c):
            a, b = c[i], c[i + 1]
            return c.at[i].set(cosines[i] * a + sines[i] * b).at[i + 1].set(-sines[i] * a + cosines[i] * b)
        return lax.fori_loop(0, j, apply, column)

    def cycle(x, r):
        beta = jnp.linalg.norm(r)
        basis = jnp.zeros((restart + 1, b.shape[0]), dtype).at[0].set(r / jnp.maximum(beta, tiny))
        triangle = jnp.zeros((restart + 1, restart), dtype)
        cosines = jnp.zeros(restart, dtype)
        sines = jnp.zeros(restart, dtype)
        rotated_rhs = jnp.zeros(restart + 1, dtype).at[0].set(beta)

        def going(carry):
            j, *_, estimate = carry
            return (j < restart) & (estimate > tol * b_norm) & jnp.isfinite(estimate)

        def arnoldi(carry):
            # the Hessenberg matrix is reduced to triangular form as it grows (Givens
            # rotations), so |last entry of the rotated right-hand side| is the residual
            j, basis, triangle, cosines, sines, rotated_rhs, _ = carry
            basis, column = extend_basis(basis, matvec(basis[j]), j)
            column = rotate_column(column, cosines, sines, j)
            a, c = column[j], column[j + 1]
            radius = jnp.maximum(jnp.hypot(a, c), tiny)
            cos, sin = a / radius, c / radius
            column = column.at[j].set(radius).at[j + 1].set(0.0)
            top = rotated_rhs[j]
            rotated_rhs = rotated_rhs.at[j].set(cos * top).at[j + 1].set(-sin * top)
            return (j + 1, basis, triangle.at[:, j].set(column), cosines.at[j].set(cos), sines.at[j].set(sin),
                    rotated_rhs, jnp.abs(rotated_rhs[j + 1]))

        j, basis, triangle, _, _, rotated_rhs, _ = lax.while_loop(
            going, arnoldi, (jnp.asarray(0), basis, triangle, cosines, sines, rotated_rhs, beta))
        # back substitution on the leading j x j triangle (unit diagonal beyond it, zero rhs)
        used = columns < j
        square = triangle[:restart, :]
        square = jnp.where(used[:, None] & used[None, :], square, 0.0) + jnp.diag(jnp.where(used, 0.0, 1.0))
        y = solve_triangular(square, jnp.where(used, rotated_rhs[:restart], 0.0), lower=False)
        return x + y @ basis[:restart], j

    def cond(carry):
        _, r, count, cycles = carry
        residual = jnp.linalg.norm(r) / b_norm
        return (cycles < max_cycles) & ~(residual <= tol) & jnp.isfinite(residual)

    def body(carry):
        x, r, count, cycles = carry
        x, products = cycle(x, r)
        r = b - matvec(x)
        return x, r, count + products + 1, cycles + 1

    if x0 is None:
        x0, r0 = jnp.zeros_like(b), b
    else:
        r0 = b - matvec(x0)
    x, r, count, _ = lax.while_loop(cond, body, (x0, r0, jnp.asarray(0), jnp.asarray(0)))
    return x, count, jnp.linalg.norm(r) / b_norm
