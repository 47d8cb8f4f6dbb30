"""Scene checks of physical sense: where air enters and leaves equipment, what containment
encloses, how fast air must move and how hot it must get (see :mod:`.load`).

Errors (:class:`~thermo.scene.errors.ScenarioError`, naming the object and the field) for
what no hall can do: an intake or exhaust flush against a wall or a solid, containment
that cuts through a rack or borders no rack face, equipment whose air would have to move
faster than :data:`MAX_FACE_VELOCITY_M_S` through its face or warm by more than
:data:`~thermo.scene.schema.MAX_RISE_K`.  Warnings (strings in the same
``OBJECT: FIELD: message`` form, kept in ``Scene.warnings``) for what is possible but
probably not meant: supply air outside the ASHRAE allowable range of the scenario's class,
more heat than the supply air can carry away at a plausible return temperature, or than
the coolers are rated for.

Checks that depend on the grid (a gap or an object smaller than a cell) are in
:mod:`.gridgen`, where the grid is made.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ScenarioError
from .schema import AIR_TEMPERATURE_C, MAX_RISE_K

_TOL = 1e-9
#: Fastest air allowed through an equipment face or tile (m/s, over the gross face area):
#: rack fans move 1-3 m/s through the front, CRAH discharges and tile jets 2-6 m/s; 30 m/s
#: is a gale, no cooling equipment blows it, and a flow that needs it is a typo in a flow
#: or a power (a 10 MW rack under a design rise).
MAX_FACE_VELOCITY_M_S = 30.0
#: Above this face velocity (m/s) a warning: possible, but unusual for cooling equipment.
HIGH_FACE_VELOCITY_M_S = 10.0


@dataclass(frozen=True)
class FlowFace:
    """A vertical face through which equipment draws or blows air.

    Attributes:
      label, role: e.g. ``"rack A01"``, ``"intake"``.
      axis, sign: outward normal (axis 0 = x, 1 = y; sign +1/-1).
      coordinate: the face's plane (m along ``axis``).
      lower, upper: the box the face belongs to (m), its extent in the other axes.
    """

    label: str
    role: str
    axis: int
    sign: int
    coordinate: float
    lower: tuple
    upper: tuple

    @property
    def area(self) -> float:
        """Gross face area (m^2)."""
        other = 1 - self.axis
        return (self.upper[other] - self.lower[other]) * (self.upper[2] - self.lower[2])


def _normal(face: str, facing: str) -> tuple[int, int]:
    # as thermo.equipment.faces.face_normal: front faces ``facing``, back the other way
    axis, sign = {"x": 0, "y": 1}[facing[1]], (1 if facing[0] == "+" else -1)
    return axis, sign if face == "front" else -sign


def _face(label, role, position, size, face, facing) -> FlowFace:
    axis, sign = _normal(face, facing)
    lower = tuple(position)
    upper = tuple(p + d for p, d in zip(position, size))
    return FlowFace(label, role, axis, sign, upper[axis] if sign > 0 else lower[axis], lower, upper)


def flow_faces(scene) -> list[FlowFace]:
    """Every vertical face through which air enters or leaves equipment: rack intakes
    (front) and exhausts (back), and the front/back supply and return faces of coolers."""
    from .load import return_face, supply_face

    faces = []
    for r in scene.racks:
        faces.append(_face(f"rack {r.name}", "intake", r.position, r.size, "front", r.facing))
        faces.append(_face(f"rack {r.name}", "exhaust", r.position, r.size, "back", r.facing))
    for c in scene.coolers:
        for role, face in (("supply", supply_face(c)), ("return", return_face(c))):
            if face in ("front", "back") and not (role == "return" and c.return_from == "ceiling_plenum"):
                faces.append(_face(f"cooler {c.name}", role, c.position, c.size, face, c.facing))
    return faces


def solid_boxes(scene) -> list[tuple[str, tuple, tuple]]:
    """(label, lower, upper) of every solid in the room: racks, coolers, tanks, solid obstructions."""
    out = [(f"rack {r.name}", tuple(r.position), tuple(p + d for p, d in zip(r.position, r.size)))
           for r in scene.racks]
    out += [(f"cooler {c.name}", tuple(c.position), tuple(p + d for p, d in zip(c.position, c.size)))
            for c in scene.coolers]
    out += [(f"tank {t.name}", tuple(t.position), tuple(p + d for p, d in zip(t.position, t.size)))
            for t in scene.tanks]
    out += [(f"obstruction {o.name}", tuple(o.position), tuple(p + d for p, d in zip(o.position, o.size)))
            for o in scene.obstructions if o.blockage >= 1.0]
    return out


def _transverse_overlap(face: FlowFace, lower, upper) -> float:
    """Fraction of ``face``'s area that the box [lower, upper] covers in the face's plane."""
    covered = 1.0
    for b in (1 - face.axis, 2):
        span = face.upper[b] - face.lower[b]
        d = min(face.upper[b], upper[b]) - max(face.lower[b], lower[b])
        if d <= _TOL or span <= 0:
            return 0.0
        covered *= d / span
    return covered


def obstacles_in_front(scene, face: FlowFace) -> list[tuple[str, float, float]]:
    """(label, gap (m), covered fraction of the face) of the room wall and of every solid in
    front of ``face`` that covers part of it, nearest first.  The wall covers all of it."""
    a = face.axis
    wall = scene.room_size[a] - face.coordinate if face.sign > 0 else face.coordinate
    side = "+" if face.sign > 0 else "-"
    out = [(f"the room wall at {'xy'[a]} = {scene.room_size[a] if face.sign > 0 else 0.0:g} m ({'xy'[a]}{side})",
            wall, 1.0)]
    for label, lower, upper in solid_boxes(scene):
        if label == face.label:
            continue
        near = lower[a] - face.coordinate if face.sign > 0 else face.coordinate - upper[a]
        if near < -_TOL:
            continue        # behind the face, or beside it
        covered = _transverse_overlap(face, lower, upper)
        if covered > 0:
            out.append((label, max(near, 0.0), covered))
    return sorted(out, key=lambda item: item[1])


def check_flow_faces(scene) -> None:
    """An intake or exhaust flush against a wall or a solid draws or blows into nothing."""
    for face in flow_faces(scene):
        for label, gap, covered in obstacles_in_front(scene, face):
            if gap > _TOL:
                break
            field = "facing" if label.startswith("the room wall") else "position"
            where = f"{'xy'[face.axis]} = {face.coordinate:g} m"
            raise ScenarioError(face.label, field, f"its {face.role} ({where}) is flush against {label}"
                                f"{'' if covered >= 1 - 1e-9 else f' over {100 * covered:.0f} % of its area'}; "
                                "air needs at least one cell of room in front of it")


def check_containment(scene) -> None:
    """Containment panels must not pass through a solid, and must border the faces they
    contain: a cold aisle rack intakes, a hot aisle rack exhausts."""
    for c in scene.containment:
        label = f"containment {c.name}"
        lower = (*c.position, 0.0)
        upper = (c.position[0] + c.size[0], c.position[1] + c.size[1], c.height)
        for other, lo, hi in solid_boxes(scene):
            overlap = all(min(upper[k], hi[k]) - max(lower[k], lo[k]) > _TOL for k in range(3))
            inside = all(lo[k] >= lower[k] - _TOL and hi[k] <= upper[k] + _TOL for k in range(3))
            if overlap and not inside:
                raise ScenarioError(label, "position", f"its panels cut through {other} (the containment spans "
                                    f"({lower[0]:g}, {lower[1]:g})..({upper[0]:g}, {upper[1]:g}) m up to "
                                    f"{c.height:g} m); put the panels along the rack faces")
        role = "intake" if c.kind == "cold_aisle" else "exhaust"
        if not any(face.role == role and _borders(face, lower, upper) for face in flow_faces(scene)):
            raise ScenarioError(label, "position", f"encloses no rack {role}: a {c.kind.replace('_', ' ')}'s "
                                f"footprint ({lower[0]:g}, {lower[1]:g})..({upper[0]:g}, {upper[1]:g}) m must "
                                f"border the {'front' if role == 'intake' else 'back'} face of at least one rack")


def _borders(face: FlowFace, lower, upper) -> bool:
    """Whether ``face`` opens into the box [lower, upper]: its plane lies on the box's
    boundary or inside it, its outward side is in the box, and it overlaps the box across."""
    a, x = face.axis, face.coordinate
    if not lower[a] - _TOL <= x <= upper[a] + _TOL:
        return False
    if abs(x - lower[a]) <= _TOL and face.sign < 0 or abs(x - upper[a]) <= _TOL and face.sign > 0:
        return False
    return _transverse_overlap(face, lower, upper) > 0


def _captured_share(rack) -> float:
    """Share of a rack's power that leaves in its cold-plate coolant; for a capture table the
    largest entry, so that the air's share is never overestimated (no false warnings)."""
    liquid = rack.liquid
    if liquid is None:
        return 0.0
    if isinstance(liquid.capture, float):
        return float(liquid.capture)
    return float(max(max(row) for row in liquid.capture.values))


def check_air_speeds(scene) -> list[str]:
    """Errors for air that would have to move faster than :data:`MAX_FACE_VELOCITY_M_S`
    through a rack, cooler or tile face, or warm by more than ``MAX_RISE_K`` through a
    rack; returns warnings for face velocities above :data:`HIGH_FACE_VELOCITY_M_S`."""
    warnings = []
    rho_cp = scene.air.density * scene.air.heat_capacity

    def speed(label, field, flow, area, given):
        v = flow / area if area > 0 else float("inf")
        if v > MAX_FACE_VELOCITY_M_S:
            raise ScenarioError(label, field, f"{flow:.3g} m^3/s through {area:.3g} m^2 of face is {v:.3g} m/s, "
                                f"faster than any cooling equipment blows (at most {MAX_FACE_VELOCITY_M_S:g} m/s)"
                                f" (got {given})")
        if v > HIGH_FACE_VELOCITY_M_S:
            warnings.append(f"{label}: {field}: {v:.3g} m/s through its face is unusually fast for cooling "
                            f"equipment (1-6 m/s is usual) (got {given})")

    for r in scene.racks:
        label = f"rack {r.name}"
        flow = scene.rack_flow(r)
        # a fan curve is checked at its free delivery, the largest flow it gives a room that does not push
        rule = next(k for k in ("flow", "flow_per_kw", "design_rise", "fan_curve")
                    if getattr(r.airflow, k) is not None)
        field = "power" if rule == "design_rise" else f"airflow.{rule}"
        face = _face(label, "intake", r.position, r.size, "front", r.facing)
        speed(label, field, flow, face.area, f"{r.power / 1e3:g} kW" if field == "power" else f"{flow:.3g} m^3/s")
        rise = r.power * (1.0 - _captured_share(r)) / (rho_cp * flow * (1.0 - r.blanking_leakage))
        if rise > MAX_RISE_K + 1e-9:
            raise ScenarioError(label, "power", f"{r.power / 1e3:g} kW in {flow:.3g} m^3/s of air warms it by "
                                f"{rise:.3g} K, more than the {MAX_RISE_K:g} K any IT equipment allows; give more "
                                f"air flow or less power (got {r.power / 1e3:g} kW)")
    for c in scene.coolers:
        from .load import supply_face

        face = supply_face(c)
        sx, sy, sz = c.size
        axis = {"x": 0, "y": 1}[c.facing[1]]
        area = sx * sy if face in ("top", "bottom") else (sy if axis == 0 else sx) * sz
        speed(f"cooler {c.name}", "flow", c.flow, area, f"{c.flow:.3g} m^3/s")
    for t in scene.tiles:
        if t.flow is not None:
            speed(f"tile {t.name}", "flow", t.flow, t.size[0] * t.size[1], f"{t.flow:.3g} m^3/s")
    return warnings


def supply_air(scene) -> list[tuple[str, str, float, float]]:
    """(label, field, flow m^3/s, temperature degC) of each air supply with a given
    temperature: inflow tiles without a plenum and coolers under supply control."""
    out = [(f"tile {t.name}", "temperature", t.flow, t.temperature) for t in scene.tiles
           if t.flow is not None and t.temperature is not None]
    out += [(f"cooler {c.name}", "supply_temperature", c.flow, c.supply_temperature) for c in scene.coolers
            if c.control == "supply"]
    return out


def heat_warnings(scene) -> list[str]:
    """Warnings for supply air outside the ASHRAE allowable range of the scenario's class,
    and for more rack heat (the share that goes to the air, racks with rear doors left out)
    than the supply air carries away at a return temperature below the plausible air range
    (:data:`~thermo.scene.schema.AIR_TEMPERATURE_C`, 60 degC), or than the coolers' rated
    capacities add up to."""
    from ..metrics import ALLOWABLE

    warnings = []
    low, high = ALLOWABLE[scene.ashrae_class]
    for label, field, _, temperature in supply_air(scene):
        if not low <= temperature <= high:
            warnings.append(f"{label}: {field}: supply air at {temperature:g} degC is outside ASHRAE "
                            f"{scene.ashrae_class}'s allowable {low:g}..{high:g} degC, so every rack it feeds "
                            f"is outside it too (got {temperature:g} degC)")
    rho_cp = scene.air.density * scene.air.heat_capacity
    air_heat = {r.name: r.power * (1.0 - _captured_share(r)) for r in scene.racks if r.rear_door is None}
    total = sum(air_heat.values())
    supplies = supply_air(scene)
    flow = sum(q for _, _, q, _ in supplies) + sum(c.flow for c in scene.coolers if c.control == "return")
    if total > 0 and flow > 0:
        supply = min([t for _, _, _, t in supplies] or [AIR_TEMPERATURE_C[0]])
        mean_return = supply + total / (rho_cp * flow)
        if mean_return > AIR_TEMPERATURE_C[1]:
            name = max(air_heat, key=air_heat.get)
            alone = supply + air_heat[name] / (rho_cp * flow)
            where = f"rack {name}" if alone > AIR_TEMPERATURE_C[1] else "racks"
            warnings.append(f"{where}: power: {total / 1e3:.4g} kW of rack heat in the hall's {flow:.3g} m^3/s "
                            f"of supply air gives a mean return of {mean_return:.3g} degC, above "
                            f"{AIR_TEMPERATURE_C[1]:g} degC: far more heat than this hall's cooling can carry "
                            f"(got {air_heat[name] / 1e3:.4g} kW in rack {name})")
    capacities = [c.capacity for c in scene.coolers]
    if total > 0 and capacities and all(cap is not None for cap in capacities) and not any(
            t.flow is not None for t in scene.tiles) and total > sum(capacities):
        warnings.append(f"racks: power: {total / 1e3:.4g} kW of rack heat to the air exceeds the coolers' "
                        f"rated capacity of {sum(capacities) / 1e3:.4g} kW in all")
    return warnings
