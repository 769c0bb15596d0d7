"""qRT-PCR: threshold cycles (Ct) of target and reference genes from the cells' mRNA levels.

The living (attached) cells of a well are lysed; a fixed mass of total RNA is reverse
transcribed and a fixed fraction of the cDNA goes into each reaction, so the template of a
gene in a reaction is proportional to its mean copies per cell (equal-input normalisation):

    N0 ~ Poisson(level x copies_per_cell x cell equivalents x RT yield x cDNA fraction)

where ``level`` is the mean model mRNA level of the living cells (1 = unstressed CNE2
cell; the reference gene GAPDH is constant per cell). A reaction crosses the threshold of
``threshold_copies`` amplicons after

    Ct = log(threshold_copies / N0) / log(1 + E) + e,   e ~ Normal(0, ct_sd)

cycles (exponential amplification at efficiency E; Ct falls by log 2 / log(1 + E) ~ 1
cycle per doubling of template). A reaction without template, or crossing after
``max_cycles``, is undetermined (NaN). The RT yield varies from sample to sample but is
shared by the genes of one cDNA, so it cancels in dCt = Ct(target) - Ct(reference); the
relative expression 2^-dCt is that of the comparative Ct method (Livak & Schmittgen 2001,
doi:10.1006/meth.2001.1262).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from exotwin import rng
from exotwin.cells.population import ALIVE

GENES = {"ERp44": "ERp44_mRNA", "GRP78": "GRP78_mRNA", "GAPDH": None}
"""Gene (primer pair) -> model mRNA species; ``None``: constant per cell (reference gene)."""


@dataclass(frozen=True)
class QpcrParameters:
    """Template amounts and the amplification model.

    Attributes
    ----------
    copies_per_cell
        mRNA copies per cell at model level 1 (copies/cell). assumed: GAPDH 2000 (a
        top-abundance housekeeping transcript, 1e3-1e4 copies per cell), HSPA5/GRP78 300 and
        ERP44 30 (HSPA5 is among the most abundant ER transcripts, ERP44 moderately
        expressed); the median mammalian mRNA has ~17 copies per cell (Schwanhausser et al.
        2011, doi:10.1038/nature10098). Only the resulting Ct range depends on them.
    rna_pg_per_cell
        Total RNA per cell (pg). assumed: 20 pg, within the 10-30 pg of cultured
        mammalian cells.
    rt_input_ng
        Total RNA reverse transcribed per sample (ng). assumed: 1 ug, the usual input of a
        20 uL RT reaction.
    rt_yield, rt_yield_cv
        Mean fraction of mRNA copies converted to cDNA, and its sample-to-sample CV (both
        dimensionless). assumed: 0.5 and 0.3; RT yields vary several-fold between reactions
        (Stahlberg et al. 2004, doi:10.1373/clinchem.2004.035469).
    cdna_fraction
        Fraction of the RT product in one PCR. assumed: 0.01, 2 uL of a 1:10 dilution of a
        20 uL RT reaction.
    efficiency
        Amplification efficiency E per primer pair (dimensionless; 1 = doubling per cycle).
        assumed: 0.95, inside the 90-110 % accepted by MIQE (Bustin et al. 2009,
        doi:10.1373/clinchem.2008.112797).
    threshold_copies
        Amplicons at the fluorescence threshold (copies). assumed: 2**35 (3.4e10), so that
        one template copy crosses near cycle 35-36, the usual single-copy Ct of a 20 uL
        reaction.
    ct_sd
        SD of Ct between technical replicates beyond template sampling (cycles). assumed:
        0.15, within the 0.1-0.2 cycles of a well-performing assay (pipetting, optics).
    max_cycles
        Cycles run (count); later crossings are undetermined. assumed: 40 (standard
        programme).
    """

    copies_per_cell: dict[str, float] = field(
        default_factory=lambda: {"GAPDH": 2000.0, "GRP78": 300.0, "ERp44": 30.0}
    )
    rna_pg_per_cell: float = 20.0
    rt_input_ng: float = 1000.0
    rt_yield: float = 0.5
    rt_yield_cv: float = 0.3
    cdna_fraction: float = 0.01
    efficiency: float = 0.95
    threshold_copies: float = 2.0**35
    ct_sd: float = 0.15
    max_cycles: float = 40.0


class QpcrOptions(BaseModel):
    """Options of a ``qpcr`` assay: target genes, reference gene, technical replicates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    genes: list[str] = ["ERp44"]
    reference: str = "GAPDH"
    technical_replicates: int = Field(3, ge=1, le=12)

    @field_validator("genes", "reference")
    @classmethod
    def _known(cls, v):
        for g in [v] if isinstance(v, str) else v:
            if g not in GENES:
                raise ValueError(f"unknown gene {g!r}; known: {', '.join(GENES)}")
        return v


def mean_levels(pop, genes: list[str]) -> dict[str, float]:
    """Mean mRNA level of each gene over the living cells (NaN if none is alive)."""
    weights = pop.counts[:, ALIVE].astype(float)
    if weights.sum() == 0:
        return {g: float("nan") for g in genes}
    return {g: 1.0 if GENES[g] is None else float(np.average(pop.value(GENES[g]), weights=weights))
            for g in genes}  # fmt: skip


def ct_values(template: np.ndarray, seed: int, keys: np.ndarray,
              params: QpcrParameters) -> np.ndarray:  # fmt: skip
    """Ct of reactions with mean template copies ``template`` (one key per reaction)."""
    n0 = rng.poisson(seed, "pcr", keys, template, step=0)
    noise = params.ct_sd * rng.normal(seed, "pcr", keys, step=1)
    with np.errstate(divide="ignore"):
        ct = np.log(params.threshold_copies / n0) / np.log1p(params.efficiency) + noise
    return np.where((n0 > 0) & (ct <= params.max_cycles), ct, np.nan)


def measure(well, options: QpcrOptions, seed: int, sample_id: int,
            params: QpcrParameters | None = None) -> dict[str, np.ndarray]:  # fmt: skip
    """Ct of every technical replicate per gene (targets and reference) of one well."""
    params = params or QpcrParameters()
    pop = well.population
    genes = [*options.genes, options.reference]
    levels = mean_levels(pop, genes)
    cells = min(params.rt_input_ng * 1000.0 / params.rna_pg_per_cell, pop.count(ALIVE))
    rt = params.rt_yield * rng.lognormal_factor(seed, "pcr", np.array([sample_id], np.uint64),
                                                params.rt_yield_cv, step=2)[0]  # fmt: skip
    reps = options.technical_replicates
    out = {}
    for i, g in enumerate(genes):
        mean = levels[g] * params.copies_per_cell[g] * cells * rt * params.cdna_fraction
        keys = np.array([(sample_id * 16 + i) * 16 + r for r in range(reps)], dtype=np.uint64)
        out[g] = ct_values(np.full(reps, np.nan_to_num(mean)), seed, keys, params)
    return out
