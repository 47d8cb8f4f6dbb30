"""Direct-to-chip cold plates: capture ratio and case temperature.

A rack with a ``liquid:`` block sends the share ``capture`` of its power P to
the coolant of its cold plates and the rest, P (1 - capture), to the air
(:mod:`.rack` exhausts only that).  ``capture`` is fixed or read from a
table against the rack's coolant flow and the coolant supply temperature
(bilinear, clamped at the table's edges).

``plates`` cold plates in parallel share the captured heat and the flow.
Each has a thermal resistance R (K/W) from its case to the coolant at the
plate inlet, against the flow per plate: a table (linear, clamped) or a
power law R = R_ref (q / q_ref)^(-n) (n about 0.8 for turbulent, 0.33 to 0.5
for laminar microchannel plates).  Then

    T_case = T_coolant,supply + (capture P / plates) R(Q_rack / plates),
    T_coolant,return = T_coolant,supply + capture P / (rho_c cp_c Q_rack).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

NO_RESISTANCE, TABLE, POWER_LAW = 0, 1, 2


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class PlateSet:
    """Cold plates of all liquid racks as arrays, one row per liquid rack (a pytree).

    Attributes:
      rack: rack index (int); cdu: index of the CDU that serves it (int).
      flow: coolant flow per rack (m^3/s); plates: number of cold plates (float).
      capture_flows (L, NF) (m^3/s), capture_temperatures (L, NT) (degC),
        capture_values (L, NF, NT) (0..1): capture tables, padded (a fixed ratio is a
        constant table).
      resistance_kind: 0 none, 1 table, 2 power law (int).
      resistance_flows (L, NR) (m^3/s per plate), resistance_values (L, NR) (K/W): tables.
      resistance_reference (K/W), reference_flow (m^3/s per plate), exponent (-): power law.
    """

    rack: object
    cdu: object
    flow: object
    plates: object
    capture_flows: object
    capture_temperatures: object
    capture_values: object
    resistance_kind: object
    resistance_flows: object
    resistance_values: object
    resistance_reference: object
    reference_flow: object
    exponent: object

    @property
    def count(self) -> int:
        return int(np.shape(self.flow)[0])


def _pad(x, n):
    """Strictly increasing axis ``x`` extended to length ``n`` (constant extrapolation follows)."""
    x = list(x)
    while len(x) < n:
        x.append(x[-1] + 1.0 + abs(x[-1]))
    return x


def build_plates(scene, cdu_of: dict) -> PlateSet:
    """The :class:`PlateSet` of ``scene`` (numpy); ``cdu_of`` maps rack name to CDU index."""
    liquid = [(k, r) for k, r in enumerate(scene.racks) if r.liquid is not None]
    nf = max([2] + [len(r.liquid.capture.flows) for _, r in liquid if not isinstance(r.liquid.capture, float)])
    nt = max([2] + [len(r.liquid.capture.temperatures) for _, r in liquid
                    if not isinstance(r.liquid.capture, float)])
    nr = max([2] + [len(r.liquid.resistance.flows) for _, r in liquid if hasattr(r.liquid.resistance, "flows")])
    rows = {key: [] for key in PlateSet.__dataclass_fields__}
    for k, r in liquid:
        lq = r.liquid
        if isinstance(lq.capture, float):
            cf, ct, cv = [0.0, 1.0], [0.0, 1.0], [[lq.capture] * 2] * 2
        else:
            cf, ct, cv = lq.capture.flows, lq.capture.temperatures, lq.capture.values
        values = np.array(cv, float)
        values = np.pad(values, ((0, nf - values.shape[0]), (0, nt - values.shape[1])), mode="edge")
        res = lq.resistance
        kind = NO_RESISTANCE if res is None else (TABLE if hasattr(res, "flows") else POWER_LAW)
        rf, rv = (res.flows, res.values) if kind == TABLE else ([0.0, 1.0], [0.0, 0.0])
        rv = list(rv) + [rv[-1]] * (nr - len(rv))
        rows["rack"].append(k); rows["cdu"].append(cdu_of[r.name]); rows["flow"].append(lq.flow)
        rows["plates"].append(float(lq.plates))
        rows["capture_flows"].append(_pad(cf, nf)); rows["capture_temperatures"].append(_pad(ct, nt))
        rows["capture_values"].append(values)
        rows["resistance_kind"].append(kind)
        rows["resistance_flows"].append(_pad(rf, nr)); rows["resistance_values"].append(rv)
        rows["resistance_reference"].append(res.reference if kind == POWER_LAW else 0.0)
        rows["reference_flow"].append(res.reference_flow if kind == POWER_LAW else 1.0)
        rows["exponent"].append(res.exponent if kind == POWER_LAW else 0.0)
    shapes = {"capture_flows": (0, nf), "capture_temperatures": (0, nt), "capture_values": (0, nf, nt),
              "resistance_flows": (0, nr), "resistance_values": (0, nr)}
    ints = ("rack", "cdu", "resistance_kind")
    out = {}
    for key, v in rows.items():
        dtype = np.int32 if key in ints else float
        out[key] = np.array(v, dtype) if v else np.zeros(shapes.get(key, (0,)), dtype)
    return PlateSet(**out)


def _locate(axis, x):
    """(lower index, weight) of ``x`` on each row of ``axis`` (L, N), clamped to its ends."""
    n = axis.shape[-1]
    xc = jnp.clip(x, axis[:, 0], axis[:, -1])
    i = jnp.clip(jax.vmap(jnp.searchsorted)(axis, xc) - 1, 0, n - 2)
    lo = jnp.take_along_axis(axis, i[:, None], 1)[:, 0]
    hi = jnp.take_along_axis(axis, i[:, None] + 1, 1)[:, 0]
    return i, (xc - lo) / (hi - lo)


def capture_ratio(plates: PlateSet, coolant_temperature):
    """Capture ratio (0..1) per liquid rack at its flow and ``coolant_temperature`` (degC)."""
    i, wi = _locate(plates.capture_flows, plates.flow)
    j, wj = _locate(plates.capture_temperatures, coolant_temperature)
    rows = jnp.arange(plates.count)
    v = jnp.asarray(plates.capture_values)
    c00, c01 = v[rows, i, j], v[rows, i, j + 1]
    c10, c11 = v[rows, i + 1, j], v[rows, i + 1, j + 1]
    return (1 - wi) * ((1 - wj) * c00 + wj * c01) + wi * ((1 - wj) * c10 + wj * c11)


def plate_resistance(plates: PlateSet):
    """Thermal resistance (K/W) of each rack's cold plates at its flow per plate (NaN: none given)."""
    q = plates.flow / plates.plates
    i, w = _locate(plates.resistance_flows, q)
    table = (1 - w) * jnp.take_along_axis(plates.resistance_values, i[:, None], 1)[:, 0] + \
        w * jnp.take_along_axis(plates.resistance_values, i[:, None] + 1, 1)[:, 0]
    law = plates.resistance_reference * (q / plates.reference_flow) ** (-plates.exponent)
    return jnp.where(plates.resistance_kind == TABLE, table,
                     jnp.where(plates.resistance_kind == POWER_LAW, law, jnp.nan))


def case_temperature(plates: PlateSet, supply_temperature, captured_power):
    """Case temperature (degC) of the cold-plated chips of each liquid rack: coolant supply
    (degC) + captured power (W) / plates x R."""
    return supply_temperature + captured_power / plates.plates * plate_resistance(plates)
