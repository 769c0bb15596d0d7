"""Donor cultures, ultracentrifugation, dosing, exosome assays and the new comparison kinds."""

import textwrap

import numpy as np
import pandas as pd
import pytest
import yaml

from exotwin.culture.isolation import Conditioned, ultracentrifuge
from exotwin.errors import ExotwinError
from exotwin.protocols import load
from exotwin.protocols.run import compare, condition_donors
from exotwin.protocols.schema import Comparison, Protocol
from exotwin.replicate import summarise
from exotwin.vesicles import VesicleParameters, VesiclePool

BASE = textwrap.dedent(
    """
    id: exo
    title: test
    cells_per_well: 10000
    agents_per_well: 20
    replicates: 2
    duration: 24 h
    donors:
      - label: TM
        cells: 1000000
        agents: 20
        duration: 24 h
        treatments:
          - {type: tunicamycin, concentration: 1.5 uM}
    groups:
      - label: A
        treatments:
          - {type: exosomes, source: TM, dose: 20 ug/mL}
      - label: B
    assays:
      - {type: cck8, times: [24 h]}
    """
)


def test_ultracentrifugation_conserves_vesicles_cargo_and_drugs():
    medium = Conditioned("d", 10.0, 1e9, {"ERp44": 4e9}, {"tunicamycin": 1.5})
    pellet, supernatant = ultracentrifuge(medium, 0.3)
    assert pellet.particles + supernatant.particles == pytest.approx(1e9, rel=1e-12)
    assert pellet.cargo["ERp44"] + supernatant.cargo["ERp44"] == pytest.approx(4e9, rel=1e-12)
    assert pellet.per_vesicle("ERp44") == pytest.approx(4.0)
    assert pellet.drugs == {} and supernatant.drugs == {"tunicamycin": 1.5}
    with pytest.raises(ValueError):
        ultracentrifuge(medium, 1.0)


def test_dosed_only_cargo_is_taken_up_and_balanced():
    pool = VesiclePool()
    pool.add(1e8, {"PKH67": 1e8})
    for _ in range(10):
        pool.step(1.0, np.zeros(3), {}, np.full(3, 1e-3), 0.1, 0.01)
    led = pool.cargo_ledger["PKH67"]
    # analytic: uptake 0.03/h and degradation 0.01/h for 10 h, no secretion
    assert led["taken_up"] == pytest.approx(1e8 * 0.75 * -np.expm1(-0.4), rel=1e-9)
    assert abs(pool.balance("PKH67")) < 1e-6 * 1e8
    assert pool.cargo["PKH67"] == pytest.approx(pool.count, rel=1e-9)  # one dye unit each


def test_donor_exosomes_carry_the_donors_er_stress(tmp_path):
    path = tmp_path / "p.yaml"
    data = yaml.safe_load(BASE)
    data["donors"].append({"label": "plain", "cells": 1e6, "agents": 20, "duration": "24 h"})
    path.write_text(yaml.safe_dump(data))
    media = condition_donors(load(path), seed=2)
    tm, plain = media["TM:exosomes"], media["plain:exosomes"]
    assert tm.per_vesicle("ERp44") > plain.per_vesicle("ERp44")
    whole = media["TM:whole"]
    assert tm.particles + media["TM:exosome_depleted"].particles == pytest.approx(whole.particles)
    assert media["TM:exosome_depleted"].drugs["tunicamycin"] == pytest.approx(1.5)


def test_conditioned_medium_brings_the_donors_drug_diluted():
    from exotwin.protocols.run import _drugs_at

    p = Protocol.model_validate({
        "id": "cm", "title": "t", "cells_per_well": 1e4, "duration": "24 h",
        "donors": [{"label": "TM", "cells": 1e6, "duration": "24 h",
                    "treatments": [{"type": "tunicamycin", "concentration": "1.5 uM"}]}],
        "groups": [{"label": "A", "treatments": [
            {"type": "conditioned_medium", "source": "TM", "part": "exosome_depleted",
             "share": 0.5, "start": "2 h"}]}],
    })  # fmt: skip
    media = {"TM:exosome_depleted": Conditioned("TM", 10.0, 1e9, {}, {"tunicamycin": 1.5})}
    assert _drugs_at(p.groups[0], 0.0, 24.0, media) == {}
    assert _drugs_at(p.groups[0], 3.0, 24.0, media) == {"tunicamycin": pytest.approx(0.75)}


def test_exosomes_from_an_undeclared_donor_are_a_one_line_error(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(BASE.replace("source: TM", "source: nowhere"))
    with pytest.raises(ExotwinError) as info:
        load(path)
    text = str(info.value)
    assert "\n" not in text and str(path) in text
    assert "groups.0.treatments.0.source" in text and "no donor named 'nowhere'" in text


def test_bad_assay_options_name_the_field(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(BASE.replace("{type: cck8, times: [24 h]}",
                                 "{type: exosome_western, times: [24 h], "
                                 "options: {targets: [CD99]}}"))  # fmt: skip
    with pytest.raises(ExotwinError, match="unknown exosome target 'CD99'"):
        load(path)


def _table(values: dict[str, list[float]], readout="r") -> pd.DataFrame:
    rows = [{"assay": "x", "sample": f"{g}{i}", "group": g, "replicate": i, "time_h": 1.0,
             "readout": readout, "value": v, "unit": ""}
            for g, vs in values.items() for i, v in enumerate(vs)]  # fmt: skip
    return pd.DataFrame(rows)


P = Protocol.model_validate({"id": "p", "title": "t", "cells_per_well": 1, "agents_per_well": 1,
                             "duration": "1 h", "groups": [{"label": g} for g in "ABCD"]})


@pytest.mark.parametrize(("values", "expected", "verdict"), [
    ({"A": [1.6, 1.5, 1.7], "B": [1.0, 1.0, 1.0]}, "greater", "pass"),
    ({"A": [1.3, 1.4, 1.35], "B": [1.0, 1.0, 1.0]}, "greater", "fail"),  # significant, not 1.5x
    ({"A": [0.6, 0.6, 0.6], "B": [1.0, 1.0, 1.0]}, "less", "pass"),
    ({"A": [0.0, 0.0, 0.0], "B": [0.0, 0.0, 0.0]}, "greater", "fail"),
])
def test_visible_rule(values, expected, verdict):
    c = Comparison(claim="c", readout="r", time="1 h", groups=["A", "B"], expected=expected,
                   test="visible")  # fmt: skip
    assert compare(P, c, _table(values))["verdict"] == verdict


def test_interaction_requires_a_larger_shift_than_baseline():
    c = Comparison(claim="c", readout="r", time="1 h", groups=["C", "D"], expected="greater",
                   test="visible", than_groups=("A", "B"))  # fmt: skip
    weak = {"A": [2.0] * 3, "B": [1.0] * 3, "C": [1.8] * 3, "D": [1.0] * 3}
    strong = {"A": [1.2] * 3, "B": [1.0] * 3, "C": [1.8] * 3, "D": [1.0] * 3}
    assert compare(P, c, _table(weak))["verdict"] == "fail"
    assert compare(P, c, _table(strong))["verdict"] == "pass"


def test_one_group_range_and_reference_comparisons():
    within = Comparison(claim="c", readout="r", time="1 h", groups=["A"], expected="within",
                        test="range", range=(70, 130))  # fmt: skip
    assert compare(P, within, _table({"A": [101.0, 99.0]}))["verdict"] == "pass"
    assert compare(P, within, _table({"A": [140.0, 150.0]}))["verdict"] == "fail"
    ref = Comparison(claim="c", readout="r", time="1 h", groups=["A"], expected="less",
                     test="visible", reference=1.0)  # fmt: skip
    assert compare(P, ref, _table({"A": [0.01, 0.02, 0.015]}))["verdict"] == "pass"
    with pytest.raises(ValueError, match="range"):
        Comparison(claim="c", readout="r", time="1 h", groups=["A"], expected="within")


def test_nta_reports_the_mode_of_the_size_distribution():
    from exotwin.assays.exosomes import NTAOptions, nta
    from exotwin.cells import new_population
    from exotwin.culture import Well

    well = Well.seed(new_population("tumour_cell", 2, seed=1), "6-well")
    well.vesicles.add(1e9, {})
    values = nta(well, NTAOptions(), seed=1, sample_id=7, vesicle_params=VesicleParameters())
    assert 85.0 < values["NTA mode (nm)"] < 115.0
    assert values["NTA D10 (nm)"] < values["NTA D50 (nm)"] < values["NTA D90 (nm)"]
    assert values["NTA particles/mL"] == pytest.approx(0.3 * 1e9 / 0.1)


def test_summary_claim_is_the_conjunction_of_the_others():
    catalog = [{"id": "a", "paper": "x", "category": "in_vitro"},
               {"id": "b", "paper": "x", "category": "in_vitro"},
               {"id": "s", "paper": "x", "category": "interpretive_summary"}]  # fmt: skip

    def run(a, b):
        verdicts = [{"id": "a", "verdict": a}, {"id": "b", "verdict": b},
                    {"id": "s", "verdict": "not_tested"}]  # fmt: skip
        return summarise(verdicts, catalog)[-1]["verdict"]

    assert run("pass", "pass") == "pass"
    assert run("pass", "fail") == "fail"
    assert run("pass", "not_tested") == "not_tested"


@pytest.mark.parametrize("values", [
    {"A": [np.nan] * 3, "B": [1.0] * 3},
    {"A": [1.0] * 3, "B": [np.nan] * 3},
    {"A": [2.0] * 3, "B": [-1.0] * 3},
])
def test_missing_or_negative_readouts_never_pass_the_visible_rule(values):
    for expected in ("greater", "less"):
        c = Comparison(claim="c", readout="r", time="1 h", groups=["A", "B"],
                       expected=expected, test="visible")  # fmt: skip
        assert compare(P, c, _table(values))["verdict"] == "fail"


def test_a_failing_part_fails_the_claim_even_beside_an_untested_one():
    from exotwin.protocols.run import claim_verdicts

    parts = [{"id": "c", "verdict": "fail", "expected": "", "observed": "", "p_value": 0.5,
              "protocol": "p"},
             {"id": "c", "verdict": "not_tested", "expected": "", "observed": None,
              "p_value": None, "protocol": "p"}]  # fmt: skip
    assert claim_verdicts(parts)[0]["verdict"] == "fail"


def test_treatment_times_off_the_step_grid_are_one_line_errors(tmp_path):
    from exotwin.protocols.run import run

    data = yaml.safe_load(BASE)
    data["groups"][0]["treatments"][0]["start"] = "30 min"
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ExotwinError, match="groups.0.treatments.0.start.*not a step"):
        run(load(path), seed=1, source=str(path))


def test_empty_pellet_gives_no_nta_sizes():
    from exotwin.assays.exosomes import NTAOptions, nta
    from exotwin.cells import new_population
    from exotwin.culture import Well

    well = Well.seed(new_population("tumour_cell", 2, seed=1), "6-well")
    values = nta(well, NTAOptions(), seed=1, sample_id=7, vesicle_params=VesicleParameters())
    assert np.isnan(values["NTA mode (nm)"]) and values["NTA particles/mL"] == 0.0


def test_protocols_with_the_same_layout_are_independent_experiments():
    from exotwin.protocols.run import run

    spec = {"title": "t", "cells_per_well": 2000, "agents_per_well": 10, "replicates": 2,
            "duration": "24 h", "phenotype_step": "6 h",
            "groups": [{"label": "A"}], "assays": [{"type": "cck8", "times": ["24 h"]}]}
    a = run(Protocol.model_validate({**spec, "id": "one"}), seed=5).readouts["value"]
    b = run(Protocol.model_validate({**spec, "id": "two"}), seed=5).readouts["value"]
    again = run(Protocol.model_validate({**spec, "id": "one"}), seed=5).readouts["value"]
    assert np.array_equal(a.to_numpy(), again.to_numpy())
    assert not np.array_equal(a.to_numpy(), b.to_numpy())
