"""Running one grid on several devices: a device mesh and the sharding of the solver's arrays.

The grid is split into blocks over a 3-D device mesh with axes ``("x", "y", "z")``
(``--mesh 4x1x1`` is a slab decomposition along x, ``2x2x1`` pencils).  Every
array of the problem, the precomputed data (multigrid hierarchy, wall distance)
and the state is placed with a :class:`jax.sharding.NamedSharding`: a grid axis
is split over the matching mesh axis when its length is a multiple of the mesh
size along that axis, otherwise that array is kept whole along it (face arrays
have n + 1 entries along their own axis, coarse multigrid levels have odd
sizes).  The compiled step is the same function as on one device; XLA
partitions it from the input shardings and inserts the halo exchanges and the
reductions (dot products, maxima) across devices.  Results therefore equal the
single-device ones up to the order of floating-point sums.

Multi-host runs (several processes, one per node or per GPU) call
:func:`initialize_distributed` first; the mesh then spans ``jax.devices()``,
the devices of every process.

>>> layout = Layout.create((4, 1, 1))                  # doctest: +SKIP
>>> problem = layout.place(problem)                    # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

MESH_AXES = ("x", "y", "z")


class MeshError(ValueError):
    """A device mesh that cannot be built or does not fit the grid (bad ``--mesh``/``--devices``)."""


def parse_mesh(text: str) -> tuple[int, int, int]:
    """``"4x1x1"`` -> (4, 1, 1); ``"4"`` -> (4, 1, 1) (slabs along x).  Raises :class:`MeshError`."""
    parts = text.lower().replace("*", "x").split("x")
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        raise MeshError(f"--mesh {text!r}: expected devices per axis like 4x1x1") from None
    if not 1 <= len(sizes) <= 3 or min(sizes) < 1:
        raise MeshError(f"--mesh {text!r}: expected 1 to 3 positive integers like 4x1x1")
    return tuple(sizes + [1] * (3 - len(sizes)))


def mesh_shape(devices: int | None = None, mesh: str | tuple | None = None) -> tuple[int, int, int] | None:
    """The mesh shape from ``--devices N`` and/or ``--mesh AxBxC``; None means one device, no sharding.

    ``--devices N`` alone is a slab decomposition ``N x 1 x 1``; with both, their
    product must agree.  Raises :class:`MeshError`.
    """
    if mesh is None and devices is None:
        return None
    shape = parse_mesh(mesh) if isinstance(mesh, str) else (tuple(mesh) if mesh is not None else (devices, 1, 1))
    if devices is not None and int(np.prod(shape)) != devices:
        raise MeshError(f"--mesh {'x'.join(map(str, shape))} has {int(np.prod(shape))} devices "
                        f"but --devices is {devices}")
    return shape


def check_divides(shape, grid_shape, what: str = "the grid") -> None:
    """Raise :class:`MeshError` unless every cell count of ``grid_shape`` is a multiple of the
    devices along that axis in the mesh ``shape``, naming the axis and the numbers."""
    for axis, (cells, parts) in enumerate(zip(grid_shape, shape)):
        if cells % parts:
            raise MeshError(f"--mesh {'x'.join(map(str, shape))} does not divide {what} "
                            f"{' x '.join(map(str, grid_shape))}: {cells} cells along {MESH_AXES[axis]} "
                            f"are not a multiple of {parts} devices; choose a mesh whose sizes divide "
                            f"the cell counts, or another --cell")


@dataclass(frozen=True)
class Layout:
    """A device mesh and the rule that places the solver's arrays on it.

    Attributes:
      mesh: the :class:`jax.sharding.Mesh` with axes ("x", "y", "z").
    """

    mesh: Mesh

    @staticmethod
    def create(shape, devices=None, platform: str | None = None) -> "Layout":
        """A layout over ``shape`` = (devices along x, y, z) taken from ``devices``
        (default: ``jax.devices(platform)``, all processes' devices in a multi-host run).

        Raises :class:`MeshError` if there are fewer devices than the mesh needs.
        """
        shape = tuple(int(s) for s in shape)
        if len(shape) != 3 or min(shape) < 1:
            raise MeshError(f"mesh shape must be three positive integers, not {shape}")
        if devices is None:
            devices = jax.devices(platform) if platform else jax.devices()
        needed = int(np.prod(shape))
        if needed > len(devices):
            kind = devices[0].platform if devices else (platform or "any")
            hint = (" (on CPU, set XLA_FLAGS=--xla_force_host_platform_device_count=N before starting)"
                    if kind == "cpu" else "")
            raise MeshError(f"--mesh {'x'.join(map(str, shape))} needs {needed} devices but only "
                            f"{len(devices)} {kind} device(s) are available{hint}")
        grid = np.asarray(list(devices)[:needed], dtype=object).reshape(shape)
        return Layout(Mesh(grid, MESH_AXES))

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.mesh.shape[a] for a in MESH_AXES)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def check_grid(self, grid_shape, what: str = "the grid") -> None:
        """Refuse a mesh that does not divide the cell counts of ``grid_shape`` (raises :class:`MeshError`)."""
        check_divides(self.shape, grid_shape, what)

    def spec(self, shape) -> PartitionSpec:
        """Partition of an array of ``shape``: its last three axes are grid axes x, y, z,
        each split over its mesh axis where the length divides evenly; leading axes
        (tracers) and arrays of fewer than three axes are kept whole."""
        if len(shape) < 3:
            return PartitionSpec()
        lead = len(shape) - 3
        parts = [None] * lead
        for length, name in zip(shape[lead:], MESH_AXES):
            size = self.mesh.shape[name]
            parts.append(name if size > 1 and length % size == 0 else None)
        return PartitionSpec(*parts)

    def sharding(self, shape) -> NamedSharding:
        return NamedSharding(self.mesh, self.spec(shape))

    def place(self, tree):
        """``tree`` (a Problem, State, Precomputed or any pytree) with every array on the mesh.

        Arrays already laid out as required are returned as they are, so calling
        this on every chunk costs nothing once the state lives on the mesh.
        Works in multi-host runs: each process supplies the blocks of its own
        devices from its (identical) copy of the value.
        """

        def put(leaf):
            if not hasattr(leaf, "shape") or not hasattr(leaf, "dtype"):
                return leaf
            target = self.sharding(leaf.shape)
            current = getattr(leaf, "sharding", None)
            if current is not None and current.is_equivalent_to(target, len(leaf.shape)):
                return leaf
            if jax.process_count() == 1:
                return jax.device_put(leaf, target)
            if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
                # already spread over the processes, in another layout: re-lay it out on the devices
                return jax.jit(lambda x: x, out_shardings=target)(leaf)
            host = np.asarray(leaf)
            return jax.make_array_from_callback(host.shape, target, lambda index: host[index])

        return jax.tree_util.tree_map(put, tree)

    def gather(self, tree):
        """``tree`` with every array whole on this process's default device.

        One process: returned unchanged (host code reads sharded arrays directly).
        Several processes (multi-host): each process only holds its own blocks, so
        the arrays are assembled with
        :func:`jax.experimental.multihost_utils.process_allgather`; every process
        then has the whole field (summaries, output files).
        """
        if jax.process_count() == 1:
            return tree
        from jax.experimental import multihost_utils

        def whole(leaf):
            if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
                return jax.numpy.asarray(multihost_utils.process_allgather(leaf, tiled=True))
            return leaf

        return jax.tree_util.tree_map(whole, tree)


def initialize_distributed(cpu: bool = False) -> None:
    """Join a multi-host run through :func:`jax.distributed.initialize`.

    Reads the cluster from the environment: under SLURM (``srun``) JAX detects
    the coordinator, process count and process id itself; elsewhere set
    ``JAX_COORDINATOR_ADDRESS`` (host:port of process 0), ``JAX_NUM_PROCESSES``
    and ``JAX_PROCESS_ID`` (also ``THERMO_COORDINATOR``, ``THERMO_NUM_PROCESSES``,
    ``THERMO_PROCESS_ID``).  Must run before any JAX array is created.  ``cpu``:
    the processes compute on CPUs, whose collectives go through gloo.
    """
    if cpu:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    env = os.environ
    coordinator = env.get("THERMO_COORDINATOR") or env.get("JAX_COORDINATOR_ADDRESS")
    count = env.get("THERMO_NUM_PROCESSES") or env.get("JAX_NUM_PROCESSES")
    index = env.get("THERMO_PROCESS_ID") or env.get("JAX_PROCESS_ID")
    if coordinator and count is not None and index is not None:
        jax.distributed.initialize(coordinator_address=coordinator, num_processes=int(count),
                                   process_id=int(index))
    else:
        jax.distributed.initialize()
