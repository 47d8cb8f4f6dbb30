"""Aisle containment: thin panels with leakage.

A containment object encloses an aisle box (footprint x height).  Its roof
(z = height), its ends (the two short sides: doors) and its sides (the two
long sides: over the rack faces, blanking gaps in the rows and the space
above racks lower than the panels) are panels in grid planes that keep the
``leakage`` open fraction of the faces they cover.  Air crossing a panel
face does so through that open fraction (its velocity is the velocity in
the gaps), so leakage grows with the pressure difference across the panel.
"""

from __future__ import annotations

from ..scene.rasterize import add_panel


def build_containment(scene, fields) -> None:
    """Add every containment's panels to ``fields.open``."""
    grid = fields.grid
    for c in scene.containment:
        x0, y0 = c.position
        x1, y1 = x0 + c.size[0], y0 + c.size[1]
        lower, upper = (x0, y0, 0.0), (x1, y1, c.height)
        long_axis = 0 if c.size[0] >= c.size[1] else 1
        short_axis = 1 - long_axis
        if c.roof:
            add_panel(fields.open, grid, 2, c.height, lower, upper, c.leakage)
        if c.ends:
            for coordinate in (lower[long_axis], upper[long_axis]):
                add_panel(fields.open, grid, long_axis, coordinate, lower, upper, c.leakage)
        if c.sides:
            for coordinate in (lower[short_axis], upper[short_axis]):
                add_panel(fields.open, grid, short_axis, coordinate, lower, upper, c.leakage)
