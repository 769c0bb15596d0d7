"""Helpers for the analysis tests: the command line in-process, virtual FCS files."""

import contextlib
import io
from pathlib import Path

import numpy as np

from exotwin.assays import flow
from exotwin.cells.population import ALIVE, EARLY_APOPTOTIC, LATE_APOPTOTIC, PYROPTOTIC
from exotwin.cli import main


def run_cli(*args) -> tuple[int, str, str]:
    """Run ``exotwin`` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code or 0
    return code, out.getvalue(), err.getvalue()


def fate_counts(n: int, early: float, late: float, pyro: float = 0.0) -> np.ndarray:
    """Counts (n agents x 5 fates) of one cell per agent with the given fate fractions."""
    fates = np.full(n, ALIVE, dtype=np.int8)
    a, b, c = int(n * early), int(n * (early + late)), int(n * (early + late + pyro))
    fates[:a], fates[a:b], fates[b:c] = EARLY_APOPTOTIC, LATE_APOPTOTIC, PYROPTOTIC
    return np.eye(5, dtype=np.int64)[fates]


def virtual_fcs(path: Path, early: float, late: float, n_events: int = 4000, seed: int = 1,
                sample_id: int = 1) -> tuple[Path, np.ndarray]:
    """Write a virtual Annexin V/7-AAD FCS file; returns (path, fate of every event)."""
    data, fate = flow.events(fate_counts(2000, early, late), n_events, seed, sample_id)
    return flow.write_fcs(path, data, {"exotwin_seed": str(seed)}), fate


def outputs(directory: Path) -> set[str]:
    """Names of the files in a directory (empty set when it does not exist)."""
    return {p.name for p in directory.iterdir()} if directory.exists() else set()


def read_or_one_line_error(read, path: Path):
    """``read(path)``, or None when it raises a one-line ExotwinError naming the file."""
    from exotwin.errors import ExotwinError

    try:
        return read(path)
    except ExotwinError as exc:
        assert "\n" not in str(exc) and Path(path).name in str(exc)
        return None
