"""CCK-8 viability: OD450 of WST-8 formazan made by the viable cells of a well.

OD450 = blank + od_per_cell * (incubation / 2 h) * viable cells, times a lognormal
well-to-well error, read through the plate reader's saturation. Only living cells (not
apoptotic, pyroptotic or removed) reduce WST-8 (dehydrogenase activity of viable cells;
Dojindo CCK-8 technical manual). ``od_per_cell`` is a property of the cell line, per the
reference 2-h incubation: a line's ``assays.cck8_od_per_cell`` entry in cells/lines.yaml
(value, unit, provenance) replaces the default (:meth:`CCK8Parameters.for_line`). The
reagent incubation is an assay option (:class:`CCK8Options`); formazan accumulates at a
constant rate per viable cell while WST-8 is in excess, so the signal scales with it
within the kit's 0.5-4 h window.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from exotwin import rng
from exotwin.cells.population import ALIVE

LINE_ENTRY = "cck8_od_per_cell"  # the od_per_cell entry of a line's ``assays`` (lines.yaml)
REFERENCE_INCUBATION_H = 2.0  # the incubation od_per_cell is given for (h)


class CCK8Options(BaseModel):
    """Options of the ``cck8`` assay.

    ``incubation_h`` is the time (h) the wells spend with the reagent before the read, within
    the kit's 0.5-4 h window (Dojindo CCK-8 technical manual), in which WST-8 is in excess
    and formazan accumulates linearly; default the usual 2 h.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    incubation_h: float = Field(REFERENCE_INCUBATION_H, ge=0.5, le=4.0)


@dataclass(frozen=True)
class CCK8Parameters:
    """CCK-8 read-out parameters.

    Attributes
    ----------
    od_per_cell
        OD450 per viable cell after the reference 2 h incubation (OD450/cell; another
        incubation scales it linearly, :class:`CCK8Options`). assumed: 1e-4,
        i.e. OD ~1 for 1e4 cells in a 96-well, in the linear range of 200-25,000 cells/well
        (manufacturer guidance, params.md); a value set for NPC/carcinoma lines, used for
        every line without its own entry (:meth:`for_line`).
    blank
        OD450 of medium with CCK-8 and no cells (OD450). assumed: 0.1, typical plate
        background.
    cv
        Well-to-well coefficient of variation (pipetting, reader; dimensionless). assumed:
        0.05.
    reader_max_od
        Absorbance at which the plate reader saturates (OD): read OD = OD / (1 + (OD /
        max)^4)^(1/4), linear below ~half of it. assumed: 4.0, the upper end of the
        photometric range of common microplate readers.
    """

    od_per_cell: float = 1e-4
    blank: float = 0.1
    cv: float = 0.05
    reader_max_od: float = 4.0

    @classmethod
    def for_line(cls, line: str | None) -> CCK8Parameters:
        """The parameters for cells of ``line``: its declared ``od_per_cell`` if any."""
        from exotwin.cells.lines import cell_lines

        entry = (cell_lines().get(line or "") or {}).get("assays", {}).get(LINE_ENTRY)
        return cls() if entry is None else replace(cls(), od_per_cell=float(entry["value"]))


def od450(
    wells: list, seed: int, sample_ids: np.ndarray, params: CCK8Parameters | None = None,
    incubation_h: float = REFERENCE_INCUBATION_H,
) -> np.ndarray:  # fmt: skip
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
    incubation_h
        Reagent incubation before the read (h); the formazan made per viable cell scales
        with it from the reference 2 h.
    """
    params = params or CCK8Parameters()
    viable = np.array([w.population.count(ALIVE) for w in wells], dtype=float)
    noise = rng.lognormal_factor(seed, "measurement_noise", np.asarray(sample_ids), params.cv)
    per_cell = params.od_per_cell * incubation_h / REFERENCE_INCUBATION_H
    od = (params.blank + per_cell * viable) * noise
    return od / (1.0 + (od / params.reader_max_od) ** 4) ** 0.25
