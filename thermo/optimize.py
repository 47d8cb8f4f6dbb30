"""Gradient-based cooling design: objectives, constraints, optimizers, write-back and verification.

The problem comes from a scenario's ``optimize:`` section
(:class:`thermo.scene.schema.Optimize`):

* objectives: ``max_intake``, a smooth maximum of the rack inlet maxima,
  ``s log sum exp(T_k / s)`` with scale s = ``smooth_max_K`` (degC; it exceeds
  the true maximum by at most s log N); ``cooling_power`` (kW), the fans by the
  affinity laws plus the chiller, load / COP(T_supply) with
  COP = cop + cop_per_K (T_supply - 18 degC) (a facility approximation until a
  facility model exists);
* constraints: rack inlet maxima at or below the ASHRAE recommended or
  allowable limit (or a temperature) less ``intake_margin``, cooler loads below
  ``capacity_margin`` x capacity, both as quadratic penalties
  ``penalty x sum(max(0, violation)^2)``, and parameter bounds (exact);
  ``fixed_total_power`` keeps the sum of the optimized rack powers;
* optimizers: scipy's L-BFGS-B on the parameters scaled to [0, 1] by their
  bounds, or projected gradients (Armijo backtracking; the projection onto the
  bounds and, with ``fixed_total_power``, the fixed sum is exact);
* every evaluation is a steady solve warm-started from the previous one plus
  one adjoint pass (:func:`thermo.design.solve` under ``jax.value_and_grad``);
* the result: history (JSON and a plot), the optimized scenario written back as
  YAML, and its verification by a fresh forward solve of that file with
  :func:`thermo.hall.solve` (its own grid, snapped to the new positions).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import yaml

from . import design, metrics
from .adjoint import AdjointNotConverged
from .scene import ScenarioError


class NotConverged(RuntimeError):
    """An evaluation whose steady solve (or adjoint) did not converge: it has no gradient."""


def intake_limit(spec, ashrae_class: str) -> float | None:
    """The intake limit (degC) of an optimize spec, or None."""
    if spec.intake_limit == "none":
        return None
    if spec.intake_limit == "recommended":
        return float(metrics.RECOMMENDED[ashrae_class][1])
    if spec.intake_limit == "allowable":
        return float(metrics.ALLOWABLE[ashrae_class][1])
    return float(spec.intake_limit)


def smooth_max(values, scale):
    """s log sum exp(x / s) (>= max, by at most s log N)."""
    return scale * jax.nn.logsumexp(values / scale)


def cooling_power(result, chiller) -> jnp.ndarray:
    """Fans plus chiller (kW): sum of fan power + load / COP(T_supply)."""
    cop = jnp.maximum(chiller.cop + chiller.cop_per_K * (result.cooler_supply - 18.0), 1.0)
    return (jnp.sum(result.cooler_fan_power) + jnp.sum(jnp.maximum(result.cooler_load, 0.0) / cop)) / 1e3


@dataclass
class Problem:
    """A design problem: a :class:`~thermo.design.DesignScene`, the optimized parameter
    names and bounds, and the objective/constraint settings."""

    scene: design.DesignScene
    spec: object
    names: list
    lower: np.ndarray
    upper: np.ndarray
    limit: float | None
    dtype: object
    power_names: list = field(default_factory=list)
    total_power: float = 0.0

    @property
    def options(self):
        """The steady-solve options of every evaluation: :func:`thermo.design.default_options`
        with the spec's ``tolerance`` and ``max_steps`` where given."""
        options = design.default_options(self.dtype)
        spec = self.spec
        changes = {}
        if getattr(spec, "tolerance", None) is not None:
            changes["tol"] = float(spec.tolerance)
        if getattr(spec, "max_steps", None) is not None:
            changes["max_steps"] = int(spec.max_steps)
        return dataclasses.replace(options, **changes) if changes else options

    def objective_parts(self, result):
        """(objective, penalty, diagnostics dict) of a result (jnp)."""
        spec = self.spec
        if spec.objective == "max_intake":
            obj = smooth_max(result.rack_inlet_max, spec.smooth_max_K)
        else:
            if result.cooler_load.shape[0] == 0:
                raise ScenarioError("optimize", "objective", "cooling_power needs cooling units (coolers:)")
            obj = cooling_power(result, spec.chiller)
        penalty = jnp.asarray(0.0, obj.dtype)
        if self.limit is not None and result.rack_inlet_max.shape[0]:
            over = jnp.maximum(result.rack_inlet_max - (self.limit - spec.intake_margin), 0.0)
            penalty = penalty + spec.penalty * jnp.sum(over**2)
        if spec.capacity and result.cooler_load.shape[0]:
            over = jnp.maximum(result.cooler_load / result.cooler_capacity - spec.capacity_margin, 0.0)
            penalty = penalty + spec.penalty * jnp.sum((10.0 * over) ** 2)
        info = {"objective": obj, "max_intake_C": jnp.max(result.rack_inlet_max) if result.rack_inlet_max.size else obj,
                "cooling_power_kW": cooling_power(result, spec.chiller) if result.cooler_load.shape[0] else obj * 0,
                "penalty": penalty}
        return obj, penalty, info


def problem_from_scene(path, overrides: dict | None = None) -> Problem:
    """The :class:`Problem` of the scenario file ``path`` (its ``optimize:`` section,
    fields replaced by ``overrides``)."""
    import thermo.scene

    plain = thermo.scene.load(path)
    spec = plain.optimize
    if spec is None:
        raise ScenarioError("optimize", "", f"{path} has no optimize: section (objective, parameters, ...)")
    if overrides:
        spec = spec.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    for rack in plain.racks:
        if rack.airflow.fan_curve is not None:
            # thermo.design holds each rack's flow to its airflow rule; a fan curve's flow follows the solution
            raise ScenarioError(f"rack {rack.name}", "airflow.fan_curve", "thermo optimize does not model fan "
                                "curves yet (its design model holds rack flows fixed); give the rack airflow.flow "
                                "at the operating point that thermo run reports (fan_flow_m3s)")
    movable = {}
    for p in spec.parameters:
        if p.name.endswith(".position"):
            key = p.name[: -len(".position")]
            if "*" in key or "?" in key:
                raise ScenarioError("optimize", "parameters", f"{p.name}: name movable objects one by one")
            movable[key] = (p.lower, p.upper) if p.lower is not None and p.upper is not None else None
    scene = design.DesignScene(plain, spec.cell, movable)
    names, lower, upper = [], [], []
    for p in spec.parameters:
        matched = [n for n in scene.specs if fnmatch.fnmatchcase(n, p.name)]
        if not matched:
            raise ScenarioError("optimize", "parameters", f"{p.name!r} matches no parameter of the scenario "
                                f"(e.g. {', '.join(list(scene.specs)[:4])})")
        for n in matched:
            if n in names:
                continue
            s = scene.specs[n]
            lo = s.lower if p.lower is None else p.lower
            hi = s.upper if p.upper is None else p.upper
            if not lo <= float(scene.values[n]) <= hi:
                raise ScenarioError("optimize", "parameters", f"{n}: current value {float(scene.values[n]):g} "
                                    f"{s.unit} lies outside the bounds {lo:g}..{hi:g}")
            names.append(n)
            lower.append(lo)
            upper.append(hi)
    power_names = [n for n in names if scene.specs[n].kind == "power"]
    if spec.fixed_total_power and not power_names:
        raise ScenarioError("optimize", "fixed_total_power", "no rack power among the parameters")
    if spec.fixed_total_power and spec.method != "projected_gradient":
        raise ScenarioError("optimize", "method", "fixed_total_power needs method: projected_gradient")
    dtype = np.float64 if spec.precision == "f64" else np.float32
    return Problem(scene=scene, spec=spec, names=names, lower=np.array(lower, float), upper=np.array(upper, float),
                   limit=intake_limit(spec, plain.ashrae_class), dtype=dtype, power_names=power_names,
                   total_power=float(sum(scene.values[n] for n in power_names)))


class Evaluator:
    """Objective + penalty and its gradient in the scaled variables u in [0, 1], with
    warm starts and a cache of the last evaluation."""

    def __init__(self, problem: Problem, progress: Callable | None = None):
        self.problem = problem
        self.progress = progress
        # warm start of every solve: the steady state of the last accepted iterate, never that of
        # a rejected line-search trial: a hall can have several steady states, and a far trial's
        # state led the next, nearby trials onto another branch (study (b) on hall-small-s08: the
        # hottest intake 0.6 K higher from that start than from rest at the same powers)
        self.state = None
        self.accepted = None        # (value, gradient) of the last accepted iterate
        self._states = {}
        self.history = []
        self.failures = []
        self.cache = {}
        p = problem
        options = problem.options

        def total(params, initial):
            result = design.solve(p.scene.with_parameters(params), dtype=p.dtype, options=options, initial=initial)
            obj, penalty, info = p.objective_parts(result)
            return obj + penalty, (info, result.state, result.info.converged, result.rack_inlet_max)

        self._value_and_grad = jax.value_and_grad(total, has_aux=True)

    def values(self, u) -> dict:
        p = self.problem
        x = p.lower + (p.upper - p.lower) * np.asarray(u, float)
        return dict(zip(p.names, x))

    def _finite_difference(self, u, x):
        """Value and one-sided finite-difference gradient in the scaled variables: one steady
        solve at u, then one per parameter at u + h e_i (u - h e_i at the upper bound), each
        warm-started from the solve at u."""
        p = self.problem
        h = float(p.spec.finite_difference_step)

        def one(values, initial):
            params = {k: jnp.asarray(v, p.dtype) for k, v in values.items()}
            result = design.solve(p.scene.with_parameters(params), dtype=p.dtype, options=p.options, initial=initial)
            if not result.converged:
                raise NotConverged(f"the steady solve did not converge (change rates "
                                   f"{float(result.info.rate_velocity):.2g}, {float(result.info.rate_temperature):.2g} "
                                   f"after {int(result.info.steps)} steps)")
            obj, penalty, info = p.objective_parts(result)
            return float(obj + penalty), info, result

        value, info, result = one(x, self.state)
        g = np.zeros(len(p.names))
        u = np.asarray(u, float)
        for i in range(len(p.names)):
            step = h if u[i] + h <= 1.0 else -h
            shifted = u.copy()
            shifted[i] += step
            fi, _, _ = one(self.values(shifted), result.state)
            g[i] = (fi - value) / step
        return value, info, result.state, result.rack_inlet_max, g

    @staticmethod
    def _key(u) -> tuple:
        return tuple(np.round(np.asarray(u, float), 14))

    def __call__(self, u):
        key = self._key(u)
        if key in self.cache:
            return self.cache[key]
        p = self.problem
        x = self.values(u)
        params = {k: jnp.asarray(v, p.dtype) for k, v in x.items()}
        start = time.perf_counter()
        try:
            if getattr(p.spec, "gradient", "adjoint") == "finite_difference":
                value, info, state, inlet_max, g = self._finite_difference(u, x)
            else:
                (value, (info, state, converged, inlet_max)), grad = self._value_and_grad(params, self.state)
                if not bool(converged):
                    raise NotConverged("the steady solve did not converge")
                g = np.array([float(grad[n]) for n in p.names]) * (p.upper - p.lower)
        except (AdjointNotConverged, NotConverged) as error:
            failure = {"evaluation": len(self.history) + len(self.failures) + 1, "failed": str(error).splitlines()[0],
                       "parameters": {k: float(v) for k, v in x.items()}, "seconds": time.perf_counter() - start}
            self.failures.append(failure)
            if self.progress is not None:
                self.progress(failure)
            o = p.options
            raise NotConverged(f"an evaluation has no gradient: {failure['failed']} (steady solve: change rates "
                               f"below {o.tol:g} within {o.max_steps} steps; adjoint to {o.adjoint_tol:g}); try a "
                               "coarser cell, a looser optimize.tolerance, more optimize.max_steps or tighter "
                               "bounds") from error
        self._states[key] = (state, float(value), g)
        if self.state is None:
            # the first point is accepted by definition
            self.state, self.accepted = state, (float(value), g)
        record = {"evaluation": len(self.history) + 1, "value": float(value),
                  **{k: float(v) for k, v in info.items()}, "rack_inlet_max_C": [float(t) for t in inlet_max],
                  "parameters": {k: float(v) for k, v in x.items()}, "seconds": time.perf_counter() - start,
                  "gradient_norm": float(np.linalg.norm(g))}
        self.history.append(record)
        if self.progress is not None:
            self.progress(record)
        self.cache = {key: (float(value), g)}
        return float(value), g

    def accept(self, u):
        """The optimizer moved to ``u`` (an evaluated point): later solves start from its state."""
        key = self._key(u)
        if key in self._states:
            self.state, *accepted = self._states[key]
            self.accepted = tuple(accepted)
        self._states = {}

    def or_failed_step(self, u):
        """``self(u)``, except that a trial whose steady solve (or adjoint) does not converge
        returns a value far above the accepted point's (with its gradient), so that a line search
        (L-BFGS-B's) backs off from it as the projected-gradient search does."""
        try:
            return self(u)
        except NotConverged:
            if self.accepted is None:      # the starting point itself: nothing to back off to
                raise
            value, g = self.accepted
            return value + 1e3 * (1.0 + abs(value)), g


def project(problem: Problem, u: np.ndarray) -> np.ndarray:
    """Projection of scaled variables onto the bounds and, with fixed total power, onto the
    hyperplane of that total (bisection on a shift of the power variables)."""
    v = np.asarray(u, float)
    u = np.clip(v, 0.0, 1.0)
    if not (problem.spec.fixed_total_power and problem.power_names):
        return u
    idx = np.array([problem.names.index(n) for n in problem.power_names])
    lo, span = problem.lower[idx], problem.upper[idx] - problem.lower[idx]
    v = v[idx]      # the power variables unclipped: clipping before the shift loses where they were

    def total(shift):
        return float(np.sum(lo + span * np.clip(v - shift / span, 0.0, 1.0)))

    reach = (float(np.max(np.abs(v))) + 1.0) * float(np.max(span))     # any shift that matters lies within
    a, b = -reach, reach
    for _ in range(200):
        mid = 0.5 * (a + b)
        if total(mid) > problem.total_power:
            a = mid
        else:
            b = mid
    out = u.copy()
    out[idx] = np.clip(v - 0.5 * (a + b) / span, 0.0, 1.0)
    return out


def projected_gradient(evaluate: Evaluator, u0, iterations: int, step: float = 0.1):
    """Projected gradient descent with Armijo backtracking (scaled variables)."""
    p = evaluate.problem
    u = project(p, np.asarray(u0, float))
    f, g = evaluate(u)
    alpha = step / max(np.max(np.abs(g)), 1e-30)
    message = "reached max_iterations"
    for _ in range(iterations):
        for _ in range(8):
            trial = project(p, u - alpha * g)
            if np.max(np.abs(trial - u)) < 1e-9:
                return u, "converged: projected step below 1e-9"
            try:
                ft, gt = evaluate(trial)
            except NotConverged:
                # a trial point whose steady solve does not converge: a failed line-search step
                alpha *= 0.5
                continue
            if ft <= f - 1e-4 * float(np.dot(g, u - trial)):
                evaluate.accept(trial)
                break
            alpha *= 0.5
        else:
            return u, "line search failed (no decrease, or no converged trial, in 8 halvings)"
        u, f, g = trial, ft, gt
        alpha *= 1.5
    return u, message


def run(problem: Problem, progress: Callable | None = None, iterations: int | None = None):
    """Optimize; returns (values dict, history list, message)."""
    from scipy.optimize import minimize

    evaluate = Evaluator(problem, progress)
    x0 = np.array([float(problem.scene.values[n]) for n in problem.names])
    u0 = (x0 - problem.lower) / np.where(problem.upper > problem.lower, problem.upper - problem.lower, 1.0)
    iterations = iterations or problem.spec.max_iterations
    if problem.spec.method == "lbfgsb":
        out = minimize(evaluate.or_failed_step, u0, jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * len(u0),
                       options={"maxiter": iterations, "maxfun": 3 * iterations},
                       callback=lambda xk: evaluate.accept(xk))
        u, message = out.x, str(out.message)
    else:
        u, message = projected_gradient(evaluate, u0, iterations)
    # the answer is the best evaluation seen (L-BFGS-B ends on its last accepted iterate)
    best = min(evaluate.history, key=lambda r: r["value"])
    return best["parameters"], evaluate.history, message


# ---------------------------------------------------------------------------------
# writing the optimized scenario back
# ---------------------------------------------------------------------------------

def _round(x: float) -> float:
    return float(f"{x:.6g}")


def write_scenario(problem: Problem, values: dict, path) -> Path:
    """The scenario file with ``values`` written in (rows and tile rows expanded where
    their members differ), the optimize section kept; returns the path."""
    scene = problem.scene
    source = scene.scene.source
    raw = yaml.safe_load(Path(source).read_text())
    specs = scene.specs
    changed = {n: v for n, v in values.items()}
    applied = design.apply_values(scene.scene, specs, {**scene.concrete_values(), **changed})
    by_kind = {"rack": {r.name: r for r in applied.racks}, "cooler": {c.name: c for c in applied.coolers},
               "tile": {t.name: t for t in applied.tiles}, "containment": {c.name: c for c in applied.containment}}
    touched = {(specs[n].obj_kind, specs[n].obj_name) for n in changed}

    def dump(obj, keep=()):
        d = obj.model_dump(exclude_none=True)
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}

    # coolers and containment: field by field
    for section, kind in (("coolers", "cooler"), ("containment", "containment")):
        for item in raw.get(section) or []:
            if (kind, item["name"]) in touched:
                new = by_kind[kind][item["name"]]
                for n, v in changed.items():
                    s = specs[n]
                    if s.obj_kind == kind and s.obj_name == item["name"]:
                        if s.kind == "position":
                            item["position"] = [_round(x) for x in new.position[:len(item["position"])]]
                        else:
                            item[s.kind] = _round(v)
                            if kind == "cooler" and s.kind == "flow" and "rated_flow" not in item:
                                item["rated_flow"] = _round(new.rated_flow)
    # tiles: explicit ones field by field; a tile row with a changed member becomes explicit tiles
    tiles = list(raw.get("tiles") or [])
    for item in tiles:
        for n, v in changed.items():
            s = specs[n]
            if s.obj_kind == "tile" and s.obj_name == item["name"]:
                item[s.kind] = _round(v)
    rows = []
    for row in raw.get("tile_rows") or []:
        members = [t for t in applied.tiles if t.name.startswith(f"{row['name']}-")]
        if any(("tile", t.name) in touched for t in members):
            for t in members:
                d = {"name": t.name, "position": [_round(x) for x in t.position], "size": list(t.size),
                     "open_fraction": _round(t.open_fraction)}
                if t.loss_coefficient is not None:
                    d["loss_coefficient"] = t.loss_coefficient
                if t.jet_momentum:
                    d["jet_momentum"] = True
                tiles.append(d)
        else:
            rows.append(row)
    if tiles:
        raw["tiles"] = tiles
    if "tile_rows" in raw:
        raw["tile_rows"] = rows
    # racks: explicit ones field by field; rows get a power list, or become explicit racks if one moved
    racks = list(raw.get("racks") or [])
    for item in racks:
        new = by_kind["rack"][item["name"]]
        if ("rack", item["name"]) in touched:
            item["power"] = _round(new.power)
            item["position"] = [_round(x) for x in new.position[:len(item["position"])]]
    kept_rows = []
    for row in raw.get("rows") or []:
        names = row.get("names") or [f"{row['name']}{i + 1:02d}" for i in range(row["count"])]
        members = [by_kind["rack"][n] for n in names]
        moved = any(f"rack.{n}.position" in changed for n in names)
        if moved:
            for r in members:
                racks.append({"name": r.name, "position": [_round(x) for x in r.position], "size": list(r.size),
                              "facing": r.facing, "power": _round(r.power), "airflow": dump(r.airflow),
                              "blanking_leakage": r.blanking_leakage})
        else:
            if any(("rack", n) in touched for n in names):
                row["power"] = [_round(r.power) for r in members]
            kept_rows.append(row)
    if racks:
        raw["racks"] = racks
    if "rows" in raw:
        raw["rows"] = kept_rows
    raw["description"] = (str(raw.get("description", "")).strip() +
                          " Optimized by thermo optimize (see optimize.json).").strip()
    path = Path(path)
    header = f"# {raw['name']}: written by thermo optimize from {Path(source).name}\n"
    path.write_text(header + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    return path


def verify(path, problem: Problem, progress: Callable | None = None) -> dict:
    """A fresh forward solve (:func:`thermo.hall.solve`, float64, the study's cell size) of the written
    scenario; returns its summary and whether it meets the constraints."""
    import thermo.hall
    import thermo.scene

    scene = thermo.scene.load(path)
    cell = problem.spec.cell
    with jax.enable_x64(problem.dtype == np.float64):
        model = thermo.hall.build(scene, cell_size=cell, dtype=problem.dtype)
        result = thermo.hall.solve(model, progress=progress, capture_index=False, coarse_start=None)
    summary = result.summary
    inlet = [r["inlet_max_C"] for r in summary["racks"]]
    checks = {"converged": bool(result.converged)}
    if problem.limit is not None:
        checks["intake_limit_C"] = problem.limit
        checks["max_inlet_C"] = max(inlet) if inlet else None
        checks["intake_ok"] = bool(max(inlet) <= problem.limit) if inlet else True
    if problem.spec.capacity and summary["coolers"]:
        util = [c["utilization"] for c in summary["coolers"] if c["utilization"] is not None]
        checks["max_utilization"] = max(util) if util else None
        checks["capacity_ok"] = bool(all(u <= 1.0 for u in util))
    if problem.spec.fixed_total_power:
        checks["rack_heat_kW"] = summary["metrics"]["rack_heat_kW"]
    checks["satisfied"] = all(v for k, v in checks.items() if k.endswith("_ok") or k == "converged")
    return {"summary": summary, "checks": checks}
