"""Gradients of the steady state by implicit differentiation.

The steady state S* is the fixed point of one pseudo-time step,
``S* = F(theta, S*)``, where theta is the :class:`~thermo.problem.Problem`
(every floating leaf: boundary values, sources, fluid properties, open
fractions, grid nodes) and F is :func:`thermo.solve.step`, with its time
step from the same CFL rule as the march.  For a scalar L(S*) the
implicit-function theorem gives

    dL/dtheta = (dF/dtheta)^T lambda,   lambda = (dF/dS)^T lambda + dL/dS,

and the adjoint lambda solves the linear system (I - (dF/dS)^T) lambda =
dL/dS.  Each product with (dF/dS)^T is one :func:`jax.vjp` of the same step.
By default the system is solved by restarted GMRES (``adjoint_method =
"gmres"``, with an adaptive Neumann-polynomial preconditioner, see
:func:`_krylov`; frozen solid-cell values are left out, see
:func:`_live_components`): the step map's slow modes (eigenvalues of dF/dS near 1, the
ones that make the forward march take thousands of steps) are what a Krylov
method removes first, so the adjoint needs far fewer products than the
forward needed steps.  ``"fixed_point"`` iterates lambda = (dF/dS)^T lambda +
dL/dS instead (a Neumann series that contracts at the rate of the forward
march near its end).  Memory is that of one linearised step plus the GMRES
basis (``adjoint_restart`` + 1 state-sized vectors), whatever the iteration
count.

Under local time stepping (``Numerics.local_time_step`` > 1) the linearised
map uses the step multipliers of the steady state, held fixed: the fixed
point does not depend on them (they scale tendencies that vanish there), so
neither does its derivative.

Why the time step is differentiated too: if F(S) - S = dt R(S) with R free
of dt, the steady state does not depend on the pseudo-time step and dt
could be frozen.  Any term that breaks this makes the steady state depend
on dt, which the CFL rule ties to the velocity and hence to the parameters:
before commit 655d0b4 the outflow openings copied the predicted
(pre-projection) velocity, and freezing dt gave gradients off by 7 % on a
channel with a baffle.  Differentiating the step as the march takes it is
exact either way (and costs nothing noticeable).

The fixed-point variable is the whole state except time and step counter:
velocity, temperature and tracers carry the dynamics; pressure and eddy
viscosity are recomputed by every step from the others (the pressure warm
start is stop-gradient, see :mod:`thermo.physics.poisson`), so their adjoint
parts settle after one iteration, unless a coupling function reads them, in
which case they are true state variables and are treated as such.  The
Poisson solve inside the step is a ``lax.custom_linear_solve``: its
derivative is a second, transposed solve with the same multigrid
preconditioner.  The per-geometry precomputation (multigrid hierarchy, wall
distance) is redone inside the differentiated map, so gradients with respect
to open fractions include the change of the pressure operator and of the
wall distance.

Public entry point: :func:`steady_state`.  It is a ``jax.custom_vjp``
function: ``jax.grad`` of any scalar function of its result with respect to
the problem works, eagerly or under ``jax.jit``, in float32 and float64.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import partial
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.flatten_util import ravel_pytree

from .fields import State, initial_state as _rest_state
from .problem import Problem
from .solvers.krylov import extend_basis
from .solve import (Numerics, Precomputed, _run_chunk, precompute, relative_time_steps,
                    scaled_pressure_hierarchy, stable_time_step, step)


class AdjointNotConverged(RuntimeError):
    """The adjoint iteration (or the forward solve it rests on) did not converge; no gradient is returned."""


class AdjointNotConvergedWarning(RuntimeWarning):
    """Warning issued instead of :class:`AdjointNotConverged` with ``on_failure='warn'`` or ``'nan'``."""


@dataclass(frozen=True)
class SteadyOptions:
    """How the steady state and its adjoint are iterated (static: changing one recompiles).

    Attributes:
      max_steps: pseudo-time step budget of the forward march.
      tol: convergence tolerance on the dimensionless change rates of
        velocity and temperature per flow-through time (see
        :func:`thermo.solve.change_rates`).  Gradients are only as accurate as
        the steady state: use 1e-7..1e-9 in float64 and about 1e-5 in float32.
      chunk: steps per convergence check (forward and adjoint).
      min_steps: march at least this many steps.
      adjoint_max_steps: budget of linearised steps (``jax.vjp`` products) of
        the adjoint (default ``max_steps``).
      adjoint_tol: tolerance of the adjoint (dimensionless): with GMRES the
        relative residual ||g - (I - J^T) lambda|| / ||g|| (2-norm over all
        fields together); with the fixed point the estimated relative error
        (max norm over all fields together).
      adjoint_method: ``"gmres"`` (restarted GMRES, default) or
        ``"fixed_point"`` (the Neumann series).
      adjoint_restart: GMRES restart length (vectors kept, each the size of a
        state).
      adjoint_poisson_tol: relative residual of the pressure solves (and
        their transposes) inside the linearised step; default: 1e-11 in
        float64, 1e-6 in float32 (floored at ``Numerics.poisson_tol`` when
        that is tighter).
      on_failure: what an unconverged adjoint (or an unconverged forward
        solve under ``jax.grad``) does: ``"raise"`` (:class:`AdjointNotConverged`;
        under ``jax.jit`` it surfaces as a runtime error carrying that message),
        ``"nan"`` (warn and return NaN gradients) or ``"warn"`` (warn and return
        the gradient of the last iterate).
    """

    max_steps: int = 20000
    tol: float = 1e-6
    chunk: int = 100
    min_steps: int = 0
    adjoint_max_steps: int | None = None
    adjoint_tol: float = 1e-5
    adjoint_poisson_tol: float | None = None
    on_failure: str = "raise"
    adjoint_method: str = "gmres"
    adjoint_restart: int = 40

    def __post_init__(self):
        if self.adjoint_method not in ("gmres", "fixed_point"):
            raise ValueError(f"SteadyOptions.adjoint_method must be 'gmres' or 'fixed_point', "
                             f"not {self.adjoint_method!r}")
        if self.adjoint_restart < 2:
            raise ValueError(f"SteadyOptions.adjoint_restart must be at least 2, not {self.adjoint_restart}")
        if self.on_failure not in ("raise", "nan", "warn"):
            raise ValueError(f"SteadyOptions.on_failure must be 'raise', 'nan' or 'warn', not {self.on_failure!r}")
        if self.chunk < 2:
            raise ValueError(f"SteadyOptions.chunk must be at least 2, not {self.chunk}")
        if self.max_steps < 1:
            raise ValueError(f"SteadyOptions.max_steps must be positive, not {self.max_steps}")


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class SteadyInfo:
    """What the forward march did (arrays, so it passes through ``jax.jit``).

    Attributes:
      steps: pseudo-time steps taken.
      converged: True when both change rates fell below ``tol``.
      finite: False if the solution blew up (non-finite values).
      rate_velocity, rate_temperature: the dimensionless change rates of the last step.
      dt: the pseudo-time step (s) the march takes at the steady state.
    """

    steps: object
    converged: object
    finite: object
    rate_velocity: object
    rate_temperature: object
    dt: object


@dataclass(frozen=True)
class AdjointReport:
    """What the adjoint iteration did (plain Python numbers, given to ``on_adjoint``).

    Attributes:
      iterations: linearised steps taken (each one ``jax.vjp`` of one step).
      relative_error: with GMRES the final relative residual of the adjoint
        system; with the fixed point the estimated relative error (increment
        times rho / (1 - rho)).
      contraction: observed reduction factor per iteration (rho).
      converged: the adjoint met ``adjoint_tol``.
      forward_converged: the steady state it linearised about had converged.
    """

    iterations: int
    relative_error: float
    contraction: float
    converged: bool
    forward_converged: bool


# ---------------------------------------------------------------------------------
# the fixed-point variable
# ---------------------------------------------------------------------------------

def _fields(state: State):
    """The differentiable part of a state (everything but time and step)."""
    return (state.velocity, state.pressure, state.temperature, state.tracers, state.eddy_viscosity)


def _with_fields(state: State, x) -> State:
    velocity, pressure, temperature, tracers, eddy = x
    return state.replace(velocity=tuple(velocity), pressure=pressure, temperature=temperature,
                         tracers=tracers, eddy_viscosity=eddy)


def _step_map(numerics: Numerics, coupling, template: State, scale, problem: Problem, x):
    """F(theta, x): one step of the march from the fields ``x``; returns the new fields.

    The pseudo-time step comes from the same rule as in the march
    (:func:`thermo.solve.stable_time_step` of the coupled problem and the
    state), so F is exactly the map the forward solve iterates; ``scale``
    holds the local time-step multipliers of the steady state (or None).
    """
    # the residue of compensated summation is a constant of the march (it
    # changes where the map is evaluated by less than an ulp), not a variable
    state = _with_fields(template, x).replace(temperature_residue=None)
    # the pressure is only the warm start of the pressure solve (stop-gradient
    # inside poisson.solve too); everything geometric is recomputed from theta
    pre = precompute(problem, numerics)
    if scale is not None:
        pre = Precomputed(scaled_pressure_hierarchy(problem, scale), pre.wall_distance)
    current = problem if coupling is None else coupling(problem, state)
    new, _ = step(current, numerics, pre, state, None, scale)
    return _fields(new)


# ---------------------------------------------------------------------------------
# forward: the compiled steady march
# ---------------------------------------------------------------------------------

def _march(numerics: Numerics, coupling, chunk: int, problem: Problem, state: State, max_steps, min_steps, tol):
    """March in pseudo-time to the steady state inside one compiled loop of chunks.

    Only ``numerics``, ``coupling`` and ``chunk`` are static: step budgets and
    tolerances are traced, so changing them does not recompile.
    """
    with jax.named_scope("precompute"):
        pre = precompute(problem, numerics)
    dtype = state.temperature.dtype
    never = jnp.asarray(np.finfo(np.dtype(dtype)).max, dtype)
    big = jnp.asarray(np.inf, dtype)

    def cond(carry):
        _, steps, rate_u, rate_t, finite = carry
        settled = (rate_u < tol) & (rate_t < tol) & (steps >= min_steps)
        return (steps < max_steps) & finite & ~settled

    def body(carry):
        state, steps, *_ = carry
        n = jnp.minimum(chunk, max_steps - steps)
        with jax.named_scope("steady_chunk"):
            state, diag = _run_chunk(numerics, coupling, problem, pre, state, n, never)
        return state, steps + diag["steps"], diag["rate_velocity"], diag["rate_temperature"], diag["finite"]

    carry = (state, jnp.asarray(0, jnp.int32), big, big, jnp.asarray(True))
    state, steps, rate_u, rate_t, finite = lax.while_loop(cond, body, carry)
    current = problem if coupling is None else coupling(problem, state)
    dt = stable_time_step(current, numerics, state.velocity, state.eddy_viscosity)
    converged = finite & (rate_u < tol) & (rate_t < tol)
    info = SteadyInfo(steps=steps, converged=converged, finite=finite, rate_velocity=rate_u,
                      rate_temperature=rate_t, dt=dt)
    return state, info


_march_compiled = jax.jit(_march, static_argnums=(0, 1, 2))


def _forward(options: SteadyOptions, numerics: Numerics, coupling, problem: Problem, state: State):
    dtype = state.temperature.dtype
    return _march_compiled(numerics, coupling, options.chunk, problem, state,
                           jnp.asarray(options.max_steps, jnp.int32), jnp.asarray(options.min_steps, jnp.int32),
                           jnp.asarray(options.tol, dtype))


# ---------------------------------------------------------------------------------
# backward: the adjoint fixed point
# ---------------------------------------------------------------------------------

def _relative_change(new, old):
    """max|new - old| / max|new| over all fields together (dimensionless).

    One scale for all fields: a field whose adjoint is orders of magnitude
    below the others (round-off in a field the objective does not see, the
    sensitivity to the eddy viscosity through the time-step rule in a laminar
    case) barely affects the gradient, and scoring it on its own would make
    the test chase its round-off.
    """
    leaves = [(a, b) for a, b in zip(jax.tree_util.tree_leaves(new), jax.tree_util.tree_leaves(old)) if a.size]
    dtype = leaves[0][0].dtype
    scale = jnp.max(jnp.stack([jnp.max(jnp.abs(a)) for a, _ in leaves]))
    change = jnp.max(jnp.stack([jnp.max(jnp.abs(a - b)) for a, b in leaves]))
    return change / jnp.maximum(scale, jnp.finfo(dtype).tiny)


def _adjoint_numerics(options: SteadyOptions, numerics: Numerics, dtype) -> Numerics:
    tol = options.adjoint_poisson_tol
    if tol is None:
        tol = 1e-11 if np.dtype(dtype) == np.float64 else 1e-6
    tol = min(tol, numerics.poisson_tol)
    return Numerics(**{**numerics.__dict__, "poisson_tol": tol,
                       "poisson_max_iter": max(numerics.poisson_max_iter, 200)})


def _live_components(problem: Problem, x):
    """1 for the unknowns of the steady problem, 0 for temperature and tracers in solid cells.

    A fully blocked cell keeps its temperature (and tracers) from the initial
    state: the step leaves them unchanged, so they are parameters of the
    steady state, not unknowns, and the step map has an eigenvalue of exactly 1
    there.  Fluid cells can still read them (the slope limiter's
    upwind-upwind value next to a wall), so with those components in the
    system, (I - J^T) is singular and the adjoint equation inconsistent: the
    fixed point's adjoint grows without bound in solid cells and GMRES stalls
    at the inconsistent part (a relative residual of 3.6e-3 on design-tiny).
    Their adjoint does not reach the parameters (a frozen value does not
    depend on them), so they are removed from the system.
    """
    live_cells = (problem.geometry.fluid > 0)
    velocity, pressure, temperature, tracers, eddy = x
    ones = jax.tree_util.tree_map(jnp.ones_like, (velocity, pressure, eddy))
    cell = live_cells.astype(temperature.dtype)
    return (ones[0], ones[1], cell, jnp.broadcast_to(cell, tracers.shape).astype(tracers.dtype), ones[2])


def _krylov(transpose_step, b, restart: int, budget, tol, max_power: int = 256):
    """Solve (I - J^T) x = b for flat vectors by restarted GMRES with a Neumann
    polynomial preconditioner of adaptive degree; ``transpose_step(v)`` = J^T v.

    With k steps of the fixed-point iteration as preconditioner the system is
    (I - J^{Tk}) x = (I + J^T + ... + J^{T(k-1)}) b, whose GMRES(m) cycle
    contains m*k fixed-point steps among its polynomials.  k starts at 1 (plain
    GMRES, best when the step map is close to normal) and doubles, up to
    ``max_power``, whenever a cycle fails to halve the true residual: a guard
    for strongly non-normal step maps (advection), on which short restarted
    cycles can stagnate; the longer polynomial keeps the asymptotic rate of the
    fixed point while GMRES removes its slowest modes.

    Arnoldi uses classical Gram-Schmidt applied twice (as accurate as the
    modified process, and two products with the basis instead of a loop).  Every
    cycle ends with the true residual of the original system (one more step),
    which decides convergence, so round-off in the basis cannot fake it.
    Returns (x, steps, relative residual), steps counting products with J^T.
    """
    n, dtype = b.shape[0], b.dtype
    tiny = jnp.asarray(np.finfo(np.dtype(dtype)).tiny, dtype)
    b_norm = jnp.maximum(jnp.linalg.norm(b), tiny)

    def power(v, k):
        return lax.fori_loop(0, k, lambda i, w: transpose_step(w), v)

    def power_sum(v, k):
        def term(i, carry):
            total, t = carry
            t = transpose_step(t)
            return total + t, t
        return lax.fori_loop(1, k, term, (v, v))[0]

    def cycle(r, k):
        s = power_sum(r, k)
        beta = jnp.linalg.norm(s)
        basis = jnp.zeros((restart + 1, n), dtype).at[0].set(s / jnp.maximum(beta, tiny))
        hessenberg = jnp.zeros((restart + 1, restart), dtype)

        def arnoldi(j, carry):
            basis, hessenberg = carry
            basis, column = extend_basis(basis, basis[j] - power(basis[j], k), j)
            return basis, hessenberg.at[:, j].set(column)

        basis, hessenberg = lax.fori_loop(0, restart, arnoldi, (basis, hessenberg))
        rhs = jnp.zeros(restart + 1, dtype).at[0].set(beta)
        y = jnp.linalg.lstsq(hessenberg, rhs)[0]
        return y @ basis[:restart]

    def cond(carry):
        _, r, count, _ = carry
        residual = jnp.linalg.norm(r) / b_norm
        # a non-finite residual cannot recover: stop and let the caller report it
        return (count < budget) & ~(residual < tol) & jnp.isfinite(residual)

    def body(carry):
        x, r, count, k = carry
        x = x + cycle(r, k)
        r_new = b - (x - transpose_step(x))
        k_next = jnp.where(jnp.linalg.norm(r_new) > 0.5 * jnp.linalg.norm(r), jnp.minimum(2 * k, max_power), k)
        return x, r_new, count + (k - 1) + restart * k + 1, k_next

    one = jnp.asarray(1, jnp.int32)
    x, r, count, _ = lax.while_loop(cond, body, (jnp.zeros_like(b), b, jnp.asarray(0, jnp.int32), one))
    return x, count, jnp.linalg.norm(r) / b_norm


def _adjoint(numerics: Numerics, coupling, chunk: int, method: str, restart: int, problem: Problem, state: State,
             cotangent, budget, adjoint_tol):
    """Solve (I - (dF/dx)^T) lambda = g and return ((dF/dtheta)^T lambda, iterations, error, rho).

    ``numerics`` are those of the linearised step (see :func:`_adjoint_numerics`);
    ``method`` is ``"gmres"`` or ``"fixed_point"`` (see :class:`SteadyOptions`).
    """
    dtype = state.temperature.dtype
    scale = None
    if numerics.local_time_step > 1:
        # the multipliers the march used at its end, held fixed (see the module docstring)
        scale = relative_time_steps(problem, numerics, state.velocity, state.eddy_viscosity)
    fixed = partial(_step_map, numerics, coupling, state, scale)
    x = _fields(state)
    live = _live_components(problem, x)
    g = jax.tree_util.tree_map(lambda c, a, m: jnp.asarray(c, a.dtype) * m, _fields(cotangent), x, live)
    with jax.named_scope("linearise"):
        _, vjp_step = jax.vjp(lambda y: fixed(problem, y), x)

    def vjp_x(lam):
        (back,) = vjp_step(jax.tree_util.tree_map(jnp.multiply, lam, live))
        return (jax.tree_util.tree_map(jnp.multiply, back, live),)
    tiny = jnp.asarray(np.finfo(np.dtype(dtype)).tiny, dtype)

    if method == "gmres":
        flat_g, unravel = ravel_pytree(g)

        def transpose_step(v):
            with jax.named_scope("adjoint_step"):
                (back,) = vjp_x(unravel(v))
            return ravel_pytree(back)[0]

        flat_lam, count, error = _krylov(transpose_step, flat_g, restart, budget, adjoint_tol)
        lam = unravel(flat_lam)
        # mean residual reduction per product
        rho = jnp.maximum(error, tiny) ** (1.0 / jnp.maximum(count, 1).astype(dtype))
    else:
        lam, count, error, rho = _fixed_point(vjp_x, g, chunk, budget, adjoint_tol)
    with jax.named_scope("parameter_gradient"):
        _, vjp_theta = jax.vjp(lambda theta: fixed(theta, x), problem)
        (theta_bar,) = vjp_theta(lam)
    return theta_bar, count, error, rho


def _fixed_point(vjp_x, g, chunk, budget, adjoint_tol):
    """lambda = (dF/dx)^T lambda + g by iteration; returns (lambda, iterations, estimated error, rho)."""
    dtype = jax.tree_util.tree_leaves(g)[0].dtype

    def apply(lam):
        with jax.named_scope("adjoint_step"):
            (back,) = vjp_x(lam)
        return jax.tree_util.tree_map(jnp.add, back, g)

    tiny = jnp.asarray(np.finfo(np.dtype(dtype)).tiny, dtype)
    zero = jnp.asarray(0.0, dtype)
    # below this relative increment per step the iteration is at its rounding floor
    floor = jnp.asarray(64 * np.finfo(np.dtype(dtype)).eps, dtype)

    def cond(carry):
        _, count, error, _ = carry
        return (count < budget) & ~(error < adjoint_tol)

    def body(carry):
        lam, count, _, _ = carry

        def inner(i, c):
            lam, d_first, _ = c
            new = apply(lam)
            d = _relative_change(new, lam)
            return new, jnp.where(i == 0, d, d_first), d

        lam, d_first, d_last = lax.fori_loop(0, chunk, inner, (lam, zero, zero))
        # contraction per iteration observed over the chunk, and the error it implies
        rho = (jnp.maximum(d_last, tiny) / jnp.maximum(d_first, tiny)) ** (1.0 / (chunk - 1))
        error = jnp.where(rho < 1.0, d_last * rho / jnp.maximum(1.0 - rho, tiny), jnp.inf)
        error = jnp.where(d_last == 0.0, 0.0, error)
        # at the rounding floor the increments stop shrinking; count that as
        # converged only if the whole chunk was already there
        error = jnp.where((d_last < floor) & (d_first < 4.0 * floor), d_last, error)
        return lam, count + chunk, error, rho

    inf = jnp.asarray(jnp.inf, dtype)
    return lax.while_loop(cond, body, (g, jnp.asarray(0, jnp.int32), inf, jnp.asarray(1.0, dtype)))


_adjoint_compiled = jax.jit(_adjoint, static_argnums=(0, 1, 2, 3, 4))


def _report_adjoint(options: SteadyOptions, on_adjoint, iterations, error, rho, forward_converged):
    """Host side: build the report, hand it over, and raise or warn when the adjoint failed."""
    report = AdjointReport(iterations=int(iterations), relative_error=float(error), contraction=float(rho),
                           converged=bool(float(error) < options.adjoint_tol),
                           forward_converged=bool(forward_converged))
    if on_adjoint is not None:
        on_adjoint(report)
    if not (report.converged and report.forward_converged):
        what = ("the steady state did not converge, so it has no gradient" if not report.forward_converged else
                f"the adjoint did not converge in {report.iterations} iterations "
                f"({'relative residual' if options.adjoint_method == 'gmres' else 'estimated relative error'} "
                f"{report.relative_error:.3g} > adjoint_tol {options.adjoint_tol:g}, "
                f"reduction {report.contraction:.6f} per iteration)")
        if options.on_failure == "raise":
            raise AdjointNotConverged(what)
        warnings.warn(what + ("; gradients set to NaN" if options.on_failure == "nan" else
                              "; returning the gradient of the last iterate"), AdjointNotConvergedWarning,
                      stacklevel=2)


# ---------------------------------------------------------------------------------
# the custom_vjp function
# ---------------------------------------------------------------------------------

@partial(jax.custom_vjp, nondiff_argnums=(0, 1, 2, 3))
def _steady(options, numerics, coupling, on_adjoint, problem, state):
    return _forward(options, numerics, coupling, problem, state)


def _steady_fwd(options, numerics, coupling, on_adjoint, problem, state):
    out, info = _forward(options, numerics, coupling, problem, state)
    return (out, info), (problem, out, info.converged)


def _steady_bwd(options, numerics, coupling, on_adjoint, residuals, cotangents):
    problem, state, forward_converged = residuals
    state_bar, _ = cotangents
    dtype = state.temperature.dtype
    budget = options.max_steps if options.adjoint_max_steps is None else options.adjoint_max_steps
    theta_bar, iterations, error, rho = _adjoint_compiled(
        _adjoint_numerics(options, numerics, dtype), coupling, options.chunk, options.adjoint_method,
        options.adjoint_restart, problem, state, state_bar,
        jnp.asarray(budget, jnp.int32), jnp.asarray(options.adjoint_tol, dtype))
    ok = (error < options.adjoint_tol) & forward_converged
    if options.on_failure == "nan":
        theta_bar = jax.tree_util.tree_map(
            lambda t: jnp.where(ok, t, jnp.nan) if jnp.issubdtype(t.dtype, jnp.floating) else t, theta_bar)
    report = partial(_report_adjoint, options, on_adjoint)
    if any(isinstance(v, jax.core.Tracer) for v in (iterations, error, rho, forward_converged)):
        jax.debug.callback(report, iterations, error, rho, forward_converged)
    else:
        report(iterations, error, rho, forward_converged)
    return theta_bar, None


_steady.defvjp(_steady_fwd, _steady_bwd)


def steady_state(problem: Problem, numerics: Numerics = Numerics(), initial_state: State | None = None, *,
                 coupling: Callable | None = None, options: SteadyOptions | None = None,
                 on_adjoint: Callable | None = None, **option_values) -> tuple[State, SteadyInfo]:
    """The steady state of ``problem``, differentiable with respect to the problem.

    Forward: pseudo-time marching with :func:`thermo.solve.step` in compiled
    chunks (the same loop as :class:`thermo.solve.Solver`) until the change
    rates fall below ``tol``.  Backward (under ``jax.grad``/``jax.vjp``): the
    adjoint fixed point of that step at the converged pseudo-time step, see
    the module docstring.  Works eagerly and under ``jax.jit``, in float32 and
    float64 (the problem's dtype sets the precision).

    Args:
      problem: the problem; gradients flow to every floating leaf (boundary
        values in their units, sources, fluid properties, open fractions 0..1,
        grid node coordinates in m).
      numerics: numerical choices (``scheme="euler"`` for steady marching).
      initial_state: starting state (default: fluid at rest at the
        reference temperature).  It only changes the iteration count; no
        gradient flows to it.
      coupling: optional pure ``coupling(problem, state) -> problem`` applied
        before every step (equipment that reacts to the flow); the fixed
        point is then S = F(coupling(theta, S), S) and the adjoint includes
        the coupling's derivative.
      options: a :class:`SteadyOptions`; or give its fields as keywords
        (``max_steps=..., tol=..., chunk=..., adjoint_tol=..., on_failure=...``).
      on_adjoint: optional callable receiving an :class:`AdjointReport` after
        every backward pass (iterations, estimated error, convergence).  It is
        a static argument: pass the same object to reuse compiled code.

    Returns:
      ``(state, info)``: the steady :class:`~thermo.fields.State` and a
      :class:`SteadyInfo` (steps, converged, change rates, dt).  Check
      ``info.converged``: an unconverged state is returned as it is, and its
      gradient raises :class:`AdjointNotConverged` (see ``on_failure``).

    Example (differentiating the mean temperature)::

        def mean_temperature(problem):
            state, info = steady_state(problem, Numerics(poisson_tol=1e-10), tol=1e-8)
            return jnp.mean(state.temperature)
        gradient = jax.grad(mean_temperature)(problem)   # a Problem of derivatives
    """
    if options is None:
        options = SteadyOptions(**option_values)
    elif option_values:
        raise TypeError("give either options= or option keywords, not both")
    if initial_state is None:
        dtype = jnp.asarray(problem.geometry.fluid).dtype
        rest = _rest_state(problem.grid, 0.0, problem.n_tracers, dtype)
        initial_state = rest.replace(
            temperature=rest.temperature + jnp.asarray(problem.fluid.reference_temperature, dtype))
    initial_state = jax.tree_util.tree_map(lax.stop_gradient, initial_state)
    return _steady(options, numerics, coupling, on_adjoint, problem, initial_state)
