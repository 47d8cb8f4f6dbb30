"""Mutable numpy field arrays used while assembling a hall problem.

Equipment builders write into one :class:`FieldArrays`; :meth:`to_problem`
freezes it into the core's :class:`~thermo.problem.Problem`.  All arrays are
float64 here; the problem is cast to the run precision at the end.
"""

from __future__ import annotations

import jax
import numpy as np

from ..boundary import Boundaries, BoundaryPlane, wall_plane
from ..grid import AXES, Grid
from ..problem import Fluid, Geometry, Problem, Sources


class FieldArrays:
    """Geometry, sources and boundary planes of a hall under construction.

    Attributes (numpy, SI units as in :mod:`thermo.problem`):
      fluid: cell fluid fraction; open: three face open-fraction arrays;
      mass (1/s), mass_temperature (degC), heat (W/m^3): cell arrays;
      momentum (m/s^2), resistance_quadratic (1/m): three face arrays each;
      planes: ``planes[axis][side]`` dicts of boundary-plane arrays.
    """

    def __init__(self, grid: Grid, reference_temperature: float):
        self.grid = grid
        shape = grid.shape
        self.fluid = np.ones(shape)
        self.open = [np.ones(grid.face_shape(a)) for a in AXES]
        self.mass = np.zeros(shape)
        self.mass_temperature = np.full(shape, reference_temperature)
        self.heat = np.zeros(shape)
        self.momentum = [np.zeros(grid.face_shape(a)) for a in AXES]
        self.resistance_quadratic = [np.zeros(grid.face_shape(a)) for a in AXES]
        self.planes = [[{k: np.array(v) for k, v in wall_plane(shape, a).__dict__.items()} for _ in (0, 1)]
                       for a in AXES]
        self.volume = np.asarray(jax.jit(Grid.cell_volume)(grid))   # one program, not one per operation
        self.n_tracers = 0

    def to_problem(self, fluid: Fluid, dtype) -> Problem:
        """The frozen core problem, cast to ``dtype``."""
        grid = self.grid
        n = self.n_tracers
        cells = grid.shape
        planes = []
        for a in AXES:
            pair = []
            for side in (0, 1):
                d = dict(self.planes[a][side])
                d["tracer"] = np.zeros((n, *d["inflow"].shape))
                pair.append(BoundaryPlane(**d))
            planes.append(tuple(pair))
        faces0 = tuple(np.zeros(grid.face_shape(a)) for a in AXES)
        sources = Sources(mass=self.mass, mass_temperature=self.mass_temperature,
                          mass_tracer=np.zeros((n, *cells)), heat=self.heat, tracer=np.zeros((n, *cells)),
                          momentum=tuple(self.momentum), resistance_linear=faces0,
                          resistance_quadratic=tuple(self.resistance_quadratic))
        # a face or cell left open by a sliver (< 1e-6) would be an almost disconnected
        # cell for the pressure solver: close it
        opens = tuple(np.where(o < 1e-6, 0.0, o) for o in self.open)
        geometry = Geometry(open=opens, fluid=np.where(self.fluid < 1e-6, 0.0, self.fluid))
        problem = Problem(grid=grid, fluid=fluid, boundaries=Boundaries(tuple(planes)), geometry=geometry,
                          sources=sources)
        return problem.astype(dtype)
