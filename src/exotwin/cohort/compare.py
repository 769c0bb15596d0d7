"""Cohort comparisons: the culture tests, median splits, k of n, GEPIA2 and Pearson.

``t-test``, ``anova-tukey`` and ``visible`` go through
:func:`exotwin.protocols.run.compare`, so their criteria are the culture protocols';
the others return records with the same keys (id, verdict, expected, observed, p_value,
protocol, test, readout, time_h, groups). Criteria are in docs/cohort.md.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from exotwin.protocols import schema as S
from exotwin.protocols import units
from exotwin.protocols.run import VISIBLE_FOLD, compare


def _values(readouts: pd.DataFrame, readout: str, t: float, group: str) -> pd.Series:
    sel = readouts[(readouts["readout"] == readout) & np.isclose(readouts["time_h"], t)
                   & (readouts["group"] == group)]  # fmt: skip
    return sel.set_index("sample")["value"].astype(float)


def _record(p, c, verdict: str, observed: str, p_value: float | None, test: str,
            groups: list[str], expected: str) -> dict:  # fmt: skip
    return {"id": c.claim, "verdict": verdict, "expected": expected, "observed": observed,
            "p_value": p_value, "protocol": p.id, "test": test, "readout": c.readout,
            "time_h": units.time_h(c.time), "groups": groups}  # fmt: skip


def _not_tested(p, c, reason: str) -> dict:
    return {"id": c.claim, "verdict": "not_tested", "expected": c.expected, "observed": None,
            "p_value": None, "protocol": p.id, "reason": reason}  # fmt: skip


def _split(p, c, readouts: pd.DataFrame) -> dict:
    """Pool the groups, split persons at the median of ``split_by``, compare high vs low."""
    t = units.time_h(c.time)
    sel = readouts[np.isclose(readouts["time_h"], t) & readouts["group"].isin(c.groups)]
    by = sel[sel["readout"] == c.split_by].set_index("sample")["value"]
    high, low = f"{c.split_by}-high", f"{c.split_by}-low"
    label = pd.Series(np.where(by > by.median(), high, low), index=by.index)
    relabelled = sel.assign(group=sel["sample"].map(label))
    plain = S.Comparison(claim=c.claim, readout=c.readout, time=c.time, groups=[high, low],
                         expected=c.expected, test=c.test)  # fmt: skip
    out = compare(p, plain, relabelled)
    if "test" in out:
        out["test"] += f"; persons of {', '.join(c.groups)} split at the median of {c.split_by}"
        out["groups"] = list(c.groups)  # the chart shows the readout in the protocol's groups
    return out


def _k_of_n(p, c, readouts: pd.DataFrame) -> dict:
    t = units.time_h(c.time)
    first, second = (_values(readouts, c.readout, t, g) for g in c.groups)
    if first.empty or second.empty:
        return _not_tested(p, c, f"no {c.readout} values")
    ref = float(second.mean())
    fold = first / ref if c.expected == "greater" else ref / first
    hits = int((fold >= VISIBLE_FOLD).sum())
    verdict = "pass" if hits >= c.k else "fail"
    word = "above" if c.expected == "greater" else "below"
    folds = ", ".join(f"{x:.2f}" for x in first / ref)
    return _record(p, c, verdict, f"{hits} of {first.size} {c.groups[0]} {word} "
                   f"{VISIBLE_FOLD}x the {c.groups[1]} mean ({c.groups[0]}/{c.groups[1]}-mean: "
                   f"{folds})", None, f"k of n: at least {c.k} of {first.size} persons "
                   f">= {VISIBLE_FOLD}-fold {word} the mean of {c.groups[1]}", list(c.groups),
                   f"at least {c.k} of {first.size} {c.groups[0]} {c.expected} than "
                   f"{c.groups[1]}")  # fmt: skip


def _gepia2(p, c, readouts: pd.DataFrame) -> dict:
    t = units.time_h(c.time)
    first, second = (_values(readouts, c.readout, t, g).to_numpy() for g in c.groups)
    if first.size < 2 or second.size < 2:
        return _not_tested(p, c, f"fewer than 2 persons with {c.readout}")
    log2fc = float(np.median(first) - np.median(second))
    p_value = float(stats.f_oneway(first, second).pvalue)
    signed = log2fc if c.expected == "greater" else -log2fc
    verdict = "pass" if signed > c.log2fc and p_value < c.p_cutoff else "fail"
    return _record(p, c, verdict, f"log2FC (median {c.groups[0]} - median {c.groups[1]}) = "
                   f"{log2fc:.3g} ({2 ** log2fc:.3g}-fold), n = {first.size} vs {second.size}",
                   p_value, f"GEPIA2: one-way ANOVA on log2(TPM+1), |log2FC| > {c.log2fc:g} "
                   f"and P < {c.p_cutoff:g}", list(c.groups),
                   f"{c.groups[0]} {c.expected} than {c.groups[1]}")  # fmt: skip


def _pearson(p, c, readouts: pd.DataFrame) -> dict:
    t = units.time_h(c.time)
    x = _values(readouts, c.readout, t, c.groups[0])
    y = _values(readouts, c.versus, t, c.groups[0]).reindex(x.index)
    if x.size < 3:
        return _not_tested(p, c, f"fewer than 3 persons with {c.readout} and {c.versus}")
    r, p_value = stats.pearsonr(x.to_numpy(), y.to_numpy())
    r, p_value = float(r), float(p_value)
    sign_ok = r > 0 if c.expected == "greater" else r < 0
    verdict = "pass" if sign_ok and p_value < 0.05 else "fail"
    word = "positive" if c.expected == "greater" else "negative"
    return _record(p, c, verdict, f"r = {r:.3g} between {c.readout} and {c.versus} "
                   f"(n = {x.size} {c.groups[0]})", p_value,
                   "Pearson correlation, two-sided P < 0.05", list(c.groups),
                   f"{word} correlation of {c.readout} and {c.versus}")  # fmt: skip


def evaluate(p, c, readouts: pd.DataFrame) -> dict:
    """Evaluate one cohort comparison (a record as :func:`exotwin.protocols.run.compare`)."""
    if c.split_by is not None:
        return _split(p, c, readouts)
    if c.test == "k-of-n":
        return _k_of_n(p, c, readouts)
    if c.test == "gepia2":
        return _gepia2(p, c, readouts)
    if c.test == "pearson":
        return _pearson(p, c, readouts)
    plain = S.Comparison(claim=c.claim, readout=c.readout, time=c.time, groups=list(c.groups),
                         expected=c.expected, test=c.test)  # fmt: skip
    return compare(p, plain, readouts)
