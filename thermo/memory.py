"""Memory a solve needs, measured; the check that refuses a grid that does not fit a device.

The figures come from the compiled chunk of steps (``thermo.solve._run_chunk``):
``jax.jit(...).lower(...).compile().memory_analysis()`` gives the bytes of its
arguments (problem, precomputed multigrid hierarchy and wall distance, state),
outputs (the new state) and temporaries (one step's intermediates, the CG
vectors, the V-cycle's work arrays).  Their sum per cell, the *peak bytes per
cell* of a step, is about the same for every grid, because all of them are
cell-sized arrays:

=========================  =======  =======  ==========  =====
float32, one device        args     out      temporaries  sum
=========================  =======  =======  ==========  =====
hall-small, 0.2 m          132      24       285          441
buoyant cavity, 32^3       161      24       290          476
buoyant cavity, 64^3       128      24       284          436
=========================  =======  =======  ==========  =====

(bytes per cell; ``python -m thermo bench --case hall-small`` prints the same
analysis for any case).  Float64 doubles every array.  On the CPU, the process's
peak resident set grew by about 460 bytes per cell plus about 600 MB that do not
depend on the grid (XLA compiling the step, the runtime) between hall-small at
0.1 m (241,920 cells) and 0.05 m (1,935,360 cells): the host-side build of the
fields is freed before the step's peak.

Sharded over a mesh of d devices (:mod:`thermo.parallel`), each device holds its
block of the cell arrays, but the face arrays whose face count (n + 1) does not
divide are kept whole on every device, and so are some temporaries: a 4x1x1
slab mesh measured 222 bytes per cell of the whole grid on each device against
476 on one.  :func:`step_bytes_per_cell` models that as 490 / d + 140 (1 - 1/d)
bytes per cell in float32.
"""

from __future__ import annotations

import math
import os


#: Peak bytes per cell of a compiled step in float32 on one device (largest measured, 476, plus the
#: 12 that the float32 temperature residue added on hall-small at 0.2 m, rounded up).
STEP_BYTES_PER_CELL_F32 = 490
#: The same with implicit pseudo-time steps (``solver.pseudo_time: implicit``): the line solves
#: keep the coefficients of three stacked velocity components and their eliminated rows;
#: ``thermo bench`` measured 637 (hall-small at 0.1 m, XLA's memory analysis) against 371
#: explicit, rounded up and scaled like the explicit figure.
IMPLICIT_STEP_BYTES_PER_CELL_F32 = 660
#: What coarse-grid corrections (``solver.coarse_correction``, one device) add per fine cell in
#: float32: the coarse level (an eighth of the cells), its transfers and the correction's
#: temporaries held beside the fine step: XLA's memory analysis of the chunk with the cycle in
#: it against the plain chunk (``thermo bench --coarse-correction``) gave 482 against 379
#: (hall-small at 0.1 m) and 503 against 392 (hall-raised-floor at 0.2 m); the larger
#: difference, rounded up.
COARSE_CORRECTION_BYTES_PER_CELL_F32 = 120
#: Bytes per cell (float32) that stay on every device when sharded (x-face arrays, temporaries).
REPLICATED_BYTES_PER_CELL_F32 = 140
#: Bytes that do not depend on the grid: compiling the step, the runtime (measured on the CPU).
FIXED_BYTES = 640 * 1024 ** 2
#: Peak bytes per cell (float32) of the backward pass of a design gradient (``thermo optimize``,
#: ``jax.grad`` through :func:`thermo.solve`) with the default GMRES(40) adjoint: arguments +
#: outputs + temporaries of the compiled program, 3,759 (design-tiny) and 3,958 (hall-small-s08
#: at 0.6 m) measured by ``python -m thermo.cases.design_memory``, rounded up.  Most of it is
#: the GMRES basis (``adjoint_restart + 1`` state-sized vectors) and one linearised step.
GRADIENT_BYTES_PER_CELL_F32 = 4000


#: Most cells a grid may have, whatever memory there is: cells are addressed by flat indices,
#: 32-bit integers in JAX's default mode (2^31 - 1), and a grid beyond that is also beyond
#: any single device's memory at 490 bytes per cell (1 TiB).
MAX_CELLS = 2**31 - 1


class GridTooLarge(ValueError):
    """A grid that does not fit the memory of the chosen device; the message has the numbers."""


def check_cell_count(grid_shape, what: str = "the grid", advice: str = "use a coarser --cell") -> int:
    """Raise :class:`GridTooLarge` for a grid of more than :data:`MAX_CELLS` cells (counted
    with Python integers, so 10^30 cells do not overflow); returns the cell count."""
    cells = math.prod(int(n) for n in grid_shape)
    if cells > MAX_CELLS:
        raise GridTooLarge(f"{what} would be {' x '.join(f'{int(n):,}' for n in grid_shape)} = {cells:.3g} cells, "
                           f"more than the {MAX_CELLS:,} a grid can address (about "
                           f"{cells * STEP_BYTES_PER_CELL_F32 / 1024 ** 3:.3g} GiB in float32); {advice}")
    return cells


def step_bytes_per_cell(itemsize: int = 4, devices: int = 1, implicit: bool = False,
                        coarse_correction: bool = False) -> float:
    """Peak bytes per cell of the whole grid that one device needs for a step.

    Args:
      itemsize: bytes per float (4 for float32, 8 for float64).
      devices: devices the grid is sharded over (1: not sharded).
      implicit: implicit pseudo-time steps (:data:`IMPLICIT_STEP_BYTES_PER_CELL_F32`).
      coarse_correction: coarse-grid corrections (:data:`COARSE_CORRECTION_BYTES_PER_CELL_F32`).
    """
    scale = itemsize / 4.0
    share = 1.0 / max(int(devices), 1)
    step = IMPLICIT_STEP_BYTES_PER_CELL_F32 if implicit else STEP_BYTES_PER_CELL_F32
    if coarse_correction:
        step += COARSE_CORRECTION_BYTES_PER_CELL_F32
    return scale * (step * share + REPLICATED_BYTES_PER_CELL_F32 * (1.0 - share))


def estimate_bytes(cells: int, itemsize: int = 4, devices: int = 1, implicit: bool = False,
                   coarse_correction: bool = False) -> int:
    """Estimated peak memory (bytes) per device of a solve on ``cells`` cells."""
    return int(FIXED_BYTES + cells * step_bytes_per_cell(itemsize, devices, implicit, coarse_correction))


def available_bytes(device) -> int | None:
    """Memory (bytes) free for a new computation on ``device``.

    CPU: ``MemAvailable`` from /proc/meminfo (psutil's ``available`` if psutil is
    installed; ``os.sysconf`` free pages as a last resort).  GPU and other
    accelerators: the device's ``bytes_limit - bytes_in_use`` from
    ``memory_stats()``.  None if unknown.
    """
    if device.platform != "cpu":
        try:
            stats = device.memory_stats() or {}
        except Exception:  # backend without memory stats: unknown, not an error
            stats = {}
        if "bytes_limit" in stats:
            return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
        return None
    try:
        import psutil  # optional

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _gib(n: float) -> str:
    return f"{n / 1024 ** 3:.2f} GiB"


def estimate_gradient_bytes(cells: int, itemsize: int = 4) -> int:
    """Estimated peak memory (bytes, one device) of the backward pass of a design gradient on
    ``cells`` cells: the adjoint's GMRES basis and one linearised step (it does not grow with
    the number of pseudo-time steps)."""
    return int(FIXED_BYTES + cells * GRADIENT_BYTES_PER_CELL_F32 * itemsize / 4.0)


def check_fits(grid_shape, itemsize: int, device, devices: int = 1, free: int | None = None,
               what: str = "the grid", gradient: bool = False, implicit: bool = False,
               coarse_correction: bool = False) -> int:
    """Raise :class:`GridTooLarge` if a solve on ``grid_shape`` does not fit ``device``.

    Args:
      grid_shape: cells along x, y, z.
      itemsize: bytes per float (4 or 8).
      device: the JAX device (one of the mesh's, all alike).
      devices: devices the grid is sharded over; with several on one host (CPU
        fake devices, several GPUs of one node sharing host memory on CPU), the
        CPU check counts all of them against the one host's memory.
      free: bytes available (default :func:`available_bytes`); None/unknown passes.
      what: how the message names the grid (e.g. ``"hall-small at --cell 0.05"``).
      gradient: check the backward pass of a design gradient (:func:`estimate_gradient_bytes`,
        one device) instead of a forward solve.
      implicit: the forward solve marches with implicit pseudo-time steps.
      coarse_correction: the forward solve has coarse-grid corrections.

    Returns the estimated bytes needed per device.
    """
    cells = check_cell_count(grid_shape, what)
    if gradient and devices != 1:
        raise ValueError("design gradients run on one device")
    per_device = estimate_gradient_bytes(cells, itemsize) if gradient else estimate_bytes(
        cells, itemsize, devices, implicit, coarse_correction)
    per_cell = (per_device - FIXED_BYTES) / max(cells, 1)
    # fake CPU devices share one host's memory; GPUs each have their own
    needed = per_device * devices if device.platform == "cpu" else per_device
    free = available_bytes(device) if free is None else free
    if free is not None and needed > free:
        where = f"the {device.platform} device" if devices == 1 or device.platform == "cpu" else \
            f"each of the {devices} {device.platform} devices"
        precision = {4: "float32", 8: "float64"}.get(itemsize, f"{itemsize}-byte floats")
        raise GridTooLarge(
            f"the grid needs about {needed} bytes ({_gib(needed)}) but {where} has {free} bytes "
            f"({_gib(free)}) available: {what} is {' x '.join(map(str, grid_shape))} = {cells:,} cells in "
            f"{precision}, about {per_cell:.0f} bytes per cell"
            f"{' for the backward pass of a design gradient' if gradient else ''}"
            f"{' per device' if devices > 1 else ''} plus {_gib(FIXED_BYTES)}; " + (
                f"use a coarser --cell{', float32' if itemsize > 4 else ''} or gradient: finite_difference "
                "(forward solves only)" if gradient else
                f"use a coarser --cell{', float32' if itemsize > 4 else ''} or more devices (--devices, on a "
                "machine that has them)"))
    return needed
