"""Scenario checks of rear doors, cold plates, CDUs and the facility (see :mod:`.load`).

Raises :class:`~thermo.scene.errors.ScenarioError` naming the object and the field:
unknown loops, a CDU serving unknown racks or racks without cold plates, a liquid rack
no CDU serves, tables out of order, ratings no exchanger can reach (a CDU that cannot
meet its approach), a cooling tower without a wet-bulb temperature.
"""

from __future__ import annotations

import fnmatch

import numpy as np

from ..equipment import ratings
from .errors import ScenarioError


def _increasing(values) -> bool:
    return bool(np.all(np.diff(np.asarray(values, float)) > 0))


def served_racks(scene, cdu) -> list:
    """Names of the racks a CDU serves (its ``racks`` entries: names or shell patterns)."""
    names = [r.name for r in scene.racks]
    out = []
    for pattern in cdu.racks:
        hits = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        if not hits:
            raise ScenarioError(f"cdu {cdu.name}", "racks", f"no rack matches {pattern!r}")
        out += [n for n in hits if n not in out]
    return out


def loop_supply(scene, label: str, field: str, loop_field: str, loop_name, given):
    """The water inlet temperature (degC) of a door or CDU: ``given``, else the supply
    temperature of its loop ``loop_name`` (``field``/``loop_field``: names for errors)."""
    if loop_name is not None:
        loop = _loop(scene, label, loop_field, loop_name)
        if given is None:
            return loop.supply_temperature
    if given is None:
        raise ScenarioError(label, field, "required (or name a facility loop whose supply temperature it is)")
    return given


def _loop(scene, label, field, name):
    loops = {lp.name: lp for lp in (scene.facility.loops if scene.facility is not None else [])}
    if name not in loops:
        raise ScenarioError(label, field, f"no facility loop named {name!r}"
                            + (f" (loops: {', '.join(loops)})" if loops
                               else " (the scenario has no facility: section)"))
    return loops[name]


def check_liquid(scene) -> None:
    """Raise :class:`ScenarioError` for the first inconsistency of the liquid-cooling objects."""
    air_rho_cp = scene.air.density * scene.air.heat_capacity
    facility = scene.facility
    if facility is not None:
        seen = set()
        for lp in facility.loops:
            if lp.name in seen:
                raise ScenarioError(f"loop {lp.name}", "name", "name already used by another loop")
            seen.add(lp.name)
            if lp.type == "cooling_tower" and facility.wet_bulb_temperature is None:
                raise ScenarioError("facility", "wet_bulb_temperature", f"loop {lp.name} rejects heat through a "
                                    "cooling tower, which needs the ambient wet-bulb temperature")
        if facility.crah_loop is not None:
            _loop(scene, "facility", "crah_loop", facility.crah_loop)
        elif scene.coolers and not any(lp.type == "chiller" for lp in facility.loops):
            raise ScenarioError("facility", "crah_loop",
                                "the cooling units need a loop: name one, or add a chiller loop")

    for t in getattr(scene, "tanks", ()):
        loop = t.circulation.loop
        if facility is not None and loop is None:
            raise ScenarioError(f"tank {t.name}", "circulation.loop", "required with a facility: section (which "
                                "loop takes the tank's heat-exchanger load)")
        if loop is not None:
            _loop(scene, f"tank {t.name}", "circulation.loop", loop)

    for r in scene.racks:
        label = f"rack {r.name}"
        d = r.rear_door
        if d is not None:
            if facility is not None and d.loop is None:
                raise ScenarioError(label, "rear_door.loop", "required with a facility: section (which loop takes "
                                    "the door's heat)")
            loop_supply(scene, label, "rear_door.water_temperature", "rear_door.loop", d.loop, d.water_temperature)
            try:
                ratings.door_ua(d, air_rho_cp)
            except ValueError as exc:
                raise ScenarioError(label, "rear_door.rating.duty", str(exc)) from None
        lq = r.liquid
        if lq is not None:
            c = lq.capture
            if not isinstance(c, float):
                if not _increasing(c.flows):
                    raise ScenarioError(label, "liquid.capture.flows", "must be strictly increasing")
                if not _increasing(c.temperatures):
                    raise ScenarioError(label, "liquid.capture.temperatures", "must be strictly increasing")
                if len(c.values) != len(c.flows) or any(len(v) != len(c.temperatures) for v in c.values):
                    raise ScenarioError(label, "liquid.capture.values", f"must be a {len(c.flows)} x "
                                        f"{len(c.temperatures)} table (one row per flow, one column per temperature)")
            res = lq.resistance
            if res is not None and hasattr(res, "flows"):
                if not _increasing(res.flows):
                    raise ScenarioError(label, "liquid.resistance.flows", "must be strictly increasing")
                if len(res.values) != len(res.flows):
                    raise ScenarioError(label, "liquid.resistance.values", f"needs {len(res.flows)} values "
                                        f"(one per flow) (got {len(res.values)})")

    taken: dict = {}
    other_names = {r.name for r in scene.racks} | {c.name for c in scene.coolers}
    racks = {r.name: r for r in scene.racks}
    for cdu in scene.cdus:
        label = f"cdu {cdu.name}"
        if cdu.name in other_names or any(cdu.name == c.name for c in scene.cdus if c is not cdu):
            raise ScenarioError(label, "name", "name already used")
        served = served_racks(scene, cdu)
        for name in served:
            if racks[name].liquid is None:
                raise ScenarioError(label, "racks", f"rack {name} has no liquid: block (no cold plates to serve)")
            if name in taken:
                raise ScenarioError(label, "racks", f"rack {name} is already served by cdu {taken[name]}")
            taken[name] = cdu.name
        if facility is not None and cdu.loop is None:
            raise ScenarioError(label, "loop", "required with a facility: section (which loop takes the CDU's heat)")
        loop_supply(scene, label, "facility_temperature", "loop", cdu.loop, cdu.facility_temperature)
        flow = sum(racks[n].liquid.flow for n in served)
        try:
            ratings.cdu_ua(cdu, flow)
        except ValueError as exc:
            raise ScenarioError(label, "rating.approach", "the CDU cannot meet this approach at the rated load "
                                f"with these flows: {exc}") from None
    for r in scene.racks:
        if r.liquid is not None and r.name not in taken:
            raise ScenarioError(f"rack {r.name}", "liquid", "no CDU serves this rack (add it to a cdus: entry)")
