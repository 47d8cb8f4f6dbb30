"""Air-cooled IT racks.

A rack is a solid box.  Its servers draw the volume flow Q through the front
face and return it through the back face, normal to it at Q / A_back, at

    T_exhaust = T_server_in + P / (rho cp Q),
    T_server_in = (1 - f) T_intake + f T_exhaust,

where T_intake is the area-mean temperature of the air in the cell layer in
front of the front face and f the ``blanking_leakage``: the share of the
server flow that recirculates inside the rack from the hot side to the
server inlets through missing blanking panels.  The room therefore sees a
sink of (1 - f) Q at the front and a source of (1 - f) Q at T_exhaust at the
back, and the heat added to the room is exactly P.

Intakes and exhausts are sparse lists of cells with a rack label; the
coupling reduces them with ``jax.ops.segment_sum``, so the cost scales with
the number of face cells, not racks x grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..scene.rasterize import add_solid
from .faces import add_flow, box_face_layer, jet_acceleration


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class RackSet:
    """All racks of a hall as sparse arrays (a pytree).

    Attributes:
      intake_cells, intake_weight, intake_rack: flat cell index, face area (m^2)
        and rack number of every cell in front of a front face.
      exhaust_cells, exhaust_rack: the same behind the back faces.
      flow: server air flow Q per rack (m^3/s); for a fan-curve rack its free delivery,
        which the coupling replaces by the operating point (:mod:`.fans`).
      power: rated power P per rack (W).
      leakage: blanking leakage fraction f per rack.
    """

    intake_cells: object
    intake_weight: object
    intake_rack: object
    exhaust_cells: object
    exhaust_rack: object
    flow: object
    power: object
    leakage: object

    @property
    def count(self) -> int:
        return int(self.flow.shape[0])


def build_racks(scene, fields) -> tuple[RackSet, list]:
    """Rasterize every rack of ``scene`` into ``fields`` (solid, sink, source, jet).

    Returns the :class:`RackSet` (numpy) and, per rack, its (front, back) layers.
    """
    grid = fields.grid
    ic, iw, ir, ec, er, flows, layers = [], [], [], [], [], [], []
    for k, rack in enumerate(scene.racks):
        lower = np.asarray(rack.position, float)
        upper = lower + np.asarray(rack.size, float)
        add_solid(fields.fluid, fields.open, grid, lower, upper)
        q = scene.rack_flow(rack)
        room_flow = q * (1.0 - rack.blanking_leakage)
        front = box_face_layer(grid, rack.position, rack.size, "front", rack.facing)
        back = box_face_layer(grid, rack.position, rack.size, "back", rack.facing)
        if rack.airflow.fan_curve is None:
            # a fan-curve rack's flow follows the solution: the coupling sets it (.fans)
            add_flow(fields, front, -room_flow)
            add_flow(fields, back, room_flow)
            np.add.at(fields.momentum[back.axis].reshape(-1), back.far_faces,
                      jet_acceleration(grid, back, room_flow))
        ic.append(front.cells)
        iw.append(front.areas)
        ir.append(np.full(len(front.cells), k))
        ec.append(back.cells)
        er.append(np.full(len(back.cells), k))
        flows.append(q)
        layers.append((front, back))
    racks = RackSet(
        intake_cells=np.concatenate(ic) if ic else np.zeros(0, np.int64),
        intake_weight=np.concatenate(iw) if iw else np.zeros(0),
        intake_rack=np.concatenate(ir).astype(np.int32) if ir else np.zeros(0, np.int32),
        exhaust_cells=np.concatenate(ec) if ec else np.zeros(0, np.int64),
        exhaust_rack=np.concatenate(er).astype(np.int32) if er else np.zeros(0, np.int32),
        flow=np.array(flows, float), power=np.array([r.power for r in scene.racks], float),
        leakage=np.array([r.blanking_leakage for r in scene.racks], float))
    return racks, layers


def intake_temperatures(racks: RackSet, temperature):
    """(area-mean, max) of the air temperature in front of each rack (degC), shape (R,) each."""
    t = jnp.reshape(temperature, (-1,))[racks.intake_cells]
    n = racks.count
    w = racks.intake_weight.astype(t.dtype)
    mean = jax.ops.segment_sum(w * t, racks.intake_rack, num_segments=n) / jax.ops.segment_sum(
        w, racks.intake_rack, num_segments=n)
    # cells of zero weight (candidate cells of a movable rack, see thermo.design) are not in front of it
    peak = jax.ops.segment_max(jnp.where(w > 0, t, -jnp.inf), racks.intake_rack, num_segments=n)
    return mean, peak


def exhaust_temperature(racks: RackSet, intake_mean, power, fluid):
    """T_exhaust (degC) per rack from the intake mean (degC) and power (W) (see module docstring)."""
    rho_cp = fluid.density * fluid.heat_capacity
    return intake_mean + power / (rho_cp * racks.flow * (1.0 - racks.leakage))


def server_inlet_temperature(racks: RackSet, intake, exhaust):
    """Temperature the servers ingest (degC): intake air mixed with the blanking leakage."""
    return (1.0 - racks.leakage) * intake + racks.leakage * exhaust


def apply_exhaust(racks: RackSet, mass_temperature, exhaust):
    """``mass_temperature`` with every exhaust cell set to its rack's T_exhaust."""
    flat = jnp.reshape(mass_temperature, (-1,))
    flat = flat.at[racks.exhaust_cells].set(exhaust[racks.exhaust_rack].astype(flat.dtype))
    return jnp.reshape(flat, mass_temperature.shape)
