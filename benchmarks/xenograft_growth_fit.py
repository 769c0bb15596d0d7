"""Fit the two growth-limiting xenograft parameters to CNE2 xenograft growth (params.md).

Outside training data, not the Fig. 6 weights: 6e5 CNE2 cells s.c. reach 114 mm^3 on day 10
and 280 mm^3 on day 14; 2e6 cells reach 100-200 mm^3 (150 taken) by day 7 (J Kunming Med Univ
2016;37(12):8; PMID 15566638). A grid over the O2 proliferation saturation and the perfusion
depth; the loss is the sum of squared log-volume errors of one untreated (NC) mouse per
inoculum, without mouse-to-mouse variation. Run:
``PYTHONPATH=src python benchmarks/xenograft_growth_fit.py`` (a few minutes; a first pass
at 40 mmHg grew 5-20x too fast and was cut). ``--smoke`` evaluates the default
parameters only (the test suite's check that the script runs).
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import replace

import numpy as np

from exotwin.cells import new_population
from exotwin.culture import coupling
from exotwin.tissue import xenograft as X

DATA = [(6e5, 10, 114.0), (6e5, 14, 280.0), (2e6, 7, 150.0)]  # cells, day, mm^3


def volumes(xp: X.XenograftParameters, cells: float, days: int, seed: int = 11) -> dict:
    """Tumour volume (mm^3) at the end of each day for one untreated mouse."""
    vox = X.seed_voxels(xp, cells)
    pop = new_population("tumour_cell", vox.size, seed, cells_per_agent=round(cells / vox.size),
                         variation_cv=0.2, ids=X.agent_ids(1, vox))
    t = X.new_tumour(pop, xp, vox, 1, seed)
    link = coupling("tumour_cell")
    X.advance(t, xp, days * 24.0, X.Schedule(), seed, link.uptake, threads=1, frame_every_h=0.0,
              drug_input=link.drugs["cisplatin"])
    return {round(h / 24.0, 6): w / xp.density_g_per_ml * 1e3 for h, w in t.growth}


def loss(xp: X.XenograftParameters) -> tuple[float, list[float]]:
    """Sum of squared log errors and the simulated volumes at the data points."""
    sims = {c: volumes(xp, c, max(d for cc, d, _ in DATA if cc == c)) for c in {6e5, 2e6}}
    pred = [sims[c][float(d)] for c, d, _ in DATA]
    errors = [np.log(p) - np.log(v) for p, (_, _, v) in zip(pred, DATA, strict=True)]
    return float(sum(e**2 for e in errors)), pred


def main(smoke: bool = False) -> None:
    """Coarse then fine grid of the two growth limits; ``smoke``: one point (a run check)."""
    base = X.XenograftParameters()
    rows = []

    def run(points) -> None:
        for sat, depth in points:
            xp = replace(base, o2_proliferation_saturation_mmhg=sat, perfusion_depth_mm=depth)
            value, pred = loss(xp)
            rows.append((value, sat, depth, pred))
            print(f"sat {sat:6.1f} mmHg depth {depth:4.2f} mm  loss {value:7.3f}  "
                  + "  ".join(f"{p:7.1f}" for p in pred), flush=True)

    if smoke:
        run([(base.o2_proliferation_saturation_mmhg, base.perfusion_depth_mm)])
        return
    run(itertools.product((45.0, 55.0, 65.0, 75.0, 90.0, 110.0), (0.1, 0.25, 0.5, 1.0, 2.0)))
    _, sat0, depth0, _ = min(rows)  # then a finer grid around the coarse best
    run(itertools.product([sat0 + d for d in (-5.0, -2.5, 2.5, 5.0)],
                          sorted({depth0 * f for f in (0.6, 1.0, 1.5)})))
    best = min(rows)
    print(f"best: saturation {best[1]} mmHg, perfusion depth {best[2]} mm, loss {best[0]:.3f}, "
          f"volumes {[round(p, 1) for p in best[3]]} vs {[v for _, _, v in DATA]}")


if __name__ == "__main__":
    main(smoke="--smoke" in sys.argv)
