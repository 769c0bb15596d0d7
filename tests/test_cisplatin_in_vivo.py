"""Cisplatin in the xenograft twin after one i.p. dose: exposure kept by the 6-h phenotype
step, intracellular drug against the linear-uptake balance, DNA-adduct kinetics against
Johnsson et al. 1995 (Cancer Chemother Pharmacol 37:23; docs/xenograft.md, "Cisplatin in
vivo against outside data").

A small tumour (9-mm domain, 2e6 cells), one 3 mg/kg dose at t = 0, the real tumour_cell
model.
"""

from dataclasses import replace

import numpy as np
import pytest
from scipy.integrate import trapezoid

from exotwin.cells import new_population
from exotwin.cells.population import ALIVE
from exotwin.culture import coupling
from exotwin.tissue import xenograft as X

LINK = coupling("tumour_cell")


def course(step_h: float, hours: float = 24.0) -> dict[str, np.ndarray]:
    """Living-cell means at the end of every phenotype step after one 3 mg/kg dose."""
    xp = replace(X.XenograftParameters(), box_voxels=9, phenotype_step_h=step_h)
    vox = X.seed_voxels(xp, 2e6)
    pop = new_population("tumour_cell", vox.size, 5, cells_per_agent=round(2e6 / vox.size),
                         variation_cv=0.0, ids=X.agent_ids(3, vox))  # fmt: skip
    t = X.new_tumour(pop, xp, vox, 3, 5)
    sched = X.Schedule(cis_times_h=(0.0,), cis_doses_mg_per_kg=(3.0,))
    out: dict[str, list[float]] = {"t": [0.0], "Cis_in": [0.0], "DNA_adducts": [0.0],
                                   "tissue": [], "k": []}  # fmt: skip
    for _ in range(int(round(hours / step_h))):
        X.advance(t, xp, step_h, sched, 5, LINK.uptake, threads=1, frame_every_h=0.0,
                  drug_input=LINK.drugs["cisplatin"])  # fmt: skip
        alive = t.pop.counts[:, ALIVE] > 0
        out["t"].append(t.time_h)
        for name in ("Cis_in", "DNA_adducts"):
            out[name].append(float(t.pop.value(name)[alive].mean()))
        out["tissue"].append(float(t.cis_mean.ravel()[t.voxel][alive].mean()))
    p = t.pop
    k_clear = sum(float(p.value(k)[0]) for k in ("AP_k_cis_out", "AP_k_cis_inact", "k_dil"))
    out["k"] = [float(p.value("AP_k_cis_in")[0]) / k_clear]
    return {k: np.asarray(v) for k, v in out.items()}


@pytest.fixture(scope="module")
def coarse():
    return course(6.0)


@pytest.fixture(scope="module")
def fine():
    return course(0.5)


def test_intracellular_exposure_matches_the_linear_uptake_balance(fine):
    """Linear uptake: the area under Cis_in is k_in / (k_out + k_inact + k_dil) x the
    area under the cells' extracellular drug (both start and end near 0)."""
    tissue_auc = float(np.sum(fine["tissue"]) * 0.5)
    inside_auc = trapezoid(fine["Cis_in"], fine["t"])
    assert fine["Cis_in"][-1] < 1e-3 * fine["Cis_in"].max()
    assert inside_auc == pytest.approx(fine["k"][0] * tissue_auc, rel=0.02)
    assert tissue_auc == pytest.approx(6.4, rel=0.05)  # the plasma AUC of 3 mg/kg (pk.py)


def test_six_hour_step_keeps_the_damage_of_the_averaged_peak(coarse, fine):
    """The 6-h step feeds the cells the step-mean drug (peak averaged): adduct exposure (area)
    agrees with 0.5-h steps that resolve the 16-uM, 12.5-min plasma peak; the adduct peak is
    lower and later, not lost."""
    assert trapezoid(coarse["DNA_adducts"], coarse["t"]) == pytest.approx(
        trapezoid(fine["DNA_adducts"], fine["t"]), rel=0.05
    )
    assert (
        0.75 * fine["DNA_adducts"].max() <= coarse["DNA_adducts"].max() <= fine["DNA_adducts"].max()
    )


def test_adducts_peak_within_four_hours_of_the_dose(fine):
    """Johnsson 1995: tissue cisplatin-DNA adducts are maximal 30 min-4 h after i.p. dosing."""
    peak = fine["t"][int(np.argmax(fine["DNA_adducts"]))]
    assert 0.5 <= peak <= 4.0


@pytest.mark.xfail(
    strict=True,
    reason="known disagreement (docs/xenograft.md): NER at 0.18/h "
    "plus growth dilution removes adducts with a ~3-h half-life at in vivo levels",
)
def test_adducts_hold_their_plateau_for_24_hours(fine):
    """Johnsson 1995: after the peak, tissue adduct levels stay at a steady state for at
    least 24 h (taken here as >= half the peak at 24 h)."""
    assert fine["DNA_adducts"][-1] >= 0.5 * fine["DNA_adducts"].max()
