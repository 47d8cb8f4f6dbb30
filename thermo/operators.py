"""Small array stencils shared by every physical term.

Everything here works along a given axis, so one piece of code serves all
three directions and every staggered location.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import lax


def take(a, axis: int, start: int, stop: int | None = None):
    """``a[start:stop]`` along ``axis`` (negative indices count from the end)."""
    n = a.shape[axis]
    if stop is None:
        stop = n
    if start < 0:
        start += n
    if stop < 0:
        stop += n
    return lax.slice_in_dim(a, start, stop, axis=axis)


def diff(a, axis: int):
    """Forward difference ``a[1:] - a[:-1]`` along ``axis``."""
    return take(a, axis, 1) - take(a, axis, 0, -1)


def midpoint(a, axis: int):
    """Average of neighbours ``(a[1:] + a[:-1]) / 2`` along ``axis``."""
    return 0.5 * (take(a, axis, 1) + take(a, axis, 0, -1))


def materialize(a):
    """``a`` itself, kept in memory as one array instead of being fused into its consumers.

    XLA on CPU fuses a concatenation (or a padding) into every kernel that
    reads it, and a fused concatenation along the minor (contiguous) axis
    evaluates its operand choice per element, which stops vectorisation; a
    consumer that reads the array at two offsets (a difference of face fluxes)
    also recomputes every element twice.  Behind an optimisation barrier the
    concatenation is a copy and its consumers are plain vectorised stencils:
    the momentum tendency at 64^3 ran 4-6x faster so.  No numerical effect.
    """
    return lax.optimization_barrier(a)


def pad(a, axis: int, low: int = 1, high: int = 1, mode: str = "constant"):
    """Pad ``a`` along ``axis`` (``mode`` as in :func:`jnp.pad`)."""
    widths = [(0, 0)] * a.ndim
    widths[axis] = (low, high)
    return jnp.pad(a, widths, mode=mode)


def interior_mask(n: int, axis: int, dtype, ndim: int = 3):
    """1 on the ``n - 2`` inner entries along ``axis``, 0 on the first and the last
    (a broadcastable constant): ``a * interior_mask(...)`` is ``pad(take(a, axis, 1, -1), axis)``
    as one elementwise product, without a padding pass."""
    mask = np.ones(n, dtype)
    mask[0] = mask[-1] = 0
    return broadcast_along(jnp.asarray(mask), axis, ndim)


def embed_end(plane, axis: int, side: int, n: int):
    """The plane array ``plane`` (size 1 along ``axis``) placed at the first (side 0) or last
    (side 1) of ``n`` entries along ``axis``, zero elsewhere: ``pad(plane, axis, 0, n - 1)``
    (or ``n - 1, 0``) as a select on the index, which fuses into its consumer without
    a padding pass."""
    shape = list(plane.shape)
    shape[axis] = n
    index = lax.broadcasted_iota(jnp.int32, tuple(shape), axis)
    return jnp.where(index == (0 if side == 0 else n - 1), plane, jnp.zeros((), plane.dtype))


def pad_extrapolate(a, axis: int):
    """Pad one ghost value at each end by linear extrapolation."""
    lo = 2.0 * take(a, axis, 0, 1) - take(a, axis, 1, 2)
    hi = 2.0 * take(a, axis, -1) - take(a, axis, -2, -1)
    return jnp.concatenate([lo, a, hi], axis=axis)


def broadcast_along(vector, axis: int, ndim: int = 3):
    """Reshape a 1-D array to broadcast along ``axis`` of an ``ndim`` array."""
    shape = [1] * ndim
    shape[axis] = -1
    return jnp.reshape(vector, shape)


def expand_plane(plane, axis: int):
    """Insert the removed axis back into a boundary-plane array (size 1)."""
    return jnp.expand_dims(plane, axis)


def koren(r):
    """Koren's limiter: third-order (kappa = 1/3) in smooth regions, TVD."""
    return jnp.maximum(0.0, jnp.minimum(jnp.minimum(2.0 * r, (1.0 + 2.0 * r) / 3.0), 2.0))


def van_leer(r):
    return (r + jnp.abs(r)) / (1.0 + jnp.abs(r))


def minmod(r):
    return jnp.maximum(0.0, jnp.minimum(1.0, r))


def upwind(r):
    return jnp.zeros_like(r)


def smooth(r):
    """A continuously differentiable TVD limiter: r^2 / (r^2 - r + 1) for r > 0, else 0.

    Second order (psi(1) = 1, psi'(1) = 1), inside the TVD region (psi <= 2 r,
    largest value 4/3 at r = 2, tending to 1 like van Albada's), and, unlike Koren's,
    van Leer's or minmod, without kinks: psi and psi' are continuous everywhere
    (psi'(0) = 0 from both sides).  A steady state computed with a kinked limiter is
    only piecewise smooth in the design parameters, so its adjoint gradient and
    central differences disagree wherever a face's slope ratio sits near a kink (up
    to 5 % on tests/data/design-tiny.yaml with Koren, docs/gradients.md); this one is
    for gradient-based design.  (A compressive C1 candidate, 2 r^2 / (1 + r^2), which
    tends to 2, never settled on that hall: change rates stalled near 0.2.)
    Evaluated as 1 / (1 - s + s^2), s = 1/r, above r = 1, so neither branch
    overflows (both denominators are >= 3/4) and a huge r gives 1, not inf/inf.
    """
    # selections, not clip/maximum: those split the derivative at a tie (r = 1)
    above = r > 1.0
    low = jnp.where(above, 1.0, jnp.where(r > 0.0, r, 0.0))
    inverse = 1.0 / jnp.where(above, r, 1.0)
    return jnp.where(above, 1.0 / (1.0 - inverse + inverse * inverse), low * low / (low * low - low + 1.0))


LIMITERS = {"koren": koren, "smooth": smooth, "van_leer": van_leer, "minmod": minmod, "upwind": upwind}


def smooth_increment(up, down):
    """``0.5 psi(r) down`` of the :func:`smooth` limiter, written without the ratio r = up / down:
    0.5 up^2 down / (up^2 - up down + down^2) where up and down have the same sign, else 0.

    The value is the ratio form's; the point is the derivative.  The ratio form divides by a
    floored ``down``, and where the field is locally flat (a still region, a uniform
    temperature) r and its tangent reach 1e20 and their product with psi'(r) overflows to
    NaN in a Jacobian-vector product (float32), which a Newton-Krylov solve cannot survive.
    Here the denominator is at least (up^2 + down^2) / 2, so value and derivative stay
    bounded everywhere, and both tend to 0 as either slope does (C1 at r = 0 and r = inf)."""
    same_sign = up * down > 0
    denominator = up * up - up * down + down * down
    tiny = jnp.finfo(up.dtype).tiny
    safe = jnp.where(same_sign, denominator, 1.0) + tiny
    return jnp.where(same_sign, 0.5 * up * up * down / safe, 0.0)


#: limiters evaluated from the two slopes directly instead of from their ratio (see smooth_increment)
SLOPE_FORMS = {smooth: smooth_increment}


def tvd_interior_faces(q, flux, axis: int, limiter):
    """Bounded upwind-biased values of ``q`` at the midpoints between its samples.

    Args:
      q: samples along ``axis`` (n of them).
      flux: the advecting flux at the n-1 midpoints (its sign picks the upwind side).
      limiter: a function psi(r) of the slope ratio.

    Returns the n-1 midpoint values ``q_U + psi(r)/2 * (q_D - q_U)`` with
    ``r = (q_U - q_UU) / (q_D - q_U)``; the outermost upwind-upwind values come
    from linear extrapolation.
    """
    if q.shape[axis] < 2:
        return take(q, axis, 0, 0)
    qp = materialize(pad_extrapolate(q, axis))  # n + 2
    q_lm = take(qp, axis, 0, -3)   # i-1
    q_l = take(qp, axis, 1, -2)    # i
    q_r = take(qp, axis, 2, -1)    # i+1
    q_rp = take(qp, axis, 3)       # i+2
    positive = flux >= 0
    q_u = jnp.where(positive, q_l, q_r)
    q_uu = jnp.where(positive, q_lm, q_rp)
    q_d = jnp.where(positive, q_r, q_l)
    down = q_d - q_u
    up = q_u - q_uu
    if limiter in SLOPE_FORMS:
        return q_u + SLOPE_FORMS[limiter](up, down)
    tiny = jnp.asarray(1e-30, q.dtype) if q.dtype == jnp.float64 else jnp.asarray(1e-20, q.dtype)
    safe = jnp.where(jnp.abs(down) > tiny, down, tiny)
    r = up / safe
    return q_u + 0.5 * limiter(r) * down
