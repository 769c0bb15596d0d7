"""Statistics as the papers report them: mean +- SD, two-tailed t-test, ANOVA + Tukey HSD.

Thin, named wrappers over scipy so that virtual and measured readouts go through the
same calls. Student's t-test (equal variances) is the default, as in SPSS-era papers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Summary:
    """Mean, sample SD and n of one group."""

    mean: float
    sd: float
    n: int


def summarize(values) -> Summary:
    """Mean and sample standard deviation (ddof=1) of one group."""
    v = np.asarray(values, dtype=float)
    return Summary(float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else float("nan"), v.size)


def t_test(a, b, equal_var: bool = True) -> float:
    """Two-tailed p-value of Student's (or Welch's) t-test between two groups."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if np.ptp(np.concatenate([a, b])) == 0:
        return 1.0  # identical values: no evidence of a difference
    return float(stats.ttest_ind(a, b, equal_var=equal_var).pvalue)


def one_sample_t_test(values, reference: float) -> float:
    """Two-tailed p-value of a one-sample t-test of the mean against ``reference``."""
    v = np.asarray(values, float)
    if np.ptp(v) == 0:
        return 0.0 if v[0] != reference else 1.0
    return float(stats.ttest_1samp(v, reference).pvalue)


def anova_tukey(groups: dict[str, np.ndarray]) -> tuple[float, dict[tuple[str, str], float]]:
    """One-way ANOVA p-value and Tukey HSD p-values for every ordered pair of groups."""
    names = list(groups)
    samples = [np.asarray(groups[n], float) for n in names]
    p_anova = float(stats.f_oneway(*samples).pvalue)
    tukey = stats.tukey_hsd(*samples)
    pairs = {
        (names[i], names[j]): float(tukey.pvalue[i, j])
        for i in range(len(names))
        for j in range(len(names))
        if i != j
    }
    return p_anova, pairs
