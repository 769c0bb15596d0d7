"""Tumour-vs-normal expression and gene-gene correlation, as GEPIA2 and UALCAN show them.

Owns the expression matrix (genes in rows, first column the gene id, one column per
sample, TPM) with its sample annotation (``sample, group``; ``tumor`` counts as
``tumour``) and the analyses: values become log2(TPM + 1); each gene's tumour and normal
samples are compared by one-way ANOVA, with log2 fold change = median(tumour) -
median(normal) of the log2 values (GEPIA's definition; the difference of the means is
reported too) and Benjamini-Hochberg q-values; a gene is differentially expressed when
|log2FC| >= the cut-off and q < the q cut-off (GEPIA's defaults 1 and 0.01). Gene pairs
are correlated over the samples of one group by Pearson's r and Spearman's rho on the
log2 values.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

from exotwin.analysis import tables
from exotwin.errors import ExotwinError

ALIASES = {"tumor": "tumour"}


def read_matrix(path: str | Path) -> pd.DataFrame:
    """Read a genes x samples TPM matrix; index = gene ids, columns = samples (floats)."""
    raw = tables.read_raw(path)
    if raw.shape[1] < 2 or raw.empty:
        raise ExotwinError("an expression matrix needs a gene column and sample columns",
                           file=str(path))  # fmt: skip
    genes = raw.iloc[:, 0].astype(str).str.strip()
    if genes.duplicated().any():
        raise ExotwinError(f"gene {genes[genes.duplicated()].iloc[0]!r} listed twice",
                           file=str(path), field=str(raw.columns[0]))  # fmt: skip
    values = raw.iloc[:, 1:].astype(str).apply(lambda c: pd.to_numeric(c.str.strip(),
                                                                        errors="coerce"))
    bad = ~np.isfinite(values.to_numpy(float)) | (values.to_numpy(float) < 0)
    if bad.any():
        row, col = map(int, np.argwhere(bad)[0])
        raise ExotwinError(f"gene {genes.iloc[row]}: {raw.iloc[row, col + 1]!r} is not a TPM "
                           "(a number >= 0)", file=str(path), field=str(raw.columns[col + 1]))
    values.index, values.columns = genes.to_numpy(), [str(c).strip() for c in values.columns]
    return values


def read_annotation(path: str | Path) -> pd.Series:
    """Read ``sample, group`` pairs; returns group by sample (``tumor`` -> ``tumour``)."""
    frame = tables.read_table(path, {"sample": ("sample_id", "barcode"),
                                     "group": ("type", "tissue", "condition", "status")})
    groups = frame["group"].astype(str).str.strip()
    groups = groups.map(lambda g: ALIASES.get(g.lower(), g))
    return pd.Series(groups.to_numpy(), index=frame["sample"].astype(str).str.strip())


@dataclass
class ExpressionResult:
    """Differential expression per gene and correlations per gene pair."""

    de: pd.DataFrame
    correlation: pd.DataFrame
    log2: pd.DataFrame
    groups: pd.Series


def differential(log2: pd.DataFrame, groups: pd.Series, tumour: str = "tumour",
                 normal: str = "normal", log2fc_cutoff: float = 1.0,
                 q_cutoff: float = 0.01) -> pd.DataFrame:  # fmt: skip
    """One-way ANOVA of tumour vs normal per gene, GEPIA's log2FC, BH q-values."""
    from statsmodels.stats.multitest import multipletests

    t = log2.loc[:, groups.index[groups == tumour]].to_numpy(float)
    n = log2.loc[:, groups.index[groups == normal]].to_numpy(float)
    nt, nn = t.shape[1], n.shape[1]
    grand = np.concatenate([t, n], axis=1).mean(axis=1)
    ssb = nt * (t.mean(axis=1) - grand) ** 2 + nn * (n.mean(axis=1) - grand) ** 2
    ssw = ((t - t.mean(axis=1, keepdims=True)) ** 2).sum(1) + \
        ((n - n.mean(axis=1, keepdims=True)) ** 2).sum(1)  # fmt: skip
    dof = nt + nn - 2
    with np.errstate(divide="ignore", invalid="ignore"):
        f = ssb / (ssw / dof)
    p = np.where(ssw > 0, sps.f.sf(f, 1, dof), np.where(ssb > 0, 0.0, 1.0))
    q = multipletests(p, method="fdr_bh")[1]
    log2fc = np.median(t, axis=1) - np.median(n, axis=1)
    return pd.DataFrame({
        "gene": log2.index, "n_tumour": nt, "n_normal": nn,
        "median_tumour": np.median(t, axis=1), "median_normal": np.median(n, axis=1),
        "log2fc": log2fc, "mean_log2fc": t.mean(axis=1) - n.mean(axis=1),
        "f": np.where(ssw > 0, f, np.nan), "p": p, "q": q,
        "significant": (np.abs(log2fc) >= log2fc_cutoff) & (q < q_cutoff),
        "direction": np.where(log2fc > 0, "up", np.where(log2fc < 0, "down", "none")),
    })  # fmt: skip


def correlations(log2: pd.DataFrame, genes: list[str]) -> pd.DataFrame:
    """Pearson and Spearman correlation (with p) of every pair of ``genes`` over columns."""
    rows = []
    for a, b in itertools.combinations(genes, 2):
        x, y = log2.loc[a].to_numpy(float), log2.loc[b].to_numpy(float)
        if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
            pr = sr = (np.nan, np.nan)
        else:
            pr, sr = sps.pearsonr(x, y), sps.spearmanr(x, y)
        rows.append({"gene_a": a, "gene_b": b, "n": x.size, "pearson_r": float(pr[0]),
                     "pearson_p": float(pr[1]), "spearman_rho": float(sr[0]),
                     "spearman_p": float(sr[1])})  # fmt: skip
    return pd.DataFrame(rows, columns=["gene_a", "gene_b", "n", "pearson_r", "pearson_p",
                                       "spearman_rho", "spearman_p"])  # fmt: skip


def analyze(matrix: str | Path, annotation: str | Path, out: str | Path | None = None,
            genes: list[str] | None = None, tumour: str = "tumour", normal: str = "normal",
            log2fc_cutoff: float = 1.0, q_cutoff: float = 0.01,
            correlation_group: str | None = None) -> ExpressionResult:  # fmt: skip
    """``exotwin analyze expression``: DE table, correlations, box and scatter plots.

    Raises
    ------
    ExotwinError
        Unreadable inputs, annotated samples missing from the matrix, fewer than two
        samples in a group, or an unknown gene.
    """
    values = read_matrix(matrix)
    groups = read_annotation(annotation)
    missing = [s for s in groups.index if s not in values.columns]
    if missing:
        raise ExotwinError(f"annotated sample {missing[0]!r} not in the matrix",
                           file=str(matrix), field="sample")  # fmt: skip
    for label in (tumour, normal):
        if (groups == label).sum() < 2:
            raise ExotwinError(f"fewer than 2 samples of group {label!r}", file=str(annotation),
                               field="group")  # fmt: skip
    unknown = [g for g in genes or [] if g not in values.index]
    if unknown:
        raise ExotwinError(f"gene {unknown[0]!r} not in the matrix", file=str(matrix),
                           field="genes")  # fmt: skip
    log2 = np.log2(values.loc[:, groups.index] + 1.0)
    de = differential(log2, groups, tumour, normal, log2fc_cutoff, q_cutoff)
    corr_group = correlation_group or tumour
    chosen = genes or list(de.sort_values("p")["gene"][:4])
    corr = correlations(log2.loc[:, groups.index[groups == corr_group]], genes or [])
    result = ExpressionResult(de, corr, log2, groups)
    if out is not None:
        _write(result, chosen, tumour, normal, corr_group, log2fc_cutoff, q_cutoff, out)
    return result


def _write(result, genes, tumour, normal, corr_group, fc_cut, q_cut, out) -> None:
    from exotwin.analysis import figures
    from exotwin.analysis.report import Bundle, safe_name
    from exotwin.analysis.stats import stars

    bundle = Bundle("Tumour vs normal expression")
    de = result.de
    bundle.note(f"log2(TPM+1); one-way ANOVA {tumour} vs {normal}; |log2FC| >= {fc_cut:g} "
                f"and q < {q_cut:g}: {int(de['significant'].sum())} of {len(de)} genes.")
    bundle.table("de", de.sort_values("p"))
    t_samples = result.groups.index[result.groups == tumour]
    n_samples = result.groups.index[result.groups == normal]
    data = {g: {tumour: result.log2.loc[g, t_samples].to_numpy(),
                normal: result.log2.loc[g, n_samples].to_numpy()} for g in genes}
    p = de.set_index("gene")["p"]
    marks = {g: stars(p[g]) if de.set_index("gene").loc[g, "significant"] else "ns"
             for g in genes}  # fmt: skip
    bundle.figure("box", figures.box_panels(data, "log2(TPM + 1)", marks))
    if not result.correlation.empty:
        bundle.note(f"Correlations over the {corr_group} samples.")
        bundle.table("correlation", result.correlation)
        cols = result.groups.index[result.groups == corr_group]
        for r in result.correlation.itertuples():
            x, y = result.log2.loc[r.gene_a, cols], result.log2.loc[r.gene_b, cols]
            text = (f"Pearson r = {r.pearson_r:.2f}, p = {r.pearson_p:.2g}\n"
                    f"Spearman rho = {r.spearman_rho:.2f}, p = {r.spearman_p:.2g}")
            bundle.figure(f"scatter_{safe_name(r.gene_a)}_{safe_name(r.gene_b)}",
                          figures.scatter(x.to_numpy(), y.to_numpy(),
                                          f"{r.gene_a} log2(TPM+1)", f"{r.gene_b} log2(TPM+1)",
                                          text))  # fmt: skip
    bundle.commit(out)
