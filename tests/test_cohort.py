"""Virtual patient cohorts: reproducible, order-independent, mechanistic, validated."""

import textwrap

import numpy as np
import pandas as pd
import pytest

from exotwin.cohort import run
from exotwin.cohort.compare import evaluate
from exotwin.cohort.schema import CohortComparison
from exotwin.cohort.tissue import CohortParameters, draw_persons, simulate_tissues
from exotwin.errors import ExotwinError
from exotwin.protocols import library, load, run_protocol

COHORT = textwrap.dedent(
    """
    kind: cohort
    id: c1
    title: test cohort
    cells_per_compartment: 3
    groups:
      - {label: T, tissue: tumour, persons: 3}
      - {label: N, tissue: normal, persons: 3}
    assays:
      - {type: tissue_western, targets: [GRP78, ERp44]}
      - {type: rnaseq, targets: [HSPA5, ERP44]}
      - {type: serum_exosome_western, targets: [ERp44]}
    comparisons:
      - {claim: a, readout: GRP78/GAPDH, groups: [T, N], expected: greater}
      - {claim: b, readout: GRP78/GAPDH, groups: [T, N], expected: greater, test: k-of-n, k: 2}
      - {claim: c, readout: HSPA5 log2(TPM+1), groups: [T, N], expected: greater, test: gepia2}
      - {claim: d, readout: HSPA5 log2(TPM+1), versus: ERP44 log2(TPM+1), groups: [T],
         expected: greater, test: pearson}
      - {claim: e, readout: GRP78/GAPDH, groups: [T, N], expected: greater, test: visible,
         split_by: ERp44/GAPDH}
    """
)


def write(tmp_path, text, name="c.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def by_sample(result):
    return result.readouts.set_index(["sample", "readout"])["value"].sort_index()


def test_cohort_is_reproducible_and_independent_of_group_order_and_size(tmp_path):
    p = load(write(tmp_path, COHORT))
    a, b = run(p, seed=3), run(p, seed=3)
    pd.testing.assert_series_equal(by_sample(a), by_sample(b))
    assert {c["id"] for c in a.comparisons} == set("abcde")
    swapped = COHORT.replace("- {label: T, tissue: tumour, persons: 3}\n  - {label: N, "
                             "tissue: normal, persons: 3}", "- {label: N, tissue: normal, "
                             "persons: 3}\n  - {label: T, tissue: tumour, persons: 3}")
    assert swapped != COHORT
    pd.testing.assert_series_equal(by_sample(a), by_sample(run(load(write(
        tmp_path, swapped, "s.yaml")), seed=3)))  # fmt: skip
    bigger = load(write(tmp_path, COHORT.replace("tissue: normal, persons: 3",
                                                 "tissue: normal, persons: 5"), "b.yaml"))
    grown = by_sample(run(bigger, seed=3))
    pd.testing.assert_series_equal(by_sample(a), grown.loc[by_sample(a).index])
    assert not np.allclose(by_sample(run(p, seed=4)).to_numpy(), by_sample(a).to_numpy())


def test_hypoxic_load_raises_grp78_and_erp44_through_the_upr(tmp_path):
    p = load(write(tmp_path, COHORT))
    params = CohortParameters()
    persons = draw_persons(p, params, seed=1)
    tissue = simulate_tissues(p.model, persons, params, seed=1, cells=3, cv=0.0)
    tumour = persons.tumour
    for v in ("GRP78_total", "GRP78_mRNA", "ERp44", "ERp44_mRNA", "exo_ERp44_cargo"):
        hyp, nor = tissue[f"{v}|hypoxic"][tumour], tissue[f"{v}|normoxic"][tumour]
        assert np.all(hyp > 1.2 * nor), v  # the raised unfolded load induces the UPR targets
        assert np.all(np.isnan(tissue[f"{v}|hypoxic"][~tumour]))
    # with no cell variation every normoxic compartment is the model's unstressed cell
    assert np.ptp(tissue["GRP78_total|normoxic"]) < 1e-9
    assert np.allclose(tissue["GRP78_total"][~tumour], tissue["GRP78_total|normoxic"][~tumour])
    h = persons.hypoxic_fraction[tumour]
    assert np.all((h > 0) & (h < 1))
    stronger = CohortParameters(hypoxic_load_factor=11.0)
    tissue2 = simulate_tissues(p.model, persons, stronger, seed=1, cells=3, cv=0.0)
    assert np.all(tissue2["GRP78_total|hypoxic"][tumour] > tissue["GRP78_total|hypoxic"][tumour])


def test_hypoxic_fraction_follows_its_beta_median():
    class P:
        groups = [type("G", (), {"label": "T", "tissue": "tumour", "persons": 4000,
                                 "key_base": lambda self: 0})()]  # fmt: skip

    persons = draw_persons(P(), CohortParameters(), seed=2)
    assert abs(np.median(persons.hypoxic_fraction) - 0.19) < 0.02
    assert abs(np.mean(persons.burden_ml) / 56.0 - 1) < 0.05


def _frame(groups: dict[str, dict[str, np.ndarray]]) -> pd.DataFrame:
    rows = []
    for g, readouts in groups.items():
        for r, values in readouts.items():
            rows += [{"assay": "x", "sample": f"{g} #{i}", "group": g, "replicate": i,
                      "time_h": 0.0, "readout": r, "value": v, "unit": ""}
                     for i, v in enumerate(values, 1)]  # fmt: skip
    return pd.DataFrame(rows)


class _P:
    id = "p"


def test_gepia2_needs_the_fold_change_cut_off_and_pearson_the_sign():
    noise = np.random.default_rng(0).normal(0, 0.3, 200)
    c = CohortComparison(claim="g", readout="x", groups=["T", "N"], expected="greater",
                         test="gepia2")  # fmt: skip
    small = _frame({"T": {"x": 5.9 + noise}, "N": {"x": 5 + noise[:50]}})
    large = _frame({"T": {"x": 6.1 + noise}, "N": {"x": 5 + noise[:50]}})
    assert evaluate(_P, c, small)["verdict"] == "fail"  # 0.9 log2 units: below the cut-off
    assert evaluate(_P, c, large)["verdict"] == "pass"
    r = CohortComparison(claim="r", readout="x", versus="y", groups=["T"], expected="greater",
                         test="pearson")  # fmt: skip
    pos = _frame({"T": {"x": noise, "y": noise + np.random.default_rng(1).normal(0, .3, 200)}})
    neg = _frame({"T": {"x": noise, "y": -noise}})
    assert evaluate(_P, r, pos)["verdict"] == "pass"
    assert evaluate(_P, r, neg)["verdict"] == "fail"
    k = CohortComparison(claim="k", readout="x", groups=["T", "N"], expected="greater",
                         test="k-of-n", k=3)  # fmt: skip
    three = _frame({"T": {"x": [1.6, 1.6, 1.6, 1.0]}, "N": {"x": [1.0, 1.0]}})
    two = _frame({"T": {"x": [1.6, 1.6, 1.4, 1.0]}, "N": {"x": [1.0, 1.0]}})
    assert evaluate(_P, k, three)["verdict"] == "pass"
    assert evaluate(_P, k, two)["verdict"] == "fail"


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (("kind: cohort", "kind: zoo"), "kind", "unknown protocol kind"),
        (("tissue: normal", "tissue: liver"), "groups.1.tissue", "Input should be"),
        (("persons: 3}\n  - {label: N", "persons: 0}\n  - {label: N"), "groups.0.persons",
         "greater than or equal to 1"),
        ((", k: 2}", "}"), "comparisons.1", "k: required with test k-of-n"),
        (("groups: [T],", "groups: [T, N],"), "comparisons.3", "pearson takes exactly 1"),
        (("readout: GRP78/GAPDH, groups: [T, N], expected: greater}",
          "readout: Bax/GAPDH, groups: [T, N], expected: greater}"), "comparisons.0.readout",
         "no assay gives 'Bax/GAPDH'"),
        (("targets: [GRP78, ERp44]", "targets: [GRP78, Bax]"), "assays.0",
         "unknown tissue_western target 'Bax'"),
        (("title: test cohort", "title: t\nparameters: {hypoxic_fraction_mode: 0.2}"),
         "parameters", "unknown cohort parameter"),
        (("groups: [T, N], expected: greater}", "groups: [T, Z], expected: greater}"),
         "comparisons.0.groups", "no group named 'Z'"),
        (("k: 2}", "k: 4}"), "comparisons.1.k", "more than the 3 persons"),
        (("title: test cohort", "title: t\nplate: 96-well"), "plate", "unknown field; known: "),
        (("cells_per_compartment: 3\n", ""), "", ""),
    ],
)
def test_malformed_cohort_protocols_name_file_field_and_reason(tmp_path, change, field, reason):
    path = write(tmp_path, COHORT.replace(*change))
    if not field:  # removing an optional field keeps the protocol valid
        assert load(path).cells_per_compartment == 12
        return
    with pytest.raises(ExotwinError) as info:
        load(path)
    text = str(info.value)
    assert "\n" not in text
    assert str(path) in text and field in text and reason in text, text


def test_library_cohort_protocols_give_a_verdict_for_every_claim():
    for pid in ("xia2021-fig1AB", "xia2021-fig5A"):
        p = load(library()[pid])
        result = run_protocol(p, seed=1)
        assert set(result.readouts["time_h"]) == {0.0}
        verdicts = {c["id"]: c["verdict"] for c in result.comparisons}
        assert set(verdicts) == set(p.claims)
        assert set(verdicts.values()) <= {"pass", "fail"}
        for c in result.comparisons:
            assert {"id", "verdict", "expected", "observed", "p_value", "protocol", "test",
                    "readout", "time_h", "groups"} <= set(c)
        assert "Cohort" in p.describe(1)
