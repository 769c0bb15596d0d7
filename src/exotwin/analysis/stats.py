"""Statistics as the papers report them, shared by the twin and the real-data analyses.

Owns mean +- SD summaries, two-tailed Student and Welch t-tests, one-way ANOVA with Tukey
HSD, the assumption checks a methods section reports (Shapiro-Wilk normality per group,
Brown-Forsythe/Levene equal variances), effect sizes (Cohen's d, Hedges' g, eta squared)
and significance stars. Results equal statsmodels' (``ttest_ind``, ``anova_oneway``,
``pairwise_tukeyhsd``); the tests check that. Student's t-test is the default, as in
SPSS-era papers.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
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
    with warnings.catch_warnings():
        # a group of identical values (e.g. 0 % positive cells in every control well) makes
        # scipy warn about precision loss in its moments; the p-value is still exact enough
        warnings.filterwarnings("ignore", "Precision loss", RuntimeWarning)
        return float(stats.ttest_ind(a, b, equal_var=equal_var).pvalue)


def one_sample_t_test(values, reference: float) -> float:
    """Two-tailed p-value of a one-sample t-test of the mean against ``reference``."""
    v = np.asarray(values, float)
    if np.ptp(v) == 0:
        # no spread: the test is undefined (scipy would report P = 0 for any shift, even
        # a 1 % one from noise-free values), so no significance is claimed
        return float("nan") if v[0] != reference else 1.0
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


def stars(p: float) -> str:
    """Significance mark: ``***`` p < 0.001, ``**`` p < 0.01, ``*`` p < 0.05, else ``ns``."""
    if p is None or not np.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else "ns"


def cohens_d(a, b) -> float:
    """Cohen's d of ``a`` minus ``b`` with the pooled sample SD."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    dof = a.size + b.size - 2
    if dof <= 0:
        return float("nan")
    pooled = np.sqrt(((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / dof)
    return float((a.mean() - b.mean()) / pooled) if pooled > 0 else float("nan")


def hedges_g(a, b) -> float:
    """Hedges' g: Cohen's d with the small-sample correction ``1 - 3 / (4 (na + nb) - 9)``."""
    n = np.size(a) + np.size(b)
    return cohens_d(a, b) * (1.0 - 3.0 / (4.0 * n - 9.0)) if n > 3 else float("nan")


def eta_squared(groups: dict[str, np.ndarray]) -> float:
    """Eta squared of a one-way layout: between-group over total sum of squares."""
    values = [np.asarray(v, float) for v in groups.values()]
    allv = np.concatenate(values)
    total = float(np.sum((allv - allv.mean()) ** 2))
    between = float(sum(v.size * (v.mean() - allv.mean()) ** 2 for v in values))
    return between / total if total > 0 else float("nan")


def normality_p(values) -> float:
    """Shapiro-Wilk p-value of one group (NaN below 3 values or without spread)."""
    v = np.asarray(values, float)
    if v.size < 3 or np.ptp(v) == 0:
        return float("nan")
    return float(stats.shapiro(v).pvalue)


def equal_variance_p(groups: dict[str, np.ndarray]) -> float:
    """Brown-Forsythe (median-centred Levene) p-value for equal variances across groups."""
    values = [np.asarray(v, float) for v in groups.values()]
    if len(values) < 2 or any(v.size < 2 for v in values):
        return float("nan")
    if np.ptp(np.concatenate(values)) == 0:
        return 1.0
    with np.errstate(divide="ignore", invalid="ignore"):  # no spread within every group
        return float(stats.levene(*values, center="median").pvalue)


TESTS = ("auto", "student", "welch", "anova")
TEST_NAMES = {"student": "Student t-test", "welch": "Welch t-test",
              "anova": "one-way ANOVA, Tukey HSD"}  # fmt: skip


def compare_to_control(groups: dict[str, np.ndarray], control: str,
                       test: str = "auto") -> pd.DataFrame:  # fmt: skip
    """Compare every group with the control: the table a figure legend is written from.

    Parameters
    ----------
    groups
        Values per group name (the control among them).
    control
        Name of the control group.
    test
        ``student`` or ``welch`` (t-test of each group against the control), ``anova``
        (one-way ANOVA of all groups with Tukey HSD for each pair with the control) or
        ``auto``: Student's t-test for two groups, ANOVA + Tukey for more.

    Returns
    -------
    pandas.DataFrame
        One row per non-control group: group, control, n, mean, sd, control_n,
        control_mean, control_sd, difference, test, p, stars, p_anova, effect_size
        (Hedges' g, or eta squared of the whole layout for ANOVA), effect,
        normality_p (smallest Shapiro-Wilk p of the pair) and equal_variance_p.
    """
    if test not in TESTS:
        raise ValueError(f"test must be one of {TESTS}")
    groups = {k: np.asarray(v, float) for k, v in groups.items()}
    others = [g for g in groups if g != control]
    if test == "auto":
        test = "student" if len(groups) == 2 else "anova"
    testable = all(v.size >= 2 for v in groups.values()) and len(groups) >= 2
    p_anova, pairs = float("nan"), {}
    if test == "anova" and testable:
        if np.ptp(np.concatenate(list(groups.values()))) == 0:
            p_anova, pairs = 1.0, {(g, control): 1.0 for g in others}
        else:
            p_anova, pairs = anova_tukey(groups)
    rows = []
    c = groups[control]
    for g in others:
        v = groups[g]
        if not testable:
            p = float("nan")
        elif test == "anova":
            p = pairs[(g, control)]
        else:
            p = t_test(v, c, equal_var=(test == "student"))
        sv, sc = summarize(v), summarize(c)
        normal = [q for q in (normality_p(v), normality_p(c)) if np.isfinite(q)]
        rows.append({
            "group": g, "control": control, "n": sv.n, "mean": sv.mean, "sd": sv.sd,
            "control_n": sc.n, "control_mean": sc.mean, "control_sd": sc.sd,
            "difference": sv.mean - sc.mean, "test": TEST_NAMES[test],
            "p": p, "stars": stars(p), "p_anova": p_anova,
            "effect_size": eta_squared(groups) if test == "anova" else hedges_g(v, c),
            "effect": "eta squared" if test == "anova" else "Hedges g",
            "normality_p": min(normal) if normal else float("nan"),
            "equal_variance_p": equal_variance_p({g: v, control: c}),
        })  # fmt: skip
    return pd.DataFrame(rows)


def compare_table(frame: pd.DataFrame, value: str, by: list[str], control: str,
                  test: str = "auto", group: str = "group") -> pd.DataFrame:  # fmt: skip
    """:func:`compare_to_control` within each combination of the ``by`` columns.

    Subsets without the control group are skipped. Columns: the ``by`` columns, then those
    of :func:`compare_to_control`.
    """
    out = []
    keys = by or [lambda _: 0]
    for key, sub in frame.groupby(keys, sort=True):
        values = {g: s[value].to_numpy(float) for g, s in sub.groupby(group, sort=False)}
        if control not in values or len(values) < 2:
            continue
        table = compare_to_control(values, control, test)
        key = key if isinstance(key, tuple) else (key,)
        for col, k in zip(by, key, strict=False):
            table.insert(by.index(col), col, k)
        out.append(table)
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()
