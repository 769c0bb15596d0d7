"""Running a protocol: wells per group and replicate, tidy readouts, FCS files, verdicts."""

import textwrap

import pandas as pd

from exotwin.assays import TIDY_COLUMNS
from exotwin.protocols import load
from exotwin.protocols.run import run

PROTOCOL = textwrap.dedent(
    """
    id: mini
    title: small knockdown + cisplatin run
    cells_per_well: 2000
    agents_per_well: 40
    replicates: 2
    duration: 24 h
    phenotype_step: 2 h
    groups:
      - label: NC
        treatments:
          - {type: drug, name: cisplatin, concentration: 20 ug/mL, start: 4 h}
      - label: sh
        treatments:
          - {type: knockdown, gene: ERp44, efficiency: 0.75}
          - {type: drug, name: cisplatin, concentration: 20 ug/mL, start: 4 h}
    assays:
      - {type: cck8, times: [12 h, 24 h]}
      - {type: flow_annexin_7aad, times: [24 h], events: 2000}
    comparisons:
      - {claim: test-claim, readout: apoptotic_%, time: 24 h, groups: [sh, NC], expected: greater}
    """
)


def test_protocol_run_writes_tidy_readouts_fcs_and_verdicts(tmp_path):
    path = tmp_path / "mini.yaml"
    path.write_text(PROTOCOL)
    result = run(load(path), seed=3, out=tmp_path)
    r = result.readouts
    assert tuple(r.columns[: len(TIDY_COLUMNS)]) == TIDY_COLUMNS
    od = r[r["readout"] == "OD450"]
    assert len(od) == 2 * 2 * 2  # groups x replicates x times
    assert len(result.files) == 4 and all(f.suffix == ".fcs" for f in result.files)
    (c,) = result.comparisons
    assert c["verdict"] in ("pass", "fail") and 0 <= c["p_value"] <= 1
    assert {"id", "verdict", "expected", "observed", "p_value", "protocol"} <= set(c)
    again = run(load(path), seed=3)
    pd.testing.assert_frame_equal(r, again.readouts)


def test_medium_change_removes_drugs_and_vesicles():
    from exotwin.cells import new_population
    from exotwin.culture import Well
    from exotwin.protocols import schema as S
    from exotwin.protocols.run import step_well

    group = S.Group.model_validate({"label": "g", "treatments": [
        {"type": "drug", "name": "cisplatin", "concentration": "10 uM"},
        {"type": "medium_change", "at": "2 h"},
    ]})  # fmt: skip
    well = Well.seed(new_population("tumour_cell", 10, seed=1, cells_per_agent=100), "96-well")
    for t in (0.0, 1.0):
        step_well(well, group, t, 1.0, 4.0)
    assert well.drugs == {"cisplatin": 10.0} and well.vesicles.count > 0
    before = well.vesicles.count
    step_well(well, group, 2.0, 1.0, 4.0)
    assert well.drugs == {}
    assert well.vesicles.ledger["removed"] == before
    assert abs(well.vesicles.balance()) <= 1e-9 * well.vesicles.ledger["secreted"]


def _compared(a: list[float], b: list[float], **kw) -> dict:
    from types import SimpleNamespace

    from exotwin.protocols.run import compare
    from exotwin.protocols.schema import Comparison

    rows = [{"group": g, "readout": "r", "time_h": 24.0, "value": v}
            for g, vals in (("A", a), ("B", b)) for v in vals]  # fmt: skip
    groups = ["A"] if "reference" in kw else ["A", "B"]
    c = Comparison(claim="c", readout="r", time="24 h", groups=groups,
                   **{"expected": "greater", **kw})  # fmt: skip
    return compare(SimpleNamespace(id="p"), c, pd.DataFrame(rows))


def test_comparison_wording_for_greater_less_equal_and_no_difference():
    cases = [  # (A, B, observed start, verdict)
        ([5.0, 5.1, 5.2], [1.0, 1.1, 1.2], "A greater than B (5.1 vs 1.1", "pass"),
        ([1.0, 1.1, 1.2], [5.0, 5.1, 5.2], "A less than B (1.1 vs 5.1", "fail"),
        ([1.0, 2.0, 3.0], [3.0, 2.0, 1.0], "A equal to B (2 vs 2", "fail"),
        ([1.0, 2.0, 3.5], [3.0, 2.0, 1.0], "A not different from B (2.167 vs 2", "fail"),
        ([1.0, 2.0, 3.0], [3.0, 2.0, 1.2], "A not different from B (2 vs 2.067", "fail"),
    ]
    for a, b, observed, verdict in cases:
        c = _compared(a, b)
        assert c["expected"] == "A greater than B"
        assert c["observed"].startswith(observed) and c["verdict"] == verdict, c
        assert "equal than" not in c["observed"]
    one = [_compared(a, [], reference=2.0)["observed"] for a in
           ([5.0, 5.1, 5.2], [1.0, 1.1, 1.2], [1.0, 2.0, 3.0], [1.0, 2.0, 3.5])]  # fmt: skip
    assert [o.split(" (")[0] for o in one] == [
        "A greater than 2", "A less than 2", "A equal to 2", "A not different from 2"]
    fold = _compared([5.0, 5.1, 5.2], [], reference=2.0, test="visible")
    assert fold["observed"].startswith("A/2 = 2.55-fold (5.1") and fold["verdict"] == "pass"


def test_a_visible_difference_over_zero_is_said_in_words():
    # a reporter absent from mock cells: 'NC/mock = inf-fold' in the report before
    c = _compared([70.0, 75.0, 80.0], [0.0, 0.0, 0.0], test="visible")
    assert c["observed"] == "A/B: B is 0 (75 vs 0, mean of 3)" and c["verdict"] == "pass"
    c = _compared([1.0, 1.1, 1.2], [0.0, 0.0, 0.0], test="visible", expected="less")
    assert c["observed"].startswith("A/B: B is 0") and c["verdict"] == "fail"
