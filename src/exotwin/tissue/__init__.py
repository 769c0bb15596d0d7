"""Spatial tissue engine: diffusing substances on a Cartesian grid (cells to follow).

:mod:`.diffusion` owns the diffusion-reaction solver of many substances at once
(exosome cargo, cisplatin, oxygen): implicit LOD splitting with prefactored Thomas
sweeps, cell secretion and uptake, decay, and per-face boundaries.
"""

from exotwin.tissue.diffusion import (
    FACES,
    ZERO_FLUX,
    Dirichlet,
    Grid,
    Ledger,
    Sources,
    Substance,
    Substances,
    factor,
    run,
    step,
    step_with_ledger,
    total,
)

__all__ = [
    "FACES",
    "ZERO_FLUX",
    "Dirichlet",
    "Grid",
    "Ledger",
    "Sources",
    "Substance",
    "Substances",
    "factor",
    "run",
    "step",
    "step_with_ledger",
    "total",
]
