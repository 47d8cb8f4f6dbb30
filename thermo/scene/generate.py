"""A generated large data hall: rows of racks in hot-aisle / cold-aisle pods on a raised floor.

:func:`generated_hall` returns a scenario as a plain dict (the same sections as a
YAML file in ``geometries/``; :func:`thermo.scene.from_dict` validates it), laid
out the way raised-floor halls are built:

* pods along y, each ``hot aisle | row A (facing +y) | cold aisle | row B (facing -y)``,
  1.2 m aisles, racks 0.6 x 1.2 x 2.0 m, ``per_row`` racks per row along x, and a
  last hot aisle after the last pod; the last row holds what is left over;
* two rows of 25 %-open perforated tiles (0.6 x 0.6 m) paving every cold aisle;
* a 0.6 m raised-floor supply plenum fed by downflow CRAHs (0.9 x 2.4 x 2.0 m,
  11.5 m^3/s, 18 degC, 160 kW) standing along both end walls (x = 0 and x = L),
  as many as 115 % of the racks' airflow needs, with floor leakage of 0.2 % of
  the floor area;
* ceiling grilles (50 % open) above every hot aisle into a 0.6 m ceiling return
  plenum.

Rack powers repeat the pattern 8, 8, 10, 12, 8, 6 kW along each row (a 12 K design
rise), so the hall has hot spots without being uniform.  With the defaults
(24 racks per row, room 3.6 m high) 200 racks make a 21.6 x 27.6 x 4.8 m hall
(with plenums): about 23 million cells at 0.05 m.
"""

from __future__ import annotations

import math

from .schema import MAX_LENGTH_M

RACK = (0.6, 1.2, 2.0)          # width (along the row), depth, height (m)
AISLE = 1.2                     # hot and cold aisle width (m)
END_ZONE = 3.6                  # from an end wall to the first rack: CRAH + service aisle (m)
SIDE_MARGIN = 1.8               # from a side wall to the first hot aisle (m)
CRAH_SIZE = (0.9, 2.4, 2.0)
CRAH_FLOW = 11.5                # m^3/s
POWER_PATTERN_KW = (8, 8, 10, 12, 8, 6)
DESIGN_RISE_K = 12.0
AIR_DENSITY, AIR_HEAT_CAPACITY = 1.19, 1006.0


def generated_hall(racks: int, per_row: int = 24, height: float = 3.6, max_cell: float = 0.2,
                   supply_ratio: float = 1.15) -> dict:
    """The scenario dict of a raised-floor hall with ``racks`` racks.

    Args:
      racks: number of racks (at least 1).
      per_row: racks per row along x.
      height: room height above the raised floor, below the ceiling plenum (m).
      max_cell: the scenario's ``grid.max_cell`` (m).
      supply_ratio: CRAH airflow over rack airflow (the number of CRAHs is rounded up to an even count).
    """
    if racks < 1 or per_row < 1:
        raise ValueError(f"generated_hall: racks and per_row must be at least 1 (got {racks}, {per_row})")
    rows = math.ceil(racks / per_row)
    pods = math.ceil(rows / 2)
    pod_depth = 2 * AISLE + 2 * RACK[1]
    length = 2 * END_ZONE + per_row * RACK[0]
    width = 2 * SIDE_MARGIN + pods * pod_depth + AISLE
    if width > MAX_LENGTH_M:     # refused before a row is laid out (--racks 1000000000)
        raise ValueError(f"--racks {racks}: the generated hall would be {width:.3g} m wide, beyond the "
                         f"{MAX_LENGTH_M:g} m a scenario may span")
    row_specs, tile_rows, returns = [], [], []
    left = racks
    rack_flow = 0.0
    for r in range(rows):
        pod, side = divmod(r, 2)
        y0 = SIDE_MARGIN + pod * pod_depth + AISLE
        count = min(per_row, left)
        left -= count
        powers = [POWER_PATTERN_KW[(i + r) % len(POWER_PATTERN_KW)] for i in range(count)]
        rack_flow += sum(p * 1e3 for p in powers) / (AIR_DENSITY * AIR_HEAT_CAPACITY * DESIGN_RISE_K)
        y = y0 if side == 0 else y0 + RACK[1] + AISLE
        row_specs.append({"name": f"R{r + 1:02d}", "count": count, "start": [END_ZONE, round(y, 6)], "axis": "x",
                          "size": list(RACK), "facing": "+y" if side == 0 else "-y",
                          "power": [f"{p} kW" for p in powers], "airflow": {"design_rise": f"{DESIGN_RISE_K} K"}})
        if side == 0:
            cold = y0 + RACK[1]
            for k in range(2):
                tile_rows.append({"name": f"T{pod + 1:02d}{'ab'[k]}", "count": per_row,
                                  "start": [END_ZONE, round(cold + 0.6 * k, 6)], "size": [0.6, 0.6],
                                  "open_fraction": 0.25})
    for h in range(pods + 1):
        returns.append({"name": f"G{h + 1:02d}", "surface": "ceiling",
                        "position": [END_ZONE, round(SIDE_MARGIN + h * pod_depth, 6)],
                        "size": [per_row * RACK[0], AISLE], "open_fraction": 0.5})
    units = 2 * math.ceil(supply_ratio * rack_flow / CRAH_FLOW / 2)
    per_wall = units // 2
    spacing = width / per_wall
    if spacing < CRAH_SIZE[1]:
        raise ValueError(f"generated_hall: {units} CRAHs do not fit along the end walls of a {width:.1f} m wide "
                         f"hall; use more racks per row (per_row)")
    coolers = []
    for wall, x in (("W", 0.3), ("E", length - 0.3 - CRAH_SIZE[0])):
        for k in range(per_wall):
            y = (k + 0.5) * spacing - CRAH_SIZE[1] / 2
            coolers.append({"name": f"CRAH-{wall}{k + 1:02d}", "type": "downflow",
                            "position": [round(x, 6), round(y, 6)], "size": list(CRAH_SIZE),
                            "flow": f"{CRAH_FLOW} m3/s", "supply_temperature": "18 degC", "capacity": "160 kW",
                            "fan_power": "7.5 kW"})
    return {
        "name": f"generated-{racks}-racks",
        "description": (f"Generated raised-floor hall: {racks} racks in {rows} rows of up to {per_row}, "
                        f"{pods} hot-aisle/cold-aisle pods, {units} downflow CRAHs, ceiling return plenum."),
        "room": {"size": [round(length, 6), round(width, 6), height]},
        "raised_floor": {"depth": 0.6, "leakage": {"open_area": f"{0.002 * length * width:.4f} m2"}},
        "ceiling_plenum": {"depth": 0.6},
        "grid": {"max_cell": max_cell, "growth": 1.25},
        "ashrae_class": "A1",
        # raised-floor CRAH jets keep the flow oscillating under the zero-equation model; with the
        # mixing-length model hall-raised-floor converges (docs/performance.md, "Halls that do not settle")
        "solver": {"turbulence": "mixing_length"},
        "rows": row_specs,
        "tile_rows": tile_rows,
        "coolers": coolers,
        "returns": returns,
    }


def main(argv=None) -> None:
    """``python -m thermo.scene.generate RACKS [--cell SIZE]``: print the generated hall as YAML
    (for ``thermo check`` / ``thermo run``)."""
    import argparse

    import yaml

    parser = argparse.ArgumentParser(description="Print a generated raised-floor hall of RACKS racks as YAML.")
    parser.add_argument("racks", type=int)
    parser.add_argument("--per-row", type=int, default=24)
    parser.add_argument("--cell", type=float, default=0.2, help="grid.max_cell (m)")
    args = parser.parse_args(argv)
    print(yaml.safe_dump(generated_hall(args.racks, per_row=args.per_row, max_cell=args.cell), sort_keys=False))


if __name__ == "__main__":
    main()
