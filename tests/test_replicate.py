"""`replicate`: claims.json for every claim of the paper, report, same numbers on each engine."""

import json

import pandas as pd

from exotwin.claims import claims
from exotwin.replicate import replicate

SUBSET = ["xia2021-fig2E"]


def test_engines_agree_and_every_claim_gets_a_verdict(tmp_path):
    serial = replicate("xia2021", 4, tmp_path / "s", "serial", protocols=SUBSET)
    procs = replicate("xia2021", 4, tmp_path / "p", "processes", protocols=SUBSET, workers=1)
    dask = replicate("xia2021", 4, tmp_path / "d", "dask", protocols=SUBSET)
    a = json.loads((tmp_path / "s" / "claims.json").read_text())
    b = json.loads((tmp_path / "p" / "claims.json").read_text())
    assert a == b == json.loads((tmp_path / "d" / "claims.json").read_text())
    assert {c["id"] for c in a} == {c["id"] for c in claims("xia2021")}
    for c in a:
        assert {"id", "verdict", "expected", "observed", "p_value", "protocol"} <= set(c)
        assert c["verdict"] in ("pass", "fail", "not_tested")
    image_only = next(c for c in a if c["id"] == "xia2021-fig4A")
    assert image_only["verdict"] == "not_tested" and "image" in image_only["reason"]
    ra = pd.read_parquet(tmp_path / "s" / "readouts" / "xia2021-fig2E.parquet")
    rb = pd.read_parquet(tmp_path / "p" / "readouts" / "xia2021-fig2E.parquet")
    pd.testing.assert_frame_equal(ra, rb)
    rd = pd.read_parquet(tmp_path / "d" / "readouts" / "xia2021-fig2E.parquet")
    pd.testing.assert_frame_equal(ra, rd)
    page = serial["report"].read_text()
    assert "<svg" in page and "xia2021-fig2E" in page and "src=\"http" not in page
    # parameter provenance: every model parameter with its source, e.g. the doubling time
    assert "Parameter provenance" in page and "k_div_basal" in page and "Jiang" in page
    assert procs["counts"] == serial["counts"] == dask["counts"]


def test_shipped_claims_catalog_matches_the_shared_one():
    from conftest import SHARED
    from exotwin.claims import catalog

    shared = SHARED / "claims.yaml"
    if shared.is_file():
        import yaml

        assert catalog() == yaml.safe_load(shared.read_text())


def test_known_disagreements_name_real_claims_and_show_only_on_failure():
    from importlib import resources

    import yaml

    from exotwin.claims import disagreements, explain
    from exotwin.report import disagreement_section

    entries = yaml.safe_load((resources.files("exotwin.claims") / "disagreements.yaml")
                             .read_text())["entries"]  # fmt: skip
    ids = [cid for e in entries for cid in e["claims"]]
    assert len(ids) == len(set(ids)), "a claim belongs to one disagreement"
    assert set(ids) <= {c["id"] for c in claims()}
    assert all(e["mechanism"].strip() and e["decide"].strip() for e in entries)
    cid = ids[0]
    verdicts = [{"id": cid, "verdict": "fail"}, {"id": ids[-1], "verdict": "pass"},
                {"id": "xia2021-fig2E", "verdict": "fail"}]  # fmt: skip
    out = explain(verdicts)
    assert out[0]["disagreement"] == disagreements()[cid]
    assert "disagreement" not in out[1] and "disagreement" not in out[2]  # passes; none known
    page = disagreement_section(out)
    assert "Where the twin and the paper disagree" in page and cid in page
    assert ids[-1] not in page
    assert disagreement_section(out[1:]) == ""
