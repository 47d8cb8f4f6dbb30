"""The solver state: a pytree of fields on the staggered grid."""

from __future__ import annotations

from dataclasses import dataclass, replace

import jax
import jax.numpy as jnp

from .grid import AXES, Grid


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class State:
    """Flow state.

    Attributes:
      velocity: three face arrays (m/s), component a normal to axis a, shapes
        ``grid.face_shape(a)``; through a partly open face it is the velocity
        in the open part.
      pressure: kinematic pressure p/rho (m^2/s^2) at cell centres, with the
        reference-density hydrostatic part removed.
      temperature: degC at cell centres.
      tracers: passive scalars, shape (n_tracers, *cells).
      eddy_viscosity: turbulent kinematic viscosity (m^2/s) at cell centres.
      time: simulated (or pseudo-) time (s).
      step: number of steps taken.
      temperature_residue: the part of the temperature (K) that the last
        updates could not add to ``temperature`` because it lies below half a
        unit in its last place (compensated, or Kahan, summation: the field's
        value is ``temperature + temperature_residue``).  Near a steady state a
        float32 step changes a 20 degC cell by less than 1e-6 K, which float32
        rounds away, so without it the march stalls short of the fixed point.
        None: not carried (the float64 default, where the increments survive).
    """

    velocity: tuple
    pressure: object
    temperature: object
    tracers: object
    eddy_viscosity: object
    time: object
    step: object
    temperature_residue: object = None

    def replace(self, **changes) -> "State":
        return replace(self, **changes)


def initial_state(grid: Grid, temperature=0.0, n_tracers: int = 0, dtype=jnp.float32) -> State:
    """A fluid at rest at uniform ``temperature`` (degC); in float32 it carries a
    zero :attr:`State.temperature_residue` (compensated temperature updates)."""
    cells = grid.shape
    return State(
        velocity=tuple(jnp.zeros(grid.face_shape(a), dtype) for a in AXES),
        pressure=jnp.zeros(cells, dtype),
        temperature=jnp.full(cells, temperature, dtype),
        tracers=jnp.zeros((n_tracers, *cells), dtype),
        eddy_viscosity=jnp.zeros(cells, dtype),
        time=jnp.asarray(0.0, dtype),
        step=jnp.asarray(0, jnp.int32),
        temperature_residue=compensation_for(cells, dtype),
    )


def compensation_for(shape, dtype):
    """The zero temperature residue a state of ``dtype`` carries (None in float64,
    whose increments are not rounded away before the steady state)."""
    return jnp.zeros(shape, dtype) if jnp.dtype(dtype).itemsize < 8 else None


def compensated_sum(value, increment, residue):
    """``value + increment`` with the bits rounding drops kept in ``residue``
    (Kahan summation).  Returns (new value, new residue); the represented number
    is ``value + residue``.  Exact arithmetic makes the residue zero, so it only
    differs from a plain sum where rounding loses something."""
    increment = increment + residue
    total = value + increment
    return total, increment - (total - value)


def cell_centred_velocity(velocity):
    """Velocity interpolated to cell centres, shape (3, *cells) (m/s)."""
    out = []
    for axis, u in enumerate(velocity):
        n = u.shape[axis]
        lo = jax.lax.slice_in_dim(u, 0, n - 1, axis=axis)
        hi = jax.lax.slice_in_dim(u, 1, n, axis=axis)
        out.append(0.5 * (lo + hi))
    return jnp.stack(out)
