"""Annexin V-PE / 7-AAD flow cytometry: events from cell fates, written as FCS 3.1.

Each event is a cell drawn from the well (removed cells are gone). Its fluorescence is
lognormal around the level of its fate: living cells show autofluorescence only; early
apoptotic cells expose phosphatidylserine (Annexin V+); late apoptotic (secondary
necrotic) and pyroptotic cells have open membranes (Annexin V+ and 7-AAD+; pyroptotic
pores also admit Annexin V, Wang et al., Nature 2017, doi:10.1038/nature22393). PE
spills into the 7-AAD detector; the spillover matrix is stored in the file (``SPILL``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import flowio
import numpy as np

from exotwin import rng
from exotwin.atomic import atomic_path
from exotwin.cells.population import (
    ALIVE,
    EARLY_APOPTOTIC,
    LATE_APOPTOTIC,
    PYROPTOTIC,
    REMOVED,
)

CHANNELS = ("FSC-A", "SSC-A", "PE-A", "7-AAD-A")


@dataclass(frozen=True)
class FlowParameters:
    """Fluorescence levels and instrument settings.

    Attributes
    ----------
    annexin_neg, annexin_pos
        Median Annexin V-PE fluorescence of negative and positive cells (a.u.). assumed: 100
        and 5000, typical of a 4-decade log scale (negative populations near 1e2, positive
        near 5e3).
    aad_neg, aad_pos
        Median 7-AAD fluorescence of negative and positive cells (a.u.). assumed: 60 and
        3000, as above.
    log_sd
        Log-SD of a population's fluorescence (dimensionless). assumed: 0.35, the usual
        width of a stained population on a log scale.
    fsc_live, ssc_live
        Median forward and side scatter of living cells (a.u.). assumed: 1e5 and 3e4,
        arbitrary mid-range values (no instrument's scale is modelled).
    spill_pe_to_aad, spill_aad_to_pe
        Spillover of PE into the 7-AAD detector and of 7-AAD into the PE detector (fraction
        of the dye's signal in its own detector). assumed: 0.15 and 0.02; PE's emission tail
        reaches the 7-AAD/PerCP detector.
    """

    annexin_neg: float = 100.0
    annexin_pos: float = 5000.0
    aad_neg: float = 60.0
    aad_pos: float = 3000.0
    log_sd: float = 0.35
    fsc_live: float = 1.0e5
    ssc_live: float = 3.0e4
    spill_pe_to_aad: float = 0.15
    spill_aad_to_pe: float = 0.02


def spillover_matrix(p: FlowParameters) -> np.ndarray:
    """Rows: dyes (PE, 7-AAD); columns: detectors (PE-A, 7-AAD-A)."""
    return np.array([[1.0, p.spill_pe_to_aad], [p.spill_aad_to_pe, 1.0]])


def spill_keyword(p: FlowParameters | None = None) -> str:
    """The ``SPILL`` keyword value (n, detector names, row-major matrix) of the instrument."""
    s = spillover_matrix(p or FlowParameters())
    return ",".join(["2", "PE-A", "7-AAD-A", *(repr(float(v)) for v in s.ravel())])


def events(
    counts: np.ndarray, n_events: int, seed: int, sample_id: int, p: FlowParameters | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Sample events from a well's cells.

    Parameters
    ----------
    counts
        Cells per agent and fate, shape ``(n_agents, 5)`` (``Population.counts``).
    n_events
        Events to acquire (cells are drawn with replacement, removed cells excluded).
    seed, sample_id
        Key of this sample's random streams.
    p
        Fluorescence and instrument parameters.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Event matrix ``(n_events, 4)`` in :data:`CHANNELS` order (float32, as acquired,
        uncompensated), and the fate of each event's cell ``(n_events,)``.
    """
    p = p or FlowParameters()
    visible = np.asarray(counts)[:, :REMOVED].astype(float)  # fates ALIVE..PYROPTOTIC
    total = visible.sum()
    if total == 0:
        return np.zeros((0, len(CHANNELS)), dtype=np.float32), np.zeros(0, dtype=np.int8)
    idx = np.arange(n_events, dtype=np.uint64)
    base = np.uint64(sample_id) * np.uint64(1 << 24)  # up to 2**24 events per sample
    pick = rng.uniform(seed, "event_sampling", base + idx, step=1)
    cumulative = np.cumsum(visible.ravel())
    flat = np.searchsorted(cumulative, pick * total, side="right")
    fate = (flat % visible.shape[1]).astype(np.int8)
    annexin_on = fate != ALIVE
    aad_on = np.isin(fate, (LATE_APOPTOTIC, PYROPTOTIC))
    z = [rng.normal(seed, "measurement_noise", base + idx, step=2 + c) for c in range(4)]
    shrink = np.where(fate == EARLY_APOPTOTIC, 0.7, np.where(fate == PYROPTOTIC, 1.3, 1.0))
    fsc = p.fsc_live * shrink * np.exp(0.15 * z[0])
    ssc = p.ssc_live * np.where(annexin_on, 1.3, 1.0) * np.exp(0.2 * z[1])
    pe = np.where(annexin_on, p.annexin_pos, p.annexin_neg) * np.exp(p.log_sd * z[2])
    aad = np.where(aad_on, p.aad_pos, p.aad_neg) * np.exp(p.log_sd * z[3])
    detected = np.stack([pe, aad], axis=1) @ spillover_matrix(p)
    data = np.column_stack([fsc, ssc, detected]).astype(np.float32)
    return data, fate


def write_fcs(path: str | Path, data: np.ndarray, metadata: dict[str, str] | None = None,
              p: FlowParameters | None = None) -> Path:  # fmt: skip
    """Write events as an FCS 3.1 file (atomically), with the spillover in ``SPILL``."""
    meta = {"spill": spill_keyword(p), **(metadata or {})}
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        flowio.create_fcs(fh, data.astype(np.float32).ravel().tolist(), list(CHANNELS),
                          metadata_dict=meta)  # fmt: skip
    return Path(path)
