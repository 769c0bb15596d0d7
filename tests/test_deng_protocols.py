"""Deng 2023 twin: protocol plumbing (donor lines, per-model couplings, drug and gene
inputs), the new assays, every deng2023 protocol at small size, and behaviour beyond the
paper (blocked uptake, exosome dose-response)."""

import textwrap

import numpy as np
import pytest

from exotwin.cells import new_population, outputs
from exotwin.culture import Well, advance, coupling
from exotwin.errors import ExotwinError
from exotwin.protocols import library, load, run_protocol
from exotwin.protocols import run as run_module
from exotwin.protocols import schema as S
from exotwin.protocols.run import step_well
from helpers import write_protocol

# culture protocols; the CAM protocol (kind cam) runs in tests/test_cam.py
DENG = [pid for pid in library() if pid.startswith("deng2023") and pid != "deng2023-cam"]

BASE = textwrap.dedent("""
    id: t
    title: t
    cell_line: HUVEC
    plate: 6-well
    cells_per_well: 20000
    agents_per_well: 10
    replicates: 2
    duration: 6 h
    donors:
      - {label: NPC, cell_line: CNE2-EBV, cells: 200000, agents: 10, duration: 12 h}
    groups:
      - label: PBS
      - label: exo
        treatments:
          - {type: exosomes, source: NPC, dose: 20 ug/mL}
    assays:
      - {type: western, times: [6 h], targets: [p-Akt/Akt, p-ERK/ERK, Akt]}
      - {type: edu, times: [6 h]}
""")


@pytest.mark.parametrize("pid", DENG)
def test_deng_protocols_load_and_run_small(pid):
    p = load(library()[pid])
    assert p.paper == "deng2023" and p.assumptions and p.comparisons
    assert all(c.claim.startswith("deng2023-") for c in p.comparisons)
    small = p.model_copy(update={"agents_per_well": 8, "replicates": 2, "donors": [
        d.model_copy(update={"agents": 8}) for d in p.donors]})  # fmt: skip
    result = run_protocol(small, seed=1, source=pid)
    assert len(result.comparisons) == len(p.comparisons)
    assert {c["verdict"] for c in result.comparisons} <= {"pass", "fail"}
    assert np.isfinite(result.readouts["value"]).all()


def test_donor_line_differs_from_recipient_line(tmp_path, monkeypatch):
    p = load(write_protocol(tmp_path, BASE))
    assert p.model == "endothelial_cell" and p.donors[0].cell_line == "CNE2-EBV"
    made = []
    real = run_module.new_population

    def spy(model, *args, **kw):
        made.append(model)
        return real(model, *args, **kw)

    monkeypatch.setattr(run_module, "new_population", spy)
    media = run_module.condition_donors(p, 7, "p.yaml")
    assert made == ["npc_ebv_cell"]
    prep = media["NPC:exosomes"]
    assert prep.particles > 0 and prep.per_vesicle("LMP1") > 0  # donor cargo, donor model
    result = run_protocol(p, seed=7)
    assert made[1:] == ["npc_ebv_cell"] + ["endothelial_cell"] * 4
    assert set(result.readouts["readout"]) >= {"p-Akt/Akt", "p-ERK/ERK", "Akt/GAPDH", "EdU+ (%)"}


def test_protocol_model_must_match_its_line(tmp_path):
    from helpers import assert_load_error

    path = write_protocol(tmp_path, "model: tumour_cell\n" + BASE)
    assert_load_error(path, "model", "disagrees with the model 'endothelial_cell'")
    bad = BASE.replace("cell_line: CNE2-EBV", "cell_line: HeLa-X")
    assert_load_error(write_protocol(tmp_path, bad), "donors.0.cell_line", "unknown cell line")


def test_couplings_are_per_model_and_tumour_unchanged():
    t = coupling("tumour_cell")
    assert t.drugs == {"cisplatin": "cisplatin_uM", "tunicamycin": "tunicamycin_uM"}
    assert t.cargo == {"ERp44": "exo_ERp44_cargo", "GRP78": "exo_GRP78_cargo"}
    assert t.uptake == {"ERp44": "exo_ERp44_uptake_rate", "GRP78": "exo_GRP78_uptake_rate"}
    e, n = coupling("endothelial_cell"), coupling("npc_ebv_cell")
    assert e.uptake == {"LMP1": "exo_LMP1_uptake_rate"} and n.cargo == {"LMP1": "exo_LMP1_cargo"}
    assert e.drugs == {"LY294002": "LY294002_uM", "U0126": "U0126_uM"}
    assert n.drugs == {"SKF-96365": "SKF96365_uM"}
    assert coupling("no_such_model").secretion is None  # undeclared: no coupling at all


def test_cargo_the_recipient_does_not_take_up_stays_in_the_ledger():
    pop = new_population("endothelial_cell", 10, seed=3, cells_per_agent=1000)
    well = Well.seed(pop, "6-well")
    assert well.coupling == coupling("endothelial_cell")
    well.vesicles.add(1e10, {"LMP1": 5e10, "ERp44": 2e10})
    advance(well, 4.0, 1.0)
    for cargo in ("LMP1", "ERp44"):
        led = well.vesicles.cargo_ledger[cargo]
        assert led["taken_up"] > 0 and abs(well.vesicles.balance(cargo)) < 1e-6 * 5e10
    assert "exo_ERp44_uptake_rate" not in well.population.params
    assert well.population.params["exo_LMP1_uptake_rate"].max() > 0


def test_drug_or_gene_the_model_lacks_is_one_clear_error(tmp_path):
    text = BASE.replace("  - label: PBS\n", "  - label: PBS\n    treatments:\n"
                        "      - {type: drug, name: cisplatin, concentration: 5 uM}\n")
    path = write_protocol(tmp_path, text)
    with pytest.raises(ExotwinError) as info:
        run_protocol(load(path), seed=1, source=str(path))
    msg = str(info.value)
    assert str(path) in msg and "groups.0.treatments.0.name" in msg
    assert "'cisplatin'" in msg and "endothelial_cell" in msg and "LY294002" in msg
    text = BASE.replace("cell_line: CNE2-EBV, cells: 200000,", "cell_line: CNE2-EBV, "
                        "treatments: [{type: knockdown, gene: ERp44, efficiency: 0.5}], "
                        "cells: 200000,")  # fmt: skip
    path = write_protocol(tmp_path, text)
    with pytest.raises(ExotwinError, match=r"donors\.0\.treatments\.0\.gene: gene 'ERp44'"):
        run_protocol(load(path), seed=1, source=str(path))
    path = write_protocol(tmp_path, BASE.replace("targets: [p-Akt/Akt,", "targets: [GRP78,"))
    with pytest.raises(ExotwinError, match=r"assays\.0\.targets: western target 'GRP78'"):
        run_protocol(load(path), seed=1, source=str(path))


def _huvec_well(inhibition: float) -> Well:
    pop = new_population("endothelial_cell", 20, seed=5, cells_per_agent=500,
                         variation_cv=0.2)  # fmt: skip
    return Well.seed(pop, "6-well", uptake_inhibition=inhibition)


def test_blocked_uptake_makes_exosome_wells_equal_untreated_wells(tmp_path):
    p = load(write_protocol(tmp_path, BASE))
    media = run_module.condition_donors(p, 11)
    exo, pbs = p.groups[1], p.groups[0]
    names = ["pAkt_ratio", "pERK_ratio", "division_rate"]
    wells = {"blocked": (_huvec_well(1.0), exo), "untreated": (_huvec_well(0.0), pbs),
             "open": (_huvec_well(0.0), exo)}  # fmt: skip
    for t in range(12):
        for well, group in wells.values():
            step_well(well, group, float(t), 1.0, 12.0, media)
    out = {k: outputs(w.population, names) for k, (w, _) in wells.items()}
    blocked, untreated, open_ = out["blocked"], out["untreated"], out["open"]
    assert wells["blocked"][0].vesicles.count > 0  # the vesicles are there, just not taken up
    for name in names:
        np.testing.assert_array_equal(blocked[name], untreated[name])
    np.testing.assert_array_equal(wells["blocked"][0].population.counts,
                                  wells["untreated"][0].population.counts)  # fmt: skip
    assert open_["pAkt_ratio"].mean() > untreated["pAkt_ratio"].mean()  # the test can fail


def test_endothelial_response_rises_with_exosome_dose_and_saturates(tmp_path):
    doses = [0.0, 0.1, 1.0, 10.0, 100.0, 300.0]
    groups = "".join(f"  - label: d{d:g}\n    treatments:\n      - {{type: exosomes, source: "
                     f"NPC, dose: {d:g} ug/mL}}\n" for d in doses)  # fmt: skip
    text = BASE.split("groups:")[0] + "groups:\n" + groups + textwrap.dedent("""
        assays:
          - {type: western, times: [6 h], targets: [p-Akt/Akt, p-ERK/ERK]}
    """)
    text = text.replace("replicates: 2", "replicates: 6")
    result = run_protocol(load(write_protocol(tmp_path, text)), seed=2)
    r = result.readouts
    for readout in ("p-Akt/Akt", "p-ERK/ERK"):
        m = [r[(r["readout"] == readout) & (r["group"] == f"d{d:g}")]["value"].mean()
             for d in doses]  # fmt: skip
        rise = m[4] - m[0]
        assert rise > 0 and m[2] > m[0] and m[3] > m[1], (readout, m)
        # saturation: tripling the top dose adds little compared with the whole rise
        assert abs(m[5] - m[4]) < 0.25 * rise, (readout, m)


def test_new_assays_edu_pkh26_and_phospho_pairs():
    from exotwin.assays import microscopy, western

    counts = np.zeros((2, 5), dtype=np.int64)
    counts[:, 0] = 1000
    none = microscopy.edu_classes(counts, np.zeros(2), 1.0, 2.0, microscopy.EduParameters())
    assert none[0] == 0 and none.sum() == 2000
    rate = np.full(2, np.log(2) / 24)
    some = microscopy.edu_classes(counts, rate, 1.0, 2.0, microscopy.EduParameters())
    assert some[0] == pytest.approx(2000 * -np.expm1(-rate[0] * 10.0))
    assert microscopy.edu_classes(counts, rate, 0.0, 2.0, microscopy.EduParameters())[0] == 0
    assert western.bands(["p-Akt/Akt", "Akt", "STIM1"]) == ["p-Akt", "Akt", "STIM1"]
    got = western.readouts(["p-Akt/Akt", "STIM1"], {"p-Akt": 0.3, "Akt": 1.5, "STIM1": 2.0})
    assert got == {"p-Akt/Akt": pytest.approx(0.2), "STIM1/GAPDH": 2.0}
    with pytest.raises(Exception, match="label"):
        S.Exosomes(type="exosomes", source="x", dose="1 ug/mL", label="DiI")


def test_summary_claims_with_a_direct_test_and_background_premises():
    from exotwin.claims import claims
    from exotwin.replicate import IMAGE_ONLY, source_notes, summarise

    catalog = claims("deng2023")
    verdicts = [{"id": c["id"], "verdict": "pass", "protocol": "x", "observed": "ok"}
                for c in catalog]  # fmt: skip
    kinds = {c["id"]: c["category"] for c in catalog}
    background = next(c for c, k in kinds.items() if k == "background")
    for v in verdicts:
        if v["id"] == background:
            v["verdict"] = "fail"  # a failing premise is not a finding of the paper
        if kinds[v["id"]] == "interpretive_summary" and v["id"] != "deng2023-synthesis":
            direct = v["id"]
        if v["id"] in IMAGE_ONLY:
            v.update(verdict="not_tested", protocol=None)
    out = {v["id"]: v for v in summarise(verdicts, catalog)}
    assert out["deng2023-synthesis"]["verdict"] == "pass"
    assert out[direct]["verdict"] == "pass" and "direct test" in out[direct]["observed"]
    for v in verdicts:  # the direct test's own failure fails the summary claim
        if v["id"] == direct:
            v["verdict"] = "fail"
    out = {v["id"]: v for v in summarise(verdicts, catalog)}
    assert out[direct]["verdict"] == "fail" and out["deng2023-synthesis"]["verdict"] == "pass"
    assert "abstract only" in source_notes("deng2023")[0] and source_notes("xia2021") == []
