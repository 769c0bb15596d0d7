"""People and their tissues: per-person draws and steady-state cells of each tissue.

A person's tissue has a normoxic compartment and, in tumours, a severely hypoxic one
whose unfolded-protein influx is raised (:class:`CohortParameters`). The cells of all
persons and compartments are integrated in one batched ``simulate`` call; a cell's id,
and so its variation, derives from its person's key, so a person's numbers do not depend
on who else is simulated.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from exotwin import rng
from exotwin.cells import new_population
from exotwin.kinetics import simulate

# model outputs a tissue is summarised by (tissue-mean per compartment)
VARIABLES = ("GRP78_total", "ERp44", "GRP78_mRNA", "ERp44_mRNA", "exosome_secretion_rate",
             "exo_ERp44_cargo")  # fmt: skip
# rate constants varied from cell to cell: the ER module's and the shared turnover rates
VARY = ("ER_k_U_basal", "ER_k_on_GU", "ER_k_off_GU", "ER_k_fold", "ER_k_erad",
        "ER_k_sensor_turn", "ER_k_upr_act", "ER_k_upr_off", "ER_k_mrna_deg", "ER_k_tl_GRP78",
        "ER_k_tl_ERp44", "k_dil", "k_prot_deg")  # fmt: skip
# steps of the ``cohort`` stream: one independent draw per person and quantity
STEP_HYPOXIA, STEP_BURDEN, STEP_BACKGROUND, STEP_EXPRESSION = 0, 1, 2, 3
# gene -> (protein, model mRNA, model protein); one person factor per gene
GENE_MAP = {"HSPA5": ("GRP78", "GRP78_mRNA", "GRP78_total"),
            "ERP44": ("ERp44", "ERp44_mRNA", "ERp44")}  # fmt: skip


@dataclass(frozen=True)
class CohortParameters:
    """Distributions of the virtual cohort (units and provenance: docs/cohort.md).

    Attributes
    ----------
    hypoxic_fraction_median
        Median fraction of tumour tissue at pO2 <= 2.5 mmHg (HP2.5), 0.19 in 397
        head-and-neck tumours (Nordsmark et al. 2005, doi:10.1016/j.radonc.2005.06.038);
        drawn from Beta(1, b) with this median (shape a = 1 assumed).
    hypoxic_load_factor
        Fold of the unfolded-protein influx (``ER_k_U_basal``) in a hypoxic cell
        (dimensionless). assumed: 6, the model's influx at half-maximal glycosylation block
        (1 + TM_U_gain x 0.5); anoxia and glucose lack impair ER folding (Wouters &
        Koritzinsky 2008, doi:10.1038/nrc2501). Outside data give directions only: GRP78
        rises in carcinoma cells at < 0.02 % O2, not at 1 % O2 (Pi et al.,
        doi:10.3892/ol.2013.1753), and is higher in oral, laryngeal and liver carcinoma than
        in normal tissue (74 % of 204 oral cancers "hyperexpress" it by western blot,
        cut-off not stated: Lin et al. 2010, PMID 19953611); no GRP78/ERp44 fold under
        severe hypoxia and no tumour/normal ratio the cohort's assays could reproduce was
        found to fit it to (src/exotwin/models/training_data_cohort.yaml, ``python -m
        exotwin.models.calibrate --cohort``, docs/calibration.md). The directions hold for
        any factor > 1. At 6 the model cell's steady GRP78 is 2.16x and ERp44 1.29x the
        normoxic cell's.
    steady_state_h
        Integration time (h) to steady state. assumed (numerical horizon): 480 h, > 20 time
        constants 1/(k_prot_deg + k_dil) = 19.4 h of the tumour_cell model.
    person_expression_cv
        Between-person CV of a gene's expression (mRNA and protein; dimensionless). assumed:
        0.25.
    rnaseq_cv
        Technical CV of one TPM value (dimensionless). assumed: 0.10.
    tpm_HSPA5, tpm_ERP44
        Baseline expression in normal mucosa (TPM). assumed: 250 and 30 (orders of
        magnitude).
    burden_mean_ml, burden_cv
        NPC tumour burden (primary + nodal volume, mL), lognormal: mean 56 mL, CV 0.63
        (dimensionless) (Chen et al. 2018, doi:10.2147/CMAR.S169459).
    cells_per_ml
        Tumour cell density (cells/mL), 1e8 (Del Monte 2009, doi:10.4161/cc.8.3.7608).
    share_to_blood
        Share of tumour exosomes reaching the blood (fraction). assumed: 1 (upper bound).
    blood_residence_h
        Mean residence time (h) of exosomes in blood, 3.4 (mouse MRT, Kim et al. 2019,
        Pharmaceutics 11:649); assumed to hold in humans.
    background_ev_per_ml, background_cv
        Plasma EV concentration (EVs/mL), lognormal mean 1e10 (Johnsen et al. 2019, BBA Rev
        Cancer 1871:109, PMID 30528756); between-person CV 0.5 (dimensionless) assumed.
    plasma_ml
        Plasma volume (mL). assumed: 3000 (70-kg adult).
    """

    hypoxic_fraction_median: float = 0.19
    hypoxic_load_factor: float = 6.0
    steady_state_h: float = 480.0
    person_expression_cv: float = 0.25
    rnaseq_cv: float = 0.10
    tpm_HSPA5: float = 250.0
    tpm_ERP44: float = 30.0
    burden_mean_ml: float = 56.0
    burden_cv: float = 0.63
    cells_per_ml: float = 1e8
    share_to_blood: float = 1.0
    blood_residence_h: float = 3.4
    background_ev_per_ml: float = 1e10
    background_cv: float = 0.5
    plasma_ml: float = 3000.0

    @classmethod
    def with_overrides(cls, values: dict[str, float]) -> CohortParameters:
        """Defaults with the given fields replaced (names checked by the schema)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: float(v) for k, v in values.items() if k in known})


@dataclass
class Persons:
    """Per-person arrays, shape ``(n,)``, in protocol order (groups, then persons).

    Attributes
    ----------
    group, number, key
        Group label, 1-based number in the group, person key (stream entity).
    tumour
        Whether the person's tissue is a tumour.
    hypoxic_fraction
        Share of the tissue in the hypoxic compartment (0 for normal epithelium).
    burden_ml
        Tumour burden (mL; 0 without tumour).
    background_evs
        Background exosomes in the plasma (vesicles).
    expression
        Person factor per gene (mean 1).
    """

    group: np.ndarray
    number: np.ndarray
    key: np.ndarray
    tumour: np.ndarray
    hypoxic_fraction: np.ndarray
    burden_ml: np.ndarray
    background_evs: np.ndarray
    expression: dict[str, np.ndarray]

    @property
    def n(self) -> int:
        """Number of persons."""
        return int(self.key.size)


def _lognormal(seed: int, keys: np.ndarray, mean: float, cv: float, step: int) -> np.ndarray:
    return mean * rng.lognormal_factor(seed, "cohort", keys, cv, step=step)


def draw_persons(protocol, params: CohortParameters, seed: int) -> Persons:
    """Every person of a cohort protocol with their draws from the ``cohort`` stream."""
    group, number, key, tumour = [], [], [], []
    for g in protocol.groups:
        group += [g.label] * g.persons
        number += list(range(1, g.persons + 1))
        key += [g.key_base() + i for i in range(g.persons)]
        tumour += [g.tissue == "tumour"] * g.persons
    keys = np.array(key, dtype=np.uint64)
    is_tumour = np.array(tumour, dtype=bool)
    b = np.log(0.5) / np.log1p(-params.hypoxic_fraction_median)  # Beta(1, b) has this median
    u = rng.uniform(seed, "cohort", keys, step=STEP_HYPOXIA)
    hypoxic = np.where(is_tumour, 1.0 - (1.0 - u) ** (1.0 / b), 0.0)  # inverse CDF of Beta(1, b)
    burden = np.where(is_tumour, _lognormal(seed, keys, params.burden_mean_ml, params.burden_cv,
                                            STEP_BURDEN), 0.0)  # fmt: skip
    background = _lognormal(seed, keys, params.background_ev_per_ml * params.plasma_ml,
                            params.background_cv, STEP_BACKGROUND)  # fmt: skip
    expression = {gene: _lognormal(seed, keys, 1.0, params.person_expression_cv,
                                   STEP_EXPRESSION + i)
                  for i, gene in enumerate(GENE_MAP)}  # fmt: skip
    return Persons(np.array(group), np.array(number), keys, is_tumour, hypoxic, burden,
                   background, expression)  # fmt: skip


def simulate_tissues(
    model: str, persons: Persons, params: CohortParameters, seed: int, cells: int, cv: float
) -> dict[str, np.ndarray]:
    """Tissue-level steady-state quantities per person.

    Parameters
    ----------
    model
        Intracellular model (``tumour_cell``).
    persons
        The cohort.
    params
        Cohort distributions.
    seed
        Run seed (cell variation).
    cells
        Simulated cells per compartment.
    cv
        Cell-to-cell CV of the rate constants in :data:`VARY`.

    Returns
    -------
    dict
        For each of :data:`VARIABLES`, the share-weighted tissue mean ``(n_persons,)``;
        ``"<variable>|normoxic"``, ``"<variable>|hypoxic"`` the compartment means (the
        hypoxic ones NaN without tumour) and ``"secreted_ERp44|<compartment>"`` the mean
        ERp44 exported in vesicles per cell and hour.
    """
    # compartment 0 (normoxic) for everyone, 1 (hypoxic) for tumours; cell ids from the key
    owners = [(i, 0) for i in range(persons.n)] + [(i, 1) for i in np.flatnonzero(persons.tumour)]
    person = np.repeat([o[0] for o in owners], cells)
    compartment = np.repeat([o[1] for o in owners], cells)
    ids = (persons.key[person] * np.uint64(2) + compartment.astype(np.uint64)) * np.uint64(cells)
    ids = ids + np.tile(np.arange(cells, dtype=np.uint64), len(owners))
    from exotwin.kinetics import compile_model

    cm = compile_model(model)
    base = simulate(cm, [0.0], variables=["ER_k_U_basal"]).isel(cell=0, time=0)
    load = float(base["ER_k_U_basal"]) * np.where(compartment == 1, params.hypoxic_load_factor, 1)
    pop = new_population(cm, ids.size, seed, variation_cv=cv, vary=VARY,
                         parameters={"ER_k_U_basal": load}, ids=ids)  # fmt: skip
    names = pop.state_names()
    ds = simulate(cm, [0.0, params.steady_state_h], n_cells=pop.n, parameters=pop.params,
                  initial={s: pop.states[:, j] for j, s in enumerate(names)},
                  variables=list(VARIABLES)).isel(time=-1)  # fmt: skip
    values = {v: ds[v].values for v in VARIABLES}
    values["secreted_ERp44"] = values["exosome_secretion_rate"] * values["exo_ERp44_cargo"]
    out: dict[str, np.ndarray] = {}
    counts = np.bincount(person * 2 + compartment, minlength=2 * persons.n).reshape(-1, 2)
    for v, x in values.items():
        sums = np.bincount(person * 2 + compartment, weights=x, minlength=2 * persons.n)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = sums.reshape(-1, 2) / counts
        out[f"{v}|normoxic"], out[f"{v}|hypoxic"] = means[:, 0], means[:, 1]
        h = persons.hypoxic_fraction
        out[v] = (1.0 - h) * means[:, 0] + h * np.nan_to_num(means[:, 1])
    return out
