"""Western blot densitometry: band of a target protein relative to the loading control.

Equal protein is loaded per lane, so the loading-control band (GAPDH for cells) carries
only noise; the target band is proportional to the mean level of the target in the
living cells of the well (attached cells are lysed; floating dead cells are washed off).
Band intensities carry lognormal densitometry noise. Antibody targets map to model
quantities through :data:`TARGETS` (a phospho-band is the phosphorylated fraction times
the total protein); :data:`PAIRS` are phospho-over-total readouts, the ratio of two bands
of the same lane, each with its own noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from exotwin import rng
from exotwin.cells.population import ALIVE, outputs

TARGETS = {
    "GRP78": "GRP78_total",
    "ERp44": "ERp44",
    "p-NF-kB": "pNFkB",
    "NF-kB": "NFkB",
    "Bcl-2": "Bcl2_total",
    "Bcl-xL": "BclxL_total",
    "Bax": "Bax_total",
    "caspase-3": "cleaved_caspase3",
    "GSDME-N": "GSDME_N",
    "GSDME": "GSDME",
    "p-Akt": ("pAkt_ratio", "Akt_total"),
    "Akt": "Akt_total",
    "p-ERK": ("pERK_ratio", "ERK_total"),
    "ERK": "ERK_total",
    "STIM1": "STIM1_total",
    "LMP1": "LMP1_total",
}
# readout -> (phospho band, total band); a protocol target that reports their ratio
PAIRS = {"p-Akt/Akt": ("p-Akt", "Akt"), "p-ERK/ERK": ("p-ERK", "ERK")}


def bands(targets: list[str]) -> list[str]:
    """The bands a list of protocol targets needs (pairs expanded), in first-use order."""
    out: list[str] = []
    for t in targets:
        out += list(PAIRS.get(t, (t,)))
    return list(dict.fromkeys(out))


def readouts(targets: list[str], ratios: dict[str, float]) -> dict[str, float]:
    """Readouts of protocol targets from band ratios: ``<t>/GAPDH`` or a pair's ratio."""
    out = {}
    for t in targets:
        if t in PAIRS:
            phospho, total = (ratios[b] for b in PAIRS[t])
            out[t] = phospho / total if total > 0 else float("nan")
        else:
            out[f"{t}/GAPDH"] = ratios[t]
    return out


@dataclass(frozen=True)
class WesternParameters:
    """Densitometry noise.

    Attributes
    ----------
    band_cv
        Coefficient of variation of one band's integrated density (dimensionless). assumed:
        0.15, the usual 10-20 % lane-to-lane variability of chemiluminescent westerns.
    """

    band_cv: float = 0.15


def band_ratios(well, targets: list[str], seed: int, sample_id: int,
                params: WesternParameters | None = None) -> dict[str, float]:  # fmt: skip
    """Target / GAPDH band ratios of one well's lysate, per antibody target."""
    params = params or WesternParameters()
    pop = well.population
    weights = pop.counts[:, ALIVE].astype(float)
    if weights.sum() == 0:
        return {t: float("nan") for t in targets}
    names = {t: (TARGETS[t],) if isinstance(TARGETS[t], str) else TARGETS[t] for t in targets}
    values = outputs(pop, [n for ns in names.values() for n in ns])
    levels = {t: float(np.average(np.prod([values[n] for n in ns], axis=0), weights=weights))
              for t, ns in names.items()}  # fmt: skip
    return densitometry(levels, seed, sample_id, params)


def densitometry(
    levels: dict[str, float], seed: int, sample_id: int,
    params: WesternParameters | None = None, step: int = 3,
) -> dict[str, float]:  # fmt: skip
    """Band ratios to the loading control for given lane levels (any loading control).

    Parameters
    ----------
    levels
        True target level in the lane, per band name.
    seed, sample_id
        Key of the lane's noise (``measurement_noise`` stream, one key per band).
    params
        Densitometry noise.
    step
        Counter of the noise stream, separating assays that share sample ids.

    Returns
    -------
    dict
        ``level x band noise / loading-control band noise`` per band name.
    """
    params = params or WesternParameters()
    keys = np.array([sample_id * 64 + i for i in range(len(levels) + 1)], dtype=np.uint64)
    noise = rng.lognormal_factor(seed, "measurement_noise", keys, params.band_cv, step=step)
    return {t: level * noise[i] / noise[-1] for i, (t, level) in enumerate(levels.items())}
