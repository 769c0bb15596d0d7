"""Virtual assays of a cohort: tissue westerns, RNA-seq TPM, serum-exosome westerns.

Each returns tidy rows (one person, one readout; ``time_h`` 0). Measurement noise comes
from the ``measurement_noise`` stream keyed by the person, so a person's readout does not
depend on who else is measured.
"""

from __future__ import annotations

import numpy as np

from exotwin import rng
from exotwin.assays.western import TARGETS, densitometry
from exotwin.cohort.tissue import GENE_MAP, CohortParameters, Persons

# noise-stream steps of the cohort assays (distinct from the culture western's step 3)
STEP_TISSUE_WESTERN, STEP_RNASEQ, STEP_SERUM_WESTERN = 10, 11, 12
PROTEIN_GENE = {protein: gene for gene, (protein, _, _) in GENE_MAP.items()}


def _row(persons: Persons, i: int, assay: str, readout: str, value: float, unit: str) -> dict:
    return {"assay": assay, "sample": f"{persons.group[i]} #{persons.number[i]}",
            "group": str(persons.group[i]), "replicate": int(persons.number[i]), "time_h": 0.0,
            "readout": readout, "value": float(value), "unit": unit}  # fmt: skip


def tissue_western(persons: Persons, tissue: dict, targets: list[str], seed: int) -> list[dict]:
    """Band / GAPDH of each person's tissue lysate (tissue-mean level x person factor)."""
    rows = []
    for i in range(persons.n):
        levels = {t: tissue[TARGETS[t]][i] * persons.expression[PROTEIN_GENE[t]][i]
                  for t in targets}  # fmt: skip
        ratios = densitometry(levels, seed, int(persons.key[i]), step=STEP_TISSUE_WESTERN)
        rows += [_row(persons, i, "tissue_western", f"{t}/GAPDH", v, "ratio")
                 for t, v in ratios.items()]  # fmt: skip
    return rows


def rnaseq(persons: Persons, tissue: dict, genes: list[str], params: CohortParameters,
           seed: int) -> list[dict]:  # fmt: skip
    """log2(TPM + 1): baseline TPM x tissue-mean relative mRNA x person factor x noise."""
    rows = []
    for j, gene in enumerate(genes):
        _, mrna, _ = GENE_MAP[gene]
        noise = rng.lognormal_factor(seed, "measurement_noise", persons.key * np.uint64(64) + j,
                                     params.rnaseq_cv, step=STEP_RNASEQ)  # fmt: skip
        tpm = getattr(params, f"tpm_{gene}") * tissue[mrna] * persons.expression[gene] * noise
        rows += [_row(persons, i, "rnaseq", f"{gene} log2(TPM+1)", np.log2(tpm[i] + 1.0),
                      "log2(TPM+1)") for i in range(persons.n)]  # fmt: skip
    return rows


def serum_vesicles(persons: Persons, tissue: dict, params: CohortParameters) -> dict:
    """Serum exosomes per person: counts and mean ERp44 per vesicle.

    Background vesicles carry the ERp44 of the person's normoxic (unstressed) cells;
    tumour vesicles carry the secretion-weighted cargo of the tumour's compartments.

    Returns
    -------
    dict
        ``background``, ``tumour`` (vesicles in the plasma) and ``ERp44_per_vesicle``
        (molecules), each ``(n_persons,)``.
    """
    rate = tissue["exosome_secretion_rate"]  # vesicles/cell/h, share-weighted
    flux = tissue["secreted_ERp44"]  # ERp44 molecules/cell/h in vesicles, share-weighted
    cells = persons.burden_ml * params.cells_per_ml
    tumour = cells * rate * params.share_to_blood * params.blood_residence_h
    cargo_tumour = np.divide(flux, rate, out=np.zeros_like(flux), where=rate > 0)
    cargo_background = tissue["exo_ERp44_cargo|normoxic"]
    factor = persons.expression["ERP44"]
    background = persons.background_evs
    per_vesicle = factor * (background * cargo_background + tumour * cargo_tumour) / (
        background + tumour)
    return {"background": persons.background_evs, "tumour": tumour,
            "ERp44_per_vesicle": per_vesicle}  # fmt: skip


def serum_exosome_western(persons: Persons, tissue: dict, targets: list[str],
                          params: CohortParameters, seed: int) -> list[dict]:  # fmt: skip
    """ERp44 / Flotillin-1 of each person's serum exosomes (Flotillin-1 per vesicle constant)."""
    per_vesicle = serum_vesicles(persons, tissue, params)["ERp44_per_vesicle"]
    rows = []
    for i in range(persons.n):
        levels = {t: per_vesicle[i] for t in targets}
        ratios = densitometry(levels, seed, int(persons.key[i]), step=STEP_SERUM_WESTERN)
        rows += [_row(persons, i, "serum_exosome_western", f"{t}/Flotillin-1", v, "ratio")
                 for t, v in ratios.items()]  # fmt: skip
    return rows
