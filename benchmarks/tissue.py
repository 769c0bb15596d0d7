"""Mechanics step of the cell agents: time per step and memory for 1e4 and 1e5 cells.

Cells of radius 6-10 um are placed uniformly at random in a cube filled to a volume
fraction of about 0.6 (a dense tissue: each cell overlaps or adheres to about a dozen
neighbours), with PhysiCell's default mechanics (c_rep 10, c_adh 0.4 um/min, adhesion
range 1.25) and dt = 0.1 min. Reported per size: milliseconds per step with 1 and with
all threads, the share of the cell-list build (numpy sort) in it, cell updates per
second, the bytes of the state, and the peak of numpy allocations during one step
(tracemalloc; the compiled kernel allocates nothing).

Usage: ``python benchmarks/tissue.py [--sizes 10000 100000] [--steps 10]``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # see benchmarks/diffusion.py

import argparse  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402

from exotwin.tissue import agents as ag  # noqa: E402

DT = 0.1  # min, PhysiCell's default mechanics step


def tissue(n: int) -> ag.Agents:
    g = np.random.default_rng(0)
    r = g.uniform(6.0, 10.0, n)
    side = (np.sum(4 / 3 * np.pi * r**3) / 0.6) ** (1 / 3)
    return ag.Agents.create(g.uniform(0, side, (n, 3)), r)


def timed(a: ag.Agents, p: ag.MechanicsParams, steps: int) -> tuple[float, float]:
    ag.mechanics_step(a, p, DT)  # compile / warm up
    t0 = time.perf_counter()
    for _ in range(steps):
        a = ag.mechanics_step(a, p, DT)
    total = (time.perf_counter() - t0) / steps
    size = ag.interaction_distance(a, p)
    t0 = time.perf_counter()
    for _ in range(steps):
        ag._cell_lists(a.positions, a.ids, size)
    return total, (time.perf_counter() - t0) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    p = ag.MechanicsParams()
    threads = numba.config.NUMBA_NUM_THREADS
    print(f"{'cells':>8} {'threads':>7} {'ms/step':>8} {'lists %':>7} {'M cells/s':>9} "
          f"{'state MB':>8} {'peak MB':>7} {'neighbours':>10}")
    for n in args.sizes:
        a = tissue(n)
        state_mb = sum(getattr(a, k).nbytes for k in ("positions", "radius", "velocity",
                                                       "ids", "fate")) / 1e6
        ag.mechanics_step(a, p, DT)  # compile or load the kernels before tracing
        tracemalloc.start()
        ag.mechanics_step(a, p, DT)
        peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        d = ag.interaction_distance(a, p)
        sample = a.positions[: min(n, 2000)]
        dist = np.linalg.norm(sample[:, None] - a.positions[None], axis=2)
        neighbours = (np.count_nonzero(dist < d) - sample.shape[0]) / sample.shape[0]
        for t in sorted({1, threads}):
            numba.set_num_threads(t)
            step_s, lists_s = timed(a, p, args.steps)
            print(f"{n:>8} {t:>7} {step_s * 1e3:>8.2f} {100 * lists_s / step_s:>7.0f} "
                  f"{n / step_s / 1e6:>9.2f} {state_mb:>8.1f} {peak_mb:>7.1f} "
                  f"{neighbours:>10.1f}")


if __name__ == "__main__":
    main()
