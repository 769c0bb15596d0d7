"""Western blot densitometry: band of a target protein relative to the loading control.

Equal protein is loaded per lane, so the loading-control band (GAPDH for cells) carries
only noise; the target band is proportional to the mean level of the target in the
living cells of the well (attached cells are lysed; floating dead cells are washed off).
Band intensities carry lognormal densitometry noise. Antibody targets map to model
quantities through :data:`TARGETS`.
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
}


@dataclass(frozen=True)
class WesternParameters:
    """Densitometry noise.

    Attributes
    ----------
    band_cv
        Coefficient of variation of one band's integrated density. assumed: 0.15, the
        usual 10-20 % lane-to-lane variability of chemiluminescent westerns.
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
    names = [TARGETS[t] for t in targets]
    values = outputs(pop, names)
    levels = {t: float(np.average(values[name], weights=weights))
              for t, name in zip(targets, names, strict=True)}  # fmt: skip
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
