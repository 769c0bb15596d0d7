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
