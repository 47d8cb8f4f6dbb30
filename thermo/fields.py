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
    """

    velocity: tuple
    pressure: object
    temperature: object
    tracers: object
    eddy_viscosity: object
    time: object
    step: object

    def replace(self, **changes) -> "State":
        return replace(self, **changes)


def initial_state(grid: Grid, temperature=0.0, n_tracers: int = 0, dtype=jnp.float32) -> State:
    """A fluid at rest at uniform ``temperature`` (degC)."""
    cells = grid.shape
    return State(
        velocity=tuple(jnp.zeros(grid.face_shape(a), dtype) for a in AXES),
        pressure=jnp.zeros(cells, dtype),
        temperature=jnp.full(cells, temperature, dtype),
        tracers=jnp.zeros((n_tracers, *cells), dtype),
        eddy_viscosity=jnp.zeros(cells, dtype),
        time=jnp.asarray(0.0, dtype),
        step=jnp.asarray(0, jnp.int32),
    )


def cell_centred_velocity(velocity):
    """Velocity interpolated to cell centres, shape (3, *cells) (m/s)."""
    out = []
    for axis, u in enumerate(velocity):
        n = u.shape[axis]
        lo = jax.lax.slice_in_dim(u, 0, n - 1, axis=axis)
        hi = jax.lax.slice_in_dim(u, 1, n, axis=axis)
        out.append(0.5 * (lo + hi))
    return jnp.stack(out)
