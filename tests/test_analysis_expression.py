"""Expression: GEPIA2-style tumour-vs-normal ANOVA and correlations against statsmodels/scipy."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.oneway import anova_oneway

from analysis_helpers import run_cli
from exotwin.analysis import expression
from exotwin.errors import ExotwinError

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples" / "analysis"
MATRIX, SAMPLES = EXAMPLES / "expression_tpm.csv", EXAMPLES / "expression_samples.csv"


def test_anova_log2fc_and_q_values_equal_statsmodels():
    res = expression.analyze(MATRIX, SAMPLES)
    tpm = pd.read_csv(MATRIX, index_col=0)
    log2 = np.log2(tpm + 1)
    t, n = log2.filter(like="T"), log2.filter(like="N")
    de = res.de.set_index("gene")
    for gene in tpm.index:
        expected = anova_oneway([t.loc[gene], n.loc[gene]], use_var="equal")
        assert de.loc[gene, "p"] == pytest.approx(expected.pvalue, rel=1e-8)
        assert de.loc[gene, "f"] == pytest.approx(expected.statistic, rel=1e-8)
        assert de.loc[gene, "log2fc"] == pytest.approx(t.loc[gene].median() - n.loc[gene].median())
    q = multipletests(de["p"].to_numpy(), method="fdr_bh")[1]
    np.testing.assert_allclose(de["q"], q)
    expected_sig = (de["log2fc"].abs() >= 1) & (de["q"] < 0.01)
    assert (de["significant"] == expected_sig).all()
    assert set(de.index[de["significant"]]) == {"ERP44", "HSPA5", "STIM1", "CDH1"}
    assert de.loc["CDH1", "direction"] == "down"


def test_correlations_equal_scipy_and_cli_writes_plots(tmp_path):
    out = tmp_path / "out"
    code, stdout, stderr = run_cli("analyze", "expression", MATRIX, SAMPLES, "--genes",
                                   "ERP44,HSPA5,STIM1", "--out", out)
    assert code == 0, stderr
    corr = pd.read_csv(out / "correlation.csv")
    assert len(corr) == 3
    log2 = np.log2(pd.read_csv(MATRIX, index_col=0).filter(like="T") + 1)
    row = corr.iloc[0]
    assert (row["gene_a"], row["gene_b"]) == ("ERP44", "HSPA5")
    pr, sr = sps.pearsonr(log2.loc["ERP44"], log2.loc["HSPA5"]), sps.spearmanr(
        log2.loc["ERP44"], log2.loc["HSPA5"])
    assert (row["pearson_r"], row["pearson_p"]) == pytest.approx((pr[0], pr[1]))
    assert (row["spearman_rho"], row["spearman_p"]) == pytest.approx((sr[0], sr[1]))
    assert {"de.csv", "box.png", "scatter_ERP44_HSPA5.svg", "summary.html"} <= {
        p.name for p in out.iterdir()}
    assert "4 of 8 genes" in stdout


def test_perfect_monotone_pair_has_spearman_one(tmp_path):
    x = np.arange(1.0, 9.0)
    log2 = pd.DataFrame([x, x**3], index=["a", "b"])
    r = expression.correlations(log2, ["a", "b"]).iloc[0]
    assert r["spearman_rho"] == pytest.approx(1.0) and 0.9 < r["pearson_r"] < 1.0


@pytest.mark.parametrize("edit,message", [
    (lambda m, s: (m.replace("104.37", "n/a"), s), "T1: gene ERP44: 'n/a' is not a TPM"),
    (lambda m, s: (m, s + "X9,tumour\n"), "annotated sample 'X9' not in the matrix"),
    (lambda m, s: (m, s.replace("normal", "other")), "fewer than 2 samples of group 'normal'"),
])
def test_bad_inputs_are_one_line_errors(tmp_path, edit, message):
    m, s = edit(MATRIX.read_text(), SAMPLES.read_text())
    (tmp_path / "m.csv").write_text(m)
    (tmp_path / "s.csv").write_text(s)
    code, _, stderr = run_cli("analyze", "expression", tmp_path / "m.csv", tmp_path / "s.csv",
                              "--out", tmp_path / "o")
    assert code == 2 and message in stderr and len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_unknown_gene_is_named():
    with pytest.raises(ExotwinError, match="gene 'XYZ' not in the matrix"):
        expression.analyze(MATRIX, SAMPLES, genes=["ERP44", "XYZ"])
