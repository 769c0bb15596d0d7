"""CAM xenograft twin: wall time of one egg by phase and of the whole library protocol.

One egg of ``deng2023-cam`` (real models ``npc_ebv_cell`` and ``endothelial_cell``):
plexus and populations, 4 days of coupled steps, photograph and morphometry; then the
whole protocol (2 groups x 6 eggs) unless ``--egg-only``. The load average is printed
because the machine may be shared.

Usage: ``python benchmarks/cam.py [--seed 1] [--egg-only]``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from exotwin.cells import new_population
from exotwin.protocols import library, load, run_protocol, units
from exotwin.tissue import cam as C


def one_egg(seed: int) -> dict[str, float]:
    """Seconds per phase of egg 1 of the shNC group (not keyed as in a protocol run)."""
    p = load(library()["deng2023-cam"])
    cam = C.with_overrides(C.CamParameters(), p.cam)
    t0 = time.perf_counter()
    graft = new_population(p.model, p.graft_agents, seed, cells_per_agent=31250,
                           variation_cv=p.cell_variation_cv)  # fmt: skip
    endo = new_population(p.endothelial_model, cam.n_patches, seed,
                          ids=np.arange(cam.n_patches, dtype=np.uint64) + 2**15)  # fmt: skip
    egg = C.new_egg(graft, endo, cam, seed, 1)
    t1 = time.perf_counter()
    C.advance(egg, cam, units.time_h(p.duration), seed, 1)
    t2 = time.perf_counter()
    C.measure(C.photograph(egg, cam, seed, 1), cam)
    t3 = time.perf_counter()
    return {"setup": t1 - t0, "advance": t2 - t1, "photograph+measure": t3 - t2}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--egg-only", action="store_true")
    a = ap.parse_args()
    one_egg(a.seed)  # compile and cache kernels
    phases = one_egg(a.seed)
    print("one egg: " + ", ".join(f"{k} {v:.2f} s" for k, v in phases.items()))
    if not a.egg_only:
        t = time.perf_counter()
        run_protocol(load(library()["deng2023-cam"]), a.seed)
        print(f"deng2023-cam (2 groups x 6 eggs): {time.perf_counter() - t:.1f} s")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
