"""Coarse versions of the validation cases (``python -m validation`` runs the full ones).

Each test solves a real case and compares a physical quantity with published
data, or with theory, under a tolerance that fits its coarse grid.  Cases that
need float64 run inside ``jax.enable_x64(True)``, which does not leak into
other test files; solutions are cached, and the cavities share one grid shape
so that the compiled step is reused.
"""

from __future__ import annotations

import functools

import jax
import numpy as np
import pytest

from validation.cases import conservation, de_vahl_davis, ghia, multigrid, taylor_green
from validation.reference import load


def in_float64(function):
    """Run ``function`` with float64 enabled (scoped, not global) and cache its result."""
    @functools.lru_cache(maxsize=None)
    @functools.wraps(function)
    def wrapped(*args):
        with jax.enable_x64(True):
            return function(*args)
    return wrapped


@in_float64
def cavity(rayleigh, cells, precision="f64"):
    return de_vahl_davis.solve(rayleigh, cells, 1.0, np.float64 if precision == "f64" else np.float32)


@in_float64
def lid_cavity(reynolds, cells):
    return ghia.solve(reynolds, cells)


@in_float64
def taylor_green_runs(sizes):
    return [taylor_green.run_resolution(n) for n in sizes]


@in_float64
def conservation_box(shape):
    return conservation.solve(shape, tol=1e-5)[0]


@in_float64
def iteration_counts(sizes):
    return [multigrid.count_iterations(n).iterations for n in sizes]


def relative_error(value, reference):
    return abs(value - reference) / abs(reference)


@pytest.mark.parametrize("rayleigh, cells, tolerance", [(1e3, 32, 0.02), (1e4, 32, 0.03)])
def test_de_vahl_davis(rayleigh, cells, tolerance):
    result = cavity(rayleigh, cells)
    ref = load(de_vahl_davis.REFERENCE).row("Ra", rayleigh)
    assert result.converged
    for name, value, key in (("Nu_avg", result.nu_avg, "Nu_avg"), ("Nu_0", result.nu_0, "Nu_0_hotwall"),
                             ("u_max", result.u_max, "u_max"), ("v_max", result.v_max, "v_max")):
        error = relative_error(value, ref[key])
        assert error <= tolerance, f"Ra={rayleigh:g} {name} = {value:.4f}, de Vahl Davis {ref[key]}: {error:.2%} off"


def test_float32_agrees_with_float64():
    single = cavity(1e3, 32, "f32")
    double = cavity(1e3, 32, "f64")
    assert single.converged
    error = relative_error(single.nu_avg, double.nu_avg)
    assert error <= 0.005, f"Nu_avg float32 {single.nu_avg:.5f} vs float64 {double.nu_avg:.5f}: {error:.3%} apart"
    assert relative_error(single.u_max, double.u_max) <= 0.005


def test_ghia_re100():
    result = lid_cavity(100, 32)
    assert result.converged
    error_u, error_v = result.max_errors()
    assert error_u <= 0.02, f"max |u - u_Ghia| = {error_u:.4f} (lid speed 1)"
    assert error_v <= 0.02, f"max |v - v_Ghia| = {error_v:.4f} (lid speed 1)"


def test_taylor_green_order():
    runs = taylor_green_runs((16, 32))
    errors = [(r.velocity_error, r.temperature_error) for r in runs]
    assert all(e[0] < 0.02 and e[1] < 0.02 for e in errors), errors
    for name in ("velocity_error", "temperature_error"):
        orders = taylor_green.observed_orders(runs, name)
        assert orders[0] >= taylor_green.MIN_ORDER, f"{name}: observed order {orders[0]:.2f} on 16/32"


def test_conservation():
    balance = conservation_box((16, 8, 8))
    assert balance.converged
    assert balance.mass_imbalance < 1e-6, f"mass imbalance {balance.mass_imbalance:.2e} of the throughflow"
    assert balance.energy_imbalance < 1e-3, f"energy imbalance {balance.energy_imbalance:.2e} of the source"
    # the source heats the air by P / (rho cp Q): the outflow must carry it
    assert balance.enthalpy_out > balance.enthalpy_in


def test_multigrid_iterations_do_not_grow():
    counts = iteration_counts((16, 32, 64))
    assert max(counts) / min(counts) <= 1.5, f"CG iterations {counts} on 16^3/32^3/64^3"
