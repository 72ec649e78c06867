"""Shared test setup: every test, and every notebook the tests execute, runs under the `quick` preset."""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("FITLAM_PRESET", "quick")
# Tests and notebook kernels run side by side (pytest-xdist, one per core) on tiny models: one math thread each
# is faster than several threads fighting over the same cores.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def root() -> Path:
    "The checkout under test."
    return ROOT
