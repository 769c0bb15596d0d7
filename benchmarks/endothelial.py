"""Endothelial assays: wall time of one reading of each assay (what a protocol pays per well).

Times the core of each assay on arrays (no model): the scratch-wound simulation of a
24 h closure with images at 0, 12, 24 h; the network, image and analysis of one
tube-formation field; one transwell count and one FITC-dextran reading. Each is run once
to compile, then ``--repeat`` times; the median is printed.

Usage: ``python benchmarks/endothelial.py [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from exotwin.assays import angiogenesis as ag
from exotwin.assays import endothelial as en


def _median_s(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    p = en.ScratchParameters()
    n = en.monolayer(500.0, p).shape[0]
    key = int(en.entity_keys(1, 0, np.array([0]))[0])

    def scratch():
        en.scratch_simulation(np.full(n, 40.0), np.full(n, 0.02), 500.0, [0, 12, 24], 1, key, p)

    def tubes():
        net, offset, k = ag.seeded_network(np.array([1.0]), np.array([1.0]), 15_000, 1, 0)
        ag.analyse(ag.render(net, offset, 1, k))

    def transwell():
        prob = en.crossing_probability(np.array([40.0]), 24.0)
        en.transwell_counts(prob, np.array([1.0]), 100_000, 5, 1, key)

    def dextran():
        en.lower_concentration(1000.0, en.barrier_permeability(0.05, 1.0), 3600.0)

    print(f"scratch wound ({n} cells, 24 h): {_median_s(scratch, args.repeat):.3f} s")
    for name, fn in (("tube formation (1 field)", tubes), ("transwell", transwell),
                     ("FITC-dextran", dextran)):  # fmt: skip
        print(f"{name}: {_median_s(fn, args.repeat):.4f} s")


if __name__ == "__main__":
    main()
