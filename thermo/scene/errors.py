"""The one exception a scenario raises: it names the object and the field."""

from __future__ import annotations


class ScenarioError(ValueError):
    """A scenario file is invalid.

    Attributes:
      object: what is wrong, e.g. ``"rack B03"``, ``"room"``, ``"scenario"``.
      field: the field, e.g. ``"power"`` or ``"airflow.design_rise"``.
      message: what is wrong with it.

    ``str(error)`` reads ``"rack B03: power: must be >= 0 (got -8 kW)"``.
    """

    def __init__(self, object: str, field: str, message: str):
        self.object = object
        self.field = field
        self.message = message
        super().__init__(f"{object}: {field}: {message}" if field else f"{object}: {message}")
