"""Mechanics step of the cell agents: time per step and memory for 1e4, 1e5 (and 1e6) cells.

Cells of radius 6-10 um are placed uniformly at random in a cube filled to a volume
fraction of about 0.6 (a dense tissue: each cell overlaps or adheres to about a dozen
neighbours), with PhysiCell's default mechanics (c_rep 10, c_adh 0.4 um/min, adhesion
range 1.25) and dt = 0.1 min. Reported per size: milliseconds per step with 1 and with
all threads (and the process's CPU time per step: on a shared machine wall time includes
waits for a core), the share of the cell-list build (numpy sort) in it, cell updates per
second, the bytes of the state, the peak of numpy allocations during one step
(tracemalloc; the compiled kernel allocates nothing), the process's peak resident memory
so far, and the mean number of neighbours within interaction distance (200 sampled cells).

Usage: ``python benchmarks/tissue.py [--sizes 10000 100000] [--steps 10] [--million]``;
``--million`` adds 1e6 cells in 3D (about 2 s per step on one thread; 3 steps are timed
at that size unless ``--steps`` is smaller).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # see benchmarks/diffusion.py

import argparse  # noqa: E402
import resource  # noqa: E402
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


def timed(a: ag.Agents, p: ag.MechanicsParams, steps: int) -> tuple[float, float, float]:
    """Wall seconds per step, of which building the cell lists, and CPU seconds per step."""
    ag.mechanics_step(a, p, DT)  # compile / warm up
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        a = ag.mechanics_step(a, p, DT)
    total = (time.perf_counter() - t0) / steps
    cpu = (time.process_time() - c0) / steps
    size = ag.interaction_distance(a, p)
    t0 = time.perf_counter()
    for _ in range(steps):
        ag._cell_lists(a.positions, a.ids, size)
    return total, (time.perf_counter() - t0) / steps, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--million", action="store_true", help="also 1e6 cells")
    args = parser.parse_args()
    sizes = args.sizes + ([1_000_000] if args.million else [])
    p = ag.MechanicsParams()
    threads = numba.config.NUMBA_NUM_THREADS
    print(f"{'cells':>8} {'threads':>7} {'ms/step':>8} {'CPU ms':>8} {'lists %':>7} "
          f"{'M cells/s':>9} {'state MB':>8} {'peak MB':>7} {'RSS MB':>7} {'neighbours':>10}")
    for n in sizes:
        a = tissue(n)
        state_mb = sum(getattr(a, k).nbytes for k in ("positions", "radius", "velocity",
                                                       "ids", "fate")) / 1e6
        ag.mechanics_step(a, p, DT)  # compile or load the kernels before tracing
        tracemalloc.start()
        ag.mechanics_step(a, p, DT)
        peak_mb = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        d = ag.interaction_distance(a, p)
        sample = a.positions[: min(n, 200)]
        neighbours = np.mean([np.count_nonzero(np.linalg.norm(a.positions - x, axis=1) < d) - 1
                              for x in sample])
        steps = args.steps if n < 1_000_000 else min(args.steps, 3)
        for t in sorted({1, threads}):
            numba.set_num_threads(t)
            step_s, lists_s, cpu_s = timed(a, p, steps)
            rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
            print(f"{n:>8} {t:>7} {step_s * 1e3:>8.2f} {cpu_s * 1e3:>8.2f} "
                  f"{100 * lists_s / step_s:>7.0f} "
                  f"{n / step_s / 1e6:>9.2f} {state_mb:>8.1f} {peak_mb:>7.1f} {rss_mb:>7.0f} "
                  f"{neighbours:>10.1f}")


if __name__ == "__main__":
    main()
