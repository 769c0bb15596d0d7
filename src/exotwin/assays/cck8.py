"""CCK-8 viability: OD450 of WST-8 formazan made by the viable cells of a well.

OD450 = blank + od_per_cell * viable cells, times a lognormal well-to-well error. Only
living cells (not apoptotic, pyroptotic or removed) reduce WST-8 (dehydrogenase activity
of viable cells; Dojindo CCK-8 technical manual).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from exotwin import rng
from exotwin.cells.population import ALIVE


@dataclass(frozen=True)
class CCK8Parameters:
    """CCK-8 read-out parameters.

    Attributes
    ----------
    od_per_cell
        OD450 per viable cell after the usual 2 h incubation. assumed: 1e-4, i.e. OD ~1
        for 1e4 cells in a 96-well, in the linear range of 200-25,000 cells/well
        (manufacturer guidance, params.md).
    blank
        OD450 of medium with CCK-8 and no cells. assumed: 0.1, typical plate background.
    cv
        Well-to-well coefficient of variation (pipetting, reader). assumed: 0.05.
    reader_max_od
        Absorbance at which the plate reader saturates: read OD = OD / (1 + (OD /
        max)^4)^(1/4), linear below ~half of it. assumed: 4.0, the upper end of the
        photometric range of common microplate readers.
    """

    od_per_cell: float = 1e-4
    blank: float = 0.1
    cv: float = 0.05
    reader_max_od: float = 4.0


def od450(
    wells: list, seed: int, sample_ids: np.ndarray, params: CCK8Parameters | None = None
) -> np.ndarray:
    """OD450 of each well.

    Parameters
    ----------
    wells
        Culture wells (``exotwin.culture.Well``).
    seed
        Run seed.
    sample_ids
        Integer id of each measured sample (keys its measurement noise), shape ``(n,)``.
    params
        Assay parameters.
    """
    params = params or CCK8Parameters()
    viable = np.array([w.population.count(ALIVE) for w in wells], dtype=float)
    noise = rng.lognormal_factor(seed, "measurement_noise", np.asarray(sample_ids), params.cv)
    od = (params.blank + params.od_per_cell * viable) * noise
    return od / (1.0 + (od / params.reader_max_od) ** 4) ** 0.25
