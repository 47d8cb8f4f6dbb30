"""What the solver sees: grid, fluid properties, geometry and sources as fields.

The physics never sees "a rack" or "a tile"; scene objects are rasterized
into the arrays held here (see ``thermo.scene``).  Everything in a
:class:`Problem` is a pytree leaf, so gradients flow to any of it, and the
compiled step depends only on array shapes.

Units: SI throughout; temperatures in degC; pressures are kinematic
(Pa divided by the reference density, m^2/s^2) inside the solver.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import jax
import jax.numpy as jnp
import numpy as np

from .boundary import Boundaries, closed_box
from .grid import AXES, Grid


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Fluid:
    """Constant fluid properties (Boussinesq).

    Attributes:
      density: reference density rho (kg/m^3).
      heat_capacity: cp (J/(kg K)).
      viscosity: kinematic viscosity nu (m^2/s).
      prandtl: molecular Prandtl number nu/kappa (-).
      turbulent_prandtl: nu_t / kappa_t (-).
      expansion: thermal expansion coefficient beta (1/K).
      reference_temperature: T_ref of the Boussinesq term (degC).
      gravity: gravity vector (m/s^2), shape (3,).
    """

    density: object = 1.19
    heat_capacity: object = 1006.0
    viscosity: object = 1.5e-5
    prandtl: object = 0.71
    turbulent_prandtl: object = 0.85
    expansion: object = 3.4e-3
    reference_temperature: object = 18.0
    gravity: object = field(default_factory=lambda: np.array([0.0, 0.0, -9.81]))

    @property
    def diffusivity(self):
        """Thermal diffusivity kappa = nu / Pr (m^2/s)."""
        return self.viscosity / self.prandtl


AIR = Fluid()


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Geometry:
    """Solids as fractions.

    Attributes:
      open: three face arrays (shapes ``grid.face_shape(axis)``), the open
        fraction 0..1 of each face; 0 is a solid face.  Partially open faces
        scale fluxes and the pressure coupling (perforated panels, porous
        blockages); boundary faces are normally 1.
      fluid: cell fluid fraction 0..1, shape ``grid.shape``; 0 is a solid cell.
    """

    open: tuple
    fluid: object


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Sources:
    """Volumetric sources and resistances.

    Attributes:
      mass: volume source (1/s): volume flow injected per unit volume; negative
        values are sinks that remove fluid at the local state.
      mass_temperature: temperature (degC) of the injected fluid where mass > 0.
      mass_tracer: tracer values of injected fluid, shape (n_tracers, *cells).
      heat: heat release (W/m^3).
      tracer: tracer release (tracer units per second per unit volume... i.e.
        d(c)/dt contribution, 1/s for a unit concentration), shape (n_tracers, *cells).
      momentum: three face arrays, body acceleration (m/s^2).
      resistance_linear: three face arrays, Darcy coefficient (1/s):
        du/dt = -(linear + quadratic*|u|) * u.
      resistance_quadratic: three face arrays, Forchheimer/loss coefficient
        (1/m): a loss coefficient K spread over a length L gives K / (2 L).
    """

    mass: object
    mass_temperature: object
    mass_tracer: object
    heat: object
    tracer: object
    momentum: tuple
    resistance_linear: tuple
    resistance_quadratic: tuple


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class Problem:
    """Everything that defines a flow problem on a fixed grid (a pytree).

    ``equipment`` is optional: a dict of floating arrays (design-dependent
    equipment values such as rack powers or cooler flows, see
    :mod:`thermo.design`) that a coupling function reads instead of its own
    constants, so that gradients reach them.  None when unused; never index
    arrays (every leaf is differentiated and cast by :meth:`astype`).
    """

    grid: Grid
    fluid: Fluid
    boundaries: Boundaries
    geometry: Geometry
    sources: Sources
    equipment: object = None

    @property
    def n_tracers(self) -> int:
        return int(self.sources.tracer.shape[0])

    def astype(self, dtype) -> "Problem":
        """The same problem with every floating-point leaf cast to ``dtype``."""
        return jax.tree_util.tree_map(lambda a: _cast(a, dtype), self)

    def replace(self, **changes) -> "Problem":
        return replace(self, **changes)


def _cast(leaf, dtype):
    """``leaf`` as a JAX array of ``dtype``.  Host (numpy) leaves are cast on the host and then
    placed on the device: casting them with ``jnp.asarray`` compiles one small XLA program per
    array shape, and a hall has dozens of shapes (0.5 s of the build of a hall at 0.6 m)."""
    if isinstance(leaf, (np.ndarray, np.generic, float, int)):
        return jax.device_put(np.asarray(leaf, dtype))
    return jnp.asarray(leaf, dtype)


def open_geometry(grid: Grid, dtype=np.float64) -> Geometry:
    return Geometry(
        open=tuple(np.ones(grid.face_shape(a), dtype) for a in AXES),
        fluid=np.ones(grid.shape, dtype),
    )


def no_sources(grid: Grid, n_tracers=0, dtype=np.float64) -> Sources:
    cells = grid.shape
    faces = tuple(np.zeros(grid.face_shape(a), dtype) for a in AXES)
    return Sources(
        mass=np.zeros(cells, dtype),
        mass_temperature=np.zeros(cells, dtype),
        mass_tracer=np.zeros((n_tracers, *cells), dtype),
        heat=np.zeros(cells, dtype),
        tracer=np.zeros((n_tracers, *cells), dtype),
        momentum=faces,
        resistance_linear=tuple(f.copy() for f in faces),
        resistance_quadratic=tuple(f.copy() for f in faces),
    )


def make_problem(grid: Grid, fluid: Fluid = AIR, boundaries: Boundaries | None = None,
                 geometry: Geometry | None = None, sources: Sources | None = None,
                 n_tracers: int = 0) -> Problem:
    """Assemble a :class:`Problem`, filling what is not given with a closed,
    empty, source-free box."""
    if boundaries is None:
        boundaries = closed_box(grid.shape, n_tracers)
    if geometry is None:
        geometry = open_geometry(grid)
    if sources is None:
        sources = no_sources(grid, n_tracers)
    return Problem(grid=grid, fluid=fluid, boundaries=boundaries, geometry=geometry, sources=sources)


def block_cells(geometry: Geometry, grid: Grid, lower, upper) -> Geometry:
    """Geometry with the axis-aligned box [lower, upper] (m) made solid.

    Cells are solid by their exact overlap fraction with the box; faces are
    closed by the fraction of their area covered.  The covered fraction of a
    face is the product of the 1-D overlaps along its two in-plane axes, taken
    where the face's own coordinate lies inside the box.
    """
    def overlap_1d(edges, lo, hi):
        a, b = np.asarray(edges[:-1]), np.asarray(edges[1:])
        return np.clip(np.minimum(b, hi) - np.maximum(a, lo), 0.0, None) / (b - a)

    frac = [overlap_1d(grid.nodes[a], lower[a], upper[a]) for a in AXES]
    solid = frac[0][:, None, None] * frac[1][None, :, None] * frac[2][None, None, :]
    fluid = np.asarray(geometry.fluid) * (1.0 - solid)
    opens = []
    for a in AXES:
        x = np.asarray(grid.nodes[a])
        tol = 1e-9 * (x[-1] - x[0])
        inside = ((x >= lower[a] - tol) & (x <= upper[a] + tol)).astype(float)
        shape = [1, 1, 1]
        shape[a] = -1
        cover = inside.reshape(shape)
        for b in AXES:
            if b != a:
                s = [1, 1, 1]
                s[b] = -1
                cover = cover * frac[b].reshape(s)
        opens.append(np.asarray(geometry.open[a]) * (1.0 - cover))
    return Geometry(open=tuple(opens), fluid=fluid)
