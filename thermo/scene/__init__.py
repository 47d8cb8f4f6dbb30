"""Scenario files: schema, units, loading and validation, grid generation, rasterization.

>>> import thermo.scene
>>> scene = thermo.scene.load("geometries/hall-small.yaml")   # doctest: +SKIP
"""

from .errors import ScenarioError
from .load import Scene, from_dict, load, loads

__all__ = ["ScenarioError", "Scene", "load", "loads", "from_dict"]
