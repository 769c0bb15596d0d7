"""NTA statistics: hand-computable bins and particle lists, a lognormal, bad input."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis_helpers import read_or_one_line_error, run_cli
from exotwin.analysis import nta
from exotwin.errors import ExotwinError


def test_bins_by_hand(tmp_path):
    path = tmp_path / "bins.csv"
    path.write_text("Bin Centre (nm),Concentration (particles / ml)\n150,1e8\n50,1e8\n100,2e8\n")
    row = nta.analyze([path], dilution=10)[0:1].iloc[0]
    assert row["kind"] == "bins" and row["mode_nm"] == 100 and row["mean_nm"] == 100
    assert row["d50_nm"] == 100 and row["d10_nm"] == 50 and row["d90_nm"] == 150
    assert row["sd_nm"] == pytest.approx(np.sqrt(0.25 * 2500 * 2))
    assert row["concentration_per_ml"] == pytest.approx(4e9)


def test_particle_list_by_hand(tmp_path):
    path = tmp_path / "particles.csv"
    path.write_text("Size (nm)\n130\n100\n120\n140\n110\n")
    row = nta.analyze([path], dilution=10, volume_ml=0.001).iloc[0]
    assert (row["mean_nm"], row["d10_nm"], row["d50_nm"], row["d90_nm"]) == pytest.approx(
        (120, 104, 120, 136))
    assert row["mode_nm"] == pytest.approx(120, abs=1)
    assert row["concentration_per_ml"] == pytest.approx(5 / 0.001 * 10)
    assert row["sd_nm"] == pytest.approx(np.std([100, 110, 120, 130, 140], ddof=1))


def test_fine_lognormal_bins_recover_its_mode_median_and_mean(tmp_path):
    x = np.arange(20, 600, 1.0)
    mu, s = np.log(110), 0.3
    pdf = np.exp(-(np.log(x) - mu) ** 2 / (2 * s * s)) / (x * s * np.sqrt(2 * np.pi))
    pd.DataFrame({"size_nm": x, "concentration": pdf * 1e10}).to_csv(tmp_path / "l.csv",
                                                                      index=False)
    row = nta.analyze([tmp_path / "l.csv"]).iloc[0]
    assert row["mode_nm"] == pytest.approx(110 * np.exp(-s * s), abs=1.0)
    assert row["d50_nm"] == pytest.approx(110, abs=0.5)
    assert row["d10_nm"] == pytest.approx(110 * np.exp(-1.2816 * s), abs=0.5)
    assert row["mean_nm"] == pytest.approx(110 * np.exp(s * s / 2), rel=2e-3)
    assert row["concentration_per_ml"] == pytest.approx(1e10, rel=1e-3)


def test_cli_writes_table_readouts_and_plot(tmp_path):
    path = tmp_path / "bins.csv"
    path.write_text("size,concentration\n80,1\n100,3\n120,1\n")
    code, stdout, stderr = run_cli("analyze", "nta", path, "--out", tmp_path / "o")
    assert code == 0, stderr
    assert "mode 100 nm" in stdout
    assert {"nta.csv", "readouts.parquet", "size_distribution.svg"} <= {
        p.name for p in (tmp_path / "o").iterdir()}


@pytest.mark.parametrize("text,message", [
    ("size,concentration\n80,1\n100,-3\n", "concentration: row 2: negative concentration"),
    ("size,concentration\n80,0\n100,0\n", "no particles"),
    ("size\n80\n-4\n", "size: row 2: '-4' is not a positive number"),
    ("diameter_um,x\n1,2\n", "size: missing column"),
])
def test_bad_exports_are_one_line_exit_2(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    code, _, stderr = run_cli("analyze", "nta", path, "--out", tmp_path / "o")
    assert code == 2 and message in stderr and "bad.csv" in stderr
    assert len(stderr.strip().splitlines()) == 1 and not (tmp_path / "o").exists()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.floats(-10, 1000), st.just("x")),
                          st.one_of(st.floats(-1, 1e9), st.just(""))), max_size=10),
       st.booleans())
def test_random_exports_give_statistics_or_one_line_errors(tmp_path_factory, rows, binned):
    path = tmp_path_factory.mktemp("n") / "rand.csv"
    header = "size,concentration" if binned else "size"
    body = [f"{a},{b}" if binned else f"{a}" for a, b in rows]
    path.write_text("\n".join([header, *body]))
    table = read_or_one_line_error(lambda p: nta.analyze([p]), path)
    assert table is None or (table["d10_nm"] <= table["d50_nm"]).all()
    assert table is None or (table["d50_nm"] <= table["d90_nm"]).all()


def test_nanosight_experiment_summary_uses_the_average_under_its_preamble(tmp_path):
    # NTA 3.x ExperimentSummary.csv: settings lines, then the bins with the average of
    # the videos and one column per video (all named "Concentration (particles / ml)"),
    # then an empty line and the percentiles; was: "not a readable table: Expected 2
    # fields in line 4, saw 6", and the first video's column read as the concentration
    lines = ["NanoSight NTA 3.4,", "Sample Name,exo-NC", "Dilution factor,100", "",
             "Graph Data", "Bin centre (nm),Concentration average,Standard Error,"
             "Concentration (particles / ml),Concentration (particles / ml),,",
             "50.5,1e8,0,2e8,0,,", "100.5,3e8,0,2e8,4e8,,", "150.5,1e8,0,0,2e8,,", "",
             "Percentile,Size (nm)", "10,50", "50,100"]
    path = tmp_path / "ExperimentSummary.csv"
    path.write_text("\n".join(lines) + "\n")
    row = nta.analyze([path], dilution=100).iloc[0]
    assert row["concentration_per_ml"] == pytest.approx(5e8 * 100)
    assert row["mode_nm"] == 100.5 and row["mean_nm"] == pytest.approx(100.5)


def test_semicolon_table_with_both_decimal_marks_is_refused_not_misread(tmp_path):
    # a ';' export written with decimal points, whose software groups thousands with a
    # comma: "1,250" beside "37.5" is 1250 nm, not 1.25; was read as 1.25 without a word
    path = tmp_path / "nta.csv"
    path.write_text("Size (nm);Concentration\n37.5;2e8\n1,250;1e6\n")
    with pytest.raises(ExotwinError, match=r"size: row 2: '1,250' is not a positive number"):
        nta.read_nta(path)
    # a column of decimal commas alone is still read as such (Excel where ',' is decimal)
    path.write_text("Size (nm);Concentration\n37,5;2e8\n125,0;1e6\n")
    assert sorted(nta.read_nta(path).size.tolist()) == [37.5, 125.0]
