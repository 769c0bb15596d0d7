"""Assays of isolated exosomes: western blots of the vesicle lysate, NTA and PKH dye uptake.

The vesicles measured are those of the well's conditioned medium at the time of the
assay, pelleted by ultracentrifugation (a fraction ``yield`` of them). Every vesicle
carries the cargo its donor cell loaded (model outputs, see the exosome module) plus
the constitutive membrane and ESCRT proteins of small EVs; mitochondrial proteins such
as cytochrome c are not loaded into exosomes (MISEV2018, Théry et al., J Extracell
Vesicles 2018, doi:10.1080/20013078.2018.1535750) and enter a preparation only as
debris of dead cells.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from exotwin import rng
from exotwin.cells.population import ALIVE, LATE_APOPTOTIC, PYROPTOTIC
from exotwin.culture.isolation import collect, ultracentrifuge
from exotwin.vesicles import sizes_nm


@dataclass(frozen=True)
class ExosomeMarkers:
    """Content of the identity markers in small EVs relative to whole-cell lysate.

    Attributes
    ----------
    ev_over_cell
        Band intensity per ug of EV protein over that per ug of cell lysate (dimensionless
        ratio). assumed values; direction from Kowal et al., PNAS 2016,
        doi:10.1073/pnas.1521230113 (CD63 and ALIX/syntenin enriched in small EVs, flotillin
        present in all EVs): CD63 10x, ALIX 5x, Flotillin-1 3x.
    debris_fraction
        Dead-cell protein pelleted with the vesicles, per ug of vesicle protein and per unit
        dead-cell fraction of the culture (ug/ug, dimensionless). assumed: 0.02 (the 2,000 g
        / 10,000 g pre-spins remove most debris; MISEV2018).
    band_cv
        Densitometry noise of a band (CV, dimensionless). assumed: 0.15 as for cell
        westerns.
    """

    ev_over_cell: dict[str, float] = field(
        default_factory=lambda: {"CD63": 10.0, "ALIX": 5.0, "Flotillin-1": 3.0}
    )
    debris_fraction: float = 0.02
    band_cv: float = 0.15


CARGO_TARGETS = ("ERp44", "GRP78", "LMP1")
MARKER_TARGETS = ("CD63", "ALIX", "Flotillin-1", "cytochrome c")


class ExosomeWesternOptions(BaseModel):
    """Options of the ``exosome_western`` assay."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    targets: list[str] = Field(min_length=1)
    isolation_yield: float = Field(0.3, gt=0.0, lt=1.0)

    @field_validator("targets")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        unknown = [t for t in v if t not in (*CARGO_TARGETS, *MARKER_TARGETS)]
        if unknown:
            raise ValueError(f"unknown exosome target {unknown[0]!r}; known: "
                             f"{', '.join((*CARGO_TARGETS, *MARKER_TARGETS))}")  # fmt: skip
        return v


def _medium_pellet(well, isolation_yield: float):
    medium = collect("well", well.vesicles, well.volume_ml, well.drugs)
    pellet, _ = ultracentrifuge(medium, isolation_yield)
    return pellet


def exosome_western(well, options: ExosomeWesternOptions, seed: int, sample_id: int,
                    markers: ExosomeMarkers | None = None) -> dict[str, float]:  # fmt: skip
    """Bands of the exosome lysate.

    Cargo targets (ERp44, GRP78, LMP1) are reported relative to Flotillin-1 of the same lane
    (``<target>/Flotillin-1``), i.e. per vesicle. Markers are reported as the EV lane over
    a whole-cell lysate lane loaded with equal protein (``<marker> EV/cell``).
    """
    markers = markers or ExosomeMarkers()
    pellet = _medium_pellet(well, options.isolation_yield)
    targets = list(options.targets)
    keys = np.array([sample_id * 64 + 32 + i for i in range(2 * len(targets) + 1)],
                    dtype=np.uint64)  # fmt: skip
    noise = rng.lognormal_factor(seed, "measurement_noise", keys, markers.band_cv, step=5)
    flotillin = noise[-1]
    counts = well.population.counts
    dead = counts[:, [LATE_APOPTOTIC, PYROPTOTIC]].sum() / max(1, counts[:, :4].sum())
    out: dict[str, float] = {}
    for i, t in enumerate(targets):
        if pellet.particles <= 0:
            out[f"{t}/Flotillin-1" if t in CARGO_TARGETS else f"{t} EV/cell"] = float("nan")
        elif t in CARGO_TARGETS:
            out[f"{t}/Flotillin-1"] = pellet.per_vesicle(t) * noise[i] / flotillin
        else:
            ev = markers.ev_over_cell.get(t, 0.0) + markers.debris_fraction * dead
            out[f"{t} EV/cell"] = ev * noise[i] / noise[len(targets) + i]
    return out


@dataclass(frozen=True)
class NTAParameters:
    """Nanoparticle tracking analysis (NanoSight NS300-like).

    Attributes
    ----------
    tracks
        Particle tracks sized per sample (count). assumed: 2000 (five 60 s videos).
    sizing_cv
        Relative error of one track's diameter from Brownian-motion estimation
        (dimensionless). assumed: 0.1 (Filipe et al., Pharm Res 2010,
        doi:10.1007/s11095-010-0073-2).
    detection_nm
        Diameter at which half of the vesicles scatter enough to be tracked (nm). assumed:
        50 nm for EVs in scatter mode (Filipe et al. 2010: lower limit ~30-50 nm).
    resuspension_ml
        PBS volume the pellet is resuspended in (mL). assumed: 0.1 mL.
    """

    tracks: int = 2000
    sizing_cv: float = 0.1
    detection_nm: float = 50.0
    resuspension_ml: float = 0.1


class NTAOptions(BaseModel):
    """Options of the ``nta`` assay."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    isolation_yield: float = Field(0.3, gt=0.0, lt=1.0)


def nta(well, options: NTAOptions, seed: int, sample_id: int, vesicle_params,
        params: NTAParameters | None = None) -> dict[str, float]:  # fmt: skip
    """Size distribution summary and concentration of the pelleted vesicles."""
    params = params or NTAParameters()
    pellet = _medium_pellet(well, options.isolation_yield)
    n = 3 * params.tracks  # candidates, thinned by detection below
    ids = np.arange(n, dtype=np.uint64) + np.uint64(sample_id) * np.uint64(1 << 20)
    true = sizes_nm(vesicle_params, rng.uniform(seed, "measurement_noise", ids, step=6))
    seen = rng.uniform(seed, "measurement_noise", ids, step=7) < 1.0 / (
        1.0 + (params.detection_nm / true) ** 6)  # fmt: skip
    sized = true * rng.lognormal_factor(seed, "measurement_noise", ids, params.sizing_cv, step=8)
    d = np.sort(sized[seen][: params.tracks])
    if pellet.particles <= 0:  # nothing to track: no size distribution
        nan = float("nan")
        return {k: nan for k in ("NTA mode (nm)", "NTA mean (nm)", "NTA D10 (nm)",
                                 "NTA D50 (nm)", "NTA D90 (nm)")} | {"NTA particles/mL": 0.0}
    # mode as NTA software reports it: peak of a smoothed histogram (5 nm bins)
    hist, edges = np.histogram(d, bins=np.arange(0.0, 1000.0 + 5.0, 5.0))
    smooth = np.convolve(hist, np.ones(5) / 5.0, mode="same")
    mode = float(edges[np.argmax(smooth)] + 2.5)
    return {
        "NTA mode (nm)": mode,
        "NTA mean (nm)": float(d.mean()),
        "NTA D10 (nm)": float(np.quantile(d, 0.1)),
        "NTA D50 (nm)": float(np.quantile(d, 0.5)),
        "NTA D90 (nm)": float(np.quantile(d, 0.9)),
        "NTA particles/mL": pellet.particles / params.resuspension_ml,
    }


class UptakeOptions(BaseModel):
    """Options of the ``pkh67_uptake`` assay (confocal images of fixed cells).

    ``dye`` is the membrane dye scored: the ``label`` of the exosomes treatment.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    dye: Literal["PKH67", "PKH26"] = "PKH67"
    cells: int = Field(200, gt=0)
    threshold_vesicles: float = Field(20.0, gt=0.0)
    uptake_cv: float = Field(0.8, ge=0.0)


class PKH26UptakeOptions(UptakeOptions):
    """Options of the ``pkh26_uptake`` assay: as ``pkh67_uptake``, scoring PKH26."""

    dye: Literal["PKH67", "PKH26"] = "PKH26"


def pkh67_uptake(well, options: UptakeOptions, seed: int, sample_id: int) -> dict[str, float]:
    """Share of counted cells with dye (PKH67 or PKH26) puncta above the detection threshold.

    The vesicles labelled with ``options.dye`` taken up so far (the dye's ledger in the
    medium) are shared among the living cells with lognormal cell-to-cell variation
    (``uptake_cv``, assumed 0.8: EV uptake is very heterogeneous between cells); a cell
    is scored positive when it holds at least ``threshold_vesicles`` labelled vesicles
    (assumed 20: single 100 nm vesicles are near the confocal detection limit, clusters
    are seen).
    """
    dye = options.dye
    ledger = well.vesicles.cargo_ledger.get(dye, {})
    living = float(well.population.count(ALIVE))
    mean = ledger.get("taken_up", 0.0) / living if living > 0 else 0.0
    ids = np.arange(options.cells, dtype=np.uint64) + np.uint64(sample_id) * np.uint64(1 << 20)
    per_cell = mean * rng.lognormal_factor(seed, "measurement_noise", ids, options.uptake_cv,
                                           step=9)  # fmt: skip
    positive = float(np.mean(per_cell >= options.threshold_vesicles)) * 100.0
    return {f"{dye}+ cells (%)": positive, f"{dye} vesicles per cell": mean}
