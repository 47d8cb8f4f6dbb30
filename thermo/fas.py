"""Coarse-grid corrections of the steady march: the full approximation scheme (FAS).

An explicit (or line-implicit) pseudo-time step damps an error in a number of steps that
grows with the ratio of the error's wavelength to the cell, so on a fine grid the
room-scale part of the answer (where the warm air goes, how warm the hot aisle gets)
settles last.  A coarse grid with every other grid line moves that part at an eighth of
the cost per step and with twice the step.  One cycle, from a fine state q:

1. restrict q to the coarse grid, q_H0 = R q: temperature and pressure as fluid-volume
   averages, face velocities as flux-conserving area averages (so the coarse divergence
   of q_H0 is the sum of the fine divergences);
2. force the coarse equations so that q_H0 is their fixed point exactly when q is the
   fine one (the tau correction of FAS, Brandt 1977):

   * momentum on interior faces: f = R r_h(q) - r_H(q_H0), added to the coarse body force
     (r: :func:`thermo.solve.steady_residuals`, R: full weighting across the face);
   * fixed-pressure openings: the same difference, as a shift of the opening's pressure
     (coarse faces partly open are made whole, :func:`whole_openings`);
   * continuity: the coarse volume source becomes the divergence of q_H0, which is the
     fine one summed (a coarse rasterization of the equipment that differs from the fine
     one then does not push the coarse flow away from q_H0);
   * temperature: rho c_p (R r_T,h - r_T,H), added to the coarse heat source, R the
     volume average (so the coarse imbalance of every cell is its fine cells' sum);

3. march the forced coarse problem ``coarse_steps`` steps (its own local time steps,
   equipment coupling and pressure multigrid) to q_H;
4. add the interpolated change, P (q_H - q_H0), to q (trilinear on the cell centres and
   face positions).

``fine_steps`` fine steps then smooth what the interpolation leaves.  At a fine fixed
point the forced coarse problem starts at its own fixed point, the change is zero and the
cycle leaves the state alone: the steady state is the fine grid's, whatever the coarse one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import jax
import jax.numpy as jnp
import numpy as np

from .fields import State, compensation_for
from .grid import AXES, Grid
from .operators import take
from .physics.projection import divergence, face_volume_flux
from .problem import Problem
from .solve import (Numerics, Precomputed, Solver, _precompute_compiled, _run_chunk, current_eddy_viscosity,
                    steady_residuals)


def coarse_node_indices(n_cells: int) -> np.ndarray:
    """Indices of the fine nodes that stay grid lines of the coarse grid along one axis:
    every other one, the last always (an odd count ends with a single-cell coarse cell)."""
    picked = list(range(0, n_cells + 1, 2))
    if picked[-1] != n_cells:
        picked.append(n_cells)
    return np.asarray(picked)


def coarse_grid(grid: Grid) -> Grid:
    """The grid with every other grid line of ``grid`` (its own cell faces a subset)."""
    return Grid(tuple(np.asarray(x)[coarse_node_indices(len(x) - 1)] for x in grid.nodes))


def _linear_interpolation(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Matrix (len(target), len(source)) of linear interpolation between sorted points,
    constant beyond the ends."""
    matrix = np.zeros((len(target), len(source)))
    if len(source) == 1:
        matrix[:, 0] = 1.0
        return matrix
    x = np.clip(target, source[0], source[-1])
    right = np.clip(np.searchsorted(source, x, side="right"), 1, len(source) - 1)
    left = right - 1
    weight = (x - source[left]) / (source[right] - source[left])
    rows = np.arange(len(target))
    matrix[rows, left] += 1.0 - weight
    matrix[rows, right] += weight
    return matrix


def _overlap_average(coarse_edges: np.ndarray, fine_edges: np.ndarray) -> np.ndarray:
    """Matrix (coarse intervals, fine intervals): the length-weighted average over each
    coarse interval of values held on the fine intervals."""
    lo = np.maximum(coarse_edges[:-1, None], fine_edges[None, :-1])
    hi = np.minimum(coarse_edges[1:, None], fine_edges[None, 1:])
    overlap = np.clip(hi - lo, 0.0, None)
    return overlap / np.diff(coarse_edges)[:, None]


def whole_openings(problem: Problem) -> Problem:
    """``problem`` with every boundary face that is partly a fixed-pressure opening made one
    (less any inflow part): the coarse grid's faces straddle the edges of the fine grid's
    openings, and the one-sided balance of a partly open face is not one the forcing can
    shift exactly.  The restricted velocity of such a face carries the fine flux whatever
    its open share, so the coarse grid loses nothing."""
    boundaries = problem.boundaries
    for a in AXES:
        for side in (0, 1):
            plane = boundaries.plane(a, side)
            outflow = jnp.where(jnp.asarray(plane.outflow) > 0, 1.0 - jnp.asarray(plane.inflow), 0.0)
            boundaries = boundaries.with_plane(a, side, replace(plane, outflow=outflow.astype(
                jnp.asarray(plane.outflow).dtype)))
    return problem.replace(boundaries=boundaries)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Transfer:
    """Separable one-dimensional transfer matrices per axis between a grid and its
    :func:`coarse_grid` (restrictions are (coarse, fine), prolongations (fine, coarse)).

    Attributes:
      cell_average: volume average of fine cells over each coarse cell.
      cell_interpolation: linear, coarse cell centres to fine ones.
      face_injection: the fine face on each coarse face's plane.
      face_weighting: full weighting of the fine interior faces over each coarse interior
        face's control volume (centre to centre); the boundary planes by injection.
      face_interpolation: linear, coarse nodes to fine nodes.
    """

    cell_average: tuple
    cell_interpolation: tuple
    face_injection: tuple
    face_weighting: tuple
    face_interpolation: tuple


def transfer(fine: Grid, coarse: Grid, dtype=np.float32) -> Transfer:
    """The :class:`Transfer` between ``fine`` and its :func:`coarse_grid` ``coarse``."""
    mats = {k: [] for k in ("cell_average", "cell_interpolation", "face_injection", "face_weighting",
                            "face_interpolation")}
    for a in AXES:
        x, big = np.asarray(fine.nodes[a], float), np.asarray(coarse.nodes[a], float)
        picked = np.searchsorted(x, big)
        if not np.allclose(x[picked], big):
            raise ValueError(f"the coarse grid's lines along axis {a} are not lines of the fine grid")
        xc, bc = 0.5 * (x[1:] + x[:-1]), 0.5 * (big[1:] + big[:-1])
        mats["cell_average"].append(_overlap_average(big, x))
        mats["cell_interpolation"].append(_linear_interpolation(bc, xc))
        injection = np.zeros((len(big), len(x)))
        injection[np.arange(len(big)), picked] = 1.0
        mats["face_injection"].append(injection)
        weighting = injection.copy()
        if len(big) > 2 and len(x) > 2:
            # interior faces: control volumes between neighbouring cell centres
            weighting[1:-1, 1:-1] = _overlap_average(bc, xc)
            weighting[1:-1, [0, -1]] = 0.0
        mats["face_weighting"].append(weighting)
        mats["face_interpolation"].append(_linear_interpolation(big, x))
    return Transfer(**{k: tuple(jnp.asarray(m, dtype) for m in v) for k, v in mats.items()})


def separable(field, matrices):
    """``field`` (3-D) with ``matrices[a]`` applied along each axis a."""
    for a, m in enumerate(matrices):
        field = jnp.moveaxis(jnp.tensordot(m, field, axes=([1], [a])), 0, a)
    return field


def _face_matrices(t: Transfer, axis: int, normal: str, across: str):
    return tuple(getattr(t, normal)[a] if a == axis else getattr(t, across)[a] for a in AXES)


def _weighted(field, weight, matrices):
    """The ``weight``-weighted restriction of ``field`` (zero where no weight lies)."""
    total = separable(weight, matrices)
    return jnp.where(total > 0, separable(field * weight, matrices) / jnp.where(total > 0, total, 1.0), 0.0)


def restrict_state(t: Transfer, fine: Problem, state: State, coarse: Problem) -> State:
    """``state`` carried to the coarse grid (see the module docstring, step 1)."""
    fluid = fine.geometry.fluid
    cell = lambda f: _weighted(f, fluid, t.cell_average)  # noqa: E731
    velocity = tuple(jnp.where(coarse.geometry.open[a] > 0, _weighted(
        state.velocity[a], fine.geometry.open[a], _face_matrices(t, a, "face_injection", "cell_average")), 0.0)
        for a in AXES)
    dtype = state.temperature.dtype
    return State(velocity=velocity, pressure=cell(state.pressure), temperature=cell(state.temperature),
                 tracers=jnp.zeros((0, *coarse.grid.shape), dtype), eddy_viscosity=cell(state.eddy_viscosity),
                 time=jnp.zeros_like(state.time), step=jnp.zeros_like(state.step),
                 temperature_residue=compensation_for(coarse.grid.shape, dtype))


def forced_problem(t: Transfer, fine: Problem, fine_numerics: Numerics, fine_pre: Precomputed,
                   state: State, coarse: Problem, coarse_numerics: Numerics, coarse_pre: Precomputed,
                   start: State, coarse_coupling=None) -> Problem:
    """``coarse`` forced so that ``start`` (the restricted ``state``) is its fixed point
    exactly when ``state`` is the fine one (module docstring, step 2).  ``fine`` is the
    fine problem already coupled to ``state``."""
    grid = coarse.grid
    fine_momentum, fine_rate = steady_residuals(fine, fine_numerics, fine_pre, state)
    mass = jnp.where(coarse.geometry.fluid > 0,
                     divergence(face_volume_flux(start.velocity, grid, coarse.geometry.open), grid), 0.0)
    base = coarse.replace(sources=replace(coarse.sources, mass=mass))
    coupled = base if coarse_coupling is None else coarse_coupling(base, start)
    momentum, rate = steady_residuals(coupled, coarse_numerics, coarse_pre, start)
    body, boundaries = list(base.sources.momentum), base.boundaries
    for a in AXES:
        restricted = _weighted(fine_momentum[a], fine.geometry.open[a],
                               _face_matrices(t, a, "face_weighting", "cell_average"))
        force = jnp.where(coarse.geometry.open[a] > 0, restricted - momentum[a], 0.0)
        inner = take(force, a, 1, -1)
        body[a] = body[a] + jnp.concatenate([jnp.zeros_like(take(force, a, 0, 1)), inner,
                                             jnp.zeros_like(take(force, a, -1))], axis=a)
        spacing = grid.centre_spacing(a)
        for side in (0, 1):
            plane = boundaries.plane(a, side)
            face = jnp.squeeze(take(force, a, 0, 1) if side == 0 else take(force, a, -1), axis=a)
            # the opening's balance holds -dp/dn; its pressure moves by the forcing over the half cell
            shift = face * (spacing[0] if side == 0 else -spacing[-1])
            boundaries = boundaries.with_plane(a, side, replace(plane, pressure=plane.pressure + plane.outflow * shift))
    rho_cp = coarse.fluid.density * coarse.fluid.heat_capacity
    heat_force = jnp.where(coarse.geometry.fluid > 0, separable(fine_rate, t.cell_average) - rate, 0.0)
    sources = replace(base.sources, momentum=tuple(body), heat=base.sources.heat + rho_cp * heat_force)
    return base.replace(sources=sources, boundaries=boundaries)


def prolong_change(t: Transfer, fine: Problem, state: State, start: State, end: State) -> State:
    """``state`` plus the interpolated coarse change ``end - start`` (module docstring,
    step 4), on open interior faces, open fixed-pressure openings and fluid cells."""
    velocity = []
    for a in AXES:
        change = separable(end.velocity[a] - start.velocity[a],
                           _face_matrices(t, a, "face_interpolation", "cell_interpolation"))
        inner = jnp.ones_like(take(change, a, 1, -1))
        ends = [jnp.expand_dims(fine.boundaries.plane(a, side).outflow, a) for side in (0, 1)]
        movable = jnp.concatenate([ends[0], inner, ends[1]], axis=a) * fine.geometry.open[a] > 0
        velocity.append(jnp.where(movable, state.velocity[a] + change, state.velocity[a]))
    cell = lambda f: separable(f, t.cell_interpolation)  # noqa: E731
    temperature = jnp.where(fine.geometry.fluid > 0, state.temperature + cell(end.temperature - start.temperature),
                            state.temperature)
    return state.replace(velocity=tuple(velocity), temperature=temperature,
                         pressure=state.pressure + cell(end.pressure - start.pressure))


def coarse_correction(numerics: Numerics, coupling, coarse_numerics: Numerics, coarse_coupling,
                      problem: Problem, pre: Precomputed, coarse: Problem, coarse_pre: Precomputed,
                      t: Transfer, state: State, coarse_steps):
    """One coarse-grid correction of ``state`` (steps 1-4 of the module docstring).
    Returns (corrected state, diagnostics of the coarse march)."""
    fine = problem if coupling is None else coupling(problem, state)
    start = restrict_state(t, problem, state, coarse)
    start = start.replace(eddy_viscosity=current_eddy_viscosity(coarse, coarse_numerics, coarse_pre, start.velocity))
    forced = forced_problem(t, fine, numerics, pre, state, coarse, coarse_numerics, coarse_pre, start,
                            coarse_coupling)
    end, diag = _run_chunk(coarse_numerics, coarse_coupling, forced, coarse_pre, start, coarse_steps,
                           jnp.asarray(np.finfo(np.dtype(state.temperature.dtype)).max, state.temperature.dtype))
    corrected = prolong_change(t, problem, state, start, end)
    return corrected, {"steps": diag["steps"], "poisson_iterations": diag["poisson_iterations"],
                       "finite": diag["finite"]}


@dataclass(frozen=True)
class CycleHook:
    """The correction as a :func:`thermo.solve._run_chunk` hook: before every
    ``fine_steps``-th step of a chunk (the first included), :func:`coarse_correction` with
    ``args = (problem, pre, coarse problem, coarse pre, transfer, coarse steps)``.  Hashable
    by value, so solvers with the same settings share compiled code."""

    numerics: Numerics
    coupling: object
    coarse_numerics: Numerics
    coarse_coupling: object
    fine_steps: int

    def __call__(self, args, state: State, count):
        problem, pre, coarse, coarse_pre, t, coarse_steps = args
        return jax.lax.cond(count % self.fine_steps == 0,
                            lambda s: coarse_correction(self.numerics, self.coupling, self.coarse_numerics,
                                                        self.coarse_coupling, problem, pre, coarse, coarse_pre, t,
                                                        s, coarse_steps)[0],
                            lambda s: s, state)


@dataclass
class CoarseLevel:
    """The coarse level of a two-grid march: its problem, numerics and coupling on
    :func:`coarse_grid` of the fine grid, and how many coarse and fine steps a cycle takes."""

    problem: Problem
    numerics: Numerics
    coupling: object = None
    coarse_steps: int = 10
    fine_steps: int = 20


#: Steps per cycle of :func:`thermo.hall.coarse_level` (docs/performance.md, "Coarse-grid
#: corrections"): hall-small at 0.1 m with mixing length converges in 1,801-1,901 fine steps and
#: 80-96 s with 10 coarse steps every 20 fine ones, settles in 1,601 and 96 s with 10 every 10
#: (dearer steps, change rates stuck at 0.007), against 3,201 and 140 s without.
COARSE_STEPS = 10
FINE_STEPS = 20


class TwoGridSolver(Solver):
    """A :class:`~thermo.solve.Solver` whose chunks interleave coarse-grid corrections
    (:func:`coarse_correction`) with the fine steps: a chunk of n steps is n / fine_steps
    cycles of (correction, fine_steps fine steps).  Steady marching only; one device.
    ``active = False`` turns the corrections off (plain fine steps)."""

    def __init__(self, problem: Problem, numerics: Numerics, level: CoarseLevel, chunk: int = 50,
                 coupling=None, layout=None):
        if layout is not None:
            raise ValueError("coarse-grid corrections run on one device: no layout")
        if problem.n_tracers:
            raise ValueError("coarse-grid corrections march the flow and temperature only: no tracers")
        super().__init__(problem, numerics, chunk=chunk, coupling=coupling)
        self.level = level
        self.transfer = transfer(problem.grid, level.problem.grid, np.dtype(problem.geometry.fluid.dtype))
        self.coarse_pre = None
        self.coarse_steps_taken = 0
        self.corrections = 0
        self.active = True   # False: plain fine steps

    def prepare(self):
        if self.coarse_pre is None:
            self.coarse_pre = _precompute_compiled(self.level.problem, self.level.numerics)
        return super().prepare()

    def hook(self):
        """(:class:`CycleHook`, its arguments) for :func:`thermo.solve._run_chunk`."""
        pre = self.prepare()
        level = self.level
        hook = CycleHook(self.numerics, self.coupling, level.numerics, level.coupling, int(level.fine_steps))
        return hook, (self.problem, pre, level.problem, self.coarse_pre, self.transfer,
                      jnp.asarray(level.coarse_steps, jnp.int32))

    def run_chunk(self, state: State, steps: int | None = None, until_time: float = math.inf,
                  accumulate: bool = False):
        """As :meth:`Solver.run_chunk`, with a correction before every ``fine_steps``-th step
        (inside the compiled loop; the corrections see the local time steps of the chunk)."""
        if not self.active:
            return super().run_chunk(state, steps, until_time, accumulate)
        if until_time != math.inf:
            raise ValueError("coarse-grid corrections are for steady marching (no until_time)")
        steps = self.chunk if steps is None else steps
        level = self.level
        hook, args = self.hook()
        state, diag = super().run_chunk(state, steps, accumulate=accumulate, hook=hook, hook_args=args)
        corrections = -(-int(diag["steps"]) // level.fine_steps)
        self.corrections += corrections
        self.coarse_steps_taken += corrections * level.coarse_steps
        return state, diag
