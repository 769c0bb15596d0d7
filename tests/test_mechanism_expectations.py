"""Behaviour biology expects of the tumour-cell mechanism, beyond the paper's panels."""

import numpy as np
from scipy.integrate import trapezoid

from exotwin.kinetics import simulate

DOSES_UM = np.array([0.0, 0.3, 1.0, 3.0, 10.0, 30.0, 66.7, 100.0, 300.0])


def expected_growth(extra=None) -> np.ndarray:
    """Expected viable-cell growth factor over 48 h, per dose (noise-free, from hazards)."""
    t = np.linspace(0.0, 48.0, 97)
    params = {"cisplatin_uM": DOSES_UM, **(extra or {})}
    ds = simulate("tumour_cell", t, n_cells=DOSES_UM.size, parameters=params,
                  variables=["division_rate", "apoptosis_hazard", "pyroptosis_hazard"])  # fmt: skip
    net = ds["division_rate"] - ds["apoptosis_hazard"] - ds["pyroptosis_hazard"]
    return np.exp(trapezoid(net.values, t, axis=1))


def expected_relative_viability(extra=None) -> np.ndarray:
    """Expected viable cells relative to the same cells without cisplatin, per dose."""
    growth = expected_growth(extra)
    return growth / growth[0]


def test_viability_falls_monotonically_with_cisplatin_dose():
    v = expected_relative_viability()
    assert np.all(np.diff(v) < 0), v
    assert v[-1] < 0.5 < v[1]  # the dose range spans the half-maximal effect


def test_erp44_knockdown_leaves_fewer_viable_cells_at_every_dose():
    # Absolute viable cells, as Fig. 2D compares OD between groups. (Normalised to its own
    # untreated control the knockdown curve is not left-shifted at low doses, because the
    # knockdown also slows proliferation without drug.)
    control = expected_growth()
    knockdown = expected_growth({"ERp44_expression": np.full(DOSES_UM.size, 0.25)})
    assert np.all(knockdown < control)


def test_no_concentration_goes_negative_under_any_treatment():
    t = np.linspace(0.0, 72.0, 73)
    params = {
        "cisplatin_uM": np.array([0.0, 66.7, 300.0, 66.7]),
        "tunicamycin_uM": np.array([1.5, 0.0, 5.0, 1.5]),
        "ERp44_expression": np.array([1.0, 0.0, 3.0, 0.25]),
        "exo_ERp44_uptake_rate": np.array([0.0, 0.0, 1e5, 3e3]),
    }
    ds = simulate("tumour_cell", t, n_cells=4, parameters=params)
    for name, var in ds.data_vars.items():
        assert float(var.min()) > -1e-9, name


# Literature range for the 48 h cisplatin IC50 of parental CNE2 (viable cells relative to
# untreated), in uM:
# - lower bound 3 uM: 1 mg/L (3.3 uM) cisplatin arrests CNE2 in G2/M and drives most cells
#   into senescence over days rather than killing them within 48 h (Zhongliu Fangzhi Yanjiu
#   2015, doi:10.3971/j.issn.1000-8578.2015.01.002, dose range 0.4-4 mg/L), and 6 uM for
#   48 h gives only 6.4 % apoptosis (PMID 22699051);
# - upper bound 30 uM: Xia 2021 use 20 ug/mL (66.7 uM) as a working dose whose effect they
#   can still modulate, so it lies above the IC50 without killing every cell; the related
#   platinum lobaplatin has a 48 h CCK-8 IC50 of 4.05 uM in CNE2 (Tian 2013, params.md).
# Set in the session after the model's value (5.5 uM) was first measured: disclosed in
# docs/model.md; the range rests on the sources above, not on the model.
CNE2_IC50_RANGE_UM = (3.0, 30.0)


def test_parental_cne2_ic50_lies_in_the_literature_range():
    doses = np.geomspace(0.1, 300.0, 41)
    t = np.linspace(0.0, 48.0, 97)
    ds = simulate("tumour_cell", t, n_cells=doses.size + 1,
                  parameters={"cisplatin_uM": np.concatenate([[0.0], doses])},
                  variables=["division_rate", "apoptosis_hazard", "pyroptosis_hazard"])  # fmt: skip
    net = ds["division_rate"] - ds["apoptosis_hazard"] - ds["pyroptosis_hazard"]
    growth = np.exp(trapezoid(net.values, t, axis=1))
    relative = growth[1:] / growth[0]
    assert np.all(np.diff(relative) < 0)
    ic50 = float(np.exp(np.interp(0.5, relative[::-1], np.log(doses[::-1]))))
    lo, hi = CNE2_IC50_RANGE_UM
    assert lo <= ic50 <= hi, ic50


def test_blocking_uptake_removes_the_exosome_effect():
    """Same cells, same medium: with uptake fully blocked, dosed exosomes change nothing.

    Wells of one population (same cell ids, so the same cell variation and fates). With
    uptake blocked, the dosed well must equal the PBS well exactly (both blocked: cells
    also take up their own exosomes, so the comparison is at equal inhibition); with
    uptake open, the dose must raise the cells' ERp44 (the exosome effect exists).
    """
    from exotwin.cells import new_population
    from exotwin.culture import Well, advance

    def well(dose: bool, inhibition: float) -> Well:
        pop = new_population("tumour_cell", 20, seed=3, cells_per_agent=100,
                             variation_cv=0.2)  # fmt: skip
        w = Well.seed(pop, "96-well", uptake_inhibition=inhibition)
        if dose:
            w.vesicles.add(2e10, {"ERp44": 8e10, "GRP78": 2e11})
        return advance(w, 24.0, 1.0)

    pbs, open_ = well(False, 0.0), well(True, 0.0)
    pbs_blocked, blocked = well(False, 1.0), well(True, 1.0)
    erp44 = pbs.population.state_names().index("ERp44")
    assert np.array_equal(blocked.population.states, pbs_blocked.population.states)
    assert np.array_equal(blocked.population.counts, pbs_blocked.population.counts)
    assert open_.population.states[:, erp44].mean() > 1.5 * pbs.population.states[:, erp44].mean()


def test_tunicamycin_alone_lowers_cne2_viability_as_measured():
    """3 uM tunicamycin leaves 85.6, 57.0 and 43.7 % viable CNE-2 cells (MTT) at 24, 36
    and 48 h (Nan Fang Yi Ke Da Xue Xue Bao 2012;32:766, PMID 22699051), data independent
    of Xia 2021. These are training data of the PERK/CHOP arm (src/exotwin/models/
    training_data.yaml), so this checks that the written parameters are the fitted ones and
    the fit is within 0.15 of every point, not an independent validation."""
    t = np.linspace(0.0, 48.0, 97)
    ds = simulate("tumour_cell", t, n_cells=2, parameters={"tunicamycin_uM": np.array([0.0, 3.0])},
                  variables=["division_rate", "apoptosis_hazard", "pyroptosis_hazard"])  # fmt: skip
    net = (ds["division_rate"] - ds["apoptosis_hazard"] - ds["pyroptosis_hazard"]).values
    for hours, measured in ((24, 0.856), (36, 0.570), (48, 0.437)):
        k = int(hours * 2)
        growth = np.exp(trapezoid(net[:, : k + 1], t[: k + 1], axis=1))
        assert abs(growth[1] / growth[0] - measured) < 0.15, (hours, growth[1] / growth[0])


def test_viability_falls_monotonically_with_tunicamycin_dose():
    """Prolonged ER stress (PERK -> translation, CHOP -> arrest and Bim) costs viable cells,
    more or equally with more tunicamycin; without the PERK/CHOP arm it would not."""
    t = np.linspace(0.0, 48.0, 97)
    tm = np.array([0.0, 0.1, 0.3, 0.75, 1.5, 3.0, 6.0])

    def relative(extra):
        params = {"tunicamycin_uM": tm, **{k: np.full(tm.size, v) for k, v in extra.items()}}
        rates = ["division_rate", "apoptosis_hazard", "pyroptosis_hazard"]
        ds = simulate("tumour_cell", t, n_cells=tm.size, parameters=params, variables=rates)
        net = (ds["division_rate"] - ds["apoptosis_hazard"] - ds["pyroptosis_hazard"]).values
        growth = np.exp(trapezoid(net, t, axis=1))
        return growth / growth[0]

    v = relative({})
    assert np.all(np.diff(v) <= 1e-9) and v[-1] < 0.7, v
    # the arm is what lowers viability: with PERK unable to act, tunicamycin costs little
    no_perk = relative({"ER_k_perk": 0.0})
    assert no_perk[-1] > 0.9, no_perk
