"""Shared test fixtures.

``x64`` runs a test with 64-bit floats enabled through JAX's scoped context
manager, so the setting never leaks into other tests.
"""

import jax
import pytest


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield
