"""Memory of the compiled steady march and of its adjoint, from XLA's own accounting.

``python -m thermo.cases.design_memory [SCENARIO] [--precision f64|f32]`` lowers and compiles the
two programs a design gradient runs, :func:`thermo.adjoint._march` (the forward steady solve)
and :func:`thermo.adjoint._adjoint` (the backward pass), for the scenario's design problem
(default ``tests/data/design-tiny.yaml``), and prints XLA's ``memory_analysis()`` of each:
argument, output and temporary bytes.  Both are single ``lax.while_loop`` programs, so these
sizes do not depend on the number of steps or adjoint iterations: the peak memory of a gradient
is that of the larger program plus one state, whatever the iteration count.
"""

import argparse
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from .. import adjoint, design
from ..fields import initial_state

SCENARIO = Path(__file__).resolve().parents[2] / "tests" / "data" / "design-tiny.yaml"


def analyse(path, dtype, cell_size=None):
    scene = design.load(path, cell_size=cell_size)
    model = scene.model(dtype)
    options = design.default_options(dtype)
    numerics = design.numerics_for(model)
    problem = model.problem(scene.values)
    state = initial_state(problem.grid, 18.0, problem.n_tracers, dtype)
    march = jax.jit(adjoint._march, static_argnums=(0, 1, 2)).lower(
        numerics, model.coupling, options.chunk, problem, state, jnp.asarray(10, jnp.int32),
        jnp.asarray(0, jnp.int32), jnp.asarray(options.tol, dtype)).compile()
    adj_numerics = adjoint._adjoint_numerics(options, numerics, dtype)
    back = jax.jit(adjoint._adjoint, static_argnums=(0, 1, 2, 3, 4)).lower(
        adj_numerics, model.coupling, options.chunk, options.adjoint_method, options.adjoint_restart, problem,
        state, state, jnp.asarray(10, jnp.int32),
        jnp.asarray(options.adjoint_tol, dtype)).compile()
    out = {"cells": int(model.grid.cells), "restart": options.adjoint_restart, "state_bytes": int(sum(np.asarray(x).nbytes for x in
                                                                   jax.tree_util.tree_leaves(state)))}
    for name, compiled in (("forward", march), ("adjoint", back)):
        m = compiled.memory_analysis()
        out[name] = {"argument_bytes": int(m.argument_size_in_bytes), "output_bytes": int(m.output_size_in_bytes),
                     "temp_bytes": int(m.temp_size_in_bytes)}
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default=str(SCENARIO))
    parser.add_argument("--precision", choices=("f32", "f64"), default="f64")
    parser.add_argument("--cell", type=float, default=None, help="largest cell (m); default the scenario's grid")
    args = parser.parse_args(argv)
    dtype = np.float64 if args.precision == "f64" else np.float32
    with jax.enable_x64(dtype == np.float64):
        out = analyse(args.scenario, dtype, args.cell)
    print(f"{Path(args.scenario).name}, {args.precision}, {out['cells']} cells, restart {out['restart']}, state {out['state_bytes'] / 1e3:.0f} kB")
    for name in ("forward", "adjoint"):
        m = out[name]
        print(f"  {name:8s} arguments {m['argument_bytes'] / 1e3:8.0f} kB  outputs {m['output_bytes'] / 1e3:8.0f} kB  "
              f"temporaries {m['temp_bytes'] / 1e3:8.0f} kB")
    f, a = out["forward"], out["adjoint"]
    print(f"  adjoint / forward temporaries {a['temp_bytes'] / max(f['temp_bytes'], 1):.2f}; total (arguments + "
          f"outputs + temporaries) {sum(a.values()) / sum(f.values()):.2f}")


if __name__ == "__main__":
    main()
