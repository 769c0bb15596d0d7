"""Microscopy: cells counted in fields of view, classified by what a stain or the eye shows.

A field holds ``Poisson(visible cells x field area / well area)`` cells; removed (detached,
fragmented) cells are gone, every other cell of the well lies on the plate with equal
probability. The cells of a field are split into the classes of the scoring scheme by
conditional binomial draws (a multinomial sample of the well's class fractions), keyed by
sample and field, so a count never depends on the order of measurement.

Scoring schemes (class of a cell from its fate, :mod:`exotwin.cells.population`):

- ``nuclear_stain`` (Hoechst/DAPI after fixation): apoptotic nuclei (early and late
  apoptotic cells) are condensed and fragmented (pyknotic); living and pyroptotic cells
  have normal nuclei (GSDME pores swell the cell before its chromatin condenses).
- ``brightfield``: pyroptotic cells are swollen with large membrane balloons (Wang et al.,
  Nature 2017, doi:10.1038/nature22393); all other cells are not.
- ``edu``: EdU click staining after a pulse; a living cell is EdU+ when it entered S
  phase within the S-phase duration plus the pulse before fixation (see
  :func:`edu_classes`); all other visible cells are EdU- nuclei.
- ``fluorescence_reporter``: a cell is reporter-positive when it carries the vector of its
  group (drawn per cohort with the treatment's ``transfected_fraction``), has an intact
  membrane (alive or early apoptotic; the soluble reporter leaks from ruptured cells) and
  its intensity exceeds the scoring threshold; untransfected cells only rarely do
  (autofluorescence).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from scipy.special import ndtr

from exotwin import rng
from exotwin.cells.population import (
    ALIVE,
    EARLY_APOPTOTIC,
    LATE_APOPTOTIC,
    PYROPTOTIC,
    REMOVED,
)


@dataclass(frozen=True)
class MicroscopyParameters:
    """Field geometry and reporter fluorescence.

    Attributes
    ----------
    field_area_mm2
        Area imaged per field (mm2). assumed: 0.145 mm2, a 20x objective on a 2/3-inch
        camera sensor (8.8 x 6.6 mm / 20).
    reporter_median, reporter_log_sd
        Median reporter intensity of vector-carrying cells (multiple of the median
        autofluorescence) and its log-SD, both dimensionless. assumed: 30 and 1.0; transient
        expression from plasmids varies over more than a decade between cells.
    autofluorescence_log_sd
        Log-SD of the autofluorescence of cells without reporter (dimensionless). assumed:
        0.3.
    threshold
        Scoring threshold (multiple of the median autofluorescence, dimensionless). assumed:
        3, a cell clearly brighter than the background of untransfected cells.
    """

    field_area_mm2: float = 0.145
    reporter_median: float = 30.0
    reporter_log_sd: float = 1.0
    autofluorescence_log_sd: float = 0.3
    threshold: float = 3.0

    def p_positive(self, carrier: bool) -> float:
        """Probability that a cell with an intact membrane scores reporter-positive."""
        if carrier:
            return float(ndtr(np.log(self.reporter_median / self.threshold)
                              / self.reporter_log_sd))  # fmt: skip
        return float(1.0 - ndtr(np.log(self.threshold) / self.autofluorescence_log_sd))


class FieldOptions(BaseModel):
    """Options of a microscopy assay: how many fields are counted per well."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fields: int = Field(5, ge=1, le=100)


class ReporterOptions(FieldOptions):
    """Options of the reporter assay: the fluorescent reporter of the vectors scored."""

    reporter: str = "EGFP"


def field_counts(class_cells: np.ndarray, area_cm2: float, fields: int, seed: int,
                 sample_id: int, params: MicroscopyParameters) -> np.ndarray:  # fmt: skip
    """Cells per class in each field, ``(fields, classes)``.

    ``class_cells`` holds the number of visible cells of each class in the well.
    """
    class_cells = np.asarray(class_cells, dtype=float)
    total = class_cells.sum()
    keys = np.array([sample_id * 128 + f for f in range(fields)], dtype=np.uint64)
    mu = np.full(fields, total * params.field_area_mm2 / (area_cm2 * 100.0))
    left = rng.poisson(seed, "field_sampling", keys, mu, step=0)
    out = np.zeros((fields, class_cells.size), dtype=np.int64)
    rest = total
    for k in range(class_cells.size - 1):
        p = class_cells[k] / rest if rest > 0 else 0.0
        out[:, k] = rng.binomial(seed, "field_sampling", keys, left, np.full(fields, p), k + 1)
        left = left - out[:, k]
        rest -= class_cells[k]
    out[:, -1] = left
    return out


def visible(counts: np.ndarray) -> np.ndarray:
    """Visible cells per fate of a well (fates summed over cohorts; removed ones are 0)."""
    per_fate = counts.sum(axis=0).astype(float)
    per_fate[REMOVED] = 0.0
    return per_fate


def pyknotic_classes(counts: np.ndarray) -> np.ndarray:
    """Cells with [pyknotic, normal] nuclei in a well (Hoechst/DAPI)."""
    v = visible(counts)
    pyknotic = v[EARLY_APOPTOTIC] + v[LATE_APOPTOTIC]
    return np.array([pyknotic, v.sum() - pyknotic])


def pyroptotic_classes(counts: np.ndarray) -> np.ndarray:
    """Cells with [pyroptotic, other] morphology in a well (bright field)."""
    v = visible(counts)
    return np.array([v[PYROPTOTIC], v.sum() - v[PYROPTOTIC]])


def reporter_classes(counts: np.ndarray, carrier: np.ndarray,
                     params: MicroscopyParameters) -> np.ndarray:  # fmt: skip
    """Expected cells that are [reporter-positive, negative] in a well.

    ``carrier`` marks the cohorts that carry the reporter vector.
    """
    intact = (counts[:, ALIVE] + counts[:, EARLY_APOPTOTIC]).astype(float)
    p = np.where(carrier, params.p_positive(True), params.p_positive(False))
    positive = float((intact * p).sum())
    return np.array([positive, visible(counts).sum() - positive])


@dataclass(frozen=True)
class EduParameters:
    """EdU incorporation.

    Attributes
    ----------
    s_phase_h
        Duration of S phase (h). assumed: 8 h, the usual S phase of proliferating
        mammalian cells (6-8 h; Alberts et al., Molecular Biology of the Cell, 6th ed.,
        ch. 17); no HUVEC-specific value used.
    """

    s_phase_h: float = 8.0


class EduOptions(FieldOptions):
    """Options of the EdU assay: the EdU pulse before fixation (h)."""

    pulse_h: float = Field(2.0, gt=0.0, le=48.0)


def edu_classes(counts: np.ndarray, division_rate: np.ndarray, scale: float, pulse_h: float,
                params: EduParameters) -> np.ndarray:  # fmt: skip
    """Expected cells that are [EdU+, EdU-] in a well, ``(2,)``.

    A cohort's cells enter S phase at the rate at which they divide (``division_rate``
    per h, ``(n,)``, times ``scale``, the contact-inhibition factor of the well), a fixed
    S + G2/M delay before division; entry is memoryless like the division hazard, so a
    living cell has passed into S within the last ``s_phase_h + pulse_h`` hours, and is
    labelled, with probability ``1 - exp(-rate x (s_phase_h + pulse_h))``.
    """
    rate = np.clip(np.asarray(division_rate, dtype=float), 0.0, None) * max(scale, 0.0)
    p = -np.expm1(-rate * (params.s_phase_h + pulse_h))
    positive = float((counts[:, ALIVE] * p).sum())
    return np.array([positive, visible(counts).sum() - positive])


def carriers(ids: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Cohorts carrying the vector: each with probability ``fraction``, fixed per cohort."""
    return rng.uniform(seed, "transfection", ids) < fraction
