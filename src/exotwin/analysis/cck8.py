"""CCK-8 viability: plate-reader exports -> blank-corrected OD, viability, 4PL dose-response.

Owns the plate readers' formats (a 96-well grid, rows A-H under a header 1-12, in CSV or
XLSX, one or more grids per file; or a long table with columns ``well, od`` and an
optional ``time_h``), the plate layout (``well, group`` and optional ``dose``,
``replicate``; wells of group ``blank`` hold medium and CCK-8 only), and the analysis:
OD minus the mean blank of its read, viability in % of the control (a control group, or
the dose-0 wells of each group), the four-parameter logistic

    y = bottom + (top - bottom) / (1 + (dose / IC50) ** hill)

fitted per group and time with IC50's 95 % confidence interval (Wald, on log10 IC50, t
with n - 4 degrees of freedom), and the comparisons with the control. The twin's tidy
CCK-8 readouts (:mod:`exotwin.assays.cck8`) enter :func:`analyze_table` directly.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize
from scipy import stats as sps

from exotwin.analysis import stats, tables
from exotwin.assays import tidy
from exotwin.errors import ExotwinError, require_file

ROWS = "ABCDEFGH"
COLUMNS = 12
WELL = re.compile(r"^([A-Ha-h])0*([1-9]|1[0-2])$")


def well_name(text: str, path: str | Path, field: str) -> str:
    """Canonical well name (``A1`` .. ``H12``) of ``A01``/``a1`` style text."""
    m = WELL.match(str(text).strip())
    if not m:
        raise ExotwinError(f"{str(text)!r} is not a 96-well plate well (A1..H12)",
                           file=str(path), field=field)  # fmt: skip
    return f"{m.group(1).upper()}{int(m.group(2))}"


def _cells(path: Path) -> tuple[list[list[str]], bool]:
    """All cells of a text or Excel file as strings, rows of any length.

    Returns the cells and whether they may hold decimal commas: text separated by
    semicolons or tabs, as readers in such locales write it (``0,095`` is 0.095; see
    :func:`read_plate`).
    """
    if path.suffix.lower() in tables.EXCEL_SUFFIXES:
        raw = tables.read_raw(path, header=None)
        return [[str(v) for v in row] for row in raw.itertuples(index=False)], False
    text = require_file(path).read_bytes().decode("utf-8-sig", errors="replace")
    delimiter = tables.delimiter(text)
    rows = csv.reader(text.splitlines(), delimiter=delimiter)
    return [[c.strip() for c in row] for row in rows], delimiter != ","


def _is_number(text: str) -> bool:
    try:
        return np.isfinite(float(text))
    except ValueError:
        return False


def _grid_blocks(path: Path, cells: list[list[str]]) -> list[dict[str, str]]:
    """Every 96-well grid in the cells: a header row 1..12 and rows A..H under it.

    Returns each grid's cell text by well, read by position under the header (an empty
    or text cell stays as it is; cells right of column 12, such as a reader's wavelength
    label, are not part of the plate).
    """
    blocks = []
    for r, row in enumerate(cells):
        for c in range(len(row) - 1):
            if [v.removesuffix(".0") for v in row[c + 1 : c + 4]] != ["1", "2", "3"]:
                continue
            header = [v.removesuffix(".0") for v in row[c + 1 :] if v not in ("", "nan")]
            if header != [str(i) for i in range(1, len(header) + 1)] or len(header) != COLUMNS:
                raise ExotwinError(f"plate header has {len(header)} columns, a 96-well plate "
                                   f"has {COLUMNS}", file=str(path), field=f"line {r + 1}")
            block = {}
            for i, letter in enumerate(ROWS):
                line = cells[r + 1 + i] if r + 1 + i < len(cells) else []
                label = line[c] if c < len(line) else ""
                if label.upper() != letter:
                    raise ExotwinError(f"plate row {letter} missing (found {label!r})",
                                       file=str(path), field=f"line {r + 2 + i}")  # fmt: skip
                values = (line[c + 1 : c + 1 + COLUMNS] + [""] * COLUMNS)[:COLUMNS]
                block.update({f"{letter}{j + 1}": v for j, v in enumerate(values)})
            blocks.append(block)
            break
    return blocks


def _od(path: Path, well: str, text: str, time_h: float) -> float:
    """A grid cell's OD; a well that was not read or is not a number is named."""
    if _is_number(text):
        return float(text)
    what = "no reading" if text in ("", "nan") else f"{text!r} is not an OD"
    raise ExotwinError(f"well {well} at {time_h:g} h: {what} (saturated or not read): "
                       "re-read the plate, or take the well out of the layout to exclude it",
                       file=str(path), field="well")  # fmt: skip


def read_plate(path: str | Path, times: list[float] | None = None,
               wells: list[str] | None = None) -> pd.DataFrame:  # fmt: skip
    """Read a plate-reader export: columns well, time_h, od.

    Parameters
    ----------
    path
        A grid export (one or more 96-well grids) or a long table ``well, od[, time_h]``.
    times
        Time (h) of each grid in order; a long table's ``time_h`` column wins. Default 0.
    wells
        The wells a grid must hold readings of (the layout's); the other wells may be
        empty or text (``OVER``) and are left out. Default: all 96.

    Raises
    ------
    ExotwinError
        Ragged or incomplete grid, a needed well without a numeric OD, unknown well,
        or neither format.
    """
    path = Path(path)
    cells, commas = _cells(path)
    first = [tables.fold(v) for v in (cells[0] if cells else [])]
    if "well" in first:
        frame = tables.read_table(path, {"well": (), "od": ("od450", "absorbance", "value",
                                                            "abs", "450")},
                                  optional={"time_h": ("time", "hours", "time_hours")})
        wells_read = [well_name(w, path, f"well (row {i + 1})")
                      for i, w in enumerate(frame["well"])]  # fmt: skip
        od = tables.numeric(frame, "od", path)
        if "time_h" in frame:
            t = tables.numeric(frame, "time_h", path)
        else:
            t = np.full(len(frame), (times or [0.0])[0])
        out = pd.DataFrame({"well": wells_read, "time_h": t, "od": od})
    else:
        blocks = _grid_blocks(path, cells)
        if commas:  # each grid's decimal marks taken together (tables.comma_decimals)
            blocks = [dict(zip(b, tables.comma_decimals(pd.Series(list(b.values()))),
                               strict=True)) for b in blocks]  # fmt: skip
        if not blocks:
            raise ExotwinError("neither a 96-well grid (header 1..12 over rows A..H) nor a long "
                               "table with columns well, od", file=str(path))  # fmt: skip
        times = list(times) if times else [float(i) for i in range(len(blocks))]
        if len(times) < len(blocks):
            raise ExotwinError(f"{len(blocks)} plate reads but {len(times)} times given",
                               file=str(path), field="times")  # fmt: skip
        needed = list(blocks[0]) if wells is None else [w for w in blocks[0] if w in set(wells)]
        out = pd.DataFrame([{"well": w, "time_h": t, "od": _od(path, w, b[w], t)}
                            for b, t in zip(blocks, times, strict=False) for w in needed],
                           columns=["well", "time_h", "od"])  # fmt: skip
    if out.duplicated(["well", "time_h"]).any():
        row = out[out.duplicated(["well", "time_h"])].iloc[0]
        raise ExotwinError(f"well {row.well} read twice at {row.time_h:g} h", file=str(path))
    return out


def read_layout(path: str | Path) -> pd.DataFrame:
    """Read a plate layout: columns well, group, dose (NaN when absent), replicate."""
    frame = tables.read_table(path, {"well": (), "group": ("sample", "condition", "treatment")},
                              optional={"dose": ("concentration", "conc", "dose_um"),
                                        "replicate": ("rep",)})  # fmt: skip
    out = pd.DataFrame({
        "well": [well_name(w, path, f"well (row {i + 1})") for i, w in enumerate(frame["well"])],
        "group": frame["group"].astype(str).str.strip().to_numpy(),
        "dose": tables.numeric(frame, "dose", path, allow_missing=True)
        if "dose" in frame else np.nan,
    })  # fmt: skip
    if (out["group"] == "").any():
        raise ExotwinError(f"row {int(np.argmax(out['group'] == '')) + 1}: empty group",
                           file=str(path), field="group")  # fmt: skip
    if out["well"].duplicated().any():
        raise ExotwinError(f"well {out['well'][out['well'].duplicated()].iloc[0]} listed twice",
                           file=str(path), field="well")  # fmt: skip
    if (out["dose"] < 0).any():
        raise ExotwinError("negative dose", file=str(path), field="dose")
    if "replicate" in frame:
        out["replicate"] = tables.numeric(frame, "replicate", path).astype(int)
        out.attrs["replicates"] = "layout"
    else:
        out["replicate"] = out.groupby(["group", "dose"], dropna=False).cumcount() + 1
    return out


def plate_readouts(plates: list[str | Path], layout: str | Path,
                   times: list[float] | None = None) -> pd.DataFrame:  # fmt: skip
    """Plates plus layout as a tidy table (readout OD450; extra columns well, dose, plate).

    Plates read at the same times are independent experiments: the plate number is each
    well's biological replicate (column ``plate``), so a layout ``replicate`` column cannot
    be combined with them.
    """
    lay = read_layout(layout)
    times = list(times or [])
    reads = []
    for i, p in enumerate(plates):
        own = times[i : i + 1] if len(times) == len(plates) else times or None
        read = read_plate(p, own, wells=list(lay["well"]))
        missing = sorted(set(lay["well"]) - set(read["well"]))
        if missing:
            raise ExotwinError(f"layout wells {', '.join(missing[:5])} have no reading",
                               file=str(p), field="well")  # fmt: skip
        reads.append(read.assign(plate=i + 1))
    merged = pd.concat(reads, ignore_index=True).merge(lay, on="well", how="inner")
    by_plate = merged.duplicated(["well", "time_h"]).any()
    if by_plate and lay.attrs.get("replicates") == "layout":
        raise ExotwinError("plates read at the same times are replicates of their own: drop "
                           "the layout's replicate column or give each plate its --times",
                           file=str(layout), field="replicate")  # fmt: skip
    return tidy({
        "assay": "cck8", "sample": f"plate {r.plate} {r.well}" if by_plate else r.well,
        "group": r.group, "replicate": int(r.plate if by_plate else r.replicate),
        "time_h": float(r.time_h), "readout": "OD450", "value": float(r.od), "unit": "AU",
        "well": r.well, "dose": float(r.dose), **({"plate": r.plate} if by_plate else {}),
    } for r in merged.itertuples())  # fmt: skip


@dataclass(frozen=True)
class FourPL:
    """A fitted four-parameter logistic and IC50's 95 % confidence interval."""

    bottom: float
    top: float
    ic50: float
    hill: float
    ic50_low: float
    ic50_high: float
    r_squared: float
    n: int

    def absolute_ic50(self, level: float = 50.0) -> float:
        """Dose at which the curve crosses ``level`` % (NaN if it never does).

        ``ic50`` is the curve's midpoint between top and bottom (the relative IC50); the
        dose of 50 % viability differs from it when the bottom is far from 0.
        """
        low, high = sorted((self.bottom, self.top))
        if not low < level < high:
            return float("nan")
        return float(self.ic50 * ((self.top - level) / (level - self.bottom)) ** (1 / self.hill))

    def __call__(self, dose) -> np.ndarray:
        """The curve at ``dose``."""
        return logistic4(np.asarray(dose, float), self.bottom, self.top, np.log10(self.ic50),
                         self.hill)  # fmt: skip


def logistic4(dose, bottom, top, log_ic50, hill):
    """Four-parameter logistic in dose, with IC50 given as log10."""
    ratio = np.power(np.asarray(dose, float) / 10.0**log_ic50, hill)
    return bottom + (top - bottom) / (1.0 + ratio)


def fit_4pl(dose, response, level: float = 0.95) -> FourPL:
    """Least-squares 4PL fit; IC50 CI from the covariance of log10 IC50 (t, n - 4 dof).

    Raises
    ------
    ExotwinError
        Fewer than 5 points or 4 distinct positive doses, or the fit does not converge.
    """
    x, y = np.asarray(dose, float), np.asarray(response, float)
    positive = np.unique(x[x > 0])
    if x.size < 5 or positive.size < 4:
        raise ExotwinError("a 4PL fit needs at least 4 positive doses and 5 wells", field="dose")
    lo, hi = np.log10(positive[0]), np.log10(positive[-1])
    half = (y.max() + y.min()) / 2
    order = np.argsort(x)
    crossing = x[order][np.argmax(y[order] < half)] if (y < half).any() else positive[-1]
    start = [y.min(), y.max(), np.log10(max(crossing, positive[0])), 1.0]
    span = np.ptp(y) + 1e-9
    bounds = ([y.min() - span, y.min() - span, lo - 3, 0.05],
              [y.max() + span, y.max() + span, hi + 3, 20.0])  # fmt: skip
    try:
        params, cov = optimize.curve_fit(logistic4, x, y, p0=start, bounds=bounds,
                                         maxfev=20_000)  # fmt: skip
    except (RuntimeError, ValueError) as exc:
        raise ExotwinError(f"4PL fit failed: {exc}", field="dose") from None
    residual = y - logistic4(x, *params)
    r2 = 1.0 - residual @ residual / max(float(np.sum((y - y.mean()) ** 2)), 1e-300)
    dof = x.size - 4
    # a zero variance is curve_fit's pseudo-inverse dropping a direction the data do not
    # constrain (a flat curve), not an exact IC50
    var = float(cov[2, 2])
    se = float(np.sqrt(var)) if dof > 0 and np.isfinite(var) and var > 0 else np.inf
    half_width = sps.t.ppf(0.5 + level / 2, dof) * se if dof > 0 else np.inf
    return FourPL(float(params[0]), float(params[1]), float(10 ** params[2]), float(params[3]),
                  float(10 ** (params[2] - half_width)), float(10 ** (params[2] + half_width)),
                  float(r2), int(x.size))  # fmt: skip


@dataclass
class CCK8Result:
    """Wells (with od_corrected, viability_pct), summary, IC50 fits and comparisons.

    ``replicates`` holds the technical means (group, dose, time_h, replicate, wells,
    od_corrected, viability_pct) the summary, fits and comparisons are computed from.
    """

    wells: pd.DataFrame
    summary: pd.DataFrame
    fits: pd.DataFrame
    comparisons: pd.DataFrame
    curves: dict
    replicates: pd.DataFrame


def analyze_table(readouts: pd.DataFrame, control: str | None = None,
                  blank: float | None = None, test: str = "auto") -> CCK8Result:  # fmt: skip
    """Blank correction, viability, 4PL fits and comparisons of tidy OD450 readouts.

    Parameters
    ----------
    readouts
        Tidy rows (``group``, ``time_h``, ``value``; optional ``dose``, ``readout``);
        rows of another readout than OD450 are ignored.
    control
        Control group: its untreated (dose 0 or no dose) wells are 100 % and the other
        groups are compared with it at each time (and dose); without it, the dose-0
        wells of each group are its own 100 %.
    blank
        OD of medium + CCK-8; default: the mean of the ``blank`` group's wells per time.
    test
        Statistical test of each group against the control (see
        :func:`exotwin.analysis.stats.compare_to_control`).
    """
    frame = readouts.copy()
    if "readout" in frame:
        frame = frame[frame["readout"] == "OD450"]
    if frame.empty:
        raise ExotwinError("no OD450 readings", field="readout")
    if "dose" not in frame:
        frame["dose"] = np.nan
    frame["time_h"] = frame["time_h"].astype(float)
    is_blank = frame["group"].astype(str).str.lower() == "blank"
    read = ["time_h", "plate"] if "plate" in frame else ["time_h"]  # one plate read

    def per_read(values: pd.Series, rows: pd.Series) -> np.ndarray:
        """Mean of ``values`` over ``rows`` within each read, for every row of the frame."""
        means = values[rows].groupby([frame.loc[rows, k] for k in read]).mean()
        return means.reindex(pd.MultiIndex.from_frame(frame[read]) if len(read) > 1
                             else frame[read[0]]).to_numpy()  # fmt: skip

    if blank is None:
        if not is_blank.any():
            raise ExotwinError("no blank wells (group 'blank') and no --blank OD", field="blank")
        frame["blank"] = per_read(frame["value"], is_blank)
        if frame["blank"].isna().any():
            t = frame.loc[frame["blank"].isna(), "time_h"].iloc[0]
            raise ExotwinError(f"no blank wells read at {t:g} h", field="blank")
    else:
        frame["blank"] = float(blank)
    frame["od_corrected"] = frame["value"] - frame["blank"]
    if control is not None:
        if control not in set(frame.loc[~is_blank, "group"]):
            raise ExotwinError(f"control group {control!r} not in "
                               f"{', '.join(map(str, frame.loc[~is_blank, 'group'].unique()))}",
                               field="control")  # fmt: skip
        ctrl = (frame["group"] == control) & ~(frame["dose"] > 0)
        if not ctrl.any():
            raise ExotwinError(f"control group {control!r} has no untreated (dose 0) wells",
                               field="control")  # fmt: skip
        frame["control_od"] = per_read(frame["od_corrected"], ctrl)
        frame = frame[~is_blank].copy()
    else:
        frame = frame[~is_blank].copy()
        zero = frame[frame["dose"] == 0].groupby(["group", *read])["od_corrected"].mean()
        if zero.empty:
            raise ExotwinError("give --control GROUP or dose-0 wells in the layout",
                               field="control")  # fmt: skip
        frame["control_od"] = zero.reindex(pd.MultiIndex.from_frame(
            frame[["group", *read]])).to_numpy()  # fmt: skip
    if frame["control_od"].isna().any() or (frame["control_od"] <= 0).any():
        raise ExotwinError("control OD not above the blank (or no control at some time)",
                           field="control")  # fmt: skip
    frame["viability_pct"] = 100.0 * frame["od_corrected"] / frame["control_od"]
    keys = ["group", "dose", "time_h"]
    if "replicate" not in frame:
        frame["replicate"] = np.arange(len(frame))  # every row its own replicate
    # technical replicates (wells of one replicate, group, dose and time) averaged first:
    # n, SD, the tests and the fits count biological replicates
    reps = (frame.groupby([*keys, "replicate"], dropna=False, sort=False)
            .agg(wells=("value", "size"), od_corrected=("od_corrected", "mean"),
                 viability_pct=("viability_pct", "mean")).reset_index())  # fmt: skip
    summary = (reps.groupby(keys, dropna=False, sort=False)
               .agg(n=("wells", "size"), wells=("wells", "sum"),
                    od_mean=("od_corrected", "mean"), od_sd=("od_corrected", "std"),
                    viability_mean=("viability_pct", "mean"),
                    viability_sd=("viability_pct", "std")).reset_index())  # fmt: skip
    fits, curves = [], {}
    for (g, t), sub in reps.groupby(["group", "time_h"], sort=False):
        if np.unique(sub["dose"].dropna()[sub["dose"].dropna() > 0]).size < 4:
            continue
        fit = fit_4pl(sub["dose"], sub["viability_pct"])
        curves[(g, t)] = fit
        tested = sub["dose"][sub["dose"] > 0]
        absolute = fit.absolute_ic50()
        # a dose of 50 % viability outside the doses tested is an extrapolation
        # the fit lets log10 IC50 range over the tested doses +- 3 decades (fit_4pl's
        # bounds); a Wald interval reaching past that is not pinned down by these doses
        reach = (tested.min() / 1e3, tested.max() * 1e3)
        fits.append({"group": g, "time_h": t, **fit.__dict__, "ic50_absolute": absolute,
                     "within_doses": bool(tested.min() <= absolute <= tested.max()),
                     "ci_determined": bool(reach[0] <= fit.ic50_low
                                           and fit.ic50_high <= reach[1])})  # fmt: skip
    comparisons = pd.DataFrame()
    if control is not None:
        by = ["time_h", "dose"] if frame["dose"].notna().any() else ["time_h"]
        comparisons = stats.compare_table(reps, "viability_pct", by, control, test)
    return CCK8Result(frame.reset_index(drop=True), summary, pd.DataFrame(fits), comparisons,
                      curves, reps)  # fmt: skip


def analyze(plates: list[str | Path], layout: str | Path | None = None,
            out: str | Path | None = None, times: list[float] | None = None,
            control: str | None = None, blank: float | None = None,
            test: str = "auto") -> CCK8Result:  # fmt: skip
    """``exotwin analyze cck8``: plate exports plus layout (or tidy tables) to ``out``.

    Without a layout every file must be a tidy readout table (as ``exotwin run`` writes).
    """
    if layout is None:
        readouts = pd.concat([read_tidy(p) for p in plates], ignore_index=True)
    else:
        readouts = plate_readouts(plates, layout, times)
    result = analyze_table(readouts, control, blank, test)
    if out is not None:
        _write(result, control, out)
    return result


def read_tidy(path: str | Path) -> pd.DataFrame:
    """A tidy readout table (CSV/Parquet, as ``exotwin run`` writes) with numeric columns."""
    frame = tables.read_table(path, {"group": (), "time_h": (), "value": ()},
                              optional={"readout": (), "dose": ()})  # fmt: skip
    frame["group"] = frame["group"].astype(str)
    for col in ("time_h", "value", "dose"):
        if col in frame:
            frame[col] = tables.numeric(frame, col, path, allow_missing=col == "dose")
    return frame


def _write(result: CCK8Result, control: str | None, out: str | Path) -> None:
    from exotwin.analysis import figures
    from exotwin.analysis.report import Bundle, safe_name

    bundle = Bundle("CCK-8 viability")
    bundle.note("OD450 minus the mean blank of each read; viability in % of "
                + (f"group {control!r}" if control else "the dose-0 wells of each group")
                + "; wells of one replicate (same group, dose and time) averaged first, "
                + "n = replicates; 4PL fits with IC50 95 % CI (Wald on log10 IC50).")
    bundle.table("wells", result.wells, show=False)
    bundle.table("summary", result.summary)
    if not result.fits.empty:
        bundle.table("ic50", result.fits)
    if not result.comparisons.empty:
        bundle.table("comparisons", result.comparisons)
    s = result.summary.rename(columns={"viability_mean": "mean", "viability_sd": "sd"})
    if s["time_h"].nunique() > 1:
        course = s.groupby(["group", "time_h"], sort=False)[["mean", "sd"]].mean().reset_index()
        bundle.figure("time_course", figures.time_course(course, "viability (%)"))
    for t, sub in s.groupby("time_h"):
        fits = {g: f for (g, tt), f in result.curves.items() if tt == t}
        if fits:
            bundle.figure(f"dose_response_{safe_name(f'{t:g}h')}",
                          figures.dose_response(sub, fits, title=f"{t:g} h"))
    if not result.comparisons.empty:
        last = result.replicates["time_h"].max()
        at = result.replicates[result.replicates["time_h"] == last]
        c = result.comparisons[result.comparisons["time_h"] == last]

        def label(d: float) -> str:
            return f"{last:g} h" if np.isnan(d) else f"{last:g} h, dose {d:g}"

        data = {label(d): {g: v["viability_pct"].to_numpy()
                           for g, v in sub.groupby("group", sort=False)}
                for d, sub in at.groupby(at["dose"].fillna(np.nan), dropna=False, sort=True)}
        marks = {(label(r.dose if "dose" in c else np.nan), r.group): r.stars
                 for r in c.itertuples()}  # fmt: skip
        bundle.figure("viability_bars", figures.group_panels(data, "viability (%)", marks))
    bundle.commit(out)
