"""Rear-door heat exchangers (RDHx) on racks.

A door covers the back face of its rack.  Everything the rack exhausts,
the room flow Q_air = (1 - f) Q at the server exhaust temperature T_ex
(:mod:`.rack`), crosses the door's coil, which holds water at flow Q_w
entering at T_w,in.  By effectiveness-NTU (:mod:`.hx`)

    C_air = rho cp Q_air,  C_w = rho_w cp_w Q_w,
    q = eps(NTU = UA / C_min, Cr = C_min / C_max, arrangement) C_min (T_ex - T_w,in),
    T_air,out = T_ex - q / C_air,   T_w,out = T_w,in + q / C_w,

and the room receives the rack's air at T_air,out: the heat leaves the air
and enters the water exactly (q on both sides).  UA (W/K) is given or comes
from a rating point (:mod:`.ratings`); it is held constant (no correction of
the air- or water-side film coefficients with flow).

Air side: a passive door is a porous layer behind the rack, a quadratic
resistance K / (2 delta) on the faces just downstream of the exhaust layer
(delta the centre spacing across them), so its pressure drop is
dp = K rho V^2 / 2 at the door face velocity V = Q_air / A_door.  K is given
(``loss_coefficient``) or follows from a rated pressure drop at a rated air
flow, K = 2 dp_rated / (rho V_rated^2).  The rack flow is fixed, so the
server fans are taken to overcome it.  An active door (``fans:``) has fans
that overcome the coil, so the room sees no resistance and the fans draw
Q_air dp / efficiency.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from . import hx
from .ratings import DOOR_ARRANGEMENT, door_ua


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class DoorSet:
    """All rear doors as arrays, one entry per door (a pytree).

    Attributes:
      rack: index of the door's rack (int).
      ua: UA (W/K).
      water_capacity: water capacity rate rho_w cp_w Q_w (W/K).
      water_temperature: water inlet temperature (degC).
      water_flow: water volume flow (m^3/s).
      arrangement: :mod:`.hx` code of the flow arrangement; mixed: 0 none, 1 air side
        mixed, 2 water side mixed (then the code is chosen from the capacity rates).
      loss_coefficient: K (-) on the door face velocity.
      area: door face area A_door (m^2).
      fan_efficiency: fan efficiency (0..1), 0 for a passive door.
    """

    rack: object
    ua: object
    water_capacity: object
    water_temperature: object
    water_flow: object
    arrangement: object
    mixed: object
    loss_coefficient: object
    area: object
    fan_efficiency: object

    @property
    def count(self) -> int:
        return int(np.shape(self.ua)[0])


def door_area(rack) -> float:
    """Area (m^2) of a rack's back face (width across the facing axis x height)."""
    axis = 0 if rack.facing[1] == "x" else 1
    return float(rack.size[1 - axis] * rack.size[2])


def build_doors(scene, fields, back_layers, water_inlet) -> DoorSet:
    """Doors of ``scene`` (numpy); passive doors add their resistance to ``fields``.

    ``back_layers``: per rack its back :class:`~.faces.Layer`; ``water_inlet(rack)`` the
    door's water inlet temperature (degC, resolved from its loop)."""
    grid = fields.grid
    rho = scene.air.density
    rho_cp = rho * scene.air.heat_capacity
    rows = []
    for k, r in enumerate(scene.racks):
        d = r.rear_door
        if d is None:
            continue
        area = door_area(r)
        if d.loss_coefficient is not None:
            loss = d.loss_coefficient
        elif d.rated_pressure_drop is not None:
            loss = 2.0 * d.rated_pressure_drop / (rho * (d.rated_air_flow / area) ** 2)
        else:
            loss = 0.0
        if d.fans is None and loss > 0:
            back = back_layers[k]
            ijk = np.unravel_index(back.far_faces, grid.face_shape(back.axis))
            spacing = np.asarray(grid.centre_spacing(back.axis))[ijk[back.axis]]
            np.add.at(fields.resistance_quadratic[back.axis].reshape(-1), back.far_faces, loss / (2.0 * spacing))
        code, mixed = DOOR_ARRANGEMENT[d.arrangement]
        rows.append((k, door_ua(d, rho_cp), d.water.density * d.water.heat_capacity * d.water_flow,
                     water_inlet(r), d.water_flow, code, mixed, loss, area,
                     0.0 if d.fans is None else d.fans.efficiency))
    cols = list(zip(*rows)) if rows else [()] * 10
    ints = (0, 5, 6)
    arrays = [np.array(c, np.int32 if i in ints else float) for i, c in enumerate(cols)]
    return DoorSet(*arrays)


def door_exchange(doors: DoorSet, t_air_in, air_flow, fluid):
    """(air outlet temperature (degC), heat to water q (W), water outlet temperature (degC))
    per door, from the air entering at ``t_air_in`` (degC) with ``air_flow`` (m^3/s)."""
    c_air = fluid.density * fluid.heat_capacity * air_flow
    c_w = doors.water_capacity
    if isinstance(doors.mixed, np.ndarray) and not np.any(doors.mixed):
        code = doors.arrangement                      # no mixed stream: the codes are known when tracing
    else:
        code = jnp.where(doors.mixed == 0, doors.arrangement, hx.one_side_mixed(doors.mixed == 1, c_air, c_w))
    q = hx.heat_transfer(c_air, t_air_in, c_w, doors.water_temperature, doors.ua, code)
    return t_air_in - q / c_air, q, doors.water_temperature + q / c_w


def pressure_drop(doors: DoorSet, air_flow, density):
    """Air-side pressure drop (Pa) of each door: K rho V^2 / 2 at V = air_flow / area."""
    v = air_flow / doors.area
    return 0.5 * doors.loss_coefficient * density * v * v


def fan_power(doors: DoorSet, air_flow, density):
    """Electric power (W) of the fans of active doors (0 for passive ones)."""
    active = doors.fan_efficiency > 0
    return jnp.where(active, air_flow * pressure_drop(doors, air_flow, density)
                     / jnp.where(active, doors.fan_efficiency, 1.0), 0.0)
