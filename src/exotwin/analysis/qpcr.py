"""qRT-PCR relative quantification: Ct tables -> ΔΔCt (Livak) and Pfaffl fold changes.

Owns the Ct table (``sample, group, gene, ct``; one row per well, technical replicates
repeat a sample and gene; an optional ``efficiency`` column gives each gene's
amplification factor) and the arithmetic. Technical replicates are averaged first and
their SD carried along. With several reference genes the reference is their geometric
mean quantity (Vandesompele et al., Genome Biol 2002), i.e. the mean of their
efficiency-weighted Cts. Per sample, the log2 ratio to the control group is

    log2 R = log2(E_t) (Ct_t,ctrl - Ct_t) - mean_r log2(E_r) (Ct_r,ctrl - Ct_r)

(Pfaffl, Nucleic Acids Res 2001), where Ct_ctrl is the gene's mean Ct over the control
samples; with every E = 2 this is -ΔΔCt (Livak & Schmittgen, Methods 2001), the
``livak`` rows. A group's fold change is 2 ** mean(log2 R) over its biological samples;
its SD is the SD of the samples' log2 R, or, for a single sample, the technical SDs
propagated, sqrt((a_t s_t)^2 + sum_r (a_r s_r)^2 / k^2) with a = log2(E).

A well the instrument calls ``Undetermined`` (or ``No Ct``, ``N/A``: no amplification) is
left out of its technical mean and counted (``undetermined``); a sample and gene with no
determined well is an error, since its fold change is unknown, not missing at random.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from exotwin.analysis import stats, tables
from exotwin.errors import ExotwinError

UNDETERMINED = ("undetermined", "no ct", "noct", "n/a", "na", "-")  # instruments' "no Ct"


def read_ct(path: str | Path) -> pd.DataFrame:
    """Read a Ct table: columns sample, group, gene, ct (NaN: undetermined), efficiency."""
    frame = tables.read_table(path, {"sample": ("sample_name",), "group": ("condition",),
                                     "gene": ("target", "target_name", "detector"),
                                     "ct": ("cq", "ct_mean", "cт")},
                              optional={"efficiency": ("e", "amplification_efficiency")})
    out = pd.DataFrame({c: frame[c].astype(str).str.strip() for c in ("sample", "group", "gene")})
    undetermined = frame["ct"].astype(str).str.strip().str.lower().isin(UNDETERMINED)
    cycles = tables.numeric(frame.assign(ct=frame["ct"].where(~undetermined, "1")), "ct", path,
                            positive=True)  # a cycle number, > 0  # fmt: skip
    out["ct"] = np.where(undetermined.to_numpy(), np.nan, cycles)
    if "efficiency" in frame:
        out["efficiency"] = tables.numeric(frame, "efficiency", path, allow_missing=True)
    groups = out.groupby("sample")["group"].nunique()
    if (groups > 1).any():
        raise ExotwinError(f"sample {groups[groups > 1].index[0]!r} is in two groups",
                           file=str(path), field="group")  # fmt: skip
    return out


@dataclass
class QpcrResult:
    """Per-sample log2 ratios, per-group fold changes, Undetermined wells left out."""

    samples: pd.DataFrame
    fold_change: pd.DataFrame
    undetermined: int = 0


def _efficiencies(ct: pd.DataFrame, given: dict[str, float] | None, path: str) -> dict:
    eff = {}
    if "efficiency" in ct:
        for gene, sub in ct.dropna(subset=["efficiency"]).groupby("gene"):
            eff[gene] = float(sub["efficiency"].mean())
    eff.update(given or {})
    for gene, e in eff.items():
        if not 1.0 < e <= 2.5:
            raise ExotwinError(f"efficiency {e:g} of {gene} is not an amplification factor "
                               "in (1, 2.5] (2 = 100 %)", file=path, field="efficiency")
    return eff


def fold_changes(ct: pd.DataFrame, reference: list[str], control: str,
                 efficiency: dict[str, float] | None = None, test: str = "auto",
                 source: str | Path = "") -> QpcrResult:  # fmt: skip
    """ΔΔCt (Livak) and efficiency-corrected (Pfaffl) fold changes of every target gene.

    Parameters
    ----------
    ct
        Table of :func:`read_ct`.
    reference
        Reference gene(s); several are combined by geometric mean.
    control
        Calibrator group (fold change 1).
    efficiency
        Amplification factor per gene for the Pfaffl rows (default 2, or the table's
        ``efficiency`` column).
    test
        Test of each group's log2 ratios against the control's.
    source
        File name used in error messages.

    Raises
    ------
    ExotwinError
        A reference gene or the control group is missing, a sample lacks a reference
        gene, or there is no target gene.
    """
    path = str(source)
    if not reference:
        raise ExotwinError("give --reference GENE[,GENE]", file=path, field="reference")
    genes = set(ct["gene"])
    for r in reference:
        if r not in genes:
            raise ExotwinError(f"reference gene {r!r} not in the table (genes: "
                               f"{', '.join(sorted(genes))})", file=path, field="reference")
    if control not in set(ct["group"]):
        raise ExotwinError(f"control group {control!r} not in the table", file=path,
                           field="control")  # fmt: skip
    targets = sorted(genes - set(reference))
    if not targets:
        raise ExotwinError("no target gene besides the reference genes", file=path, field="gene")
    tech = (ct.groupby(["sample", "gene"], sort=False)
            .agg(group=("group", "first"), ct=("ct", "mean"), sd=("ct", "std"),
                 wells=("ct", "count"), all_wells=("ct", "size")).reset_index())  # fmt: skip
    tech["sd"] = tech["sd"].fillna(0.0)
    none = tech[tech["wells"] == 0]
    if not none.empty:
        raise ExotwinError(f"every {none['gene'].iloc[0]} well is Undetermined (no "
                           "amplification): give its Ct (e.g. the last cycle) or leave the "
                           "sample out", file=path, field=f"sample {none['sample'].iloc[0]}")
    mean_ct = tech.pivot(index="sample", columns="gene", values="ct")
    lost = tech.assign(n=tech["all_wells"] - tech["wells"]).pivot(
        index="sample", columns="gene", values="n").fillna(0)
    sd_ct = tech.pivot(index="sample", columns="gene", values="sd")
    group_of = tech.groupby("sample", sort=False)["group"].first()
    for sample in group_of.index:
        for r in reference:
            if np.isnan(mean_ct.loc[sample, r]):
                raise ExotwinError(f"no Ct for reference gene {r!r}", file=path,
                                   field=f"sample {sample}")  # fmt: skip
    eff = _efficiencies(ct, efficiency, path)
    ctrl_samples = group_of.index[group_of == control]
    rows = []
    for method in ("livak", "pfaffl"):
        a = {g: 1.0 if method == "livak" else np.log2(eff.get(g, 2.0)) for g in genes}
        k = len(reference)
        calib = mean_ct.loc[ctrl_samples].mean()
        ref_term = sum(a[r] * (calib[r] - mean_ct[r]) for r in reference) / k
        ref_var = sum((a[r] * sd_ct[r]) ** 2 for r in reference) / k**2
        for t in targets:
            log2r = a[t] * (calib[t] - mean_ct[t]) - ref_term
            sd = np.sqrt((a[t] * sd_ct[t]) ** 2 + ref_var)
            for sample in group_of.index:
                if np.isnan(mean_ct.loc[sample, t]):
                    continue
                rows.append({"method": method, "gene": t, "sample": sample,
                             "group": group_of[sample], "log2_ratio": log2r[sample],
                             "technical_sd": sd[sample],
                             "undetermined": int(lost.loc[sample, t])})  # fmt: skip
    samples = pd.DataFrame(rows)
    if samples.empty or samples[samples["group"] == control].empty:
        raise ExotwinError("no target Ct in the control group", file=path, field="control")
    return QpcrResult(samples, _summarize(samples, control, test), int(ct["ct"].isna().sum()))


def _summarize(samples: pd.DataFrame, control: str, test: str) -> pd.DataFrame:
    """Per method, gene and group: n, ΔΔCt, its SD, fold change (range), p vs control."""
    out = []
    for (method, gene, group), sub in samples.groupby(["method", "gene", "group"], sort=False):
        values = sub["log2_ratio"].to_numpy()
        sd = values.std(ddof=1) if values.size > 1 else float(sub["technical_sd"].iloc[0])
        mean = values.mean()
        out.append({"method": method, "gene": gene, "group": group, "n": values.size,
                    "ddct": -mean, "ddct_sd": sd, "fold_change": 2.0**mean,
                    "fc_low": 2.0 ** (mean - sd), "fc_high": 2.0 ** (mean + sd)})  # fmt: skip
    table = pd.DataFrame(out)
    tests = stats.compare_table(samples, "log2_ratio", ["method", "gene"], control, test)
    if tests.empty:
        table["p"], table["stars"] = np.nan, ""
        return table
    keep = tests[["method", "gene", "group", "p", "stars", "test"]]
    return table.merge(keep, on=["method", "gene", "group"], how="left")


def parse_efficiency(text: str | None) -> dict[str, float]:
    """``GENE=E,GENE=E`` (amplification factors, 2 = 100 %) as a dict."""
    out = {}
    for part in tables.names(text):
        gene, _, value = part.partition("=")
        try:
            out[gene.strip()] = float(value)
        except ValueError:
            raise ExotwinError(f"{part!r} is not GENE=FACTOR", field="efficiency") from None
    return out


def analyze(files: list[str | Path], reference: list[str], control: str,
            out: str | Path | None = None, efficiency: dict[str, float] | None = None,
            test: str = "auto") -> QpcrResult:  # fmt: skip
    """``exotwin analyze qpcr``: Ct tables (pooled) -> ``fold_change.csv`` and figures."""
    ct = pd.concat([read_ct(f) for f in files], ignore_index=True)
    result = fold_changes(ct, reference, control, efficiency, test,
                          source=", ".join(str(f) for f in files))
    if out is not None:
        from exotwin.analysis import figures
        from exotwin.analysis.report import Bundle

        bundle = Bundle("qRT-PCR relative expression")
        lost = result.undetermined
        bundle.note(f"Reference: {', '.join(reference)} (geometric mean); calibrator group "
                    f"{control!r}; technical replicates averaged"
                    + (f"; {lost} Undetermined wells left out of their means." if lost
                       else "."))  # fmt: skip
        bundle.table("fold_change", result.fold_change)
        bundle.table("samples", result.samples, show=False)
        for method in ("livak", "pfaffl"):
            sub = result.samples[result.samples["method"] == method]
            data = {gene: {g: 2.0 ** s["log2_ratio"].to_numpy()
                           for g, s in gs.groupby("group", sort=False)}
                    for gene, gs in sub.groupby("gene", sort=False)}  # fmt: skip
            fc = result.fold_change[result.fold_change["method"] == method]
            marks = {(r.gene, r.group): r.stars for r in fc.itertuples() if r.group != control}
            bundle.figure(f"fold_change_{method}",
                          figures.group_panels(data, "relative expression", marks,
                                               geometric=True))  # fmt: skip
        bundle.commit(out)
    return result
