"""Restarted GMRES for flat vectors, traceable (``lax`` loops only), with its work counted.

One Krylov method serves the forward Newton systems of :mod:`thermo.solvers.newton`
((I - dF/dx) delta = F(x) - x, products by ``jax.linearize``) and can serve any other
linear system given as a matrix-free product.  The Arnoldi process uses classical
Gram-Schmidt applied twice (as accurate as the modified process and two matrix
products with the basis instead of a loop over it); after every product the small
least-squares problem is solved again to get the residual estimate, so a cycle stops
as soon as the tolerance is met instead of filling its basis.  Every cycle ends with
the true residual ``b - A x`` (one more product), which decides convergence, so
round-off in the basis cannot fake it.
"""

from __future__ import annotations

from typing import Callable

import jax.numpy as jnp
import numpy as np
from jax import lax


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
    rows = jnp.arange(restart + 1)
    columns = jnp.arange(restart)

    def least_squares(hessenberg, beta, j):
        """Coefficients and residual norm of the Krylov space of the first j + 1 vectors."""
        kept = jnp.where(columns[None, :] <= j, hessenberg, 0.0)
        rhs = jnp.zeros(restart + 1, dtype).at[0].set(beta)
        y = jnp.linalg.lstsq(kept, rhs)[0]
        return y, jnp.linalg.norm(kept @ y - rhs)

    def cycle(x, r):
        beta = jnp.linalg.norm(r)
        basis = jnp.zeros((restart + 1, b.shape[0]), dtype).at[0].set(r / jnp.maximum(beta, tiny))
        hessenberg = jnp.zeros((restart + 1, restart), dtype)

        def going(carry):
            j, _, _, estimate = carry
            return (j < restart) & (estimate > tol * b_norm) & jnp.isfinite(estimate)

        def arnoldi(carry):
            j, basis, hessenberg, _ = carry
            w = matvec(basis[j])
            known = rows <= j
            h = jnp.where(known, basis @ w, 0.0)
            w = w - h @ basis
            h2 = jnp.where(known, basis @ w, 0.0)
            w = w - h2 @ basis
            norm = jnp.linalg.norm(w)
            basis = basis.at[j + 1].set(w / jnp.maximum(norm, tiny))
            hessenberg = hessenberg.at[:, j].set((h + h2).at[j + 1].set(norm))
            _, estimate = least_squares(hessenberg, beta, j)
            return j + 1, basis, hessenberg, estimate

        j, basis, hessenberg, _ = lax.while_loop(going, arnoldi, (jnp.asarray(0), basis, hessenberg, beta))
        y, _ = least_squares(hessenberg, beta, j - 1)
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
