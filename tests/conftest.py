"""Shared test setup: every test, and every notebook the tests execute, runs under the `quick` preset."""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("FITLAM_PRESET", "quick")


@pytest.fixture
def root() -> Path:
    "The checkout under test."
    return ROOT
