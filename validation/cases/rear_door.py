"""Rear-door heat exchanger against the effectiveness-NTU reference table.

``validation/reference/hx_effectiveness_ntu.csv`` (Incropera et al., Table 11.3;
Kays & London) lists eps(NTU, Cr) for parallel flow, counterflow, crossflow with
both streams unmixed (exact series), and crossflow with the C_max or the C_min
stream mixed.  For every row and column the door model of the hall coupling
(:func:`thermo.equipment.rear_door.door_exchange`) is run at an operating point
built to have that NTU and Cr (air the C_min stream, water capacity rate
C_air / Cr), and its effectiveness q / (C_air (T_air,in - T_water,in)) is
compared with the table (tolerance 0.5 %).  The door's two sides must agree:
heat lost by the air = heat gained by the water.  Finally UA obtained from a
rating point must give back the rated duty at that point.
"""

from __future__ import annotations

import numpy as np

from thermo.equipment import hx, rear_door
from thermo.equipment.ratings import door_ua
from thermo.problem import Fluid
from thermo.scene import schema

from ..checks import Check
from ..common import stopwatch
from ..reference import load
from ..report import CaseResult, markdown_table, new_figure

NAME = "rear_door"
TITLE = "Rear-door heat exchanger: effectiveness-NTU"
TABLE = "hx_effectiveness_ntu.csv"
TOLERANCE = 0.005
AIR = Fluid(density=1.19, heat_capacity=1006.0)
AIR_FLOW = 2.0           # m^3/s through the door
T_AIR, T_WATER = 40.0, 18.0
# reference column -> (door arrangement, which stream is mixed: the air is C_min)
COLUMNS = {"parallel": "parallel", "counter": "counterflow", "cross_unmixed_exact": "crossflow_unmixed",
           "cross_Cmax_mixed": "crossflow_water_mixed", "cross_Cmin_mixed": "crossflow_air_mixed"}


def door_set(ntu, cr, arrangement: str, dtype) -> rear_door.DoorSet:
    """Doors (one per entry of ``ntu``, ``cr``) whose operating point at AIR_FLOW has that NTU and Cr."""
    from thermo.equipment.ratings import DOOR_ARRANGEMENT
    code, mixed = DOOR_ARRANGEMENT[arrangement]
    c_air = AIR.density * AIR.heat_capacity * AIR_FLOW
    n = len(ntu)
    c_w = c_air / np.maximum(np.asarray(cr, float), 1e-12)
    arr = lambda v, t=dtype: np.asarray(v, t)  # noqa: E731
    return rear_door.DoorSet(rack=np.zeros(n, np.int32), ua=arr(np.asarray(ntu) * c_air), water_capacity=arr(c_w),
                             water_temperature=arr(np.full(n, T_WATER)), water_flow=arr(c_w / (998.0 * 4182.0)),
                             arrangement=np.full(n, code, np.int32), mixed=np.full(n, mixed, np.int32),
                             loss_coefficient=arr(np.zeros(n)), area=arr(np.ones(n)), fan_efficiency=arr(np.zeros(n)))


def door_effectiveness(ntu, cr, arrangement: str, dtype):
    """(effectiveness, relative air/water heat mismatch) of the door model at (NTU, Cr) points."""
    doors = door_set(ntu, cr, arrangement, dtype)
    fluid = Fluid(density=np.asarray(AIR.density, dtype), heat_capacity=np.asarray(AIR.heat_capacity, dtype))
    flow = np.full(len(ntu), AIR_FLOW, dtype)
    t_in = np.full(len(ntu), T_AIR, dtype)
    t_out, q, t_w = (np.asarray(v, float) for v in rear_door.door_exchange(doors, t_in, flow, fluid))
    c_air = AIR.density * AIR.heat_capacity * AIR_FLOW
    eps = q / (c_air * (T_AIR - T_WATER))
    air_side = c_air * (T_AIR - t_out)
    water_side = np.asarray(doors.water_capacity, float) * (t_w - T_WATER)
    return eps, np.abs(air_side - water_side) / np.abs(q), q


def run(quick: bool, dtype) -> CaseResult:
    out = CaseResult(NAME, TITLE)
    with stopwatch(out):
        table = load(TABLE)
        ntu, cr = np.array(table.columns["NTU"]), np.array(table.columns["Cr"])
        rows, curves, worst_balance = [], [], 0.0
        for column, arrangement in COLUMNS.items():
            ref = np.array(table.columns[column])
            eps, mismatch, _ = door_effectiveness(ntu, cr, arrangement, dtype)
            err = np.abs(eps - ref) / ref
            k = int(np.argmax(err))
            out.checks.append(Check(NAME, f"door eps, {arrangement} (worst of {len(ref)} rows: NTU={ntu[k]:g}, "
                                    f"Cr={cr[k]:g})", float(eps[k]), float(ref[k]), TOLERANCE, grid="-",
                                    note=f"table column {column}"))
            worst_balance = max(worst_balance, float(np.max(mismatch[cr > 0])))
            rows.append((arrangement, column, f"{100 * float(np.max(err)):.4f}", f"{100 * float(np.mean(err)):.4f}"))
            curves.append((arrangement, ntu, cr, eps, ref))
        tol_balance = 1e-9 if np.dtype(dtype) == np.float64 else 1e-4
        out.checks.append(Check(NAME, "door heat: |air loss - water gain| / load (worst over rows with Cr > 0)",
                                worst_balance, 0.0, tol_balance, kind="absolute", grid="-"))
        # UA from a rating point gives back the rated duty at that point
        rating = dict(duty=40e3, air_flow=2.2, air_temperature=37.0, water_flow=1.2e-3, water_temperature=18.0)
        spec = schema.RearDoor(rating=rating, water_flow=1.2e-3, water_temperature=18.0)
        ua = door_ua(spec, AIR.density * AIR.heat_capacity)
        c_air = AIR.density * AIR.heat_capacity * rating["air_flow"]
        c_w = spec.water.density * spec.water.heat_capacity * rating["water_flow"]
        q = float(hx.heat_transfer(np.asarray(c_air, dtype), np.asarray(37.0, dtype), np.asarray(c_w, dtype),
                                   np.asarray(18.0, dtype), np.asarray(ua, dtype), hx.CROSSFLOW_UNMIXED))
        out.checks.append(Check(NAME, "duty at the rating point from the UA fitted to it (W)", q, rating["duty"],
                                TOLERANCE, grid="-", note=f"UA = {ua:.1f} W/K"))
    out.sections += [
        f"Each reference row is reproduced by one door of the hall model with {AIR_FLOW} m^3/s of air at "
        f"{T_AIR} degC (the C_min stream) and water at {T_WATER} degC with capacity rate C_air / Cr; "
        "UA = NTU C_air. A water-side-mixed door is the C_max-mixed column, an air-side-mixed door the "
        "C_min-mixed column. Reference: " + table.header[1].removeprefix("Citations:").strip().rstrip(".") + ".",
        markdown_table(("door arrangement", "table column", "max error (%)", "mean error (%)"), rows),
    ]
    fig, ax = new_figure(6.4, 4.0)
    for arrangement, n, c, eps, ref in curves:
        sel = np.isclose(c, 0.5)
        ax.plot(n[sel], ref[sel], "o", mfc="none")
        ax.plot(n[sel], eps[sel], "-", label=arrangement)
    ax.set(xlabel="NTU", ylabel="effectiveness", title="Cr = 0.5: door model (lines), reference (circles)")
    ax.legend(fontsize=8)
    out.figures.append(("rear_door_effectiveness.png", fig,
                        "Rear-door effectiveness against the eps-NTU table, Cr = 0.5."))
    return out
