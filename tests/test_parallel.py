"""Sharding over a device mesh (thermo.parallel) and the memory check (thermo.memory).

The sharded runs need several devices, which JAX on the CPU only fakes when
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` is set before it starts,
so they run tests/sharded_run.py in a subprocess.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

from thermo import cli, memory
from thermo.parallel import Layout, MeshError, check_divides, mesh_shape, parse_mesh

ROOT = Path(__file__).resolve().parents[1]
HALL_SMALL = ROOT / "geometries" / "hall-small.yaml"


def sharded_run(*args, timeout=600):
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "sharded_run.py"), *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def assert_matches(result, mesh, spec):
    run = result["meshes"][mesh]
    scale = result["max_abs"]
    assert result["devices"] == 4 and run["devices_used"] == 4, "the sharded run did not use 4 devices"
    assert run["temperature_sharding"] == spec
    assert run["steps"] == result["steps"] > 0
    # float32: only the order of the sums differs (dot products, maxima across devices)
    assert run["temperature"] < 1e-6 * scale["temperature"] + 1e-5, f"temperature off by {run['temperature']} K"
    assert run["velocity"] < 1e-5 * scale["velocity"], f"velocity off by {run['velocity']} m/s"
    assert run["pressure"] < 1e-4 * scale["pressure"], f"pressure off by {run['pressure']}"
    assert abs(run["poisson_iterations"] - result["poisson_iterations"]) <= 1


def test_sharded_cavity_matches_one_device():
    """30 steps of the bench cavity at 16^3 in slabs over 4 fake CPU devices."""
    result = sharded_run("cavity", 16, 30, "4x1x1")
    assert result["grid"] == [16, 16, 16]
    assert_matches(result, "4x1x1", "P('x',)")


@pytest.mark.slow
def test_sharded_implicit_steps_match_one_device():
    """Implicit pseudo-time steps: the line solves run along the sharded axis too (68 s,
    most of it compiling the sharded scans; passed 2026-11-27)."""
    result = sharded_run("cavity:implicit", 16, 30, "4x1x1")
    assert_matches(result, "4x1x1", "P('x',)")


@pytest.mark.slow
def test_sharded_hall_matches_one_device():
    """hall-small at 0.6 m (16 x 14 x 6) with its equipment coupling, slabs and pencils."""
    result = sharded_run(HALL_SMALL, 0.6, 40, "4x1x1", "2x2x1")
    assert_matches(result, "4x1x1", "P('x',)")
    assert_matches(result, "2x2x1", "P('x', 'y')")


def test_mesh_options_parse_and_refuse_bad_input():
    assert parse_mesh("4x1x1") == (4, 1, 1) and parse_mesh("2x2") == (2, 2, 1) and parse_mesh("8") == (8, 1, 1)
    assert mesh_shape(None, None) is None and mesh_shape(4, None) == (4, 1, 1)
    assert mesh_shape(4, "2x2x1") == (2, 2, 1)
    with pytest.raises(MeshError, match=r"--mesh 2x2x1 has 4 devices but --devices is 8"):
        mesh_shape(8, "2x2x1")
    for bad in ("4xa", "0x1x1", "1x1x1x1"):
        with pytest.raises(MeshError, match="--mesh"):
            parse_mesh(bad)
    with pytest.raises(MeshError, match=r"30 cells along x are not a multiple of 4 devices"):
        check_divides((4, 1, 1), (30, 8, 8))
    check_divides((2, 2, 1), (30, 8, 7))
    with pytest.raises(MeshError, match=rf"needs {len(jax.devices()) + 1} devices but only {len(jax.devices())}"):
        Layout.create((len(jax.devices()) + 1, 1, 1))


def test_layout_keeps_arrays_that_do_not_divide_whole():
    layout = Layout.create((1, 1, 1))
    assert layout.spec((8, 4, 2)) == jax.sharding.PartitionSpec(None, None, None)
    assert layout.spec((5,)) == jax.sharding.PartitionSpec()
    placed = layout.place({"a": np.ones((4, 4, 4), np.float32), "n": 3})
    assert placed["n"] == 3 and placed["a"].sharding.is_equivalent_to(layout.sharding((4, 4, 4)), 3)


def test_run_with_more_devices_than_available_is_a_clear_error(tmp_path, capsys):
    n = len(jax.devices("cpu"))
    rc = cli.main(["run", str(HALL_SMALL), "--cell", "0.6", "--devices", str(n + 3), "--out", str(tmp_path / "o")])
    assert rc == 2
    err = capsys.readouterr().err
    assert f"needs {n + 3} devices but only {n} cpu device(s)" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_memory_estimate_per_cell_and_device():
    assert memory.step_bytes_per_cell(4, 1) == memory.STEP_BYTES_PER_CELL_F32
    assert memory.step_bytes_per_cell(8, 1) == 2 * memory.STEP_BYTES_PER_CELL_F32
    # a slab mesh of 4 measured 222 bytes per cell of the whole grid on each device
    assert 200 < memory.step_bytes_per_cell(4, 4) < 250
    assert memory.estimate_bytes(10 ** 6, 4) == memory.FIXED_BYTES + 490 * 10 ** 6
    # implicit pseudo-time steps: thermo bench measured 637 B/cell at hall-small 0.1 m (371 explicit)
    assert memory.step_bytes_per_cell(4, 1, implicit=True) >= 637
    assert memory.estimate_bytes(10 ** 6, 4, implicit=True) > memory.estimate_bytes(10 ** 6, 4)


def test_check_refuses_before_building_and_names_the_grid(capsys, monkeypatch):
    def no_build(*args, **kwargs):
        raise AssertionError("the grid was built before the memory check")

    monkeypatch.setattr(cli, "available_memory_bytes", lambda device: 10 ** 9)
    monkeypatch.setattr(cli, "_build", no_build)
    rc = cli.main(["check", str(HALL_SMALL), "--cell", "0.05"])
    assert rc == 2
    err = " ".join(capsys.readouterr().err.split())
    match = re.search(r"needs about (\d+) bytes .* has 1000000000 bytes .* scenario hall-small at --cell 0.05 "
                      r"is 192 x 168 x 60 = 1,935,360 cells in float32", err)
    assert match, err
    assert int(match.group(1)) == memory.estimate_bytes(192 * 168 * 60, 4)
    assert "Traceback" not in err


@pytest.mark.slow
def test_two_processes_match_one_device(tmp_path):
    """--distributed: two processes of two CPU devices each (gloo collectives), mesh 4x1x1."""
    common = ["-m", "thermo", "run", str(HALL_SMALL), "--cell", "0.6", "--max-steps", "20", "--steady"]
    single = subprocess.run([sys.executable, *common, "--out", str(tmp_path / "one")], cwd=ROOT,
                            capture_output=True, text=True, timeout=900,
                            env={k: v for k, v in os.environ.items() if k != "XLA_FLAGS"})
    assert single.returncode == 0, single.stderr[-3000:]
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu",
               THERMO_COORDINATOR="localhost:12781", THERMO_NUM_PROCESSES="2")
    command = [sys.executable, *common, "--mesh", "4x1x1", "--distributed", "--out", str(tmp_path / "two")]
    procs = [subprocess.Popen(command, cwd=ROOT, env=dict(env, THERMO_PROCESS_ID=str(i)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in (1, 0)]
    outputs = [p.communicate(timeout=900) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outputs]
    assert "process 0 writes the outputs" in outputs[0][0]
    one = json.loads((tmp_path / "one" / "summary.json").read_text())
    two = json.loads((tmp_path / "two" / "summary.json").read_text())
    for a, b in zip(one["racks"], two["racks"]):
        assert abs(a["inlet_mean_C"] - b["inlet_mean_C"]) < 1e-4 and abs(a["exhaust_C"] - b["exhaust_C"]) < 1e-4
    assert abs(one["energy_balance_pct"] - two["energy_balance_pct"]) < 1e-3
