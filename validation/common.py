"""Helpers shared by the validation cases: steady solves and timing."""

from __future__ import annotations

import time
from contextlib import contextmanager

import jax.numpy as jnp
import numpy as np

from thermo.solve import Numerics, Solver


def tight_poisson_tolerance(dtype) -> float:
    """Relative residual for pressure solves that must not limit a measurement (1e-10, or 1e-6 in float32)."""
    return 1e-10 if np.dtype(dtype) == np.float64 else 1e-6


def max_velocities(state):
    """Largest value of each face-velocity component (a monitor for steady runs)."""
    return jnp.stack([jnp.max(u) for u in state.velocity])


def solve_steady(problem, numerics: Numerics = Numerics(), tol: float = 1e-4, monitor_tol: float = 1e-5,
                 max_steps: int = 400000, chunk: int = 200, state=None,
                 initial_temperature=None):
    """March ``problem`` to a steady state; returns (state, RunReport).

    Converged when the solver's change rates are below ``tol`` and the
    largest velocities changed by less than ``monitor_tol`` relative to the
    largest speed over one chunk of steps.  Starts from ``state``, or from
    rest at ``initial_temperature`` (default: the fluid's reference temperature).
    """
    solver = Solver(problem, numerics, chunk=chunk)
    if state is None:
        state = solver.initial_state(initial_temperature)

    def monitor(s):
        peaks = max_velocities(s)
        return peaks / jnp.maximum(jnp.max(jnp.abs(peaks)), 1e-30)

    return solver.steady(state, max_steps=max_steps, tol=tol, monitor=monitor, monitor_tol=monitor_tol)


@contextmanager
def stopwatch(result):
    """Add the wall time of the block to ``result.seconds``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        result.seconds += time.perf_counter() - start
