"""The steady solver: Newton-Krylov on the implicit pseudo-time step ("Stokes preconditioning").

A steady state x* is the fixed point of one line-implicit pseudo-time step F
(:func:`thermo.solve.step` with ``pseudo_time="implicit"``): F(x*) = x*.  F is a
preconditioned residual step, F(x) = x + P^-1 dt R(x) followed by the projection, with P the
first-order upwind ADI operator and the pressure multigrid inside the projection, so

    G(x) = F(x) - x = 0

has the roots of the discrete steady equations R(x) = 0 (:func:`thermo.solve.steady_residuals`)
and a Jacobian I - dF/dx that is the steady Jacobian preconditioned by the implicit
step.  This is Tuckerman's Newton-Krylov on the time stepper (Stokes preconditioning):
each Newton iteration solves (I - dF/dx) delta = G(x) by GMRES with products from
``jax.linearize`` of the step (the step's own pressure solve is a
``lax.custom_linear_solve``, so a product is a linearised step), then takes
x + alpha delta with a backtracking line search on the scaled norm of G.  The
pseudo-time step dt of F is set at the start of each iteration and held (it only
scales the preconditioner, not the root).

Globalisation: from a poor start (still air), Newton's linear model is wrong; the
solver first marches with the same implicit step (pseudo-transient continuation at a
fixed Courant number) until the residual has dropped by ``march_drop``, and falls back
on a chunk of such steps whenever a line search finds no decrease.  Grid sequencing
(a coarse solve interpolated as the start) is the caller's (:func:`thermo.hall.solve`).

Convergence is judged on the steady residuals themselves, momentum (m/s^2, RMS over
open faces) and temperature (K/s, RMS over fluid cells), each relative to its value at
the rest state of the same problem: both must drop to ``tol`` (default 1e-6 in float64,
``FLOAT32_FLOOR`` in float32, see docs/design.md).  A run whose residual stops falling
above the tolerance is reported as not converged, with the residuals it reached; it
never returns a NaN state (:class:`thermo.solve.SolverDiverged`).
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field, replace
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.flatten_util import ravel_pytree

from ..fields import State, compensation_for
from ..problem import Problem
from ..solve import (Numerics, Precomputed, Solver, SolverDiverged, current_eddy_viscosity,
                     stable_time_step, step, steady_residuals)
from .krylov import gmres

#: Relative residual drop that float32 reaches reliably on the example halls: below it the
#: residual is round-off of the step (its pressure solve and the line-implicit sweeps) and
#: Newton stalls (measured, docs/design.md "Steady solver").
FLOAT32_FLOOR = 3e-5
FLOAT64_TOL = 1e-6
#: a Newton iteration whose GMRES left more than this fraction of the linear residual made no
#: real use of its products; two in a row end the solve (the caller falls back on the march)
KRYLOV_STALL = 0.5


@dataclass(frozen=True)
class NewtonOptions:
    """How the steady state is solved (static: changing one recompiles the iteration).

    Attributes:
      cfl: Courant number of the implicit pseudo-time step whose fixed point is solved
        (the preconditioner: larger is stronger but the line-implicit factorisation
        degrades above about 5-10, measured).
      tol: relative drop of both steady residuals at which the solve stops; None: 1e-6 in
        float64, ``FLOAT32_FLOOR`` in float32.
      march_drop: the pseudo-time march hands over to Newton once both residuals are below
        this fraction of their rest values.
      march_steps: most steps of that first march.
      march_chunk: steps of a march chunk (also the fallback when a line search fails).
      max_iterations: Newton iterations at most.
      krylov_restart: GMRES basis size (state-sized vectors kept).
      krylov_cycles: GMRES restart cycles per Newton iteration at most.
      forcing: largest relative linear residual a Newton step asks for (Eisenstat-Walker
        choice 2, bounded by this from above and by ``forcing_min`` from below).
      forcing_min: smallest relative linear residual asked for.
      poisson_tol: relative residual of the pressure solve inside the step map; None:
        1e-10 in float64, 1e-6 in float32.
    """

    cfl: float = 5.0
    tol: float | None = None
    march_drop: float = 1e-2
    march_steps: int = 600
    march_chunk: int = 50
    max_iterations: int = 40
    krylov_restart: int = 40
    krylov_cycles: int = 3
    forcing: float = 0.1
    forcing_min: float = 1e-3
    poisson_tol: float | None = None

    def tolerance(self, dtype) -> float:
        if self.tol is not None:
            return float(self.tol)
        return FLOAT64_TOL if np.dtype(dtype) == np.float64 else FLOAT32_FLOOR


@dataclass
class NewtonReport:
    """What the steady solve did (``summary.json``'s ``solver`` section reads it).

    ``residual_history``: one record per march chunk and Newton iteration with the
    relative momentum and temperature residuals, Krylov products and step length."""

    converged: bool
    reason: str
    newton_iterations: int
    krylov_iterations: int
    march_steps: int
    residual_momentum: float
    residual_temperature: float
    tolerance: float
    cfl: float
    seconds: float
    compile_seconds: float
    residual_history: list = field(default_factory=list)


def step_numerics(numerics: Numerics, options: NewtonOptions, dtype) -> Numerics:
    """The numerics of the step map: ``numerics``' physics and scheme, one implicit Euler
    pseudo-time step at ``options.cfl`` everywhere, the pressure solved tightly."""
    tol = options.poisson_tol
    if tol is None:
        tol = 1e-10 if np.dtype(dtype) == np.float64 else 1e-6
    cfl = options.cfl
    scale = cfl / numerics.cfl
    return replace(numerics, pseudo_time="implicit", scheme="euler", cfl=cfl, local_time_step=1.0,
                   fixed_dt=None, turbulence_every=1, max_dt=numerics.max_dt * scale,
                   poisson_tol=min(tol, numerics.poisson_tol), poisson_max_iter=max(numerics.poisson_max_iter, 200))


# ---------------------------------------------------------------------------------
# the unknowns: velocity, pressure and temperature, scaled, solid-cell temperatures frozen
# ---------------------------------------------------------------------------------

def _unknowns(state: State):
    return (state.velocity, state.pressure, state.temperature)


def _with_unknowns(state: State, x) -> State:
    velocity, pressure, temperature = x
    return state.replace(velocity=tuple(velocity), pressure=pressure, temperature=temperature,
                         temperature_residue=None)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Scaling:
    """Per-group weights of the Newton unknowns (1 / a typical size of each group's
    increment), and the mask of live unknowns (0 for temperatures in solid cells, which
    the step leaves as they are: an eigenvalue of exactly 1 of dF/dx)."""

    velocity: object
    pressure: object
    temperature: object
    live_temperature: object

    def weights(self, x):
        velocity, pressure, temperature = x
        return (tuple(jnp.full_like(u, self.velocity) for u in velocity), jnp.full_like(pressure, self.pressure),
                self.temperature * self.live_temperature.astype(temperature.dtype))


def _map(numerics: Numerics, coupling, pre: Precomputed, problem: Problem, template: State, dt, x):
    """F(x): one implicit pseudo-time step of length ``dt`` from the unknowns ``x``."""
    state = _with_unknowns(template, x)
    current = problem if coupling is None else coupling(problem, state)
    new, diag = step(current, numerics, pre, state, dt)
    live = problem.geometry.fluid > 0
    return (new.velocity, new.pressure, jnp.where(live, new.temperature, state.temperature)), diag


def _residual_norms(numerics: Numerics, coupling, pre: Precomputed, problem: Problem, state: State):
    """RMS of the steady momentum residual over open faces (m/s^2) and of the temperature
    residual over fluid cells (K/s), at ``state`` with its own coupling."""
    current = problem if coupling is None else coupling(problem, state)
    momentum, temperature = steady_residuals(current, numerics, pre, state)
    faces = sum(jnp.sum(problem.geometry.open[a] > 0) for a in range(3))
    m2 = sum(jnp.sum(m * m) for m in momentum)
    cells = jnp.maximum(jnp.sum(problem.geometry.fluid > 0), 1)
    return jnp.sqrt(m2 / jnp.maximum(faces, 1)), jnp.sqrt(jnp.sum(temperature * temperature) / cells)


def _finish_state(numerics: Numerics, pre: Precomputed, problem: Problem, state: State) -> State:
    """The state with its eddy viscosity for its velocity and a fresh residue (float32)."""
    nu_t = current_eddy_viscosity(problem, numerics, pre, state.velocity)
    return state.replace(eddy_viscosity=nu_t,
                         temperature_residue=compensation_for(state.temperature.shape, state.temperature.dtype))


def _newton_direction(numerics: Numerics, coupling, restart: int, cycles: int, problem: Problem,
                      pre: Precomputed, scaling: Scaling, state: State, forcing):
    """Solve (I - dF/dx) delta = F(x) - x in scaled unknowns; returns (delta (flat, scaled),
    |G| scaled, Krylov products, relative linear residual, dt)."""
    current = problem if coupling is None else coupling(problem, state)
    dt = lax.stop_gradient(stable_time_step(current, numerics, state.velocity, state.eddy_viscosity))
    x = _unknowns(state)
    weights, unravel = ravel_pytree(scaling.weights(x))
    flat_x, _ = ravel_pytree(x)
    safe = jnp.where(weights > 0, weights, 1.0)

    def scaled_map(z):
        # frozen components (weight 0) keep their values: solid-cell temperatures are read
        # by the limiter's far upwind values and by equipment that samples near walls
        unscaled = jnp.where(weights > 0, z / safe, flat_x)
        new, _ = _map(numerics, coupling, pre, problem, state, dt, unravel(unscaled))
        return ravel_pytree(new)[0] * weights

    z = flat_x * weights
    fz, linear = jax.linearize(scaled_map, z)
    live = weights > 0
    g = jnp.where(live, fz - z, 0.0)

    def matvec(v):
        v = jnp.where(live, v, 0.0)
        return v - jnp.where(live, linear(v), 0.0)

    delta, products, relative = gmres(matvec, g, restart=restart, max_cycles=cycles, tol=forcing)
    return delta, jnp.linalg.norm(g), products, relative, dt


def _trial(numerics: Numerics, coupling, problem: Problem, pre: Precomputed, scaling: Scaling, state: State,
           delta, alpha, dt):
    """The state x + alpha delta and |G| there (scaled, same dt), for the line search."""
    x = _unknowns(state)
    weights, unravel = ravel_pytree(scaling.weights(x))
    flat_x, _ = ravel_pytree(x)
    safe = jnp.where(weights > 0, weights, 1.0)
    moved = unravel(flat_x + jnp.where(weights > 0, alpha * delta / safe, 0.0))
    trial = _with_unknowns(state, moved)
    new, _ = _map(numerics, coupling, pre, problem, trial, dt, moved)
    g = (ravel_pytree(new)[0] - ravel_pytree(moved)[0]) * weights
    return trial, jnp.linalg.norm(g), _residual_norms(numerics, coupling, pre, problem, trial)


_direction_compiled = jax.jit(_newton_direction, static_argnums=(0, 1, 2, 3))
_trial_compiled = jax.jit(_trial, static_argnums=(0, 1))
_norms_compiled = jax.jit(_residual_norms, static_argnums=(0, 1))
_finish_compiled = jax.jit(_finish_state, static_argnums=0)


def _rest_increments(numerics: Numerics, coupling, pre: Precomputed, problem: Problem, rest: State):
    """RMS of the first step's increments out of ``rest``: velocity (m/s), pressure (m^2/s^2),
    temperature over fluid cells (K)."""
    current = problem if coupling is None else coupling(problem, rest)
    dt = stable_time_step(current, numerics, rest.velocity, rest.eddy_viscosity)
    new, _ = _map(numerics, coupling, pre, problem, rest, dt, _unknowns(rest))
    live = problem.geometry.fluid > 0
    du = jnp.concatenate([jnp.ravel(u - v) for u, v in zip(new[0], rest.velocity)])
    dp = new[1] - rest.pressure
    dT = jnp.where(live, new[2] - rest.temperature, 0.0)
    speed = jnp.max(jnp.stack([jnp.max(jnp.abs(u)) for u in new[0]]))
    return (jnp.sqrt(jnp.mean(du * du)), jnp.sqrt(jnp.mean(dp * dp)),
            jnp.sqrt(jnp.sum(dT * dT) / jnp.maximum(jnp.sum(live), 1)), speed)


_rest_increments_compiled = jax.jit(_rest_increments, static_argnums=(0, 1))


def _scaling(numerics: Numerics, coupling, pre: Precomputed, problem: Problem, rest: State) -> Scaling:
    """Group weights from the first step out of the rest state: each group's RMS increment
    (velocity, pressure, temperature), so that no group dominates the 2-norm that GMRES
    minimises and the line search compares (a kelvin is not a metre per second)."""
    sizes = [float(v) for v in _rest_increments_compiled(numerics, coupling, pre, problem, rest)]
    du, dp, dT = (1.0 / v if v > 0 and np.isfinite(v) else 1.0 for v in sizes[:3])
    dtype = rest.temperature.dtype
    return Scaling(velocity=jnp.asarray(du, dtype), pressure=jnp.asarray(dp, dtype),
                   temperature=jnp.asarray(dT, dtype), live_temperature=problem.geometry.fluid > 0), sizes[3]


def solve_steady(problem: Problem, numerics: Numerics, state: State, coupling: Callable | None = None,
                 options: NewtonOptions = NewtonOptions(), progress: Callable | None = None,
                 accept: Callable | None = None, layout=None) -> tuple[State, NewtonReport]:
    """The steady state of ``problem`` from ``state`` by Newton-Krylov (module docstring).

    ``progress(record, state)``: called after every march chunk and Newton iteration with a
    ``residual_history`` record.  ``accept(state) -> (ok, text)``: an extra condition of
    convergence checked once the residuals are below tolerance (the hall's energy balance);
    while it fails the iteration goes on.  Raises :class:`SolverDiverged` when a field
    turns non-finite.
    """
    start = _time.perf_counter()
    dtype = state.temperature.dtype
    tol = options.tolerance(dtype)
    num = step_numerics(numerics, options, dtype)
    march = Solver(problem, num, chunk=options.march_chunk, coupling=coupling, layout=layout)
    pre = march.prepare()
    problem = march.problem
    rest = march.initial_state().replace(temperature_residue=None)
    scaling, speed = _scaling(num, coupling, pre, problem, rest)
    rest_m, rest_t = (float(v) for v in _norms_compiled(num, coupling, pre, problem, rest))
    # Reference sizes of the residuals.  Flow driven by mass sources (coolers, racks) has no
    # momentum residual at rest: the projection makes its velocity; then the dynamic scale
    # U^2 / L of the first step's largest speed U over the room's extent L stands in.
    length = max(float(x[-1] - x[0]) for x in problem.grid.nodes)
    tiny = np.finfo(np.dtype(dtype)).tiny
    rest_m = max(rest_m, speed * speed / length if np.isfinite(speed) else 0.0, tiny)
    rest_t = max(rest_t, tiny)
    compile_seconds = _time.perf_counter() - start
    history = []
    totals = {"march": 0, "newton": 0, "krylov": 0}

    def measure(s, kind, **extra):
        m, t = (float(v) for v in _norms_compiled(num, coupling, pre, problem, s))
        record = {"kind": kind, "march_steps": totals["march"], "newton_iterations": totals["newton"],
                  "krylov_iterations": totals["krylov"], "momentum": m / rest_m, "temperature": t / rest_t,
                  "seconds": _time.perf_counter() - start, **extra}
        if not (np.isfinite(m) and np.isfinite(t)):
            raise SolverDiverged(f"the steady solve diverged (non-finite residual) after {totals['march']} "
                                 f"pseudo-time steps and {totals['newton']} Newton iterations", s)
        history.append(record)
        if progress is not None:
            progress(record, s)
        return record

    def run_march(s, steps):
        s = s.replace(temperature_residue=compensation_for(s.temperature.shape, dtype))
        s, diag = march.run_chunk(s, steps)
        if not bool(diag["finite"]):
            raise SolverDiverged(f"the pseudo-time march diverged (non-finite values) after "
                                 f"{totals['march'] + int(diag['steps'])} steps", s)
        totals["march"] += int(diag["steps"])
        return s.replace(temperature_residue=None)

    # The steady residuals leave out what every step imposes exactly (boundary face values,
    # continuity): a start that violates them (another hall's answer, an interpolated field)
    # could pass as converged.  One step first makes the state satisfy them.
    state = run_march(state, 1)
    record = measure(state, "start")
    while (max(record["momentum"], record["temperature"]) > options.march_drop
           and totals["march"] < options.march_steps):
        state = run_march(state, options.march_chunk)
        record = measure(state, "march")

    converged, reason = False, f"reached {options.max_iterations} Newton iterations"
    forcing = options.forcing
    previous_g = None
    stalled = krylov_stalls = 0
    while True:
        worst = max(record["momentum"], record["temperature"])
        if worst <= tol:
            ok, text = (True, "") if accept is None else accept(state)
            if ok:
                converged = True
                reason = (f"converged: steady residuals {record['momentum']:.2e} (momentum) and "
                          f"{record['temperature']:.2e} (temperature) of their rest values, tolerance {tol:.0e}"
                          + (f"; {text}" if text else ""))
                break
        if totals["newton"] >= options.max_iterations:
            reason += f" (residuals {record['momentum']:.2e} momentum, {record['temperature']:.2e} temperature)"
            break
        delta, g_norm, products, linear, dt = _direction_compiled(
            num, coupling, options.krylov_restart, options.krylov_cycles, problem, pre, scaling, state,
            jnp.asarray(forcing, dtype))
        g_norm = float(g_norm)
        totals["newton"] += 1
        totals["krylov"] += int(products)
        alpha, accepted, trial_norm = 1.0, None, np.inf
        if np.isfinite(float(linear)):
            while alpha >= 1.0 / 16:
                trial, trial_norm, (trial_m, trial_t) = _trial_compiled(
                    num, coupling, problem, pre, scaling, state, delta, jnp.asarray(alpha, dtype), dt)
                trial_norm = float(trial_norm)
                # G and the steady residuals share their roots but not their size away from them:
                # a step that shrinks G may still throw the pressure or velocity far off (a closed
                # room's pressure level), so the steady residuals may grow at most twofold
                worst_trial = max(float(trial_m) / rest_m, float(trial_t) / rest_t)
                if (np.isfinite(trial_norm) and np.isfinite(worst_trial) and trial_norm <= (1.0 - 1e-4 * alpha) * g_norm
                        and worst_trial <= 2.0 * max(record["momentum"], record["temperature"])):
                    accepted = trial
                    break
                alpha *= 0.5
        if accepted is None:
            # no decrease along the Newton direction: the linear model does not hold here;
            # a chunk of pseudo-time steps moves the state on (continuation)
            state = run_march(state, options.march_chunk)
            # a non-finite GMRES residual (a linearised product that overflowed) is recorded as
            # None: the Newton step was not taken, the march chunk was
            record = measure(state, "march", linear_residual=float(linear) if np.isfinite(float(linear)) else None,
                             krylov=int(products))
            stalled += 1
        else:
            state = _finish_compiled(num, pre, problem, accepted).replace(temperature_residue=None)
            record = measure(state, "newton", linear_residual=float(linear), krylov=int(products), step=alpha,
                             g_before=g_norm, g_after=trial_norm)
            # Eisenstat-Walker choice 2: ask for as much accuracy as the last step earned
            if previous_g is not None:
                forcing = float(np.clip(0.9 * (trial_norm / g_norm) ** 2, options.forcing_min, options.forcing))
            stalled = stalled + 1 if trial_norm > 0.9 * g_norm else 0
            previous_g = trial_norm
        krylov_stalls = krylov_stalls + 1 if float(linear) > KRYLOV_STALL else 0
        if krylov_stalls >= 2:
            reason = (f"Krylov stalled: GMRES reduced the linear residual only to {float(linear):.2f} in "
                      f"{int(products)} products, twice running; the step map does not precondition this "
                      f"grid well enough (residuals {record['momentum']:.2e} momentum, "
                      f"{record['temperature']:.2e} temperature)")
            break
        if stalled >= 6:
            reason = (f"stalled: the residual stopped falling at {record['momentum']:.2e} (momentum) and "
                      f"{record['temperature']:.2e} (temperature) of the rest values, tolerance {tol:.0e}")
            break
    state = _finish_compiled(num, pre, problem, state)
    report = NewtonReport(converged=converged, reason=reason, newton_iterations=totals["newton"],
                          krylov_iterations=totals["krylov"], march_steps=totals["march"],
                          residual_momentum=record["momentum"], residual_temperature=record["temperature"],
                          tolerance=tol, cfl=options.cfl, seconds=_time.perf_counter() - start, compile_seconds=compile_seconds,
                          residual_history=history)
    return state, report
