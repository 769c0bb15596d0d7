"""``exotwin analyze``: real (or virtual) lab readouts -> tables, figures and a summary.

One command per assay; each calls the ``analyze`` function of its module in
:mod:`exotwin.analysis` (the Python API), which writes the whole output directory at the
end or nothing. Heavy modules are imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Analyse lab readouts (CCK-8, flow, qPCR, NTA, western, expression).",
                  no_args_is_help=True)  # fmt: skip


def _distinct(files: list[Path]) -> list[Path]:
    """The input files, each once: a file given twice would be counted twice."""
    from exotwin.errors import ExotwinError

    seen: set[Path] = set()
    for f in files:
        if f.resolve() in seen:
            raise ExotwinError("given twice among the input files", file=str(f))
        seen.add(f.resolve())
    return files


Files = Annotated[list[Path], typer.Argument(help="Input files.", callback=_distinct)]
Out = Annotated[Path, typer.Option("--out", help="Output directory.")]
Test = Annotated[str, typer.Option(help="auto, student, welch or anova.")]


@app.command("flow")
def flow_cmd(
    files: Files,
    out: Out,
    x: Annotated[str, typer.Option("--x", help="Channel on the x axis ($PnN or $PnS).")],
    y: Annotated[str, typer.Option("--y", help="Channel on the y axis ($PnN or $PnS).")],
    x_threshold: Annotated[float | None, typer.Option(help="Gate on x.")] = None,
    y_threshold: Annotated[float | None, typer.Option(help="Gate on y.")] = None,
    control: Annotated[Path | None, typer.Option(help="Unstained control FCS file.")] = None,
    quantile: Annotated[float, typer.Option(min=0.5, max=1.0,
                                            help="Control quantile for derived gates.")] = 0.99,
    compensation: Annotated[bool, typer.Option(help="Apply the file's spillover.")] = True,
    groups: Annotated[Path | None, typer.Option(
        help="Sample sheet with columns file, group (one FCS file per replicate).")] = None,
    control_group: Annotated[str | None, typer.Option(
        help="Group the others are compared with (needs --groups).")] = None,
    test: Test = "auto",
    time: Annotated[float | None, typer.Option(
        help="Hours after treatment the cells were stained (time_h of the readouts).")] = None,
    apoptosis: Annotated[bool, typer.Option(
        help="x is Annexin V, y 7-AAD or PI: also write the twin's readouts "
             "early_apoptotic_%, late_apoptotic_%, apoptotic_%.")] = False,
) -> None:
    """Quadrant gating of FCS files: quadrants.csv, dot plots, summary.html."""
    from exotwin.analysis import flow

    result = flow.analyze(files, x, y, out, groups, control_group, test, time, apoptosis,
                          x_threshold=x_threshold, y_threshold=y_threshold, control=control,
                          quantile=quantile, compensation=compensation)  # fmt: skip
    for r in result.comparisons.itertuples():
        typer.echo(f"{r.quadrant} {r.group}: {r.mean:.3g} % vs {r.control} {r.control_mean:.3g} "
                   f"% (n = {r.n}, {r.test}, P = {r.p:.3g})")
    typer.echo(f"gated {len(result.files)} files at {x} > {result.thresholds[0]:.4g}, "
               f"{y} > {result.thresholds[1]:.4g}; wrote {out}")


@app.command("cck8")
def cck8_cmd(
    files: Files,
    out: Out,
    layout: Annotated[Path | None, typer.Option(
        help="Plate layout (well, group[, dose, replicate]); without it FILES are tidy "
             "readout tables.")] = None,
    times: Annotated[str | None, typer.Option(
        help="Times of the plate reads, hours or with a unit: 24,48 or '1 d,2 d'.")] = None,
    control: Annotated[str | None, typer.Option(help="Control group (100 %).")] = None,
    blank: Annotated[float | None, typer.Option(help="Blank OD (default: blank wells).")] = None,
    test: Test = "auto",
) -> None:
    """CCK-8: blank-corrected OD, viability, 4PL IC50 with 95 % CI, time course."""
    from exotwin.analysis import cck8
    from exotwin.analysis.tables import names
    from exotwin.protocols.units import UnitError, split, time_h

    try:  # bare numbers are hours; '24 h', '2 d' as in protocols
        hours = [time_h(t) if split(t)[1] else float(t) for t in names(times)]
    except UnitError:
        raise typer.BadParameter("--times takes comma-separated hours, e.g. 24,48 or "
                                 "'24 h,2 d'") from None
    result = cck8.analyze(files, layout, out, hours or None, control, blank, test)
    if "plate" in result.wells:
        typer.echo(f"{len(files)} plates read at the same times: each plate is one "
                   "replicate, its wells of a group and dose averaged first")
    for r in result.fits.itertuples():
        ci = (f"95% CI {r.ic50_low:.4g}-{r.ic50_high:.4g}" if r.ci_determined else
              "95% CI not determined by these doses")  # fmt: skip
        typer.echo(f"{r.group} {r.time_h:g} h: IC50 {r.ic50:.4g} ({ci})"
                   + (f"; 50 % viability at {r.ic50_absolute:.4g}" if r.within_doses else
                      "; 50 % viability not reached within the doses tested"))
    typer.echo(f"wrote {out}")


@app.command("qpcr")
def qpcr_cmd(
    files: Files,
    out: Out,
    reference: Annotated[str, typer.Option(help="Reference gene(s), GENE[,GENE].")],
    control: Annotated[str, typer.Option(help="Calibrator group.")],
    efficiency: Annotated[str | None, typer.Option(
        help="Amplification factors for Pfaffl, GENE=E[,GENE=E] (2 = 100 %).")] = None,
    test: Test = "auto",
) -> None:
    """qRT-PCR: ΔΔCt (Livak) and Pfaffl fold changes -> fold_change.csv."""
    from exotwin.analysis import qpcr
    from exotwin.analysis.tables import names

    result = qpcr.analyze(files, names(reference), control, out,
                          qpcr.parse_efficiency(efficiency), test)
    for r in result.fold_change[result.fold_change["method"] == "livak"].itertuples():
        typer.echo(f"{r.gene} {r.group}: fold change {r.fold_change:.3g} (ΔΔCt {r.ddct + 0:.3g})")
    if result.undetermined:
        typer.echo(f"{result.undetermined} Undetermined wells left out of their technical means")
    typer.echo(f"wrote {out}")


@app.command("nta")
def nta_cmd(
    files: Files,
    out: Out,
    dilution: Annotated[float, typer.Option(help="Dilution factor of the measured sample.")] = 1.0,
    volume_ml: Annotated[float | None, typer.Option(
        help="Analysed volume (mL) of a particle list, for its concentration.")] = None,
) -> None:
    """NTA: mode, mean, D10/D50/D90 and concentration per file; size distribution plot."""
    from exotwin.analysis import nta

    table = nta.analyze(files, out, dilution, volume_ml)
    for r in table.itertuples():
        typer.echo(f"{r.file}: mode {r.mode_nm:.4g} nm, mean {r.mean_nm:.4g} nm, "
                   f"D50 {r.d50_nm:.4g} nm, {r.concentration_per_ml:.3g} particles/mL")
    typer.echo(f"wrote {out}")


@app.command("western")
def western_cmd(
    files: Files,
    out: Out,
    loading: Annotated[str | None, typer.Option(help="Loading control target, e.g. GAPDH.")] = None,
    control: Annotated[str | None, typer.Option(help="Control group.")] = None,
    radius: Annotated[float, typer.Option(help="Rolling-ball radius (px).")] = 50.0,
    lanes: Annotated[int | None, typer.Option(min=1, help="Lane count (default: find).")] = None,
    test: Test = "auto",
) -> None:
    """Western: densitometry tables -> ratios; band images -> lanes, bands, densities."""
    from exotwin.analysis import western

    result = western.analyze(files, out, loading, control, radius, lanes, test)
    if not result.bands.empty:
        typer.echo(f"{len(result.bands)} bands in {result.bands['lane'].nunique()} lanes")
    for r in result.comparisons.itertuples():
        typer.echo(f"{r.target} {r.group}: {r.mean:.3g} x {control} (P = {r.p:.3g})")
    typer.echo(f"wrote {out}")


@app.command("expression")
def expression_cmd(
    matrix: Annotated[Path, typer.Argument(help="Genes x samples TPM matrix.")],
    annotation: Annotated[Path, typer.Argument(help="Sample annotation (sample, group).")],
    out: Out,
    genes: Annotated[str | None, typer.Option(help="Genes to plot and correlate.")] = None,
    tumour: Annotated[str, typer.Option(help="Tumour group label.")] = "tumour",
    normal: Annotated[str, typer.Option(help="Normal group label.")] = "normal",
    log2fc_cutoff: Annotated[float, typer.Option(min=0.0, help="|log2FC| cut-off.")] = 1.0,
    q_cutoff: Annotated[float, typer.Option(min=0.0, max=1.0, help="q-value cut-off.")] = 0.01,
    correlation_group: Annotated[str | None, typer.Option(
        help="Group whose samples are correlated (default: tumour).")] = None,
) -> None:
    """Expression: tumour vs normal (GEPIA2-style ANOVA) and gene-gene correlation."""
    from exotwin.analysis import expression
    from exotwin.analysis.tables import names

    result = expression.analyze(matrix, annotation, out, names(genes) or None, tumour, normal,
                                log2fc_cutoff, q_cutoff, correlation_group)
    typer.echo(f"{int(result.de['significant'].sum())} of {len(result.de)} genes "
               f"differentially expressed; wrote {out}")
