"""Time stepping and the steady and transient drivers.

One step (explicit Euler; ``scheme="rk2"`` averages two of them, Heun's SSP
second-order Runge-Kutta):

1. eddy viscosity from the current velocity (zero-equation model);
2. momentum predictor u* = u + dt (advection + diffusion + buoyancy + sources),
   resistances applied point-implicitly, closed faces set to zero, boundary
   faces set from the boundary conditions;
3. projection: pressure from the variable-coefficient Poisson equation
   (multigrid-preconditioned CG warm-started from the last pressure), then
   u = u* - dt grad p;
4. temperature and tracers advanced with the new face fluxes.

The drivers run compiled chunks of steps (``lax.while_loop``) and come back
to the host only between chunks, to report progress and test convergence.
"""

from __future__ import annotations

import math
import sys
import time as _time
import types
from dataclasses import dataclass, field
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .fields import State, cell_centred_velocity, compensated_sum, initial_state
from .grid import AXES, Grid
from .operators import LIMITERS, expand_plane, materialize, pad, take
from .physics import implicit, poisson
from .physics.momentum import momentum_tendency
from .physics.projection import divergence, face_volume_flux, interior_gradient, pressure_operator, project
from .physics.scalar import ScalarBoundary, transport_tendency
from .physics.turbulence import MODELS, eddy_viscosity, wall_distance
from .problem import Problem


class SolverDiverged(RuntimeError):
    """The solution blew up (non-finite or runaway values).

    ``state``: the state in which it was found (None if not known), so that the caller can
    say which quantity went non-finite first and where (:func:`thermo.diagnostics.describe_non_finite`)."""

    def __init__(self, message: str, state=None):
        super().__init__(message)
        self.state = state


@dataclass(frozen=True)
class Numerics:
    """Numerical choices (static: changing one recompiles).

    Attributes:
      limiter: slope limiter of the bounded advection scheme ("koren",
        "smooth" (continuously differentiable, for design gradients),
        "van_leer", "minmod", or "upwind" for first order).
      turbulence: "laminar", "mixing_length" or "zero_equation".
      scheme: "euler" (steady pseudo-time marching) or "rk2" (transients).
      cfl: fraction of the explicit stability limit used for the time step.
      max_dt: upper bound on the time step (s).
      fixed_dt: if set, this time step (s) is used instead of the CFL rule.
      poisson_tol: relative residual of each pressure solve.
      poisson_max_iter: iteration cap of each pressure solve.
      multigrid_sweeps: Jacobi sweeps before and after each coarse correction.
      turbulence_every: recompute the eddy viscosity every this many steps (1 =
        every step; larger values save work when marching to a steady state,
        where only the converged field matters).
      local_time_step: largest ratio of a cell's pseudo-time step to the global
        one.  1 (default) marches every cell with the same time step, as a
        transient needs.  Above 1, steady marching uses local time stepping:
        each cell (and face) advances with its own step, up to this many times
        the global one, where its own stability limit allows it (see
        :func:`relative_time_steps`).  The fixed point, and so the steady
        state, is the same; only the path to it is shorter.
      pseudo_time: "explicit" (default) or "implicit": steady marching with
        line-implicit (ADI) steps (:mod:`thermo.physics.implicit`) whose
        ``cfl`` may exceed 1 (up to 100).  The momentum and temperature
        increments are smoothed by first-order upwind line solves and the
        pressure correction becomes incremental, so the steady state is the
        explicit scheme's; only the path changes.
    """

    limiter: str = "koren"
    turbulence: str = "laminar"
    scheme: str = "euler"
    cfl: float = 0.45
    max_dt: float = 1.0e9
    fixed_dt: float | None = None
    poisson_tol: float = 1e-5
    poisson_max_iter: int = 60
    multigrid_sweeps: int = 2
    turbulence_every: int = 1
    local_time_step: float = 1.0
    pseudo_time: str = "explicit"

    def __post_init__(self):
        if self.limiter not in LIMITERS:
            raise ValueError(f"Numerics.limiter must be one of {sorted(LIMITERS)}, not {self.limiter!r}")
        if self.turbulence not in MODELS:
            raise ValueError(f"Numerics.turbulence must be one of {MODELS}, not {self.turbulence!r}")
        if self.scheme not in ("euler", "rk2"):
            raise ValueError(f"Numerics.scheme must be 'euler' or 'rk2', not {self.scheme!r}")
        if self.pseudo_time not in ("explicit", "implicit"):
            raise ValueError(f"Numerics.pseudo_time must be 'explicit' or 'implicit', not {self.pseudo_time!r}")
        largest = 100.0 if self.pseudo_time == "implicit" else 1.0
        if not 0 < self.cfl <= largest:
            raise ValueError(f"Numerics.cfl must be in (0, {largest:g}] with {self.pseudo_time} pseudo-time steps, "
                             f"not {self.cfl}")
        if self.pseudo_time == "implicit" and (self.local_time_step > 1 or self.fixed_dt is not None
                                               or self.scheme != "euler"):
            raise ValueError("Numerics.pseudo_time 'implicit' is for steady marching with one Euler step: it needs "
                             "local_time_step 1, no fixed_dt and scheme 'euler'")
        if not self.local_time_step >= 1:
            raise ValueError(f"Numerics.local_time_step must be >= 1, not {self.local_time_step}")
        if self.local_time_step > 1 and self.fixed_dt is not None:
            raise ValueError("Numerics.local_time_step > 1 is for steady marching; it cannot be combined with fixed_dt")


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Precomputed:
    """Per-geometry data computed once before time stepping."""

    pressure_hierarchy: poisson.Hierarchy
    wall_distance: object


def precompute(problem: Problem, numerics: Numerics) -> Precomputed:
    g = problem.geometry
    level = pressure_operator(problem.grid, g.open, problem.boundaries)
    hierarchy = poisson.build_hierarchy(level)
    if numerics.turbulence == "laminar":
        distance = jnp.zeros(problem.grid.shape, g.fluid.dtype)
    else:
        distance = wall_distance(problem.grid, g.open, problem.boundaries, g.fluid)
    return Precomputed(hierarchy, distance)


def temperature_boundaries(problem: Problem):
    rho_cp = problem.fluid.density * problem.fluid.heat_capacity
    out = []
    for a in AXES:
        pair = []
        for side in (0, 1):
            p = problem.boundaries.plane(a, side)
            pair.append(ScalarBoundary(
                dirichlet=p.inflow + p.wall * p.fixed_temperature,
                value=p.temperature,
                flux=p.wall * (1.0 - p.fixed_temperature) * p.heat_flux / rho_cp,
            ))
        out.append(tuple(pair))
    return tuple(out)


def tracer_boundaries(problem: Problem, index: int):
    out = []
    for a in AXES:
        pair = []
        for side in (0, 1):
            p = problem.boundaries.plane(a, side)
            pair.append(ScalarBoundary(dirichlet=p.inflow, value=p.tracer[index], flux=jnp.zeros_like(p.inflow)))
        out.append(tuple(pair))
    return tuple(out)


def _boundary_normal_velocity(u_star, velocity, problem: Problem, axis: int, dt_sides):
    """Set the two boundary faces of component ``axis``: inflow value, wall 0,
    and at fixed-pressure openings a one-sided momentum balance.

    The face velocity u_b of an opening obeys du_b/dt = -|u_b| (u_b - u_up) / h
    - dp/dn, with h the half cell and u_up the upwind value: the interior face
    when air leaves (zero normal gradient at a steady state) and still air
    outside when it enters (so entering air loses its dynamic pressure, as at a
    real opening).  Both parts are taken implicitly in u_b: the advective part
    here, u_b* = (u_b + r u_up) / (1 + r) with r = dt |u_b| / h, and the
    pressure part by the projection with the face's step reduced to
    dt / (1 + r) (the returned factors), so that a steady state satisfies the
    balance exactly and does not depend on the pseudo-time step.
    ``dt_sides``: the time step (s) of the boundary faces on the low and high
    side (scalars, or plane arrays under local time stepping).

    Returns the face array of component ``axis`` and, per side, the factor
    1 / (1 + r) on openings (1 elsewhere) that scales the face's pressure correction.
    """
    out, factors = [], []
    for side in (0, 1):
        plane = problem.boundaries.plane(axis, side)
        inflow = jnp.expand_dims(plane.inflow, axis)
        outflow = jnp.expand_dims(plane.outflow, axis)
        speed = jnp.expand_dims(plane.velocity, axis) * (1.0 if side == 0 else -1.0)
        current, upwind, half = _opening_face(problem.grid, velocity, axis, side)
        rate = dt_sides[side] * jnp.abs(current) / half
        relaxed = (current + rate * upwind) / (1.0 + rate)
        out.append(inflow * speed + outflow * relaxed)
        factors.append(1.0 / (1.0 + outflow * rate))
    return jnp.concatenate([out[0], materialize(take(u_star, axis, 1, -1)), out[1]], axis=axis), factors


def _opening_face(grid: Grid, velocity, axis: int, side: int):
    """On one boundary plane of component ``axis``: (the face velocity u_b, its upwind value
    u_up (the interior face when air leaves, still air outside when it enters), the half
    cell h), the three parts of an opening's one-sided balance."""
    spacing = grid.centre_spacing(axis)
    if side == 0:
        current, interior, half = take(velocity[axis], axis, 0, 1), take(velocity[axis], axis, 1, 2), spacing[0]
        leaving = current < 0
    else:
        current, interior, half = take(velocity[axis], axis, -1), take(velocity[axis], axis, -2, -1), spacing[-1]
        leaving = current > 0
    return current, jnp.where(leaving, interior, 0.0), half


def cell_rates(problem: Problem, velocity, eddy_visc):
    """Per cell, the inverse of its explicit stability limit (1/s): advective
    (face speed over width) plus diffusive (2 nu / width^2) parts summed over
    the axes; zero in solid cells."""
    grid = problem.grid
    fluid = problem.fluid
    # the larger of the two face speeds per cell and axis (a face-based Courant
    # number is what keeps the bounded advection scheme bounded)
    face_speed = [jnp.maximum(jnp.abs(take(u, a, 0, -1)), jnp.abs(take(u, a, 1))) for a, u in enumerate(velocity)]
    nu = fluid.viscosity + eddy_visc
    kappa = fluid.diffusivity + eddy_visc / fluid.turbulent_prandtl
    diff = jnp.maximum(nu, kappa)
    rate = 0.0
    for a in AXES:
        w = Grid.along(grid.widths(a), a)
        rate = rate + face_speed[a] / w
        if grid.shape[a] > 1:
            rate = rate + 2.0 * diff / (w * w)
    return jnp.where(problem.geometry.fluid > 0, rate, 0.0)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class TimeScale:
    """Local time stepping: each cell's and face's pseudo-time step as a
    multiple (>= 1) of the global one.

    Attributes:
      cell: multiplier per cell (temperature and tracers).
      face: three face arrays (momentum and the pressure correction); a face
        takes the smaller multiplier of its two cells.
    """

    cell: object
    face: tuple


def relative_time_steps(problem: Problem, numerics: Numerics, velocity, eddy_visc) -> TimeScale:
    """Local pseudo-time step multipliers for steady marching.

    A cell whose own stability limit (:func:`cell_rates`) is k times looser
    than the tightest one in the domain steps k times further, up to
    ``numerics.local_time_step``.  Jets and fine cells near equipment then no
    longer hold the whole room to their time step.  Every cell still respects
    its own limit, and the steady state (tendencies zero, divergence zero) does
    not depend on the step, so only the path to it changes.
    """
    rate = cell_rates(problem, velocity, eddy_visc)
    top = jnp.maximum(jnp.max(rate), numerics.cfl / numerics.max_dt)
    cell = jnp.clip(top / jnp.maximum(rate, top / numerics.local_time_step), 1.0, numerics.local_time_step)
    cell = jnp.where(problem.geometry.fluid > 0, cell, 1.0)
    faces = []
    for a in AXES:
        padded = jnp.concatenate([take(cell, a, 0, 1), cell, take(cell, a, -1)], axis=a)
        faces.append(jnp.minimum(take(padded, a, 0, -1), take(padded, a, 1)))
    return TimeScale(cell=lax.stop_gradient(cell), face=tuple(lax.stop_gradient(f) for f in faces))


def stable_time_step(problem: Problem, numerics: Numerics, velocity, eddy_visc, scale: TimeScale | None = None):
    """Explicit (global) time step (s) from the advective and diffusive limits;
    with ``scale``, the global step such that every cell's local step obeys its limit."""
    if numerics.fixed_dt is not None:
        return jnp.asarray(numerics.fixed_dt, velocity[0].dtype)
    rate = cell_rates(problem, velocity, eddy_visc)
    if scale is not None:
        rate = rate * scale.cell
    dt = numerics.cfl / jnp.maximum(jnp.max(rate), 1e-12)
    return jnp.minimum(dt, numerics.max_dt)


def euler_step(problem: Problem, numerics: Numerics, pre: Precomputed, state: State, dt,
               scale: TimeScale | None = None):
    """One explicit step of length ``dt`` (times ``scale`` per cell and face
    under local time stepping, in which case ``pre`` must hold the pressure
    hierarchy of :func:`scaled_pressure_hierarchy`); returns (state, poisson
    iterations, relative residual)."""
    grid, fluid, geometry, sources = problem.grid, problem.fluid, problem.geometry, problem.sources
    limiter = LIMITERS[numerics.limiter]
    velocity = state.velocity
    implicit_steps = numerics.pseudo_time == "implicit"
    with jax.named_scope("eddy_viscosity"):
        if numerics.turbulence != "laminar" and numerics.turbulence_every > 1:
            nu_t = lax.cond(state.step % numerics.turbulence_every == 0,
                            lambda: current_eddy_viscosity(problem, numerics, pre, velocity),
                            lambda: state.eddy_viscosity)
        else:
            nu_t = current_eddy_viscosity(problem, numerics, pre, velocity)
    flux = face_volume_flux(velocity, grid, geometry.open)

    star, correction_scale = [], []
    with jax.named_scope("momentum"):
        predicted, reliefs, residuals, resistances, pressure_gradients = [], [], [], [], []
        for i in AXES:
            forcing, resistance, u_old = _momentum_terms(problem, limiter, state, flux, nu_t, i)
            dt_face = dt if scale is None else dt * take(scale.face[i], i, 1, -1)
            relief = 1.0 / (1.0 + dt_face * resistance)
            reliefs.append(relief)
            if implicit_steps:
                # explicit residual, old pressure gradient and resistance included
                pressure_gradients.append(interior_gradient(state.pressure, grid, i))
                residuals.append(forcing - resistance * u_old - pressure_gradients[i])
                resistances.append(resistance)
            else:
                predicted.append((u_old + dt_face * forcing) * relief)
        if implicit_steps:
            predicted = _implicit_predictors(problem, state, flux, nu_t, residuals, resistances, reliefs,
                                             pressure_gradients, dt)
        for i in AXES:
            dt_sides = (dt, dt) if scale is None else (dt * take(scale.face[i], i, 0, 1),
                                                      dt * take(scale.face[i], i, -1))
            u = jnp.where(take(geometry.open[i], i, 1, -1) > 0, predicted[i], 0.0)
            u_star, sides = _boundary_normal_velocity(pad(u, i, 1, 1), velocity, problem, i, dt_sides)
            star.append(u_star)
            # the pressure correction of a face is implicit like its resistance:
            # u = (u + dt (f - G p)) / (1 + dt R), so a steady state obeys R u = f - G p
            # whatever the step (an explicit correction left a (1 + dt R) error in the
            # pressure drop of tiles and porous layers)
            factor = jnp.concatenate([sides[0], materialize(reliefs[i]), sides[1]], axis=i)
            correction_scale.append(factor if scale is None else factor * scale.face[i])

    with jax.named_scope("pressure"):
        velocity, pressure, iterations, residual = project(
            tuple(star), grid, geometry.open, problem.boundaries, pre.pressure_hierarchy, sources.mass, dt,
            state.pressure, numerics.poisson_tol, numerics.poisson_max_iter, numerics.multigrid_sweeps,
            face_scale=tuple(correction_scale))

    with jax.named_scope("scalars"):
        flux = face_volume_flux(velocity, grid, geometry.open)
        rho_cp = fluid.density * fluid.heat_capacity
        kappa = fluid.diffusivity + nu_t / fluid.turbulent_prandtl
        live = geometry.fluid > 0
        t_rate = transport_tendency(state.temperature, flux, kappa, grid, geometry.open,
                                    temperature_boundaries(problem), limiter, sources.mass,
                                    sources.mass_temperature, sources.heat / rho_cp)
        dt_cell = dt if scale is None else dt * scale.cell
        if implicit_steps:
            scalar_lines = implicit.scalar_factors(flux, kappa, grid, geometry.open, dt, live,
                                                   dt * jnp.maximum(sources.mass, 0.0))
            t_rate = implicit.factored_solve(scalar_lines, dt * t_rate, live) / dt
        if state.temperature_residue is None:
            temperature, residue = jnp.where(live, state.temperature + dt_cell * t_rate, state.temperature), None
        else:
            summed, residue = compensated_sum(state.temperature, dt_cell * t_rate, state.temperature_residue)
            temperature = jnp.where(live, summed, state.temperature)
            residue = jnp.where(live, residue, 0.0)
        tracers = []
        for k in range(problem.n_tracers):
            c_rate = transport_tendency(state.tracers[k], flux, kappa, grid, geometry.open,
                                        tracer_boundaries(problem, k), limiter, sources.mass,
                                        sources.mass_tracer[k], sources.tracer[k])
            if implicit_steps:
                c_rate = implicit.factored_solve(scalar_lines, dt * c_rate, live) / dt
            tracers.append(jnp.where(live, state.tracers[k] + dt_cell * c_rate, state.tracers[k]))
        tracers = jnp.stack(tracers) if tracers else state.tracers

    new = State(velocity=velocity, pressure=pressure, temperature=temperature, tracers=tracers,
                eddy_viscosity=nu_t, time=state.time + dt, step=state.step + 1, temperature_residue=residue)
    return new, iterations, residual


def current_eddy_viscosity(problem: Problem, numerics: Numerics, pre: Precomputed, velocity):
    """Turbulent kinematic viscosity (m^2/s, cells) of ``numerics.turbulence`` for ``velocity``."""
    if numerics.turbulence == "laminar":
        return jnp.zeros_like(problem.geometry.fluid)
    return eddy_viscosity(numerics.turbulence, velocity, problem.grid, pre.wall_distance, problem.geometry.fluid)


def _momentum_terms(problem: Problem, limiter, state: State, flux, nu_t, i: int):
    """On the interior faces of component ``i``: (advection + diffusion + buoyancy + body
    sources (m/s^2), resistance coefficient R (1/s), current velocity (m/s)).  The
    quadratic resistance is linearised about the current velocity (not the predicted
    one, which would make the steady state depend on dt)."""
    sources = problem.sources
    tendency = momentum_tendency(i, state.velocity, flux, state.temperature, nu_t, problem.grid, problem.fluid,
                                 problem.geometry.open, problem.boundaries, sources.mass, limiter)
    u_old = take(state.velocity[i], i, 1, -1)
    resistance = take(sources.resistance_linear[i], i, 1, -1) + take(
        sources.resistance_quadratic[i], i, 1, -1) * jnp.abs(u_old)
    return tendency + take(sources.momentum[i], i, 1, -1), resistance, u_old


def _opening_residuals(problem: Problem, state: State, axis: int):
    """The residual (m/s^2) of the one-sided momentum balance of :func:`_boundary_normal_velocity`
    on the two boundary planes of component ``axis``, -|u_b| (u_b - u_up) / h - dp/dn on
    fixed-pressure openings, zero elsewhere (faces of the shape of one plane each)."""
    pressure = state.pressure
    out = []
    for side in (0, 1):
        plane = problem.boundaries.plane(axis, side)
        outflow = expand_plane(plane.outflow, axis)
        p_b = expand_plane(plane.pressure, axis)
        current, upwind, half = _opening_face(problem.grid, state.velocity, axis, side)
        gradient = (take(pressure, axis, 0, 1) - p_b) / half if side == 0 else (p_b - take(pressure, axis, -1)) / half
        out.append(outflow * (-jnp.abs(current) * (current - upwind) / half - gradient))
    return out


def steady_residuals(problem: Problem, numerics: Numerics, pre: Precomputed, state: State):
    """What a pseudo-time step drives to zero, at ``state`` (``problem`` already coupled):

    * momentum, three face arrays (m/s^2): on interior faces advection + diffusion +
      buoyancy + sources - R u - grad p (the pressure of ``state``, which the last
      projection made consistent with its velocity); on the boundary faces of
      fixed-pressure openings their one-sided balance (:func:`_opening_residuals`);
      zero on closed faces and fixed boundary faces;
    * temperature, d(T)/dt per cell (K/s) at the state's face fluxes, zero in solid cells.

    A state is a fixed point of :func:`euler_step` (explicit or implicit, any local time
    steps) exactly when both vanish and its velocity is divergence-free, with openings that
    cover whole boundary faces (a partly open face's update, ``outflow x relaxed``, has a
    fixed point that depends on the step; hall grids snap openings to whole faces)."""
    grid, geometry, fluid = problem.grid, problem.geometry, problem.fluid
    limiter = LIMITERS[numerics.limiter]
    nu_t = current_eddy_viscosity(problem, numerics, pre, state.velocity)
    flux = face_volume_flux(state.velocity, grid, geometry.open)
    momentum = []
    for i in AXES:
        forcing, resistance, u_old = _momentum_terms(problem, limiter, state, flux, nu_t, i)
        inner = forcing - resistance * u_old - interior_gradient(state.pressure, grid, i)
        low, high = _opening_residuals(problem, state, i)
        residual = jnp.concatenate([low, inner, high], axis=i)
        momentum.append(jnp.where(geometry.open[i] > 0, residual, 0.0))
    kappa = fluid.diffusivity + nu_t / fluid.turbulent_prandtl
    sources = problem.sources
    rate = transport_tendency(state.temperature, flux, kappa, grid, geometry.open, temperature_boundaries(problem),
                              limiter, sources.mass, sources.mass_temperature,
                              sources.heat / (fluid.density * fluid.heat_capacity))
    return tuple(momentum), jnp.where(geometry.fluid > 0, rate, 0.0)


def _implicit_predictors(problem: Problem, state: State, flux, nu_t, residuals, resistances, reliefs,
                         pressure_gradients, dt):
    """The momentum predictors of an implicit pseudo-time step on the interior faces of
    each axis: the explicit residuals (old pressure gradient and resistance included)
    smoothed by the line solves, all three components in one set of scans, with the old
    pressure gradient added back so that the projection that follows corrects only the
    pressure change (incremental).  With the line operator left out this is the explicit
    predictor exactly: (u + dt f) / (1 + dt R)."""
    grid = problem.grid
    lines, lives = zip(*(implicit.momentum_factors(i, flux, problem.fluid.viscosity + nu_t, grid,
                                                   problem.geometry.open, dt, dt * resistances[i]) for i in AXES))
    increments = implicit.stacked_factored_solve(lines, [dt * r for r in residuals], lives, grid.shape)
    return [take(state.velocity[i], i, 1, -1) + increments[i]
            + dt * reliefs[i] * pressure_gradients[i] for i in AXES]


def step(problem: Problem, numerics: Numerics, pre: Precomputed, state: State, dt=None,
         scale: TimeScale | None = None):
    """One time step (Euler or RK2), local under ``scale`` (see :func:`euler_step`).
    Returns (state, diagnostics dict)."""
    if dt is None:
        dt = stable_time_step(problem, numerics, state.velocity, state.eddy_viscosity, scale)
    first, it1, res1 = euler_step(problem, numerics, pre, state, dt, scale)
    if numerics.scheme == "euler":
        new, iterations, residual = first, it1, res1
    else:
        second, it2, res2 = euler_step(problem, numerics, pre, first, dt, scale)
        average = jax.tree_util.tree_map(lambda a, b: 0.5 * (a + b), state, second)
        new = average.replace(pressure=second.pressure, eddy_viscosity=second.eddy_viscosity,
                              time=state.time + dt, step=state.step + 1)
        iterations, residual = it1 + it2, jnp.maximum(res1, res2)
    return new, {"dt": dt, "poisson_iterations": iterations, "poisson_residual": residual}


# ---------------------------------------------------------------------------------
# residuals
# ---------------------------------------------------------------------------------

def change_rates(problem: Problem, old: State, new: State, dt, scale: TimeScale | None = None):
    """Dimensionless rates of change per flow-through time: (velocity, temperature).

    velocity: max|du| / U * (L / U) / dt; temperature: max|dT| /
    max(T range, 1 K) * (L / U) / dt, with L the largest domain extent and
    U = max(|u|max, (nu + kappa + nu_t + kappa_t) / L).  Under local time
    stepping each change is divided by its own step multiplier, so the rates
    still measure the equations' residuals.  They vanish at a steady state.
    """
    live = problem.geometry.fluid > 0
    face_scale = (1.0, 1.0, 1.0) if scale is None else scale.face
    du = jnp.max(jnp.stack([jnp.max(jnp.abs(n - o) / f)
                            for n, o, f in zip(new.velocity, old.velocity, face_scale)]))
    speed = jnp.max(jnp.stack([jnp.max(jnp.abs(n)) for n in new.velocity]))
    length = jnp.max(jnp.stack([x[-1] - x[0] for x in problem.grid.nodes]))
    # the time scale is the flow-through time, or the diffusion time where
    # diffusion is faster (still air, conduction)
    diffusion = (problem.fluid.viscosity + problem.fluid.diffusivity
                 + jnp.max(new.eddy_viscosity) * (1.0 + 1.0 / problem.fluid.turbulent_prandtl))
    speed = jnp.maximum(speed, diffusion / length)
    flow_time = length / speed
    # temperature differences under 1 K are scored against 1 K, so a nearly
    # isothermal field does not turn round-off into a large relative change
    t_range = jnp.maximum(jnp.max(jnp.where(live, new.temperature, -jnp.inf)) -
                          jnp.min(jnp.where(live, new.temperature, jnp.inf)), 1.0)
    d_t = new.temperature - old.temperature
    if new.temperature_residue is not None and old.temperature_residue is not None:
        # the change of the represented value, increments smaller than an ulp included
        d_t = d_t + (new.temperature_residue - old.temperature_residue)
    d_t = jnp.abs(d_t)
    if scale is not None:
        d_t = d_t / scale.cell
    d_t = jnp.max(jnp.where(live, d_t, 0.0))
    return du / speed * flow_time / dt, d_t / t_range * flow_time / dt


@dataclass
class RunReport:
    """What a driver did, for the user and for summary files."""

    converged: bool
    steps: int
    time: float
    seconds: float
    compile_seconds: float
    poisson_iterations_per_step: float
    history: list = field(default_factory=list)
    reason: str = ""


def scaled_pressure_hierarchy(problem: Problem, scale: TimeScale) -> poisson.Hierarchy:
    """The pressure multigrid hierarchy of the locally time-stepped projection
    (face conductances weighted by the faces' step multipliers)."""
    weighted = tuple(o * f for o, f in zip(problem.geometry.open, scale.face))
    return poisson.build_hierarchy(pressure_operator(problem.grid, weighted, problem.boundaries))


def _field_sum(state: State) -> tuple:
    """The cell and face fields of ``state`` that a running average sums."""
    return (*state.velocity, state.pressure, state.temperature, state.tracers, state.eddy_viscosity)


def _run_chunk(numerics, coupling, problem, pre, state, steps, until_time, accumulate=False, hook=None,
               hook_args=None):
    """Up to ``steps`` steps, stopping early at ``until_time`` (dt clipped to land on it).

    ``hook``: optional static ``hook(hook_args, state, count) -> state`` applied before each
    step (count: steps taken so far in this chunk), inside the compiled loop: the coarse-grid
    corrections of :mod:`thermo.fas`.

    ``accumulate``: also return ``diag["field_sum"]``, the sum over the chunk's steps of
    every field after the step (:func:`_field_sum` order), for averages over pseudo-time
    of flows that do not settle to a steady state.

    Under local time stepping the multipliers are set from the state at the
    start of the chunk and held for its steps (the global step still follows
    the flow every step, so every cell keeps to its own limit), and the
    pressure hierarchy is rebuilt for them.
    """
    scale = None
    if numerics.local_time_step > 1:
        scale = relative_time_steps(problem, numerics, state.velocity, state.eddy_viscosity)
        pre = Precomputed(scaled_pressure_hierarchy(problem, scale), pre.wall_distance)

    def cond(carry):
        state, count, *_ = carry
        return (count < steps) & (state.time < until_time)

    def body(carry):
        state, count, iters, _, _, _, total = carry
        if hook is not None:
            state = hook(hook_args, state, count)
        with jax.named_scope("coupling"):
            current = problem if coupling is None else coupling(problem, state)
        with jax.named_scope("time_step"):
            dt = stable_time_step(current, numerics, state.velocity, state.eddy_viscosity, scale)
        dt = jnp.minimum(dt, until_time - state.time)
        new, diag = step(current, numerics, pre, state, dt, scale)
        # the change rates are only reported for the last step of a chunk
        last = (count + 1 >= steps) | (new.time >= until_time)
        rate_u, rate_t = lax.cond(last, lambda: change_rates(current, state, new, dt, scale),
                                  lambda: (carry[3], carry[4]))
        if accumulate:
            total = tuple(a + b for a, b in zip(total, _field_sum(new)))
        return new, count + 1, iters + diag["poisson_iterations"], rate_u, rate_t, diag["poisson_residual"], total

    zero = jnp.asarray(0.0, state.temperature.dtype)
    total = tuple(jnp.zeros_like(f) for f in _field_sum(state)) if accumulate else ()
    carry = (state, jnp.asarray(0, jnp.int32), jnp.asarray(0, jnp.int32), zero, zero, zero, total)
    state, count, iters, rate_u, rate_t, p_res, total = lax.while_loop(cond, body, carry)
    finite = jnp.isfinite(rate_u) & jnp.isfinite(rate_t) & jnp.all(jnp.isfinite(state.temperature))
    for u in state.velocity:
        finite = finite & jnp.all(jnp.isfinite(u))
    diag = {"steps": count, "poisson_iterations": iters, "rate_velocity": rate_u,
            "rate_temperature": rate_t, "poisson_residual": p_res, "finite": finite}
    if accumulate:
        diag["field_sum"] = total
    return state, diag


def average_state(state: State, field_sum: tuple, count) -> State:
    """``state`` with its fields replaced by ``field_sum / count`` (sums in :func:`_field_sum`
    order, e.g. ``diag["field_sum"]`` of :meth:`Solver.run_chunk` added over chunks).  The
    average of divergence-free velocities is divergence-free, so the result is a flow field
    like any other; its time and step stay those of ``state``."""
    mean = [f / count for f in field_sum]
    return state.replace(velocity=tuple(mean[:3]), pressure=mean[3], temperature=mean[4], tracers=mean[5],
                         eddy_viscosity=mean[6])


# compiled once per (numerics, coupling, array shapes and dtypes), shared by all Solver objects
_run_chunk_compiled = jax.jit(_run_chunk, static_argnums=(0, 1, 7, 8))
_precompute_compiled = jax.jit(precompute, static_argnums=1)


class Solver:
    """Compiled stepping for one problem.

    Chunks of ``chunk`` steps run inside one ``lax.while_loop``; compiled code
    is shared by every solver with the same numerics, coupling function and
    array shapes.
    """

    def __init__(self, problem: Problem, numerics: Numerics = Numerics(), chunk: int = 50,
                 coupling: Callable | None = None, layout=None):
        """Args:
          problem: the problem (its dtype sets the precision).
          numerics: numerical choices.
          chunk: steps per compiled chunk (progress and convergence are checked between chunks).
          coupling: optional pure function ``coupling(problem, state) -> problem`` applied
            before every step, inside the compiled loop: equipment that reacts to the flow
            (rack exhaust temperature from its intake, cooler supply temperature from its
            return, events at given times) changes source or boundary fields through it.
            It must not change array shapes nor the geometry (the pressure multigrid
            hierarchy and wall distance are computed once from the initial geometry).
            Pass the same function object to share compiled code between solvers.
          layout: optional :class:`thermo.parallel.Layout`: the grid is sharded over its
            device mesh (problem, precomputed data and state are placed on it before
            every chunk; XLA partitions the compiled step).  None (default): one device.
        """
        self.layout = layout
        self.problem = problem if layout is None else layout.place(problem)
        self.numerics = numerics
        self.chunk = int(chunk)
        self.coupling = coupling
        self.pre = None

    def prepare(self):
        if self.pre is None:
            self.pre = _precompute_compiled(self.problem, self.numerics)
            if self.layout is not None:
                self.pre = self.layout.place(self.pre)
        return self.pre

    def run_chunk(self, state: State, steps: int | None = None, until_time: float = math.inf,
                  accumulate: bool = False, hook=None, hook_args=None):
        """Run up to ``steps`` steps (default ``chunk``) or until ``until_time``; returns (state, diagnostics).

        ``accumulate``: the diagnostics also hold ``field_sum``, the fields summed over the
        chunk's steps (see :func:`average_state`).  ``hook``, ``hook_args``: see :func:`_run_chunk`."""
        pre = self.prepare()
        steps = self.chunk if steps is None else steps
        dtype = state.temperature.dtype
        if self.layout is not None:
            # no-ops for arrays already on the mesh; re-places what host code replaced
            # between chunks (a controller's new source values, an interpolated start)
            self.problem = self.layout.place(self.problem)
            state = self.layout.place(state)
        return _run_chunk_compiled(self.numerics, self.coupling, self.problem, pre, state,
                                   jnp.asarray(steps, jnp.int32),
                                   jnp.asarray(min(until_time, np.finfo(np.dtype(dtype)).max), dtype),
                                   bool(accumulate), hook, hook_args)

    def initial_state(self, temperature=None) -> State:
        dtype = self.problem.geometry.fluid.dtype
        if temperature is None:
            temperature = float(self.problem.fluid.reference_temperature)
        return initial_state(self.problem.grid, temperature, self.problem.n_tracers, dtype)

    def steady(self, state: State | None = None, max_steps: int = 20000, tol: float = 1e-3,
               monitor: Callable | None = None, monitor_tol: float = 1e-3, min_steps: int = 0,
               progress: Callable | None = None) -> tuple[State, RunReport]:
        """March in pseudo-time to a steady state.

        Converged when both change rates (see :func:`change_rates`) are below
        ``tol`` and the monitored quantities (``monitor(state)``, an array)
        changed by less than ``monitor_tol`` (absolute) over the last chunk.
        Raises :class:`SolverDiverged` on a blow-up.
        """
        if state is None:
            state = self.initial_state()
        start = _time.perf_counter()
        compile_start = _time.perf_counter()
        self.prepare()
        state, diag = self.run_chunk(state, 1)
        jax.block_until_ready(state)
        compile_seconds = _time.perf_counter() - compile_start
        steps = 1
        iterations = int(diag["poisson_iterations"])
        history = []
        previous = None if monitor is None else np.asarray(monitor(state))
        converged = False
        reason = "reached max_steps"
        while steps < max_steps:
            n = min(self.chunk, max_steps - steps)
            state, diag = self.run_chunk(state, n)
            steps += int(diag["steps"])
            iterations += int(diag["poisson_iterations"])
            record = {"step": steps, "time": float(state.time),
                      "rate_velocity": float(diag["rate_velocity"]),
                      "rate_temperature": float(diag["rate_temperature"]),
                      "poisson_iterations": int(diag["poisson_iterations"]) / max(int(diag["steps"]), 1)}
            if not bool(diag["finite"]):
                raise SolverDiverged(f"solution diverged (non-finite values) by step {steps}, t = {float(state.time):.4g} s",
                                     state)
            change = 0.0
            if monitor is not None:
                current = np.asarray(monitor(state))
                change = float(np.max(np.abs(current - previous))) if current.size else 0.0
                previous = current
                record["monitor_change"] = change
            history.append(record)
            if progress is not None:
                progress(record, state)
            if (steps >= min_steps and record["rate_velocity"] < tol and record["rate_temperature"] < tol
                    and change < monitor_tol):
                converged = True
                reason = "converged"
                break
        seconds = _time.perf_counter() - start
        report = RunReport(converged=converged, steps=steps, time=float(state.time), seconds=seconds,
                           compile_seconds=compile_seconds,
                           poisson_iterations_per_step=iterations / max(steps, 1), history=history,
                           reason=reason)
        return state, report

    def transient(self, state: State | None, end_time: float, report_every: float,
                  progress: Callable | None = None, max_steps_per_report: int = 100000):
        """Advance to ``end_time`` (s), returning the states at every ``report_every`` seconds."""
        if self.numerics.local_time_step > 1:
            raise ValueError("Solver.transient needs one time step everywhere: Numerics.local_time_step must be 1")
        if self.numerics.pseudo_time != "explicit":
            raise ValueError("Solver.transient is time-accurate: Numerics.pseudo_time must be 'explicit'")
        if state is None:
            state = self.initial_state()
        start = _time.perf_counter()
        self.prepare()
        snapshots = [state]
        steps = 0
        target = float(state.time)
        while target < end_time - 1e-12:
            target = min(target + report_every, end_time)
            while float(state.time) < target - 1e-9 * max(1.0, target):
                state, diag = self.run_chunk(state, max_steps_per_report, until_time=target)
                steps += int(diag["steps"])
                if not bool(diag["finite"]):
                    raise SolverDiverged(f"solution diverged (non-finite values) at t = {float(state.time):.4g} s", state)
            snapshots.append(state)
            if progress is not None:
                progress({"time": float(state.time), "step": steps}, state)
        report = RunReport(converged=True, steps=steps, time=float(state.time),
                           seconds=_time.perf_counter() - start, compile_seconds=0.0,
                           poisson_iterations_per_step=float("nan"))
        return snapshots, report


class _CallableModule(types.ModuleType):
    """``thermo.solve(scene, ...)`` is the design API's :func:`thermo.design.solve`; the
    module's contents (``thermo.solve.Solver``, ...) stay as they are."""

    def __call__(self, *args, **kwargs):
        from .design import solve as design_solve
        return design_solve(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
