"""Western blots: densitometry tables -> ratios; band images -> lanes, bands, densities.

Owns two inputs. A densitometry table (``sample, group, target, density``; one row per
band) gives each target's ratio to the loading control of the same sample, and that
ratio relative to the control group's mean ratio, compared with the control per target.
A band image (PNG/TIFF/JPEG, scikit-image) is put on ImageJ's 0-255 scale with bands
bright (inverted when the background is light); its background is a rolling ball
(Sternberg 1983, ``skimage.restoration.rolling_ball``) under the 3x3-smoothed image, as
ImageJ does. Lanes are runs of the column profile above 5 % of its range (or an even
split when the lane count is given), bands runs of each lane's row profile above 5 % of
its range, both widened until the profile stops falling or reaches 2 % of the run's
height. A band's integrated density is the background-free signal summed over its rows
and its lane's columns, minus the lane's residual baseline (the median row mean outside
bands) times the box area.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from exotwin.analysis import stats, tables
from exotwin.errors import ExotwinError

IMAGE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")


def read_densitometry(path: str | Path) -> pd.DataFrame:
    """Read a densitometry table: columns sample, group, target, density.

    ImageJ's Results table (`` , Label, Area, Mean, IntDen, RawIntDen``) is read once the
    columns sample, group and target are added beside it (its IntDen is the density).
    """
    try:
        frame = tables.read_table(path, {"sample": ("lane",), "group": ("condition",),
                                         "target": ("protein", "antibody", "band"),
                                         "density": ("intensity", "integrated_density",
                                                     "volume", "signal", "intden")})  # fmt: skip
    except ExotwinError as exc:
        if "missing column" in exc.reason and "IntDen" in exc.reason:
            raise ExotwinError("an ImageJ Results table: add the columns sample, group and "
                               "target (one row per band; measure bands on an inverted image "
                               "so that darker bands count more)", file=str(path),
                               field=exc.field) from None  # fmt: skip
        raise
    out = pd.DataFrame({c: frame[c].astype(str).str.strip() for c in ("sample", "group",
                                                                      "target")})
    out["density"] = tables.numeric(frame, "density", path)
    if (out["density"] < 0).any():
        raise ExotwinError("negative density", file=str(path), field="density")
    return out


@dataclass
class WesternResult:
    """Ratios per sample and target, comparisons per target, bands found in images."""

    ratios: pd.DataFrame
    comparisons: pd.DataFrame
    bands: pd.DataFrame


def ratios(table: pd.DataFrame, loading: str, control: str, test: str = "auto",
           source: str = "") -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """Target / loading-control ratios, relative to the control group's mean ratio.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        Ratios (sample, group, target, density, loading_density, ratio, relative) and the
        comparisons of ``relative`` with the control per target.
    """
    dens = table.groupby(["sample", "target"], sort=False).agg(
        group=("group", "first"), density=("density", "mean")).reset_index()
    load = dens[dens["target"] == loading].set_index("sample")["density"]
    if load.empty:
        raise ExotwinError(f"no loading control {loading!r} in the table", file=source,
                           field="target")  # fmt: skip
    targets = dens[dens["target"] != loading].copy()
    missing = sorted(set(targets["sample"]) - set(load.index))
    if missing:
        raise ExotwinError(f"no {loading} band", file=source, field=f"sample {missing[0]}")
    if (load <= 0).any():
        raise ExotwinError(f"{loading} density is 0", file=source,
                           field=f"sample {load[load <= 0].index[0]}")  # fmt: skip
    if control not in set(targets["group"]):
        raise ExotwinError(f"control group {control!r} not in the table", file=source,
                           field="control")  # fmt: skip
    targets["loading_density"] = targets["sample"].map(load)
    targets["ratio"] = targets["density"] / targets["loading_density"]
    ref = targets[targets["group"] == control].groupby("target")["ratio"].mean()
    targets["relative"] = targets["ratio"] / targets["target"].map(ref)
    comparisons = stats.compare_table(targets, "relative", ["target"], control, test)
    return targets.reset_index(drop=True), comparisons


def load_image(path: str | Path, dark_bands: bool | None = None) -> np.ndarray:
    """A blot image as floats on 0-255 with bright bands (``dark_bands`` None: guess)."""
    from skimage import color, io

    try:
        image = np.asarray(io.imread(str(path)))
    except Exception as exc:  # imageio/tifffile/PIL raise many kinds
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise ExotwinError(f"not a readable image: {reason}", file=str(path)) from None
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        image = color.rgb2gray(image[..., :3])
        scale = 1.0
    else:
        scale = float(np.iinfo(image.dtype).max) if image.dtype.kind in "ui" else 1.0
    if image.ndim != 2 or min(image.shape) < 8:
        raise ExotwinError("not a 2-D grey-scale blot image of at least 8x8 pixels",
                           file=str(path))  # fmt: skip
    image = 255.0 * image.astype(float) / (scale if scale != 1.0 else max(image.max(), 1.0))
    if dark_bands is None:
        dark_bands = np.median(image) > 127.5
    return 255.0 - image if dark_bands else image


def _runs(profile: np.ndarray, min_width: int) -> list[tuple[int, int]]:
    """Half-open runs above 5 % of the profile's range, widened to 2 % of their height."""
    if np.ptp(profile) <= 0:
        return []
    floor = np.percentile(profile, 10)
    above = profile > floor + 0.05 * (profile.max() - floor)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], above.astype(int), [0]])))
    runs = []
    for start, stop in zip(edges[::2], edges[1::2], strict=True):
        if stop - start < min_width:
            continue
        tail = floor + 0.02 * (profile[start:stop].max() - floor)
        while start > 0 and tail < profile[start - 1] < profile[start]:
            start -= 1
        while stop < profile.size and tail < profile[stop] < profile[stop - 1]:
            stop += 1
        runs.append((int(start), int(stop)))
    return runs


def band_densities(path: str | Path, radius: float = 50.0, lanes: int | None = None,
                   dark_bands: bool | None = None) -> pd.DataFrame:  # fmt: skip
    """Lanes, bands and integrated densities of one blot image.

    Returns
    -------
    pandas.DataFrame
        One row per band: file, lane, band (top to bottom), top, bottom, left, right
        (pixels, half-open) and integrated_density.
    """
    from scipy.ndimage import uniform_filter, uniform_filter1d
    from skimage.restoration import rolling_ball

    if not radius >= 1:  # also NaN; a smaller ball follows the bands themselves
        raise ExotwinError(f"{radius:g}: the rolling-ball radius must be at least 1 px",
                           field="radius")  # fmt: skip
    image = load_image(path, dark_bands)
    height, width = image.shape
    if lanes is not None and not 1 <= lanes <= width // 3:
        raise ExotwinError(f"{lanes}: a {width} px wide image holds 1 to {width // 3} lanes "
                           "(3 px or more each)", file=str(path), field="lanes")  # fmt: skip
    signal = image - rolling_ball(uniform_filter(image, 3), radius=radius)
    if lanes:
        cuts = np.linspace(0, width, lanes + 1).round().astype(int)
        lane_runs = list(zip(cuts[:-1], cuts[1:], strict=True))
    else:
        columns = uniform_filter1d(signal.sum(axis=0), max(3, width // 60))
        lane_runs = _runs(columns, max(3, width // 100))
    rows = []
    for li, (left, right) in enumerate(lane_runs, start=1):
        inner = slice(left + (right - left) // 10, right - (right - left) // 10 or right)
        profile = uniform_filter1d(signal[:, inner].mean(axis=1), 3)
        bands = _runs(profile, 2)
        outside = np.ones(height, dtype=bool)
        for top, bottom in bands:
            outside[top:bottom] = False
        lane_rows = signal[:, left:right].mean(axis=1)
        baseline = float(np.median(lane_rows[outside])) if outside.any() else 0.0
        for bi, (top, bottom) in enumerate(bands, start=1):
            box = signal[top:bottom, left:right]
            rows.append({"file": Path(path).name, "lane": li, "band": bi, "top": top,
                         "bottom": bottom, "left": left, "right": right,
                         "integrated_density": float(box.sum() - baseline * box.size)})
    if not rows:
        raise ExotwinError("no bands found", file=str(path))
    return pd.DataFrame(rows)


def analyze(files: list[str | Path], out: str | Path | None = None, loading: str | None = None,
            control: str | None = None, radius: float = 50.0, lanes: int | None = None,
            test: str = "auto") -> WesternResult:  # fmt: skip
    """``exotwin analyze western``: densitometry tables and/or band images to ``out``."""
    images = [f for f in files if Path(f).suffix.lower() in IMAGE_SUFFIXES]
    tables_ = [f for f in files if f not in images]
    ratio_table, comparisons = pd.DataFrame(), pd.DataFrame()
    if tables_:
        if not loading or not control:
            raise ExotwinError("densitometry tables need --loading TARGET and --control GROUP",
                               field="loading" if not loading else "control")
        dens = pd.concat([read_densitometry(f) for f in tables_], ignore_index=True)
        ratio_table, comparisons = ratios(dens, loading, control, test,
                                          ", ".join(map(str, tables_)))
    bands = pd.concat([band_densities(f, radius, lanes) for f in images], ignore_index=True) \
        if images else pd.DataFrame()  # fmt: skip
    result = WesternResult(ratio_table, comparisons, bands)
    if out is not None:
        _write(result, images, control, loading, radius, lanes, out)
    return result


def _write(result: WesternResult, images, control, loading, radius, lanes, out) -> None:
    from exotwin.analysis import figures
    from exotwin.analysis.report import Bundle, safe_name

    bundle = Bundle("Western blot densitometry")
    if not result.ratios.empty:
        bundle.note(f"Ratios to {loading}, relative to the mean of group {control!r}.")
        bundle.table("ratios", result.ratios)
        bundle.table("comparisons", result.comparisons)
        data = {t: {g: s["relative"].to_numpy() for g, s in sub.groupby("group", sort=False)}
                for t, sub in result.ratios.groupby("target", sort=False)}  # fmt: skip
        c = result.comparisons
        marks = {(r.target, r.group): r.stars for r in c.itertuples()} if not c.empty else {}
        bundle.figure("relative_density", figures.group_panels(
            data, f"relative to {control} (/{loading})", marks))  # fmt: skip
    if not result.bands.empty:
        bundle.note(f"Band images: rolling-ball radius {radius:g} px; lanes "
                    + (f"split evenly into {lanes}." if lanes else "found automatically."))
        bundle.table("bands", result.bands)
        for f in images:
            fig, (ax,) = figures.new_figure(width=4.0, height=3.0)
            ax.imshow(load_image(f), cmap="gray")
            for r in result.bands[result.bands["file"] == Path(f).name].itertuples():
                ax.add_patch(figures.rectangle(r.left, r.top, r.right - r.left, r.bottom - r.top))
                ax.text(r.left, r.top, f"{r.lane}.{r.band}", color="red", fontsize=6,
                        va="bottom")  # fmt: skip
            ax.set_axis_off()
            bundle.figure(f"bands_{safe_name(Path(f).stem)}", fig)
    bundle.commit(out)
