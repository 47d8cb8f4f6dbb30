"""thermo: differentiable finite-volume solver for data-center cooling.

Design API (see :mod:`thermo.design`): ``thermo.load``, ``thermo.solve``, ``thermo.solve_batch``.
"""


def __getattr__(name):
    # lazy, so ``import thermo`` stays light and the CLI imports JAX only when it needs it
    if name == "solve":
        # the core module thermo.solve is callable: thermo.solve(scene) is thermo.design.solve
        import importlib
        return importlib.import_module(".solve", __name__)
    if name in ("load", "solve_batch"):
        from . import design
        return getattr(design, name)
    raise AttributeError(f"module 'thermo' has no attribute {name!r}")
