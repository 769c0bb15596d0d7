"""Binomial draws: exotwin's quantile kernel vs scipy's ``_binom_ppf`` ufunc, elements/s.

exotwin draws Binomial(n, p) counts by inverting one keyed uniform each
(:func:`exotwin.rng.binom_ppf`: a numba sum of the pmf, handing distributions wider than
``WINDOW_SD_MAX`` standard deviations to scipy). Three regimes of the cell-fate draws
are timed, each on the same arrays for both: n ~ 1e2 with p ~ 0.05, n ~ 1e5 with
p ~ 1e-3 and n ~ 1e6 with p ~ 0.05 (n and p spread lognormally, sd of log 0.5, around
those values; 1e2-1e6 cells per agent and p 1e-4-0.3 per step is the range of
``cells.population.step`` in the xia2021 protocols). Printed per regime: elements per
second of each, their ratio, the share scipy computed inside exotwin's path and the
number of draws that differ from scipy's.

Usage: ``python benchmarks/binomial.py [--size 100000] [--repeat 3] [--smoke]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from exotwin import rng

REGIMES = ((1e2, 0.05), (1e5, 1e-3), (1e6, 0.05))


def arrays(n0: float, p0: float, size: int, seed: int) -> tuple[np.ndarray, ...]:
    g = np.random.default_rng(seed)
    u = g.random(size)
    n = np.maximum(np.round(n0 * g.lognormal(0.0, 0.5, size)), 1.0)
    p = np.clip(p0 * g.lognormal(0.0, 0.5, size), 1e-9, 0.999)
    return u, n, p


def best_time(f, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=100_000, help="elements per regime")
    ap.add_argument("--repeat", type=int, default=3, help="timings per method (best kept)")
    ap.add_argument("--smoke", action="store_true", help="1,000 elements, one timing")
    args = ap.parse_args()
    size, repeat = (1000, 1) if args.smoke else (args.size, args.repeat)
    rng.binom_ppf(*arrays(10.0, 0.5, 10, 0))  # compile / load the kernel
    print(f"{'regime':>18} {'exotwin el/s':>13} {'scipy el/s':>12} {'ratio':>6} "
          f"{'to scipy':>9} {'differ':>6}")  # fmt: skip
    for i, (n0, p0) in enumerate(REGIMES):
        u, n, p = arrays(n0, p0, size, i + 1)
        ours = rng.binom_ppf(u, n, p)
        ref = rng._binom_ppf(u, n, p)
        t_ours = best_time(lambda: rng.binom_ppf(u, n, p), repeat)  # noqa: B023
        t_ref = best_time(lambda: rng._binom_ppf(u, n, p), repeat)  # noqa: B023
        wide = np.mean(rng._binom_quantile(u, n, p, rng.WINDOW_SD_MAX) < 0)
        print(f"{f'n~{n0:.0e} p~{p0:g}':>18} {size / t_ours:13.3e} {size / t_ref:12.3e} "
              f"{t_ref / t_ours:6.2f} {wide:9.2%} {np.count_nonzero(ours != ref):6d}")  # fmt: skip


if __name__ == "__main__":
    main()
