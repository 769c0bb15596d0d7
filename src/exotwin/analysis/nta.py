"""Nanoparticle tracking analysis: size bins or particle lists -> mode, mean, D10/D50/D90.

Owns the two export shapes: a binned distribution (a size column such as ``Bin centre
(nm)`` and a ``Concentration (particles / ml)`` column, one row per bin) and a particle
list (a size column only, one row per tracked particle). For bins the statistics are
concentration-weighted: mode = centre of the fullest bin, mean and SD weighted,
Dxx from the cumulative distribution at bin centres (each bin's mass centred on it, i.e.
cumulative minus half the bin, linearly interpolated); concentration = sum of bins times
the dilution. For particle lists: mean and SD of the sizes, Dxx = linear-interpolated
percentiles, mode = peak of a Gaussian kernel density (Scott's bandwidth), concentration =
particles / analysed volume times the dilution when the volume is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

from exotwin.analysis import tables
from exotwin.errors import ExotwinError

SIZE = ("size_nm", "bin_centre", "bin_center", "bin_centre_nm", "particle_size", "diameter",
        "size_class")  # fmt: skip
# NanoSight's per-video columns all fold to "concentration": its "Concentration average"
# is read first; ZetaView's "Concentration / cm-3" (per mL) comes before its raw "Number"
CONCENTRATION = ("concentration_average", "concentration", "concentration_particles_ml",
                 "concentration_cm_3", "particles_per_ml", "conc", "number",
                 "particles")  # fmt: skip


@dataclass
class Distribution:
    """One NTA export: sizes (nm) and weights (particles/mL per bin, or 1 per particle)."""

    file: str
    kind: str
    size: np.ndarray
    weight: np.ndarray


def read_nta(path: str | Path) -> Distribution:
    """Read a size-bin table or a particle list.

    Raises
    ------
    ExotwinError
        No size column, a size not > 0, a negative concentration, or no particles.
    """
    frame = tables.read_table(path, {"size": SIZE}, optional={"weight": CONCENTRATION})
    frame = frame.rename(columns={"weight": "concentration"})  # the key is matched last
    size = tables.numeric(frame, "size", path, positive=True)
    if "concentration" in frame:
        weight = tables.numeric(frame, "concentration", path)
        if (weight < 0).any():
            raise ExotwinError(f"row {int(np.argmax(weight < 0)) + 1}: negative concentration",
                               file=str(path), field="concentration")  # fmt: skip
        if weight.sum() <= 0:
            raise ExotwinError("no particles (all bins empty)", file=str(path),
                               field="concentration")  # fmt: skip
        order = np.argsort(size)
        return Distribution(str(path), "bins", size[order], weight[order])
    return Distribution(str(path), "particles", np.sort(size), np.ones(size.size))


def _weighted_quantiles(size: np.ndarray, weight: np.ndarray, q: list[float]) -> np.ndarray:
    cumulative = (np.cumsum(weight) - weight / 2) / weight.sum()
    return np.interp(q, cumulative, size)


def kde_curve(sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kernel density of a particle list on a 1 nm grid, scaled to particles per nm."""
    grid = np.arange(max(sizes.min() - 50, 1.0), sizes.max() + 50, 1.0)
    if sizes.size < 2 or np.ptp(sizes) == 0:
        return grid, np.where(np.abs(grid - sizes[0]) < 0.5, float(sizes.size), 0.0)
    return grid, sps.gaussian_kde(sizes)(grid) * sizes.size


def statistics(d: Distribution, dilution: float = 1.0,
               volume_ml: float | None = None) -> dict[str, float | str]:  # fmt: skip
    """Mode, mean, SD, D10/D50/D90 (nm) and concentration (particles/mL) of one export."""
    w = d.weight
    mean = float(np.average(d.size, weights=w))
    sd = float(np.sqrt(np.average((d.size - mean) ** 2, weights=w)))
    if d.kind == "bins":
        mode = float(d.size[np.argmax(w)])
        d10, d50, d90 = _weighted_quantiles(d.size, w, [0.1, 0.5, 0.9])
        conc, particles = float(w.sum()) * dilution, float("nan")
    else:
        grid, density = kde_curve(d.size)
        mode = float(grid[np.argmax(density)])
        d10, d50, d90 = np.percentile(d.size, [10, 50, 90])
        sd = float(d.size.std(ddof=1)) if d.size.size > 1 else float("nan")
        particles = float(d.size.size)
        conc = particles / volume_ml * dilution if volume_ml else float("nan")
    return {"file": Path(d.file).name, "kind": d.kind, "particles": particles, "mode_nm": mode,
            "mean_nm": mean, "sd_nm": sd, "d10_nm": float(d10), "d50_nm": float(d50),
            "d90_nm": float(d90), "concentration_per_ml": conc}  # fmt: skip


def analyze(files: list[str | Path], out: str | Path | None = None, dilution: float = 1.0,
            volume_ml: float | None = None) -> pd.DataFrame:  # fmt: skip
    """``exotwin analyze nta``: one row of statistics per file (``nta.csv``) and a plot."""
    if dilution <= 0 or (volume_ml is not None and volume_ml <= 0):
        raise ExotwinError("dilution and volume must be positive", field="dilution")
    dists = [read_nta(f) for f in files]
    table = pd.DataFrame([statistics(d, dilution, volume_ml) for d in dists])
    if out is not None:
        from exotwin.analysis import figures
        from exotwin.analysis.report import Bundle
        from exotwin.assays import tidy

        bundle = Bundle("Nanoparticle tracking analysis")
        bundle.note(f"Dilution factor {dilution:g}"
                    + (f"; analysed volume {volume_ml:g} mL." if volume_ml else "."))
        bundle.table("nta", table)
        units = {"mode_nm": "nm", "mean_nm": "nm", "d10_nm": "nm", "d50_nm": "nm",
                 "d90_nm": "nm", "concentration_per_ml": "particles/mL"}
        bundle.table("readouts", tidy(
            {"assay": "nta", "sample": r["file"], "group": Path(r["file"]).stem, "replicate": 1,
             "time_h": float("nan"), "readout": k, "value": r[k], "unit": u}
            for r in table.to_dict("records") for k, u in units.items()), show=False)
        curves = {Path(d.file).name: (d.size, d.weight * dilution) if d.kind == "bins"
                  else kde_curve(d.size) for d in dists}  # fmt: skip
        ylabel = "particles/mL per bin" if all(d.kind == "bins" for d in dists) else "particles"
        bundle.figure("size_distribution", figures.curves(curves, "size (nm)", ylabel))
        bundle.commit(out)
    return table
