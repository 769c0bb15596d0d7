"""A 2D tumour shaped like PhysiCell's heterogeneity sample, run through the scenario runner.

Scenario (as issue 4 specifies): a 2000 x 2000 um domain of 20 um voxels (100 x 100),
about 900 cells of PhysiCell's default radius (8.41 um) placed uniformly in a disc of
radius 250 um (PhysiCell's sample fills a 250 um disc), one substance (oxygen: D 1e5
um^2/min, decay 0.1/min, 38 mmHg on every face) taken up at 10/min per cell (PhysiCell's
default oxygen uptake), cells dividing at 0.00072/min (PhysiCell's "live" cycle rate,
0.0432/h) and growing at 0.27/h; dt 0.01 / 0.1 / 6 min for diffusion / mechanics /
phenotype; 720 simulated minutes. Unlike the PhysiCell sample there is no oncoprotein
heterogeneity, no oxygen-dependent cycling and no necrosis.

Printed: wall time (and CPU time: on a shared machine, wall time includes waits for a
core) of the whole run (:func:`exotwin.tissue.scenario.run`), its ratio to
PhysiCell 1.14's 54 s on one core of this machine (issue 4), and, timed in the same
process, the diffusion-only part (72000 solver steps with the final cells' sinks) and the
agents-only part (7200 mechanics steps of the final cells) as shares of the run.

Usage: ``python benchmarks/physicell_like.py [--minutes 720] [--threads 1]``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # see benchmarks/diffusion.py

import argparse  # noqa: E402
import time  # noqa: E402

import numba  # noqa: E402

from exotwin.tissue import agents as ag  # noqa: E402
from exotwin.tissue import coupling as cp  # noqa: E402
from exotwin.tissue.diffusion import step  # noqa: E402
from exotwin.tissue.scenario import load_scenario, run  # noqa: E402

PHYSICELL_S = 54.0  # PhysiCell 1.14 heterogeneity sample, one core of this machine (issue 4)

SCENARIO = {
    "kind": "tissue", "id": "physicell_like", "seed": 1,
    "grid": {"shape": [100, 100], "dx_um": 20.0},
    "time_steps": {"diffusion_min": 0.01, "mechanics_min": 0.1, "phenotype_min": 6.0},
    "substance": {"name": "oxygen", "units": "mmHg", "diffusion_um2_per_min": 1e5,
                  "decay_per_min": 0.1, "boundary_value": 38.0, "initial": 38.0},
    "cells": {"count": 900, "radius_um": 8.41, "spread_um": 250.0},
    "phenotype": {"growth_per_min": 0.27 / 60.0, "division_rate_per_min": 0.00072,
                  "uptake_per_min": 10.0},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=720.0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    numba.set_num_threads(args.threads)
    cfg = load_scenario(SCENARIO)
    run(cfg, 1.0)  # compile or load the kernels
    t0, c0 = time.perf_counter(), time.process_time()
    final = run(cfg, args.minutes)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    ts = cfg.time_steps
    n_diff = round(args.minutes / ts.diffusion_min)
    n_mech = round(args.minutes / ts.mechanics_min)
    grid, subs = cfg.grid_(), cfg.substances_()
    _, sinks, _, _ = cp.cell_terms(cfg, final.agents, final.cell_data, grid)
    fields = final.fields
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n_diff):
        fields = step(fields, grid, subs, ts.diffusion_min, None, sinks)
    diffusion = (time.perf_counter() - t0, time.process_time() - c0)
    mech = cfg.mechanics.params()
    a = final.agents
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n_mech):
        a = ag.mechanics_step(a, mech, ts.mechanics_min)
    mechanics = (time.perf_counter() - t0, time.process_time() - c0)
    scale = args.minutes / 720.0
    print(f"{args.minutes:g} simulated min, {cfg.cells.count} -> {final.agents.n} cells, "
          f"{args.threads} thread(s)")
    print(f"wall time {wall:.2f} s (CPU {cpu:.2f} s); PhysiCell 1.14: {PHYSICELL_S * scale:.1f} s"
          f" -> ratio {wall / (PHYSICELL_S * scale):.2f} wall, "
          f"{cpu / (PHYSICELL_S * scale):.2f} CPU (target 25 s: {25.0 * scale:.1f} s)")
    for name, (w, c), what in (("diffusion only", diffusion, f"{n_diff} steps, final sinks"),
                               ("mechanics only", mechanics, f"{n_mech} steps, final cells")):
        print(f"{name} ({what}): wall {w:.2f} s = {100 * w / wall:.0f} %, "
              f"CPU {c:.2f} s = {100 * c / cpu:.0f} % of the run")


if __name__ == "__main__":
    main()
