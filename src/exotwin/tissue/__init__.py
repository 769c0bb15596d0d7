"""Spatial tissue engine: diffusing substances on a Cartesian grid and cell agents.

:mod:`.diffusion` owns the diffusion-reaction solver of many substances at once
(exosome cargo, cisplatin, oxygen): implicit LOD splitting with prefactored Thomas
sweeps, cell secretion and uptake, decay, and per-face boundaries. :mod:`.agents` owns
the cells (PhysiCell's standard centre-based mechanics on cell lists, division, death,
removal), :mod:`.checkpoint` the atomic whole-state checkpoints, :mod:`.scenario`
a minimal runner coupling them with three time steps, :mod:`.coupling` the cells'
intracellular models and their substance <-> species maps, and :mod:`.output` the Zarr
snapshots, images and animation.
"""

from exotwin.tissue.agents import Agents, MechanicsParams, divide, kill, mechanics_step, remove
from exotwin.tissue.checkpoint import SimulationState, load, save
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
    "Agents",
    "MechanicsParams",
    "SimulationState",
    "divide",
    "kill",
    "load",
    "mechanics_step",
    "remove",
    "save",
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
