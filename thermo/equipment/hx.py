"""Effectiveness-NTU relations of two-stream heat exchangers (pure JAX).

Definitions (Incropera et al., *Fundamentals of Heat and Mass Transfer*,
section 11.4 and Table 11.3; Kays & London, *Compact Heat Exchangers*):

    C = rho cp Q (W/K) of each stream,  C_min, C_max,  Cr = C_min / C_max,
    NTU = UA / C_min,  eps = q / q_max,  q_max = C_min (T_hot,in - T_cold,in).

Arrangements (the ``ARRANGEMENTS`` codes):

* ``counterflow``: eps = (1 - e^{-NTU(1-Cr)}) / (1 - Cr e^{-NTU(1-Cr)}), and
  NTU / (1 + NTU) at Cr = 1;
* ``parallel``: eps = (1 - e^{-NTU(1+Cr)}) / (1 + Cr);
* ``crossflow_unmixed`` (both streams unmixed), the exact series
  eps = 1/(Cr NTU) sum_{n>=0} P(n+1, NTU) P(n+1, Cr NTU), P the regularized
  lower incomplete gamma function (P(n+1, x) = 1 - e^{-x} sum_{m<=n} x^m/m!);
* ``crossflow_cmax_mixed``: eps = (1/Cr)(1 - exp(-Cr (1 - e^{-NTU})));
* ``crossflow_cmin_mixed``: eps = 1 - exp(-(1/Cr)(1 - e^{-Cr NTU})).

Every relation tends to 1 - e^{-NTU} as Cr -> 0.  Which stream of a
"one side mixed" exchanger is C_min depends on the operating point, so the
equipment models name the mixed *stream* (air or water) and pick the
cmax/cmin relation with :func:`one_side_mixed`.

:func:`ntu_from_effectiveness` inverts any relation (bisection in numpy, at
build time) to get UA from a rating point.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln

COUNTERFLOW, PARALLEL, CROSSFLOW_UNMIXED, CROSSFLOW_CMAX_MIXED, CROSSFLOW_CMIN_MIXED = range(5)
ARRANGEMENTS = {"counterflow": COUNTERFLOW, "parallel": PARALLEL, "crossflow_unmixed": CROSSFLOW_UNMIXED,
                "crossflow_cmax_mixed": CROSSFLOW_CMAX_MIXED, "crossflow_cmin_mixed": CROSSFLOW_CMIN_MIXED}
SERIES_TERMS = 96          # terms of the crossflow series: exact to float precision for NTU <= 40
NTU_MAX = 40.0             # NTU is clipped here (every eps is within 1e-6 of its limit beyond)
_CR_SMALL = 1e-6


def _counterflow(ntu, cr):
    one = jnp.abs(1.0 - cr) < 1e-6
    crs = jnp.where(one, 0.5, cr)
    e = jnp.exp(-ntu * (1.0 - crs))
    return jnp.where(one, ntu / (1.0 + ntu), (1.0 - e) / (1.0 - crs * e))


def _parallel(ntu, cr):
    return (1.0 - jnp.exp(-ntu * (1.0 + cr))) / (1.0 + cr)


def _poisson_tails(x, terms: int):
    """S_k(x) = sum_{m >= k} e^{-x} x^m / m! for k = 1..terms (= P(k, x), the regularized lower
    incomplete gamma function), summed from the tail so that no digits cancel."""
    m = jnp.arange(terms + 49, dtype=x.dtype)
    xs = jnp.maximum(x, 1e-30)[..., None]
    t = jnp.exp(-xs + m * jnp.log(xs) - gammaln(m + 1.0))
    tails = jnp.cumsum(t[..., ::-1], axis=-1)[..., ::-1]
    return tails[..., 1:terms + 1]


def _crossflow_unmixed(ntu, cr):
    crs = jnp.maximum(cr, _CR_SMALL)
    ntu, crs = jnp.broadcast_arrays(ntu, crs)
    total = jnp.sum(_poisson_tails(ntu, SERIES_TERMS) * _poisson_tails(crs * ntu, SERIES_TERMS), axis=-1)
    return total / (crs * ntu)


def _cmax_mixed(ntu, cr):
    crs = jnp.maximum(cr, _CR_SMALL)
    return (1.0 - jnp.exp(-crs * (1.0 - jnp.exp(-ntu)))) / crs


def _cmin_mixed(ntu, cr):
    crs = jnp.maximum(cr, _CR_SMALL)
    return 1.0 - jnp.exp(-(1.0 - jnp.exp(-crs * ntu)) / crs)


_RELATIONS = (_counterflow, _parallel, _crossflow_unmixed, _cmax_mixed, _cmin_mixed)


def effectiveness(ntu, cr, arrangement):
    """Effectiveness eps (-) for NTU (-), Cr = C_min/C_max (0..1) and an arrangement code
    (``ARRANGEMENTS``; a Python int or an integer array broadcasting with ntu and cr; a
    numpy array of one repeated code is traced as that one relation).

    >>> round(float(effectiveness(1.0, 1.0, CROSSFLOW_UNMIXED)), 5)
    0.47622
    """
    ntu = jnp.clip(jnp.asarray(ntu), 1e-12, NTU_MAX)
    cr = jnp.clip(jnp.asarray(cr), 0.0, 1.0)
    limit = 1.0 - jnp.exp(-ntu)            # Cr -> 0
    if isinstance(arrangement, np.ndarray) and arrangement.size and np.all(arrangement == arrangement.flat[0]):
        arrangement = int(arrangement.flat[0])        # one relation for all (known when tracing)
    if isinstance(arrangement, (int, np.integer)):
        value = _RELATIONS[int(arrangement)](ntu, cr)
    else:
        values = jnp.stack(jnp.broadcast_arrays(*[f(ntu, cr) for f in _RELATIONS]))
        code = jnp.broadcast_to(jnp.asarray(arrangement), values.shape[1:])
        value = jnp.take_along_axis(values, code[None].astype(jnp.int32), axis=0)[0]
    return jnp.where(cr < _CR_SMALL, limit, value)


def one_side_mixed(mixed_is_first, c_first, c_second):
    """Arrangement code of a crossflow exchanger with the *first* stream mixed
    (``mixed_is_first`` True) or the second stream mixed, given both capacity rates
    (W/K): Cmax-mixed when the mixed stream has the larger capacity rate."""
    first_is_max = c_first >= c_second
    mixed_is_max = jnp.where(mixed_is_first, first_is_max, ~first_is_max)
    return jnp.where(mixed_is_max, CROSSFLOW_CMAX_MIXED, CROSSFLOW_CMIN_MIXED)


def heat_transfer(c_hot, t_hot_in, c_cold, t_cold_in, ua, arrangement):
    """Heat (W) passed from the hot to the cold stream: eps C_min (T_hot,in - T_cold,in).
    ``c_*`` capacity rates (W/K), temperatures (degC), ``ua`` (W/K).  Negative when the
    "hot" stream is the colder one (the exchanger then heats it)."""
    c_min = jnp.minimum(c_hot, c_cold)
    c_max = jnp.maximum(c_hot, c_cold)
    safe_min = jnp.maximum(c_min, 1e-12)
    eps = effectiveness(ua / safe_min, c_min / jnp.maximum(c_max, 1e-12), arrangement)
    return jnp.where(c_min > 0, eps * c_min * (t_hot_in - t_cold_in), 0.0)


def effectiveness_np(ntu: float, cr: float, arrangement: int) -> float:
    """:func:`effectiveness` as a Python float (float64 where x64 is on, else float32)."""
    return float(effectiveness(np.float64(ntu), np.float64(cr), int(arrangement)))


def limit_effectiveness(cr: float, arrangement: int) -> float:
    """The effectiveness as NTU -> infinity (the best the arrangement can do)."""
    return effectiveness_np(NTU_MAX, cr, arrangement)


_effectiveness_jit = jax.jit(effectiveness, static_argnums=2)


@functools.lru_cache(maxsize=256)
def ntu_from_effectiveness(eps: float, cr: float, arrangement: int) -> float:
    """NTU (-) that gives effectiveness ``eps`` (-) at ``cr``; raises ValueError when
    ``eps`` is not reachable (eps <= 0, or at or above the arrangement's limit).

    eps rises monotonically with NTU: the root is bracketed on a grid of NTU values and
    the bracket refined on finer grids (a few vectorized evaluations, relative accuracy
    about 1e-9 in float64)."""
    eps, cr = float(eps), float(np.clip(cr, 0.0, 1.0))
    top = limit_effectiveness(cr, arrangement)
    if not 0.0 < eps < top * (1.0 - 1e-6):
        raise ValueError(f"effectiveness {eps:.4g} is not reachable: it must lie between 0 and {top:.4g} "
                         f"(the limit of this arrangement at Cr = {cr:.3g})")
    ntu = np.concatenate([[0.0], np.geomspace(1e-6, NTU_MAX, 256)])
    for _ in range(6):
        values = np.asarray(_effectiveness_jit(ntu, np.full_like(ntu, cr), int(arrangement)), float)
        k = int(np.clip(np.searchsorted(values, eps), 1, len(ntu) - 1))
        lo, hi = ntu[k - 1], ntu[k]
        if hi - lo <= 1e-10 * max(hi, 1e-6):
            break
        ntu = np.linspace(lo, hi, 257)
    return float(0.5 * (lo + hi))


def ua_from_rating(duty: float, c_hot: float, t_hot_in: float, c_cold: float, t_cold_in: float,
                   arrangement: int) -> float:
    """UA (W/K) that transfers ``duty`` (W) at a rating point (capacity rates W/K, inlet
    temperatures degC).  Raises ValueError when the duty is impossible at that point."""
    c_min, c_max = min(c_hot, c_cold), max(c_hot, c_cold)
    if not t_hot_in > t_cold_in:
        raise ValueError(f"the hot inlet ({t_hot_in:g} degC) must be warmer than the cold inlet ({t_cold_in:g} degC)")
    eps = duty / (c_min * (t_hot_in - t_cold_in))
    return ntu_from_effectiveness(eps, c_min / c_max, arrangement) * c_min
