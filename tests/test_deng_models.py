"""The Deng 2023 twin models (npc_ebv_cell, endothelial_cell): steady state, analytic
steady-state solutions, monotone saturating dose-responses, inhibitor selectivity, the STIM1
loading mechanism, conservation, positivity, agreement with libRoadRunner, and the
calibration of the donor's resting Ca2+ balance to outside data (training_data_deng2023.yaml)."""

import numpy as np
import pytest

from exotwin import models
from exotwin.cells import new_population, outputs
from exotwin.cells.lines import cell_line_parameters
from exotwin.kinetics import compile_model, simulate

DONOR, RECIPIENT = "npc_ebv_cell", "endothelial_cell"
LONG = 500.0  # h; far beyond the slowest relaxation (STIM1 turnover, ~19 h)


def steady(model, variables, n_cells=1, **parameters):
    """Values at LONG hours from the model's initial state, shape (n_cells,) per variable."""
    ds = simulate(model, [0.0, LONG], n_cells=n_cells, parameters=parameters,
                  variables=variables, rtol=1e-9, atol=1e-12)  # fmt: skip
    return {v: ds[v].values[:, -1] for v in variables}


def constants(model, names):
    ds = simulate(model, [0.0], variables=names).isel(cell=0, time=0)
    return {k: float(ds[k]) for k in names}


@pytest.mark.parametrize("name", [DONOR, RECIPIENT])
def test_models_are_listed_consistent_and_stationary_at_defaults(name):
    assert name in [m.name for m in models.list_models()]
    assert models.check_consistency(models.to_sbml(name)) == []
    cm = compile_model(name)
    species = list(cm.spec.species)
    ds = simulate(cm, [0.0, 1.0, LONG], variables=species, rtol=1e-10, atol=1e-13)
    for s in species:
        x = ds[s].values[0]
        assert np.all(np.abs(x - x[0]) <= 1e-4 * abs(x[0]) + 1e-9), (s, x)


def test_cell_lines_map_to_the_new_models():
    assert cell_line_parameters("CNE2-EBV", DONOR) == {}
    assert cell_line_parameters("HUVEC", RECIPIENT) == {}


def test_phospho_ratios_match_the_analytic_steady_state():
    names = ["SG_k_lmp1_deg", "k_dil", "k_prot_deg", "SG_LMP1_copies", "SG_K_lmp1",
             "SG_k_akt_dp", "SG_k_erk_dp", "SG_pAkt_ratio_basal", "SG_fold_max", "SG_IC50_LY",
             "SG_EC50_U0126"]  # fmt: skip
    c = constants(RECIPIENT, names)
    uptake = np.array([0.0, 3e2, 3e3, 3e4, 3e5])
    ly = np.array([0.0, 0.0, 1.4, 5.0, 0.0])
    u0 = np.array([0.0, 0.5, 0.0, 0.0, 20.0])
    got = steady(RECIPIENT, ["pAkt_ratio", "pERK_ratio", "LMP1_int"], n_cells=5,
                 exo_LMP1_uptake_rate=uptake, LY294002_uM=ly, U0126_uM=u0)  # fmt: skip
    d = c["k_dil"] + c["k_prot_deg"]
    lmp1 = uptake / c["SG_LMP1_copies"] / (c["SG_k_lmp1_deg"] + c["k_dil"])
    r0, f = c["SG_pAkt_ratio_basal"], c["SG_fold_max"]
    gain = (f * r0 / (1 - f * r0)) / (r0 / (1 - r0)) - 1
    drive = 1 + gain * lmp1 / (c["SG_K_lmp1"] + lmp1)

    def ratio(kdp, activity):
        kp = r0 * (kdp + d) / (1 - r0)
        return kp * activity / (kp * activity + kdp + d)

    np.testing.assert_allclose(got["LMP1_int"], lmp1, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(got["pAkt_ratio"], ratio(c["SG_k_akt_dp"],
                               drive / (1 + ly / c["SG_IC50_LY"])), rtol=1e-6)  # fmt: skip
    np.testing.assert_allclose(got["pERK_ratio"], ratio(c["SG_k_erk_dp"],
                               drive / (1 + u0 / c["SG_EC50_U0126"])), rtol=1e-6)  # fmt: skip


RESPONSES = ["pAkt_ratio", "pERK_ratio", "migration_speed", "sprouting_activity",
             "junction_opening", "division_rate"]  # fmt: skip


def test_responses_rise_monotonically_and_saturate_with_lmp1_dose():
    doses = np.concatenate([[0.0], np.logspace(1, 8, 15)])
    got = steady(RECIPIENT, RESPONSES, n_cells=doses.size, exo_LMP1_uptake_rate=doses)
    base = steady(RECIPIENT, RESPONSES)
    for name in RESPONSES:
        y = got[name]
        assert y[0] == pytest.approx(base[name][0], rel=1e-9)
        steps = np.diff(y)
        assert np.all(steps > 0), name
        # saturation: the last decade adds almost nothing, the response stays bounded
        assert steps[-1] < 1e-3 * (y[-1] - y[0]), name
        assert y[-1] < 3.0 * y[0], name
    assert base["sprouting_activity"][0] == pytest.approx(1.0, rel=1e-6)
    assert 0 < got["junction_opening"].max() < 1


def test_inhibitors_act_on_their_own_branch():
    dose = np.array([0.0, 10.0])
    with_ly = steady(RECIPIENT, ["pAkt_ratio", "pERK_ratio"], n_cells=2, LY294002_uM=dose,
                     exo_LMP1_uptake_rate=1e4)  # fmt: skip
    with_u0 = steady(RECIPIENT, ["pAkt_ratio", "pERK_ratio"], n_cells=2, U0126_uM=dose,
                     exo_LMP1_uptake_rate=1e4)  # fmt: skip
    assert with_ly["pAkt_ratio"][1] < 0.5 * with_ly["pAkt_ratio"][0]
    assert with_ly["pERK_ratio"][1] == pytest.approx(with_ly["pERK_ratio"][0], rel=1e-6)
    assert with_u0["pERK_ratio"][1] < 0.5 * with_u0["pERK_ratio"][0]
    assert with_u0["pAkt_ratio"][1] == pytest.approx(with_u0["pAkt_ratio"][0], rel=1e-6)


def test_stim1_knockdown_lowers_cargo_per_vesicle_not_cellular_lmp1():
    names = ["exo_LMP1_cargo", "LMP1_total", "STIM1_total", "exosome_secretion_rate", "Ca_ER"]
    got = steady(DONOR, names, n_cells=2, STIM1_expression=np.array([1.0, 0.2]))
    assert got["STIM1_total"][1] == pytest.approx(0.2, rel=1e-6)
    assert got["exo_LMP1_cargo"][1] < 0.85 * got["exo_LMP1_cargo"][0]
    assert abs(got["LMP1_total"][1] / got["LMP1_total"][0] - 1) < 0.02
    assert got["exosome_secretion_rate"][1] == got["exosome_secretion_rate"][0]
    # less SOCE: the store runs lower, which opens the remaining channels more (compensation)
    assert got["Ca_ER"][1] < got["Ca_ER"][0]


def test_knockdown_lines_start_at_their_own_stim1_level():
    pop = new_population(DONOR, 3, seed=1, parameters={"STIM1_expression": [1.0, 0.5, 0.2]})
    np.testing.assert_allclose(outputs(pop, ["STIM1_total"])["STIM1_total"], [1.0, 0.5, 0.2])


def test_soce_blocker_lowers_cargo_with_dose_and_lmp1_follows_expression():
    skf = np.array([0.0, 3.0, 10.0, 30.0, 100.0])
    got = steady(DONOR, ["exo_LMP1_cargo", "SOCE_open"], n_cells=skf.size, SKF96365_uM=skf)
    assert np.all(np.diff(got["exo_LMP1_cargo"]) < 0)
    assert np.all(np.diff(got["SOCE_open"]) < 0)
    neg = steady(DONOR, ["exo_LMP1_cargo", "LMP1_total"], LMP1_expression=0.0)
    assert neg["exo_LMP1_cargo"][0] == 0 and neg["LMP1_total"][0] == 0


def test_no_negative_levels_and_conserved_totals_under_extreme_inputs():
    rng = np.random.default_rng(3)
    n = 16
    donor = simulate(DONOR, np.linspace(0, 200, 21), n_cells=n, parameters={
        "STIM1_expression": rng.uniform(0, 3, n), "LMP1_expression": rng.uniform(0, 3, n),
        "SKF96365_uM": 10 ** rng.uniform(-2, 3, n), "SOCE_block": rng.uniform(0, 2, n)})
    recipient = simulate(RECIPIENT, np.linspace(0, 200, 21), n_cells=n, parameters={
        "exo_LMP1_uptake_rate": 10 ** rng.uniform(0, 9, n),
        "LY294002_uM": 10 ** rng.uniform(-2, 3, n), "U0126_uM": 10 ** rng.uniform(-3, 2, n)},
        variables=["LMP1_int", "Akt", "pAkt", "ERK", "pERK", "Akt_total", "ERK_total",
                   "junction_opening"])  # fmt: skip
    for ds in (donor, recipient):
        for v in ds.data_vars:
            assert float(ds[v].min()) >= -1e-9, v
    np.testing.assert_allclose(recipient["Akt_total"].values, 1.0, rtol=1e-6)
    np.testing.assert_allclose(recipient["ERK_total"].values, 1.0, rtol=1e-6)
    assert float(recipient["junction_opening"].max()) < 1


def test_roadrunner_agrees_in_treated_cells():
    pytest.importorskip("roadrunner")
    from exotwin.testing import assert_matches_roadrunner

    cases = {
        DONOR: {"STIM1_expression": 0.2, "SKF96365_uM": 10.0},
        RECIPIENT: {"exo_LMP1_uptake_rate": 5e3, "LY294002_uM": 2.0, "U0126_uM": 0.3},
    }
    for name, params in cases.items():
        assert_matches_roadrunner(name, np.linspace(0.0, 72.0, 25), parameters=params,
                                  rtol=1e-4)  # fmt: skip


def test_donor_vesicles_carry_lmp1_to_recipients_through_the_culture_layer():
    from exotwin.culture import Coupling, Well, advance

    donor_coupling = Coupling(drugs={"SKF-96365": "SKF96365_uM"}, cargo={"LMP1": "exo_LMP1_cargo"},
                              uptake={})  # fmt: skip
    per_vesicle = []
    for stim1 in (1.0, 0.2):
        pop = new_population(DONOR, 20, seed=4, cells_per_agent=500,
                             parameters={"STIM1_expression": stim1})  # fmt: skip
        well = advance(Well.seed(pop, "6-well", coupling=donor_coupling), 24.0, dt=1.0)
        assert well.vesicles.ledger["secreted"] > 0
        per_vesicle.append(well.vesicles.cargo["LMP1"] / well.vesicles.count)
    assert per_vesicle[1] < per_vesicle[0]  # the STIM1 loading mechanism survives the ledger

    recipient_coupling = Coupling(drugs={"LY294002": "LY294002_uM", "U0126": "U0126_uM"},
                                  cargo={}, uptake={"LMP1": "exo_LMP1_uptake_rate"})  # fmt: skip
    ratios = []
    for particles in (0.0, 1e8):
        pop = new_population(RECIPIENT, 10, seed=5, cells_per_agent=1000)
        well = Well.seed(pop, "24-well", coupling=recipient_coupling)
        well.vesicles.add(particles, {"LMP1": particles * per_vesicle[0]})
        well = advance(well, 12.0, dt=1.0)
        got = outputs(well.population, ["pAkt_ratio", "pERK_ratio", "LMP1_int"])
        ratios.append({k: float(v.mean()) for k, v in got.items()})
        assert well.vesicles.balance("LMP1") == pytest.approx(0.0, abs=1e-6 * max(particles, 1))
    assert ratios[0]["LMP1_int"] == 0 and ratios[1]["LMP1_int"] > 0
    assert ratios[1]["pAkt_ratio"] > ratios[0]["pAkt_ratio"]
    assert ratios[1]["pERK_ratio"] > ratios[0]["pERK_ratio"]


def test_recalibrated_donor_reproduces_each_declared_datum_within_its_tolerance():
    from exotwin.models.calibrate import DENG_MODEL, deng_predict, load_deng_data

    rows = load_deng_data()
    assert rows and all(r["model"] == DONOR == DENG_MODEL for r in rows)
    got = deng_predict(compile_model(DONOR), {}, rows)
    for row, value in zip(rows, got, strict=True):
        assert abs(value - float(row["value"])) <= float(row["tolerance"]), (row["id"], value)


def test_fitted_parameters_cite_their_training_rows():
    from exotwin.models.calibrate import DENG_FITTED, antimony_dir, load_deng_data

    ids = {r["id"] for r in load_deng_data()}
    for file, name, _, _ in DENG_FITTED.values():
        line = next(ln for ln in (antimony_dir() / file).read_text().splitlines()
                    if ln.strip().startswith(f"{name} ="))  # fmt: skip
        cited = line.split("fitted:")[1].split("(")[0].split()
        assert cited and set(cited) <= ids, line


def test_resting_balance_and_soce_null_state_match_the_analytic_solution():
    names = ["CA_Ca_ER_rest", "CA_Ca_cyt_rest", "CA_V_pmca", "CA_K_pmca", "CA_K_serca",
             "CA_k_er_leak", "CA_er", "CA_V_serca", "CA_J_pm_leak", "CA_V_soce",
             "CA_SOCE_open_rest", "CA_SOCE_share_rest"]  # fmt: skip
    c = constants(DONOR, names)
    got = steady(DONOR, ["Ca_cyt", "Ca_ER", "SOCE_open"], n_cells=2,
                 SOCE_block=np.array([0.0, 1.0]))  # fmt: skip
    # reference cell: exactly the declared resting state, SOCE carrying the stated share
    assert got["Ca_cyt"][0] == pytest.approx(c["CA_Ca_cyt_rest"], rel=1e-6)
    assert got["Ca_ER"][0] == pytest.approx(c["CA_Ca_ER_rest"], rel=1e-6)
    assert got["SOCE_open"][0] == pytest.approx(c["CA_SOCE_open_rest"], rel=1e-6)
    pmca = c["CA_V_pmca"] * 0.01 / (c["CA_K_pmca"] ** 2 + 0.01)
    assert c["CA_SOCE_share_rest"] == pytest.approx(
        c["CA_V_soce"] * c["CA_SOCE_open_rest"] / pmca, rel=1e-9)  # fmt: skip
    # SOCE-null cell: PMCA balances the background leak alone, SERCA balances the ER leak
    j, v, k = c["CA_J_pm_leak"], c["CA_V_pmca"], c["CA_K_pmca"]
    ca = k * np.sqrt(j / (v - j))
    serca = c["CA_V_serca"] * ca**2 / (c["CA_K_serca"] ** 2 + ca**2)
    np.testing.assert_allclose(got["Ca_cyt"][1], ca, rtol=1e-6)
    np.testing.assert_allclose(got["Ca_ER"][1], ca + serca / (c["CA_er"] * c["CA_k_er_leak"]),
                               rtol=1e-6)  # fmt: skip


def test_bad_deng_training_rows_are_rejected_with_file_and_field(tmp_path):
    from exotwin.errors import ExotwinError
    from exotwin.models.calibrate import load_deng_data

    path = tmp_path / "t.yaml"
    path.write_text("rows:\n  - {id: a, model: m, source: s, system: s, condition: {}, "
                    "readout: nonsense, value: 1, tolerance: 0.1, mapping: m}\n")  # fmt: skip
    with pytest.raises(ExotwinError, match=r"t.yaml: rows\[0\]\.readout"):
        load_deng_data(path)
    path.write_text("rows:\n  - {id: a}\n")
    with pytest.raises(ExotwinError, match="missing field"):
        load_deng_data(path)
