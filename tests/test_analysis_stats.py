"""Shared statistics against statsmodels and hand computations."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sps
from statsmodels.formula.api import ols
from statsmodels.stats.anova import anova_lm
from statsmodels.stats.multicomp import pairwise_tukeyhsd
from statsmodels.stats.oneway import anova_oneway
from statsmodels.stats.weightstats import ttest_ind

from exotwin.analysis import stats


def samples(seed, means=(0.0, 1.0, 2.5), n=5):
    rng = np.random.default_rng(seed)
    return {f"g{i}": rng.normal(m, 1.0 + 0.3 * i, n) for i, m in enumerate(means)}


@pytest.mark.parametrize("seed", range(5))
def test_t_tests_equal_statsmodels(seed):
    g = samples(seed)
    a, b = g["g0"], g["g1"]
    assert stats.t_test(a, b) == pytest.approx(ttest_ind(a, b, usevar="pooled")[1], rel=1e-10)
    assert stats.t_test(a, b, equal_var=False) == pytest.approx(
        ttest_ind(a, b, usevar="unequal")[1], rel=1e-10)


@pytest.mark.parametrize("seed", range(5))
def test_anova_and_tukey_equal_statsmodels(seed):
    g = samples(seed)
    p_anova, pairs = stats.anova_tukey(g)
    assert p_anova == pytest.approx(anova_oneway(list(g.values()), use_var="equal").pvalue,
                                    rel=1e-9)
    labels = np.repeat(list(g), 5)
    tukey = pairwise_tukeyhsd(np.concatenate(list(g.values())), labels)
    names = list(tukey.groupsunique)
    k = 0
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            assert pairs[(names[i], names[j])] == pytest.approx(tukey.pvalues[k], rel=1e-6)
            assert pairs[(names[j], names[i])] == pairs[(names[i], names[j])]
            k += 1


def test_eta_squared_equals_statsmodels_anova_table():
    g = samples(11)
    frame = pd.DataFrame({"y": np.concatenate(list(g.values())), "g": np.repeat(list(g), 5)})
    table = anova_lm(ols("y ~ C(g)", frame).fit())
    expected = table["sum_sq"].iloc[0] / table["sum_sq"].sum()
    assert stats.eta_squared(g) == pytest.approx(expected, rel=1e-10)


def test_effect_sizes_by_hand():
    a, b = [1.0, 2.0, 3.0], [3.0, 4.0, 5.0]  # both SD 1: d = (2 - 4) / 1
    assert stats.cohens_d(a, b) == pytest.approx(-2.0)
    assert stats.hedges_g(a, b) == pytest.approx(-2.0 * (1 - 3 / (4 * 6 - 9)))


def test_assumption_checks_equal_scipy():
    g = samples(3, n=8)
    assert stats.normality_p(g["g0"]) == pytest.approx(sps.shapiro(g["g0"]).pvalue)
    assert stats.equal_variance_p(g) == pytest.approx(
        sps.levene(*g.values(), center="median").pvalue)
    assert np.isnan(stats.normality_p([1.0, 2.0]))


def test_compare_to_control_picks_the_test_and_reports_checks():
    g = samples(5, means=(0.0, 3.0), n=6)
    two = stats.compare_to_control(g, "g0")
    assert list(two["test"]) == ["Student t-test"]
    assert two["p"].iloc[0] == pytest.approx(stats.t_test(g["g1"], g["g0"]))
    assert two["stars"].iloc[0] == stats.stars(two["p"].iloc[0])
    assert two["effect_size"].iloc[0] > 0 and np.isfinite(two["normality_p"].iloc[0])
    welch = stats.compare_to_control(g, "g0", test="welch")
    assert welch["p"].iloc[0] == pytest.approx(stats.t_test(g["g1"], g["g0"], equal_var=False))
    three = stats.compare_to_control(samples(5), "g0")
    _, pairs = stats.anova_tukey(samples(5))
    assert list(three["group"]) == ["g1", "g2"]
    assert three["p"].tolist() == pytest.approx([pairs[("g1", "g0")], pairs[("g2", "g0")]])


def test_stars_thresholds():
    assert [stats.stars(p) for p in (0.0005, 0.005, 0.03, 0.2)] == ["***", "**", "*", "ns"]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=8),
       st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=8))
def test_t_test_is_a_probability_or_one_for_identical_values(a, b):
    p = stats.t_test(a, b)
    assert 0.0 <= p <= 1.0 or np.isnan(p)
