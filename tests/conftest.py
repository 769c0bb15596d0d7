"""Shared test settings: a per-session kernel cache and the heavy-test scale."""

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
if not SHARED.is_dir():  # CI clones main with shared/ beside it
    SHARED = Path(os.environ.get("EXOTWIN_SHARED", "/work/shared"))


def heavy_scale() -> float:
    """Fraction of full size for tests marked ``heavy`` (1.0 = full; default 0.1)."""
    return float(os.environ.get("EXOTWIN_HEAVY_SCALE", "0.1"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return SHARED


@pytest.fixture
def one_numba_thread():
    """One numba thread for the test: pytest -n 2 already fills both cores (OpenMP's
    spinning threads make oversubscription very slow); thread tests set their own counts."""
    import numba

    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(previous)
