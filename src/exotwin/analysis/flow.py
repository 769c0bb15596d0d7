"""Flow cytometry files: read FCS 2.0/3.0/3.1, compensate, gate quadrants.

Quadrants are named by the sign of the two channels against their thresholds:
``x-y-``, ``x+y-``, ``x-y+``, ``x+y+`` (for Annexin V-PE on x and 7-AAD on y: living,
early apoptotic, necrotic/debris, late apoptotic and pyroptotic).

:func:`analyze` is ``exotwin analyze flow``: every file read, compensated and gated in
memory, thresholds given or derived from an unstained control, then ``quadrants.csv``,
a tidy readout table and one dot plot per file written together.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import flowio
import numpy as np
import pandas as pd

from exotwin.errors import ExotwinError, require_file

QUADRANTS = ("x-y-", "x+y-", "x-y+", "x+y+")


@dataclass
class FcsData:
    """Events of one FCS file: ``events`` (n_events, n_channels), channel names, keywords.

    ``labels`` are the channels' $PnS names (the stain, e.g. ``Annexin V-FITC``), ``""``
    where a channel has none.
    """

    path: str
    events: np.ndarray
    channels: list[str]
    keywords: dict[str, str]
    labels: list[str] = field(default_factory=list)

    def index(self, name: str) -> int | None:
        """Column of a channel named by its $PnN, or by a $PnS no other channel shares."""
        if name in self.channels:
            return self.channels.index(name)
        hits = [i for i, label in enumerate(self.labels) if label == name]
        return hits[0] if len(hits) == 1 else None

    def described(self) -> str:
        """The channels as ``PnN (PnS)`` for messages."""
        labels = self.labels or [""] * len(self.channels)
        return ", ".join(f"{n} ({s})" if s and s != n else n
                         for n, s in zip(self.channels, labels, strict=True))  # fmt: skip

    def column(self, name: str) -> np.ndarray:
        """Events of one channel, by its $PnN name (or unique $PnS)."""
        i = self.index(name)
        if i is None:
            raise ExotwinError(f"no channel {name!r}; channels are {self.described()}",
                               file=self.path)  # fmt: skip
        return self.events[:, i]


FCS_VERSIONS = ("2.0", "3.0", "3.1")  # the FCS standards (ISAC) this reader knows
DATATYPES = {"i": "integer", "f": "float", "d": "double"}  # $DATATYPE A (ASCII) is not read


def _header(path: str) -> tuple[str, int, int]:
    """The HEADER segment's version and DATA offsets, or a one-line error.

    The offsets are 0 when the DATA segment lies beyond byte 99,999,999 (FCS 3.x): then
    only the TEXT keywords $BEGINDATA/$ENDDATA give them.
    """
    with open(path, "rb") as fh:
        head = fh.read(58)
    if not head.startswith(b"FCS"):
        raise ExotwinError("not an FCS file (it does not begin with 'FCS')", file=path)
    fields = [head[i : i + 8].strip() for i in range(10, 42, 8)]
    if len(head) < 42 or not all(f.isdigit() for f in fields):
        raise ExotwinError("not a readable FCS file: its HEADER offsets are not numbers",
                           file=path)  # fmt: skip
    return head[3:6].decode("ascii", "replace"), int(fields[2]), int(fields[3])


def _linear(fd: flowio.FlowData, data: np.ndarray) -> np.ndarray:
    """Integer channels stored log-amplified ($PnE f1,f2 with f1 > 0) on the linear scale.

    value = f2 * 10 ** (f1 * channel / $PnR), f2 = 0 read as 1 (FCS 3.1, 3.2.20); the
    gain $PnG is not applied (linear channels keep the instrument's values).
    """
    if str(fd.text.get("datatype", "")).lower() != "i":
        return data
    for k, ch in fd.channels.items():
        decades, log0 = ch["pne"]
        if decades > 0:
            data[:, int(k) - 1] = (log0 or 1.0) * 10.0 ** (decades * data[:, int(k) - 1]
                                                           / ch["pnr"])  # fmt: skip
    return data


def read_fcs(path: str | Path) -> FcsData:
    """Read an FCS file; a corrupt or truncated file is a one-line ExotwinError.

    List-mode data of $DATATYPE I (8, 16 or 32 bits, masked to $PnR), F or D in either
    byte order; log-amplified integer channels are put on the linear scale (:func:`_linear`).
    """
    path = str(require_file(path, "FCS file"))
    version, begin, end = _header(path)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            options = {"ignore_offset_discrepancy": version != "2.0" and begin == end == 0}
            text = flowio.FlowData(path, only_text=True, **options).text
            mode, kind = text.get("mode", "l").lower(), text.get("datatype", "").lower()
            if mode != "l":
                raise ExotwinError(f"$MODE {mode.upper()} is a histogram, not list-mode "
                                   "events", file=path)  # fmt: skip
            if kind not in DATATYPES:
                raise ExotwinError(f"$DATATYPE {kind.upper()!r} is not read (export the file "
                                   "with I, F or D data)", file=path)  # fmt: skip
            fd = flowio.FlowData(path, **options)
            data = _linear(fd, np.asarray(fd.as_array(preprocess=False), dtype=float))
            channels = [str(fd.channels[k]["pnn"]) for k in sorted(fd.channels, key=int)]
            labels = [str(fd.channels[k]["pns"]) for k in sorted(fd.channels, key=int)]
        for w in caught:  # flowio guesses a byte order it cannot read: the values are garbage
            if "byte order" in str(w.message):
                raise ValueError(str(w.message))
    except ExotwinError:
        raise
    except flowio.exceptions.MultipleDataSetsError:
        raise ExotwinError("holds several data sets ($NEXTDATA is not 0): export each data "
                           "set as its own file", file=path) from None  # fmt: skip
    except KeyError as exc:  # flowio looks a required keyword up in the TEXT it parsed
        raise ExotwinError(f"not a readable FCS file: keyword ${str(exc.args[0]).upper()} "
                           "not found in its TEXT segment", file=path) from None
    except Exception as exc:  # flowio raises many kinds on damaged files
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ExotwinError(f"not a readable FCS file: {reason}", file=path) from None
    version = str(getattr(fd, "version", ""))
    if version not in FCS_VERSIONS:
        raise ExotwinError(f"FCS version {version!r} is not one of "
                           f"{', '.join(FCS_VERSIONS)}", file=path)  # fmt: skip
    if data.ndim != 2 or data.shape[1] != len(channels):
        raise ExotwinError("event data do not match the channel count", file=path)
    total = str(fd.text.get("tot", "")).strip()
    if not total.isdigit() or int(total) != data.shape[0]:
        raise ExotwinError(f"$TOT says {total} events, the DATA segment holds "
                           f"{data.shape[0]} (a truncated or damaged file)", file=path)
    return FcsData(path, data, channels, {k: str(v) for k, v in fd.text.items()}, labels)


def spillover(fcs: FcsData) -> tuple[list[str], np.ndarray] | None:
    """The file's spillover matrix ($SPILLOVER / SPILL / SPILLOVER keyword), if any."""
    for key in ("spill", "$spillover", "spillover"):
        if key in fcs.keywords:
            parts = [s.strip() for s in fcs.keywords[key].split(",")]
            try:
                n = int(parts[0])
                names = parts[1 : n + 1]
                values = np.array([float(v) for v in parts[n + 1 : n + 1 + n * n]])
                return names, values.reshape(n, n)
            except (ValueError, IndexError):
                raise ExotwinError(f"malformed spillover keyword {key!r}", file=fcs.path) from None
    return None


def compensate(fcs: FcsData) -> FcsData:
    """Apply the file's spillover matrix (events of those channels times its inverse)."""
    spill = spillover(fcs)
    if spill is None:
        return fcs
    names, matrix = spill
    idx = [fcs.index(n) for n in names]
    if None in idx:
        lacking = [n for n, i in zip(names, idx, strict=True) if i is None]
        raise ExotwinError(f"spillover names channels the file lacks: {', '.join(lacking)}; "
                           f"channels are {fcs.described()}", file=fcs.path)  # fmt: skip
    if not np.all(np.isfinite(matrix)) or abs(np.linalg.det(matrix)) < 1e-12:
        raise ExotwinError("spillover matrix is singular or not finite", file=fcs.path)
    events = fcs.events.copy()
    events[:, idx] = fcs.events[:, idx] @ np.linalg.inv(matrix)
    return FcsData(fcs.path, events, fcs.channels, fcs.keywords, fcs.labels)


def quadrants(fcs: FcsData, x: str, y: str, x_threshold: float, y_threshold: float) -> pd.DataFrame:
    """Event counts and percentages per quadrant (columns file, quadrant, events, percent)."""
    xv, yv = fcs.column(x), fcs.column(y)
    xp, yp = xv > x_threshold, yv > y_threshold
    counts = [
        int(np.sum(~xp & ~yp)), int(np.sum(xp & ~yp)),
        int(np.sum(~xp & yp)), int(np.sum(xp & yp)),
    ]  # fmt: skip
    total = max(sum(counts), 1)
    return pd.DataFrame({
        "file": Path(fcs.path).name, "quadrant": list(QUADRANTS), "events": counts,
        "percent": [100.0 * c / total for c in counts],
    })  # fmt: skip


def control_thresholds(control: FcsData, x: str, y: str,
                       quantile: float = 0.99) -> tuple[float, float]:  # fmt: skip
    """Gates from an unstained control: the ``quantile`` of each channel's events.

    With the default 0.99, 1 % of the control's events fall above each threshold.
    """
    if control.events.shape[0] == 0:
        raise ExotwinError("control file has no events", file=control.path)
    return (float(np.quantile(control.column(x), quantile)),
            float(np.quantile(control.column(y), quantile)))  # fmt: skip


@dataclass
class FlowResult:
    """Gated files: ``quadrants`` (file, quadrant, events, percent), thresholds, the data.

    ``comparisons`` holds the group comparisons of :func:`analyze` (empty without groups).
    """

    quadrants: pd.DataFrame
    thresholds: tuple[float, float]
    files: list[FcsData]
    comparisons: pd.DataFrame = field(default_factory=pd.DataFrame)


def gate(paths: list[str | Path], x: str, y: str, x_threshold: float | None = None,
         y_threshold: float | None = None, control: str | Path | None = None,
         quantile: float = 0.99, compensation: bool = True) -> FlowResult:  # fmt: skip
    """Read, compensate (when the file carries a spillover matrix) and gate FCS files.

    Parameters
    ----------
    paths
        FCS 2.0/3.0/3.1 files.
    x, y
        Channel names ($PnN) of the two gated channels.
    x_threshold, y_threshold
        Quadrant thresholds; a missing one is taken from ``control``.
    control
        Unstained control file (see :func:`control_thresholds`).
    quantile
        Quantile of the control that sets a derived threshold.
    compensation
        Apply the file's spillover matrix.

    Raises
    ------
    ExotwinError
        A file is unreadable or lacks a channel, or a threshold is neither given nor
        derivable.
    """
    prepare = compensate if compensation else (lambda f: f)
    files = [prepare(read_fcs(p)) for p in paths]
    if not files:
        raise ExotwinError("no FCS files given")
    if x_threshold is None or y_threshold is None:
        if control is None:
            raise ExotwinError("give --x-threshold and --y-threshold, or an unstained --control",
                               field="x-threshold" if x_threshold is None else "y-threshold")
        cx, cy = control_thresholds(prepare(read_fcs(control)), x, y, quantile)
        x_threshold = cx if x_threshold is None else x_threshold
        y_threshold = cy if y_threshold is None else y_threshold
    table = pd.concat([quadrants(f, x, y, x_threshold, y_threshold) for f in files],
                      ignore_index=True)  # fmt: skip
    return FlowResult(table, (float(x_threshold), float(y_threshold)), files)


def read_groups(path: str | Path, fcs_paths: list[str | Path]) -> list[str]:
    """The group of every FCS file from a sample sheet (columns ``file, group``).

    A sheet's file is matched by the path as given, by the path relative to the sheet's
    folder, or by its name when no two sheet rows of different groups share that name
    (``day1/s1.fcs`` and ``day2/s1.fcs``); every input file needs a group.
    """
    from exotwin.analysis import tables

    sheet = tables.read_table(path, {"file": ("fcs", "filename", "fcs_file"),
                                     "group": ("condition", "treatment")})  # fmt: skip
    by_path: dict[str, str] = {}
    by_name: dict[str, dict[str, str]] = {}
    for f, g in zip(sheet["file"].astype(str).str.strip(), sheet["group"].astype(str).str.strip(),
                    strict=True):  # fmt: skip
        by_path.setdefault(f, g)
        by_path.setdefault(str((Path(path).parent / f).resolve()), g)
        by_name.setdefault(Path(f).name, {}).setdefault(g, f)
    out = []
    for p in fcs_paths:
        group = by_path.get(str(p), by_path.get(str(Path(p).resolve())))
        named = by_name.get(Path(p).name, {})
        if group is None and len(named) > 1:
            raise ExotwinError(f"{p} matches the rows {', '.join(named.values())} by its name "
                               "only, in different groups: give its path as in the sheet",
                               file=str(path), field="file")  # fmt: skip
        group = group or next(iter(named), None)
        if group is None:
            raise ExotwinError(f"no group for {p} (add a row: file, group)", file=str(path),
                               field="file")  # fmt: skip
        out.append(group)
    return out


def compare_groups(result: FlowResult, groups: list[str], control: str,
                   test: str = "auto") -> pd.DataFrame:  # fmt: skip
    """Each quadrant's percentage, and x+ (``x+y-`` plus ``x+y+``), compared with a group.

    One file is one replicate; the table is that of
    :func:`exotwin.analysis.stats.compare_table` with a ``quadrant`` column.
    """
    from exotwin.analysis import stats

    q = result.quadrants.assign(group=np.repeat(groups, len(QUADRANTS)))
    x_pos = (q[q["quadrant"].isin(["x+y-", "x+y+"])]
             .groupby(np.repeat(np.arange(len(groups)), 2), sort=True)
             .agg(file=("file", "first"), group=("group", "first"), events=("events", "sum"),
                  percent=("percent", "sum")).assign(quadrant="x+"))  # fmt: skip
    q = pd.concat([q, x_pos], ignore_index=True)
    if control not in set(groups):
        raise ExotwinError(f"control group {control!r} not among the groups "
                           f"{', '.join(dict.fromkeys(groups))}", field="control-group")
    return stats.compare_table(q, "percent", ["quadrant"], control, test)


def readout_rows(result: FlowResult, groups: list[str], time_h: float | None = None,
                 apoptosis: bool = False) -> list[dict]:  # fmt: skip
    """Tidy readout rows: ``x-y- %`` ... per file, or with ``apoptosis`` the twin's names.

    With ``apoptosis`` (x is Annexin V, y a viability dye such as 7-AAD or PI) the rows
    are ``early_apoptotic_%`` (x+y-), ``late_apoptotic_%`` (x+y+) and ``apoptotic_%``
    (their sum), the readouts of the twin's ``flow_annexin_7aad`` assay, so that lab
    files can be set beside (or fitted to) the twin's. Replicates are numbered
    within each group; ``time_h`` is NaN unless given.
    """
    from exotwin.protocols.measure import FLOW_READOUTS

    rows, seen = [], {}
    t = float("nan") if time_h is None else float(time_h)
    for i, name in enumerate(result.quadrants["file"][:: len(QUADRANTS)]):
        q = result.quadrants.iloc[i * len(QUADRANTS) : (i + 1) * len(QUADRANTS)]
        pct = dict(zip(q["quadrant"], q["percent"], strict=True))
        seen[groups[i]] = seen.get(groups[i], 0) + 1
        named = {f"{k} %": v for k, v in pct.items()}
        if apoptosis:
            values = (pct["x+y-"], pct["x+y+"], pct["x+y-"] + pct["x+y+"])
            named = dict(zip(FLOW_READOUTS, values, strict=True))
        rows += [{"assay": "flow", "sample": name, "group": groups[i], "replicate": seen[groups[i]],
                  "time_h": t, "readout": k, "value": v, "unit": "%"}
                 for k, v in named.items()]  # fmt: skip
    return rows


def analyze(paths: list[str | Path], x: str, y: str, out: str | Path | None = None,
            groups: str | Path | None = None, control_group: str | None = None,
            test: str = "auto", time_h: float | None = None, apoptosis: bool = False,
            **options) -> FlowResult:  # fmt: skip
    """:func:`gate`, then write quadrants, tidy readouts, dot plots and summary to ``out``.

    ``options`` are those of :func:`gate`. With a ``groups`` sample sheet (``file,
    group``) and a ``control_group``, the groups' quadrant percentages are compared
    (``comparisons``, :func:`compare_groups`); ``time_h`` and ``apoptosis`` shape the
    readouts (:func:`readout_rows`). Nothing is written unless every file gates.
    """
    names = read_groups(groups, paths) if groups is not None else None
    if control_group is not None and names is None:
        raise ExotwinError("--control-group needs --groups (a sheet: file, group)",
                           field="control-group")  # fmt: skip
    result = gate(paths, x, y, **options)
    comparisons = (compare_groups(result, names, control_group, test)
                   if control_group is not None else pd.DataFrame())  # fmt: skip
    result.comparisons = comparisons
    if out is not None:
        from exotwin.analysis import figures
        from exotwin.analysis.report import Bundle, safe_name
        from exotwin.assays import tidy

        bundle = Bundle("Flow cytometry: quadrant gating")
        tx, ty = result.thresholds
        spilled = sum(spillover(f) is not None for f in result.files)
        compensated = (f"{spilled} of {len(result.files)} files compensated with their own "
                       "spillover matrix" if spilled and options.get("compensation", True)
                       else "no file compensated (" + ("--no-compensation" if spilled else
                                                        "none carries a spillover matrix") + ")")
        bundle.note(f"Gates: {x} > {tx:.4g}, {y} > {ty:.4g}; {compensated}.")
        bundle.table("quadrants", result.quadrants)
        group_of = names or [Path(r).stem for r in result.quadrants["file"][:: len(QUADRANTS)]]
        bundle.table("readouts", tidy(readout_rows(result, group_of, time_h, apoptosis)),
                     show=False)  # fmt: skip
        if not comparisons.empty:
            bundle.table("comparisons", comparisons)
            table = pd.DataFrame({"quadrant": result.quadrants["quadrant"],
                                  "percent": result.quadrants["percent"],
                                  "group": np.repeat(names, len(QUADRANTS))})
            data = {f"{quad} %": {g: s["percent"].to_numpy()
                                  for g, s in sub.groupby("group", sort=False)}
                    for quad, sub in table.groupby("quadrant", sort=False)}  # fmt: skip
            marks = {(f"{r.quadrant} %", r.group): r.stars for r in comparisons.itertuples()}
            bundle.figure("quadrant_bars", figures.group_panels(data, "% of events", marks))
        for f in result.files:
            name = Path(f.path).name
            q = result.quadrants[result.quadrants["file"] == name]
            fig = figures.dot_plot(f.column(x), f.column(y), (x, y), result.thresholds,
                                   dict(zip(q["quadrant"], q["percent"], strict=True)), name)
            bundle.figure(f"dotplot_{safe_name(Path(f.path).stem)}", fig)
        bundle.commit(out)
    return result
