"""VTK output for ParaView: fields (.vtr), equipment (.vtm) and time series (.pvd).

* :func:`write_fields` writes the cell-centred solution on the rectilinear grid
  as a VTK XML RectilinearGrid (``.vtr``) with these cell arrays:

  ============== ======= =========================================================
  name           units   meaning
  ============== ======= =========================================================
  velocity       m/s     3-vector, face velocities averaged to the cell centre
  speed          m/s     magnitude of ``velocity``
  pressure       Pa      static pressure (kinematic pressure x density), with the
                         reference-density hydrostatic part removed; defined up
                         to a constant in a closed room
  temperature    degC    air temperature
  eddy_viscosity m^2/s   turbulent kinematic viscosity
  solid_fraction 0..1    1 - cell fluid fraction (1 inside racks, walls, ...)
  <tracer name>  -       each passive tracer (e.g. capture-index tracers); a
                         tracer that was not solved for (all NaN) is left out
  ============== ======= =========================================================

* :func:`write_equipment` writes one block per scene object into a VTK
  MultiBlock (``.vtm`` plus a folder of ``.vtu`` blocks, one per object, each
  the faces of the object's box as quads).  Each block carries the object's
  numbers both as field data (one value per block) and as cell data on its
  faces (six, or one for a flat object such as a tile or a return grille), so
  ParaView colours a rack's surfaces by, e.g., its intake temperature.
  Every block also has ``object_index`` (position in the equipment list).  The
  block name is the object's name; the blocks hold no string arrays, so meshio
  can read them too (it rejects VTK string arrays).
* :func:`write_series` writes a ParaView collection (``.pvd``) listing one
  ``.vtr`` per time.

pyvista writes and reads the VTK XML formats; meshio reads the ``.vtu`` blocks.
"""

from __future__ import annotations

import os
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
import pyvista as pv

from ..fields import State, cell_centred_velocity
from ..grid import Grid
from ..problem import Problem

# Local corner indices of the six faces of a box with corners numbered
# i + 2 j + 4 k (i, j, k in {0, 1} along x, y, z): -x, +x, -y, +y, -z, +z,
# each ordered counter-clockwise seen from outside.
_BOX_FACES = (
    (0, 4, 6, 2), (1, 3, 7, 5),
    (0, 1, 5, 4), (2, 6, 7, 3),
    (0, 2, 3, 1), (4, 5, 7, 6),
)
FACE_NAMES = ("-x", "+x", "-y", "+y", "-z", "+z")


def _cell_array(a) -> np.ndarray:
    """A (nx, ny, nz) array flattened in VTK order (x fastest)."""
    return np.asarray(a, dtype=np.float64 if np.asarray(a).dtype == np.float64 else np.float32).ravel(order="F")


def field_arrays(grid: Grid, state: State, problem: Problem, tracer_names=()) -> dict:
    """The cell arrays of :func:`write_fields` as numpy arrays of shape ``grid.shape``
    (``velocity``: shape (3, *grid.shape)), keyed by name (units in the module docstring)."""
    tracer_names = list(tracer_names)
    tracers = np.asarray(state.tracers)
    if tracers.shape[0] == 0:
        tracer_names = []  # states without tracers (e.g. transient snapshots) write none
    if len(tracer_names) != tracers.shape[0]:
        raise ValueError(f"{tracers.shape[0]} tracers in the state but {len(tracer_names)} tracer names given")
    velocity = np.asarray(cell_centred_velocity(state.velocity))
    density = float(np.asarray(problem.fluid.density))
    arrays = {
        "velocity": velocity,
        "speed": np.sqrt(np.sum(velocity.astype(np.float64) ** 2, axis=0)).astype(velocity.dtype),
        "pressure": np.asarray(state.pressure) * density,
        "temperature": np.asarray(state.temperature),
        "eddy_viscosity": np.asarray(state.eddy_viscosity),
        "solid_fraction": 1.0 - np.asarray(problem.geometry.fluid),
    }
    for k, name in enumerate(tracer_names):
        if name in arrays:
            raise ValueError(f"tracer name {name!r} clashes with a field array name")
        if np.all(np.isfinite(tracers[k])):  # a tracer not solved for (all NaN) is left out
            arrays[name] = tracers[k]
    return arrays


def rectilinear_grid(grid: Grid, state: State, problem: Problem, tracer_names=()) -> pv.RectilinearGrid:
    """The solution as a pyvista RectilinearGrid with the cell arrays of :func:`field_arrays`."""
    mesh = pv.RectilinearGrid(*(np.asarray(x, np.float64) for x in grid.nodes))
    for name, value in field_arrays(grid, state, problem, tracer_names).items():
        if name == "velocity":
            mesh.cell_data[name] = np.stack([_cell_array(c) for c in value], axis=1)
        else:
            mesh.cell_data[name] = _cell_array(value)
    mesh.field_data["time_s"] = np.array([float(np.asarray(state.time))])
    mesh.field_data["step"] = np.array([int(np.asarray(state.step))])
    return mesh


def write_fields(path, grid: Grid, state: State, problem: Problem, tracer_names=()) -> Path:
    """Write the solution to ``path`` (``.vtr``); returns the path."""
    path = Path(path)
    if path.suffix != ".vtr":
        raise ValueError(f"field file must end in .vtr, not {path.name!r}")
    rectilinear_grid(grid, state, problem, tracer_names).save(str(path), binary=True)
    return path


def box_surface(lower, upper) -> pv.UnstructuredGrid:
    """The surface of the box [lower, upper] (m) as an UnstructuredGrid of quads.

    A solid box gives its six faces (order: FACE_NAMES); a flat one (zero extent
    along one axis: a tile, a return grille, a panel) gives the single quad it is.
    """
    lo, hi = np.asarray(lower, float), np.asarray(upper, float)
    points = np.array([[(lo, hi)[i][0], (lo, hi)[j][1], (lo, hi)[k][2]]
                       for k in (0, 1) for j in (0, 1) for i in (0, 1)])
    flat = np.flatnonzero(hi - lo <= 0.0)
    faces = _BOX_FACES if flat.size != 1 else (_BOX_FACES[2 * int(flat[0])],)
    cells = np.hstack([[4, *face] for face in faces])
    types = np.full(len(faces), pv.CellType.QUAD, np.uint8)
    return pv.UnstructuredGrid(cells, types, points)


def equipment_multiblock(equipment) -> pv.MultiBlock:
    """One named block per object of ``equipment`` (dicts with ``name``, ``kind``,
    ``lower``, ``upper`` (m) and ``data`` (name -> float)); see the module docstring."""
    blocks = pv.MultiBlock()
    seen = set()
    for index, item in enumerate(equipment):
        name = str(item["name"])
        if name in seen:
            raise ValueError(f"equipment name {name!r} appears twice")
        seen.add(name)
        lower, upper = np.asarray(item["lower"], float), np.asarray(item["upper"], float)
        if lower.shape != (3,) or upper.shape != (3,) or np.any(upper < lower):
            raise ValueError(f"equipment {name!r}: lower/upper must be 3-vectors with lower <= upper")
        block = box_surface(lower, upper)
        n = block.n_cells
        block.cell_data["object_index"] = np.full(n, index, np.int32)
        block.field_data["object_index"] = np.array([index], np.int32)
        for key, value in (item.get("data") or {}).items():
            value = float(value)
            block.field_data[key] = np.array([value])
            block.cell_data[key] = np.full(n, value)
        blocks[name] = block
    return blocks


def write_equipment(path, equipment) -> Path:
    """Write ``equipment`` (see :func:`equipment_multiblock`) to ``path`` (``.vtm``).

    pyvista stores the blocks in a folder named after the file (``equipment/``
    next to ``equipment.vtm``); keep the two together.  Returns the path.
    """
    path = Path(path)
    if path.suffix != ".vtm":
        raise ValueError(f"equipment file must end in .vtm, not {path.name!r}")
    equipment_multiblock(equipment).save(str(path), binary=True)
    return path


def write_series(path, entries) -> Path:
    """Write a ParaView collection file (``.pvd``) listing ``entries``: (time_s, file) pairs,
    ``file`` relative to the folder of ``path``.  Returns the path."""
    path = Path(path)
    if path.suffix != ".pvd":
        raise ValueError(f"series file must end in .pvd, not {path.name!r}")
    lines = ['<?xml version="1.0"?>',
             '<VTKFile type="Collection" version="0.1" byte_order="LittleEndian">',
             "  <Collection>"]
    for time_s, file in entries:
        time_s = float(time_s)
        if not np.isfinite(time_s):
            raise ValueError(f"series time must be finite, not {time_s}")
        file = Path(file).as_posix()
        lines.append(f'    <DataSet timestep="{time_s:.9g}" group="" part="0" file={quoteattr(file)}/>')
    lines += ["  </Collection>", "</VTKFile>", ""]
    path.write_text("\n".join(lines))
    return path


def write_transient(directory, snapshots, problem: Problem, tracer_names=(), stem: str = "fields") -> Path:
    """Write each (time_s, State) of ``snapshots`` to ``directory/<stem>/<stem>_NNNN.vtr``
    and the collection ``directory/<stem>.pvd``; returns the .pvd path."""
    directory = Path(directory)
    folder = directory / stem
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for index, (time_s, state) in enumerate(snapshots):
        name = f"{stem}_{index:04d}.vtr"
        write_fields(folder / name, problem.grid, state, problem, tracer_names)
        entries.append((time_s, os.path.join(stem, name)))
    return write_series(directory / f"{stem}.pvd", entries)
