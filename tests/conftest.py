"""Shared test fixtures.

``x64`` runs a test with 64-bit floats enabled through JAX's scoped context
manager, so the setting never leaks into other tests.
"""

import os
import shutil
import tempfile

import jax
import pytest

# The command line keeps compiled programs in ~/.cache/thermo/xla between runs; the suite calls
# it in-process and in subprocesses, and must neither write there nor depend on what is there.
os.environ["THERMO_COMPILE_CACHE"] = "off"

# The suite has a compilation cache of its own, empty at the start of every session and shared
# by the xdist workers (they inherit the controller's environment) and the subprocesses: many
# tests build a hall of their own whose step is the program another test compiled already (a new
# model is a new coupling closure, so JAX's in-memory cache misses it, but the program is the
# same); they load it instead of compiling it.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="thermo-tests-xla-")
    os.environ["THERMO_TESTS_OWN_CACHE"] = os.environ["JAX_COMPILATION_CACHE_DIR"]
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])


def pytest_unconfigure(config):
    own = os.environ.get("THERMO_TESTS_OWN_CACHE")
    if own and not hasattr(config, "workerinput"):      # the controller (or a run without workers)
        shutil.rmtree(own, ignore_errors=True)


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


# The suite runs on two pytest-xdist workers, one test file at a time each (`--dist loadfile`),
# and a file is handed to whichever worker is free.  In the alphabetical order a heavy file that
# comes last (test_validation_quick, ~150 s) can run alone while the other worker idles; the
# heaviest files go first (longest-first scheduling), the rest keep their order.  Costs in s under
# two workers, 2026-11-28: hall ~160, validation_quick ~150, adjoint ~140, cli ~110, parallel ~85,
# local_time_step ~60, boundaries ~50, fields ~45, fas ~45, liquid ~45.
HEAVIEST_FIRST = ("test_hall.py", "test_newton.py", "test_validation_quick.py", "test_adjoint.py", "test_cli.py", "test_parallel.py",
                  "test_local_time_step.py", "test_boundaries.py", "test_fields.py", "test_fas.py", "test_liquid.py")


def pytest_collection_modifyitems(session, config, items):
    rank = {name: k for k, name in enumerate(HEAVIEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))   # stable: a file's tests keep their order
