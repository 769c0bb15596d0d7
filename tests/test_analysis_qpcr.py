"""qPCR: ΔΔCt and Pfaffl on hand-computable examples; missing reference genes."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis_helpers import read_or_one_line_error, run_cli
from exotwin.analysis import qpcr
from exotwin.errors import ExotwinError

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "analysis" / "qpcr_ct.csv"


def test_livak_on_the_hand_computable_example(tmp_path):
    # ΔCt: NC-1 24.1-18.1 = 6, NC-2 24.4-18.4 = 6, sh-1 26-18 = 8, sh-2 25.2-18.2 = 7
    # ΔΔCt: sh-1 2, sh-2 1 -> mean 1.5, SD 0.7071; fold change 2^-1.5 = 0.35355
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("analyze", "qpcr", EXAMPLE, "--reference", "GAPDH",
                                   "--control", "NC", "--out", out)
    assert code == 0, stderr
    fc = pd.read_csv(out / "fold_change.csv")
    sh = fc[(fc["method"] == "livak") & (fc["group"] == "shERp44")].iloc[0]
    assert sh["ddct"] == pytest.approx(1.5)
    assert sh["ddct_sd"] == pytest.approx(np.sqrt(0.5))
    assert sh["fold_change"] == pytest.approx(2**-1.5)
    assert sh["fc_low"] == pytest.approx(2 ** (-1.5 - np.sqrt(0.5)))
    nc = fc[(fc["method"] == "livak") & (fc["group"] == "NC")].iloc[0]
    assert nc["fold_change"] == pytest.approx(1.0) and nc["ddct_sd"] == pytest.approx(0.0)
    pf = fc[fc["method"] == "pfaffl"].reset_index(drop=True)
    lv = fc[fc["method"] == "livak"].reset_index(drop=True)
    np.testing.assert_allclose(pf["fold_change"], lv["fold_change"])  # E = 2 for all
    assert {"fold_change.parquet", "fold_change_livak.png", "summary.html"} <= {
        p.name for p in out.iterdir()}


def table(rows):
    return pd.DataFrame(rows, columns=["sample", "group", "gene", "ct"])


def test_two_reference_genes_and_pfaffl_efficiencies_by_hand():
    ct = table([
        ("c", "ctrl", "T", 25.0), ("c", "ctrl", "R1", 20.0), ("c", "ctrl", "R2", 16.0),
        ("s", "trt", "T", 23.0), ("s", "trt", "R1", 21.0), ("s", "trt", "R2", 16.0),
        ("s", "trt", "R2", 17.0),
    ])
    res = qpcr.fold_changes(ct, ["R1", "R2"], "ctrl", {"T": 1.9, "R1": 2.0, "R2": 1.8})
    fc = res.fold_change.set_index(["method", "group"])
    # Livak: ref = mean(21, 16.5) = 18.75 vs 18; ΔCt 4.25 vs 7; ΔΔCt -2.75
    assert fc.loc[("livak", "trt"), "ddct"] == pytest.approx(-2.75)
    assert fc.loc[("livak", "trt"), "fold_change"] == pytest.approx(2**2.75)
    # technical SD of R2 in s: 0.7071; propagated: sqrt(0 + (0.7071^2) / 4)
    assert fc.loc[("livak", "trt"), "ddct_sd"] == pytest.approx(np.sqrt(0.5 / 4))
    # Pfaffl: ratio = 1.9^(25-23) / sqrt(2^(20-21) * 1.8^(16-16.5))
    expected = 1.9**2 / np.sqrt(2.0**-1 * 1.8**-0.5)
    assert fc.loc[("pfaffl", "trt"), "fold_change"] == pytest.approx(expected)


def test_statistics_of_fold_changes_are_the_t_test_of_delta_ct():
    from exotwin.analysis.stats import t_test

    ct = qpcr.read_ct(EXAMPLE)
    fc = qpcr.fold_changes(ct, ["GAPDH"], "NC").fold_change
    p = fc[(fc["method"] == "livak") & (fc["group"] == "shERp44")]["p"].iloc[0]
    assert p == pytest.approx(t_test([8.0, 7.0], [6.0, 6.0]))


def test_missing_reference_gene_in_a_sample_is_one_line_exit_2(tmp_path):
    lines = EXAMPLE.read_text().splitlines()
    bad = tmp_path / "ct.csv"
    bad.write_text("\n".join(line for line in lines if not line.startswith("sh-2,shERp44,GAPDH")))
    out = tmp_path / "out"
    code, _, stderr = run_cli("analyze", "qpcr", bad, "--reference", "GAPDH", "--control", "NC",
                              "--out", out)
    assert code == 2 and not out.exists()
    assert stderr.strip() == f"error: {bad}: sample sh-2: no Ct for reference gene 'GAPDH'"


@pytest.mark.parametrize("args,message", [
    (("--reference", "ACTB", "--control", "NC"), "reference gene 'ACTB' not in the table"),
    (("--reference", "GAPDH", "--control", "WT"), "control group 'WT' not in the table"),
    (("--reference", "GAPDH", "--control", "NC", "--efficiency", "ERp44=95"), "efficiency 95"),
])
def test_bad_options_are_one_line_errors(tmp_path, args, message):
    code, _, stderr = run_cli("analyze", "qpcr", EXAMPLE, *args, "--out", tmp_path / "o")
    assert code == 2 and message in stderr and len(stderr.strip().splitlines()) == 1


def test_a_ct_that_is_neither_a_number_nor_undetermined_names_the_row(tmp_path):
    bad = tmp_path / "ct.csv"
    bad.write_text(EXAMPLE.read_text().replace("26.0\n", "26.0.1\n", 1))
    with pytest.raises(ExotwinError, match=r"ct.csv: ct: row 11: '26.0.1' is not a positive"):
        qpcr.read_ct(bad)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(["g1", "g2"]),
                          st.sampled_from(["R", "T", "U"]),
                          st.one_of(st.floats(10, 35), st.just("Undetermined"))),
                min_size=0, max_size=12))
def test_random_ct_tables_give_results_or_one_line_errors(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("q") / "rand.csv"
    path.write_text("sample,group,gene,ct\n" + "\n".join(",".join(map(str, r)) for r in rows))
    res = read_or_one_line_error(lambda p: qpcr.analyze([p], ["R"], "g1"), path)
    assert res is None or np.isfinite(res.fold_change["fold_change"]).all()


def test_bars_are_drawn_at_the_reported_fold_change_and_range():
    from exotwin.analysis.figures import _centre

    res = qpcr.fold_changes(qpcr.read_ct(EXAMPLE), ["GAPDH"], "NC")
    s = res.samples.query("method == 'livak' and group == 'shERp44'")
    row = res.fold_change.query("method == 'livak' and group == 'shERp44'").iloc[0]
    centre, low, high = _centre(2.0 ** s["log2_ratio"].to_numpy(), geometric=True)
    assert (centre, low, high) == pytest.approx((row["fold_change"], row["fc_low"],
                                                 row["fc_high"]))


def test_excel_semicolon_csv_with_decimal_commas_and_bom_reads_as_the_example(tmp_path):
    # Excel's "CSV" where the comma is the decimal mark: UTF-8 BOM, ';' between fields
    # and CRLF line ends; was: "sample: missing column; found Sample;Group;Gene;Ct"
    text = EXAMPLE.read_text().replace(",", ";").replace(".", ",")
    path = tmp_path / "ct_excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    excel, example = qpcr.read_ct(path), qpcr.read_ct(EXAMPLE)
    pd.testing.assert_frame_equal(excel, example)


def test_undetermined_technical_well_is_left_out_and_counted(tmp_path):
    # QuantStudio writes "Undetermined" for a well that did not amplify; was the error
    # "ct: row 3: 'Undetermined' is not a positive number"
    text = EXAMPLE.read_text()
    first = text.splitlines()[1]  # NC-1's first GAPDH well
    extra = first.rsplit(",", 1)[0] + ",Undetermined"
    path = tmp_path / "ct.csv"
    path.write_text(text.rstrip("\n") + "\n" + extra + "\n")
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("analyze", "qpcr", path, "--reference", "GAPDH",
                                   "--control", "NC", "--out", out)
    assert code == 0, stderr
    assert "1 Undetermined wells left out of their technical means" in stdout
    got = pd.read_csv(out / "fold_change.csv")
    want = qpcr.analyze([EXAMPLE], ["GAPDH"], "NC").fold_change
    pd.testing.assert_series_equal(got["fold_change"], want["fold_change"])
    never = re.sub(r"(?m)^(NC-1,NC,ERp44),.*$", r"\1,Undetermined", text)  # no ERp44 rose
    path.write_text(never)
    with pytest.raises(ExotwinError, match="sample NC-1: every ERp44 well is Undetermined"):
        qpcr.analyze([path], ["GAPDH"], "NC")
