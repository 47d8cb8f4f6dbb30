"""Boundary conditions on the six faces of the box, as fields.

Each side of the domain (axis 0, 1, 2; low or high end) carries one
:class:`BoundaryPlane`: 2-D arrays over the boundary faces of that side, so a
single side can mix walls, inflow patches (perforated tiles) and outflow
openings (return grilles).  The kinds, per boundary face:

* **wall** (neither ``inflow`` nor ``outflow``): zero normal velocity;
  no-slip (``slip = 0``, the fluid takes the wall's tangential velocity
  ``wall_velocity``, zero unless the wall moves) or free-slip (``slip = 1``);
  thermally adiabatic,
  fixed heat flux ``heat_flux`` (W/m^2, positive into the fluid) or fixed
  temperature ``temperature`` where ``fixed_temperature = 1``.
* **inflow**: fixed normal velocity ``velocity`` (m/s, positive into the
  domain) through the open part of the face, tangential velocity
  ``wall_velocity`` (normally zero), fluid
  entering at ``temperature`` (degC) carrying tracer values ``tracer``.
* **outflow**: fixed (kinematic) static pressure ``pressure`` (Pa / rho,
  m^2/s^2); zero normal gradient of velocity; fluid leaving carries the
  interior values, fluid re-entering (backflow) carries ``temperature`` and
  ``tracer``.

Plane arrays have the shape of the cells adjacent to that side, i.e. the grid
shape with the plane's axis removed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import jax
import jax.numpy as jnp
import numpy as np

SIDES = ("low", "high")


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class BoundaryPlane:
    """Boundary data on one side of the domain (see module docstring for units)."""

    inflow: object
    outflow: object
    velocity: object
    temperature: object
    fixed_temperature: object
    heat_flux: object
    slip: object
    pressure: object
    tracer: object  # shape (n_tracers, *plane_shape)
    wall_velocity: object  # shape (3, *plane_shape); tangential parts used (moving walls, inflow swirl)

    @property
    def wall(self):
        return 1.0 - self.inflow - self.outflow


def plane_shape(shape, axis):
    return tuple(n for a, n in enumerate(shape) if a != axis)


def wall_plane(shape, axis, n_tracers=0, slip=False, temperature=None, heat_flux=0.0, dtype=np.float64):
    """A plain wall over a whole side: no-slip (or free-slip) and adiabatic,
    fixed heat flux (W/m^2) or fixed temperature (degC) when ``temperature`` is given."""
    ps = plane_shape(shape, axis)
    zeros = np.zeros(ps, dtype)
    fixed = temperature is not None
    return BoundaryPlane(
        inflow=zeros.copy(),
        outflow=zeros.copy(),
        velocity=zeros.copy(),
        temperature=np.full(ps, temperature if fixed else 0.0, dtype),
        fixed_temperature=np.full(ps, 1.0 if fixed else 0.0, dtype),
        heat_flux=np.full(ps, 0.0 if fixed else heat_flux, dtype),
        slip=np.full(ps, 1.0 if slip else 0.0, dtype),
        pressure=zeros.copy(),
        tracer=np.zeros((n_tracers, *ps), dtype),
        wall_velocity=np.zeros((3, *ps), dtype),
    )


def set_patch(plane: BoundaryPlane, mask, **values) -> BoundaryPlane:
    """Return ``plane`` with the fields in ``values`` set where ``mask`` (bool, plane shape) is true.

    ``values`` may hold any :class:`BoundaryPlane` field; ``kind='inflow'``,
    ``'outflow'`` or ``'wall'`` sets the kind masks.  ``tracer`` takes a
    sequence with one value per tracer.
    """
    mask = np.asarray(mask, bool)
    fields = {k: np.array(getattr(plane, k)) for k in plane.__dataclass_fields__}
    kind = values.pop("kind", None)
    if kind is not None:
        if kind not in ("wall", "inflow", "outflow"):
            raise ValueError(f"boundary kind must be wall, inflow or outflow, not {kind!r}")
        fields["inflow"][mask] = 1.0 if kind == "inflow" else 0.0
        fields["outflow"][mask] = 1.0 if kind == "outflow" else 0.0
        if kind != "wall":
            fields["fixed_temperature"][mask] = 0.0
            fields["heat_flux"][mask] = 0.0
    for key, value in values.items():
        if key in ("tracer", "wall_velocity"):
            for k, v in enumerate(np.atleast_1d(value)):
                fields[key][k][mask] = v
        elif key in fields:
            fields[key][mask] = value
        else:
            raise KeyError(f"unknown boundary field {key!r}")
    return BoundaryPlane(**fields)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Boundaries:
    """The six boundary planes: ``planes[axis][side]`` with side 0 = low, 1 = high."""

    planes: tuple

    def plane(self, axis: int, side: int) -> BoundaryPlane:
        return self.planes[axis][side]

    def with_plane(self, axis: int, side: int, plane: BoundaryPlane) -> "Boundaries":
        planes = [list(p) for p in self.planes]
        planes[axis][side] = plane
        return Boundaries(tuple(tuple(p) for p in planes))

    def astype(self, dtype) -> "Boundaries":
        return jax.tree_util.tree_map(lambda a: jnp.asarray(a, dtype), self)


def closed_box(shape, n_tracers=0, slip=False, dtype=np.float64) -> Boundaries:
    """No-slip (or free-slip), adiabatic walls on all six sides."""
    return Boundaries(
        tuple(
            tuple(wall_plane(shape, axis, n_tracers, slip=slip, dtype=dtype) for _ in SIDES)
            for axis in range(3)
        )
    )


def replace_plane(plane: BoundaryPlane, **changes) -> BoundaryPlane:
    return replace(plane, **changes)
