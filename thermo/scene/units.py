"""Physical quantities given as SI numbers or as strings with a unit.

Scenario authors write either a bare number (taken as SI: m, W, m^3/s,
degC, s, Pa, ...) or a string such as ``'8 kW'``, ``'1200 cfm'``,
``'65 degF'``, ``'24 in'``.  Each scenario field declares the kind of
quantity it holds, so a unit of the wrong kind (``power: '8 m'``) is an
error naming the expected units.  The table below is deliberately small: the
units people use in data-center work, nothing else.

Temperature needs care: an absolute temperature (``temperature``) converts
degF with an offset (65 degF = 18.33 degC) and K as 273.15 + degC, while a
temperature *difference* (``temperature_difference``) converts degF by 5/9
only and K/degC one to one.
"""

from __future__ import annotations

import math
import re

# kind -> {unit spelling (lower case): factor to SI}; temperatures handled apart
_FOOT = 0.3048
_INCH = 0.0254
_CFM = _FOOT**3 / 60.0
_WATT_PER_BTUH = 0.29307107

UNITS: dict[str, dict[str, float]] = {
    "length": {"m": 1.0, "mm": 1e-3, "cm": 1e-2, "ft": _FOOT, "feet": _FOOT, "foot": _FOOT,
               "in": _INCH, "inch": _INCH, "inches": _INCH, '"': _INCH, "'": _FOOT},
    "area": {"m2": 1.0, "m^2": 1.0, "cm2": 1e-4, "cm^2": 1e-4, "mm2": 1e-6, "mm^2": 1e-6,
             "ft2": _FOOT**2, "ft^2": _FOOT**2, "sqft": _FOOT**2, "in2": _INCH**2, "in^2": _INCH**2},
    "power": {"w": 1.0, "kw": 1e3, "mw": 1e6, "btu/h": _WATT_PER_BTUH, "btu/hr": _WATT_PER_BTUH,
              "btuh": _WATT_PER_BTUH, "ton": 3516.8528, "tons": 3516.8528, "tr": 3516.8528},
    "flow": {"m3/s": 1.0, "m^3/s": 1.0, "m3/h": 1 / 3600.0, "m^3/h": 1 / 3600.0, "m3/hr": 1 / 3600.0,
             "l/s": 1e-3, "cfm": _CFM, "ft3/min": _CFM, "ft^3/min": _CFM},
    "flow_per_power": {"m3/s/kw": 1e-3, "m^3/s/kw": 1e-3, "m3/s/w": 1.0, "cfm/kw": _CFM / 1e3,
                       "l/s/kw": 1e-6, "m3/h/kw": 1 / 3.6e6},
    "velocity": {"m/s": 1.0, "fpm": _FOOT / 60.0, "ft/min": _FOOT / 60.0},
    "pressure": {"pa": 1.0, "kpa": 1e3, "inh2o": 249.08891, "in wc": 249.08891, "inwc": 249.08891,
                 "in. wc": 249.08891, "in h2o": 249.08891},
    "time": {"s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0, "hr": 3600.0},
    "fraction": {"%": 0.01, "percent": 0.01},
    "dimensionless": {},
}
_TEMPERATURE = {"degc": "C", "c": "C", "°c": "C", "celsius": "C", "degf": "F", "f": "F", "°f": "F",
                "fahrenheit": "F", "k": "K", "kelvin": "K"}
_DELTA_PREFIXES = ("delta_", "delta ", "d")

SI_UNIT = {"length": "m", "area": "m2", "power": "W", "flow": "m3/s", "flow_per_power": "m3/s/W",
           "velocity": "m/s", "pressure": "Pa", "time": "s", "fraction": "0..1", "dimensionless": "-",
           "temperature": "degC", "temperature_difference": "K"}

_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


#: The lowest temperature there is (degC): 0 K.
ABSOLUTE_ZERO_C = -273.15

# an example string per kind, for "expected a number or a string like ..." messages
_EXAMPLE = {"length": "2.4 m", "area": "0.5 m2", "power": "8 kW", "flow": "1200 cfm", "flow_per_power": "0.1 m3/s/kW",
            "velocity": "2 m/s", "pressure": "20 Pa", "time": "60 s", "fraction": "25 %", "dimensionless": "1.5",
            "temperature": "18 degC", "temperature_difference": "12 K"}


def _shown(value) -> str:
    """``value`` for a message, cut to 60 characters (a YAML mapping may be long)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class UnitError(ValueError):
    """A value could not be read as the expected kind of quantity (message is user-facing)."""


def known_units(kind: str) -> str:
    """Comma-separated unit spellings accepted for ``kind`` (for error messages)."""
    if kind == "temperature":
        return "degC, degF, K"
    if kind == "temperature_difference":
        return "K, degC, degF"
    units = [u for u in UNITS[kind] if u not in ('"', "'")]
    return ", ".join(units) if units else "a plain number"


def _kind_of(unit: str) -> str | None:
    key = unit.lower()
    if key in _TEMPERATURE:
        return "temperature"
    for kind, table in UNITS.items():
        if key in table:
            return kind
    return None


def parse_quantity(value, kind: str) -> float:
    """``value`` (a number in SI, or a string 'number unit') as an SI float of ``kind``.

    Kinds: length (m), area (m^2), power (W), flow (m^3/s), flow_per_power
    (m^3/s per W), velocity (m/s), pressure (Pa), time (s), fraction (0..1,
    '%' accepted), dimensionless, temperature (degC) and
    temperature_difference (K).  Raises :class:`UnitError` with a readable
    message otherwise, also for a value that is not finite however it is written
    (``.inf``, ``'1e309'``, ``'1e400 m3/s'``, ``'1e308 kW'`` that overflows in the
    conversion) and for an absolute temperature below 0 K (``'-5 K'``).

    >>> round(parse_quantity('1200 cfm', 'flow'), 4)
    0.5663
    >>> round(parse_quantity('65 degF', 'temperature'), 3)
    18.333
    >>> parse_quantity('8 kW', 'power')
    8000.0
    """
    number = _to_si(value, kind)
    if not math.isfinite(number):
        raise UnitError(f"not a finite number (got {_shown(value)})")
    if kind == "temperature" and number < ABSOLUTE_ZERO_C:
        raise UnitError(f"below absolute zero ({ABSOLUTE_ZERO_C} degC) (got {_shown(value)})")
    return number


def _to_si(value, kind: str) -> float:
    """``value`` converted to SI, possibly not finite (a string such as '1e400 m3/s' or
    '1e308 kW' overflows to inf); :func:`parse_quantity` checks the result."""
    if isinstance(value, bool):
        raise UnitError(f"expected a number, not {value!r}")
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:      # an integer beyond the float range (10**400)
            return math.inf
    if not isinstance(value, str):
        raise UnitError(f"expected a number or a string like {_EXAMPLE.get(kind, '8 kW')!r} "
                        f"(got {_shown(value)})")
    match = _NUMBER.match(value)
    if not match:
        raise UnitError(f"cannot read {value!r} as a number with a unit")
    number = float(match.group(1))
    unit = match.group(2).strip()
    if not unit:
        return number
    key = unit.lower()
    if kind in ("temperature", "temperature_difference"):
        delta = False
        for prefix in _DELTA_PREFIXES:
            if key.startswith(prefix) and key[len(prefix):] in _TEMPERATURE:
                key, delta = key[len(prefix):], True
                break
        scale = _TEMPERATURE.get(key)
        if scale is None:
            other = _kind_of(unit)
            what = f" (a {other} unit)" if other else ""
            raise UnitError(f"unit {unit!r}{what} is not a temperature; use {known_units(kind)}")
        if kind == "temperature_difference" or delta:
            if kind == "temperature" and delta:
                raise UnitError(f"{value!r} is a temperature difference; an absolute temperature is expected")
            return number * (5.0 / 9.0 if scale == "F" else 1.0)
        if scale == "C":
            return number
        if scale == "F":
            return (number - 32.0) * 5.0 / 9.0
        return number - 273.15
    table = UNITS[kind]
    if key in table:
        return number * table[key]
    other = _kind_of(unit)
    if other is not None:
        raise UnitError(f"unit {unit!r} is a {other} unit; expected {kind.replace('_', ' ')} "
                        f"({known_units(kind)})")
    raise UnitError(f"unknown unit {unit!r}; expected {kind.replace('_', ' ')} ({known_units(kind)})")
