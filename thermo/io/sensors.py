"""Temperature sensors of a real hall: the CSV file, its checks, and a run's readings at them.

A sensors file is CSV with a header line naming its columns::

    name,x,y,z,temperature_C,weight
    A01-low,3.3,3.65,0.15,19.2,1
    A01-mid,3.3,3.65,1.0,19.8,1

``x, y, z`` are the point (m, the scenario's axes), ``temperature_C`` the
reading (degC) and ``weight`` (optional, > 0, default 1) its weight in a
least-squares comparison (``thermo calibrate``).  Blank lines and lines
starting with ``#`` are skipped.  Row numbers in messages are line numbers of
the file (the header is row 1), as a spreadsheet shows them.

Everything wrong with the file is a :class:`SensorError` (a
:class:`~thermo.scene.ScenarioError`) that reads
``sensors FILE: row N: COLUMN: what is wrong (got VALUE)``: missing or unknown
columns, values that are not finite numbers, duplicated names, a reading below
absolute zero or far outside room-air temperatures, a sensor outside the room
and its plenums or inside a solid (rack, cooling unit, tank, solid
obstruction).  A sensor on a solid's surface (the rack fronts, where ASHRAE
puts them) is in the air and allowed.

The predicted reading is the trilinear interpolation of the cell-centred air
temperature over the fluid cells around the point (:mod:`thermo.probes`).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..scene.errors import ScenarioError

REQUIRED_COLUMNS = ("name", "x", "y", "z", "temperature_C")
OPTIONAL_COLUMNS = ("weight",)
ABSOLUTE_ZERO_C = -273.15
#: Readings outside this range (degC) are no room-air temperature: a unit mistake (K, degF
#: of a hot exhaust) or a broken sensor.
PLAUSIBLE_RANGE_C = (-50.0, 150.0)
_TOL = 1e-9


class SensorError(ScenarioError):
    """A sensors file is invalid; ``str()`` reads ``sensors FILE: row N: COLUMN: message``."""


@dataclass(frozen=True)
class Sensor:
    """One point sensor: ``name``, position ``x, y, z`` (m), reading ``temperature_C`` (degC),
    least-squares ``weight`` (-), and the ``row`` (line number) it came from."""

    name: str
    x: float
    y: float
    z: float
    temperature_C: float
    weight: float = 1.0
    row: int = 0

    @property
    def point(self) -> tuple:
        return (self.x, self.y, self.z)


def _error(path, row: int | None, column: str, message: str) -> SensorError:
    where = f"row {row}: {column}" if row is not None and column else (f"row {row}" if row is not None else column)
    return SensorError(f"sensors {path}", where, message)


def _text(path) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SensorError(f"sensors {path}", "", f"cannot read the file: {exc.strerror or exc}") from None
    if b"\x00" in data:
        raise SensorError(f"sensors {path}", "", "not a text CSV file (binary content: NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SensorError(f"sensors {path}", "", f"not a text CSV file (not UTF-8: byte 0x{data[exc.start]:02x} "
                          f"at offset {exc.start})") from None


def _number(path, row: int, column: str, value: str) -> float:
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        raise _error(path, row, column, f"not a number (got {text!r})") from None
    if not math.isfinite(number):
        raise _error(path, row, column, f"must be a finite number (got {text!r})")
    return number


def read_sensors(path, scene=None) -> tuple:
    """The :class:`Sensor` s of the CSV file ``path`` (see module docstring); with ``scene``
    (a :class:`~thermo.scene.Scene`) also checked against the hall's geometry
    (:func:`check_placement`).  Raises :class:`SensorError`."""
    text = _text(path)
    reader = csv.reader(io.StringIO(text))
    header, columns, sensors, seen = None, {}, [], {}
    try:
        for cells in reader:
            row = reader.line_num
            if not cells or all(not c.strip() for c in cells) or cells[0].lstrip().startswith("#"):
                continue
            if header is None:
                header = [c.strip() for c in cells]
                columns = _columns(path, row, header)
                continue
            if len(cells) != len(header):
                raise _error(path, row, "", f"{len(cells)} values where the header has {len(header)} columns "
                             f"({', '.join(header)}) (got {','.join(cells)!r})")
            value = {key: cells[i] for key, i in columns.items()}
            name = value["name"].strip()
            if not name:
                raise _error(path, row, "name", "must not be empty")
            if name in seen:
                raise _error(path, row, "name", f"duplicate of row {seen[name]} (got {name!r})")
            seen[name] = row
            x, y, z = (_number(path, row, c, value[c]) for c in ("x", "y", "z"))
            reading = _number(path, row, "temperature_C", value["temperature_C"])
            if reading < ABSOLUTE_ZERO_C:
                raise _error(path, row, "temperature_C", f"below absolute zero ({ABSOLUTE_ZERO_C} C) "
                             f"(got {value['temperature_C'].strip()})")
            lo, hi = PLAUSIBLE_RANGE_C
            if not lo <= reading <= hi:
                raise _error(path, row, "temperature_C", f"outside {lo:g}..{hi:g} C, not a room-air reading in "
                             f"degC (a reading in K or degF?) (got {value['temperature_C'].strip()})")
            weight = 1.0
            if "weight" in value and value["weight"].strip():
                weight = _number(path, row, "weight", value["weight"])
                if not weight > 0:
                    raise _error(path, row, "weight", f"must be > 0 (got {value['weight'].strip()})")
            sensors.append(Sensor(name, x, y, z, reading, weight, row))
    except csv.Error as exc:
        raise _error(path, reader.line_num, "", f"not valid CSV: {exc}") from None
    if header is None:
        raise SensorError(f"sensors {path}", "", "the file is empty: it needs a header line "
                          f"({','.join(REQUIRED_COLUMNS)}) and one line per sensor")
    if not sensors:
        raise SensorError(f"sensors {path}", "", "the file has a header but no sensor lines")
    sensors = tuple(sensors)
    if scene is not None:
        check_placement(sensors, scene, path)
    return sensors


def _columns(path, row: int, header: list) -> dict:
    """{column: position} of a header line; errors for missing, unknown or repeated columns."""
    allowed = {c.lower(): c for c in REQUIRED_COLUMNS + OPTIONAL_COLUMNS}
    columns = {}
    for i, cell in enumerate(header):
        key = allowed.get(cell.lower())
        if key is None:
            if all(_is_number(c) for c in header[1:]) and len(header) > 1:
                raise _error(path, row, "header", "the first line must name the columns "
                             f"{','.join(REQUIRED_COLUMNS)}[,weight] (got {','.join(header)!r})")
            raise _error(path, row, "header", f"unknown column {cell!r}; allowed columns: "
                         f"{', '.join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)}")
        if key in columns:
            raise _error(path, row, "header", f"column {key!r} appears twice")
        columns[key] = i
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise _error(path, row, "header", f"missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                     f"(got {','.join(header)!r})")
    return columns


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def solid_boxes(scene) -> list:
    """(label, lower corner, upper corner) of every solid box of ``scene`` (m): racks, cooling
    units, immersion tanks and fully blocking obstructions."""
    boxes = []
    for kind, group in (("rack", scene.racks), ("cooler", scene.coolers), ("tank", getattr(scene, "tanks", ()))):
        for o in group:
            lo = np.asarray(o.position, float)
            boxes.append((f"{kind} {o.name}", lo, lo + np.asarray(o.size, float)))
    for o in scene.obstructions:
        if o.blockage >= 1.0:
            lo = np.asarray(o.position, float)
            boxes.append((f"obstruction {o.name}", lo, lo + np.asarray(o.size, float)))
    return boxes


def check_placement(sensors, scene, path) -> None:
    """Every sensor inside the room or its plenums and not inside a solid (raises :class:`SensorError`)."""
    lx, ly, lz = scene.room_size
    lower = (0.0, 0.0, 0.0 - scene.plenum_depth)   # 0.0 - 0.0 is 0, not -0
    upper = (lx, ly, lz + scene.ceiling_depth)
    solids = solid_boxes(scene)
    for s in sensors:
        for a, column in enumerate(("x", "y", "z")):
            v = s.point[a]
            if not lower[a] - _TOL <= v <= upper[a] + _TOL:
                what = "the room" + (" and its plenums" if a == 2 and (scene.plenum_depth or scene.ceiling_depth)
                                     else "")
                raise _error(path, s.row, column, f"outside {what}, {lower[a]:g}..{upper[a]:g} m (got {v:g})")
        p = np.asarray(s.point)
        for label, lo, hi in solids:
            if np.all(p > lo + _TOL) and np.all(p < hi - _TOL):
                raise _error(path, s.row, "x, y, z", f"inside {label}, which occupies {_fmt(lo)}..{_fmt(hi)} m "
                             f"(got {_fmt(p)}); a sensor on its surface is in the air")


def _fmt(v) -> str:
    return "(" + ", ".join(f"{float(x):g}" for x in v) + ")"


def sensor_stencil(model, sensors, path=""):
    """The :class:`~thermo.probes.ProbeStencil` of ``sensors`` on ``model``'s grid (a
    :class:`~thermo.hall.HallModel`), over its fluid cells; a point with no fluid cell around it
    on this grid is a :class:`SensorError` naming its row."""
    from ..probes import ProbeError, probe_stencil

    try:
        return probe_stencil(model.grid, [s.point for s in sensors], np.asarray(model.problem.geometry.fluid))
    except ProbeError as error:
        s = sensors[error.index]
        raise _error(path, s.row, "x, y, z", f"{error} on this grid") from None


def compare(model, state, sensors, path="", stencil=None) -> dict:
    """The summary entries of ``sensors`` read in ``state`` of ``model``:

    ``sensors``: per sensor ``name``, ``x``, ``y``, ``z`` (m), ``temperature_C`` (predicted,
    degC), ``measured_C``, ``error_K`` (predicted - measured), ``weight``;
    ``sensor_errors``: ``file``, ``count``, ``mean_abs_K``, ``max_abs_K``, ``max_abs_sensor``,
    ``mean_K`` (the bias: mean of predicted - measured), ``weighted_rms_K``."""
    import jax

    from ..probes import probe

    stencil = sensor_stencil(model, sensors, path) if stencil is None else stencil
    temperature = state.temperature
    if getattr(state, "temperature_residue", None) is not None:
        temperature = temperature + state.temperature_residue
    predicted = np.asarray(jax.jit(probe)(stencil, temperature), float)
    measured = np.array([s.temperature_C for s in sensors])
    weights = np.array([s.weight for s in sensors])
    error = predicted - measured
    rows = [{"name": s.name, "x": s.x, "y": s.y, "z": s.z, "temperature_C": float(predicted[k]),
             "measured_C": s.temperature_C, "error_K": float(error[k]), "weight": s.weight}
            for k, s in enumerate(sensors)]
    worst = int(np.argmax(np.abs(error)))
    stats = {"file": str(path), "count": len(sensors), "mean_abs_K": float(np.mean(np.abs(error))),
             "max_abs_K": float(np.abs(error[worst])), "max_abs_sensor": sensors[worst].name,
             "mean_K": float(np.mean(error)),
             "weighted_rms_K": float(np.sqrt(np.sum(weights * error**2) / np.sum(weights)))}
    return {"sensors": rows, "sensor_errors": stats}
