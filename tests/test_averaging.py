"""Averages over pseudo-time for halls that do not settle (the statistically steady outcome)."""

import numpy as np
import pytest

from thermo import hall
from thermo.cases.gradient_check import CHANNEL, as_arrays, heated_channel
from thermo.solve import Numerics, Solver, _field_sum, average_state


def test_a_chunk_sums_the_fields_after_every_step(x64):
    problem = heated_channel(as_arrays(CHANNEL, np.float64))
    solver = Solver(problem, Numerics(), chunk=5)
    state = solver.initial_state()
    start, summed = state, None
    for _ in range(5):
        state, _ = solver.run_chunk(state, 1)
        fields = _field_sum(state)
        summed = fields if summed is None else tuple(a + b for a, b in zip(summed, fields))
    again, diag = solver.run_chunk(start, 5, accumulate=True)
    for a, b in zip(diag["field_sum"], summed):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=1e-12)
    mean = average_state(again, diag["field_sum"], 5)
    np.testing.assert_allclose(np.asarray(mean.temperature), np.asarray(summed[4]) / 5, rtol=1e-12)
    assert float(mean.time) == float(again.time)
    _, plain = solver.run_chunk(start, 5)
    assert "field_sum" not in plain


class _FakeState:
    """Just enough of a State for :class:`hall._Averages`: one 'field' per probe value."""

    def __init__(self, value):
        self.value = value

    def replace(self, **fields):
        return _FakeState(fields["temperature"])


def _feed(averages, values_per_chunk, balance=0.0, chunk=100):
    """Chunks whose every step has the given probe values; returns the step at which a
    window ended steady (None if none did)."""
    def probe(state):
        return np.asarray(state.value), balance

    for k, values in enumerate(values_per_chunk):
        v = np.asarray(values, float)
        zero = np.zeros_like(v)
        diag = {"field_sum": (zero, zero, zero, zero, v * chunk, zero, zero)}
        if averages.add(_FakeState(v), diag, chunk, v, probe) and averages.steady(0.25):
            return (k + 1) * chunk
    return None


def test_consecutive_window_averages_decide_statistical_steadiness():
    # two racks (mean, max) oscillating by +-1 K about a fixed mean: steady after two windows
    swing = [[20 + s, 25 + s, 21 - s, 26 - s] for s in np.tile([1.0, -1.0], 10)]
    averages = hall._Averages(1000, 100, 2)
    assert _feed(averages, swing) == 2000
    mean = averages.mean_state(_FakeState(None))
    np.testing.assert_allclose(mean.value, [20, 25, 21, 26])
    assert averages.summary["steps"] == 2000
    assert averages.reason({"rate_velocity": 1.0, "rate_temperature": 0.5}).startswith("statistically steady")
    # the same oscillation on a drift of 1 K per 1000 steps: never steady
    drifting = [[v + 0.1 * k for v in row] for k, row in enumerate(swing)]
    averages = hall._Averages(1000, 100, 2)
    assert _feed(averages, drifting) is None
    assert averages.last_change == pytest.approx(1.0)
    assert averages.oscillating        # what makes the hall driver switch local time stepping off
    # steady intakes but an energy balance off by 1 %: not an answer
    assert _feed(hall._Averages(1000, 100, 2), swing, balance=1.0) is None
    # a swing that dies out (+-1 K, then +-0.2 K) is a run converging, not a statistically steady one
    amplitude = [s * (1.0 if k < 10 else 0.2) for k, s in enumerate(np.tile([1.0, -1.0], 10))]
    decaying = [[20 + a, 25 + a, 21, 26] for a in amplitude]
    averages = hall._Averages(1000, 100, 2)
    assert _feed(averages, decaying) is None and not averages.oscillating


def test_averaging_starts_after_one_window_and_can_be_switched_off():
    assert not hall._Averages(2000, 100, 1).active(1900)
    assert hall._Averages(2000, 100, 1).active(2000)
    assert not hall._Averages(0, 100, 1).active(10 ** 6)
    assert not hall._Averages(2000, 100, 1, start=6000).active(7900)    # restarted after a change of scheme
    assert hall._Averages(2000, 100, 1, start=6000).active(8000)


def test_report_and_terminal_say_what_an_averaged_answer_is():
    from thermo.cli import averaged_text
    from thermo.io import report

    averaged = {"steps": 4000, "window_steps": 2000, "window_change_K": 0.124, "energy_balance_pct_of_windows": -0.1,
                "rack_inlet_mean_range_C": {"A01": [26.53, 27.55], "A02": [22.49, 23.22]},
                "rack_inlet_max_range_C": {"A01": [29.0, 31.5], "A02": [27.9, 29.1]}}
    text = averaged_text(averaged)
    assert "averages over the last 4,000 steps" in text and "A01: 29.0 to 31.5 C" in text
    md = report.render_report({"scenario": "s", "racks": [], "solver": {"averaged": averaged, "converged": True}})
    assert "averages over the last 4000 steps" in md
    assert "| A01 | 26.53 - 27.55 | 29.00 - 31.50 |" in md


def test_local_step_limit_cycle_tells_jumps_that_persist_from_a_decay():
    window, tol = 10, 0.05
    # hall-small at 0.1 m, zero-equation, local steps: intakes jump ~0.3-0.5 K per chunk and keep doing so
    cycle = [2.0] * 10 + [0.3] * 10 + [0.5] * 10
    assert hall.local_step_limit_cycle(cycle, window, tol)
    assert not hall.local_step_limit_cycle(cycle[:-1], window, tol)     # judged from 3 windows on
    # the mixing-length run under the same steps: the jumps shrink by 3x per window while settling
    assert not hall.local_step_limit_cycle([2.0] * 10 + [0.09] * 10 + [0.03] * 10, window, tol)
    # a decay by more than half per window is a decay, even with large jumps
    assert not hall.local_step_limit_cycle([2.0] * 10 + [1.0] * 10 + [0.45] * 10, window, tol)
    # jumps that persist but average under 2 x monitor_tolerance are left to the settled test
    assert not hall.local_step_limit_cycle([2.0] * 10 + [0.09] * 10 + [0.09] * 10, window, tol)
