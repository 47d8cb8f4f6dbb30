"""Obstructions: columns, cable trays, pipes, under-floor blockages.

A solid obstruction (``blockage: 1``) removes its cells and closes the faces
it covers; a partial one (0 < blockage < 1, e.g. a cable tray or a bundle of
pipes) keeps its cells fluid and closes that fraction of every face through
and around it, so air passes with a reduced open area.
"""

from __future__ import annotations

import numpy as np

from ..scene.rasterize import add_solid


def build_obstructions(scene, fields) -> None:
    """Rasterize every obstruction into ``fields``."""
    for o in scene.obstructions:
        lower = np.asarray(o.position, float)
        add_solid(fields.fluid, fields.open, fields.grid, lower, lower + np.asarray(o.size, float), o.blockage)
