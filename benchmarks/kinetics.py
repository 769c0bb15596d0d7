"""Batched kinetics vs libRoadRunner cell by cell, at the same measured accuracy.

The largest built-in model runs for 24 simulated hours (hourly output) in 1k, 10k and
100k cells, every parameter of every cell scaled by its own lognormal factor (CV 20 %)
and the inputs that are off by default (drugs, exosome doses) switched on in half of
the cells. The same cells run one by one in libRoadRunner, as PhysiCell and CompuCell3D
do it. Both are timed in this run and reported as cells per second and their ratio.

Accuracy is measured, not assumed: a subset of cells is integrated by libRoadRunner at
rtol 1e-12 as the reference; libRoadRunner runs at its usual rtol 1e-6 / atol 1e-9, and
exotwin at the loosest tolerance of a ladder whose error on the subset is no larger than
libRoadRunner's. Both errors are printed. (Numbers at exotwin's rtol 1e-6 are printed too.)

Usage: ``python benchmarks/kinetics.py [--cells 1000,10000,100000] [--rr-cells 2000]
[--threads N] [--smoke]``. libRoadRunner's rate is per cell and constant, so it is timed
on at most ``--rr-cells`` cells and the ratio uses that rate.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from exotwin import models
from exotwin.kinetics import compile_model, simulate

LADDER = (1e-4, 3e-5, 1e-5, 3e-6, 1e-6, 3e-7, 1e-7)


def largest_builtin_model() -> str:
    sizes = {m.name: len(compile_model(m.name).spec.states) for m in models.list_models()}
    return max(sizes, key=lambda k: (sizes[k], k))


def population(cm, n_cells: int, seed: int) -> dict[str, np.ndarray]:
    params = [k for k in cm.spec.constants if cm.spec.kinds[k] == "parameter"]
    defaults = simulate(cm, [0.0], variables=params).isel(time=0, cell=0)
    rng = np.random.default_rng(seed)
    values = {}
    for k in params:
        base = float(defaults[k])
        if base == 0.0:  # an input that is off by default: on in every other cell
            on = rng.lognormal(np.log(10.0), 1.0, n_cells)
            values[k] = np.where(np.arange(n_cells) % 2 == 1, on, 0.0)
        else:
            values[k] = base * rng.lognormal(0.0, 0.2, n_cells)
    return values


def roadrunner_run(sbml, species, times, values, cells, rtol, atol):
    import roadrunner

    rr = roadrunner.RoadRunner(sbml)
    rr.integrator.relative_tolerance = rtol
    rr.integrator.absolute_tolerance = atol
    rr.integrator.maximum_num_steps = 500_000
    selections = ["time", *[f"[{s}]" for s in species]]
    out = np.empty((len(cells), len(times), len(species)))
    start = time.perf_counter()
    for row, c in enumerate(cells):
        rr.resetAll()
        for k, v in values.items():
            rr[k] = float(v[c])
        res = rr.simulate(float(times[0]), float(times[-1]), len(times), selections)
        out[row] = np.asarray(res)[:, 1:]
    return out, time.perf_counter() - start


def exotwin_run(cm, species, times, values, cells, rtol, threads):
    sub = {k: v[cells] for k, v in values.items()}
    names = [f"concentration({s})" for s in species]
    start = time.perf_counter()
    ds = simulate(cm, times, n_cells=len(cells), parameters=sub, rtol=rtol, atol=rtol * 1e-3,
                  variables=names, threads=threads)  # fmt: skip
    elapsed = time.perf_counter() - start
    return np.stack([ds[n].values for n in names], axis=-1), elapsed


def max_rel_error(got: np.ndarray, ref: np.ndarray) -> float:
    floor = 1e-6 * np.max(np.abs(ref), axis=(0, 1), keepdims=True) + 1e-15
    return float(np.max(np.abs(got - ref) / (np.abs(ref) + floor)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", default="1000,10000,100000")
    ap.add_argument("--rr-cells", type=int, default=2000)
    ap.add_argument("--accuracy-cells", type=int, default=24)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, for the test suite")
    args = ap.parse_args()
    sizes = [int(s) for s in args.cells.split(",")]
    if args.smoke:
        sizes, args.rr_cells, args.accuracy_cells = [50], 20, 4

    name = largest_builtin_model()
    t0 = time.perf_counter()
    cm = compile_model(name)
    compile_s = time.perf_counter() - t0
    sbml = models.to_sbml(name)
    species = list(cm.spec.species)
    times = np.linspace(0.0, 24.0, 25)
    values = population(cm, max(sizes), seed=1)
    print(f"model {name}: {len(cm.spec.states)} states, {len(cm.spec.constants)} constants; "
          f"load+compile {compile_s:.1f} s (cached after the first run)")  # fmt: skip

    # accuracy on a subset, against libRoadRunner at rtol 1e-12
    acc = np.arange(min(args.accuracy_cells, max(sizes)))
    ref, _ = roadrunner_run(sbml, species, times, values, acc, 1e-12, 1e-16)
    rr_sub, _ = roadrunner_run(sbml, species, times, values, acc, 1e-6, 1e-9)
    rr_err = max_rel_error(rr_sub, ref)
    chosen, errors = LADDER[-1], {}
    for rtol in LADDER:
        got, _ = exotwin_run(cm, species, times, values, acc, rtol, args.threads)
        errors[rtol] = max_rel_error(got, ref)
    matching = [r for r in LADDER if errors[r] <= rr_err]
    chosen = max(matching) if matching else LADDER[-1]
    print(f"max relative error vs reference (libRoadRunner rtol 1e-12), {acc.size} cells:")
    print(f"  libRoadRunner rtol 1e-6 atol 1e-9: {rr_err:.2e}")
    for r in LADDER:
        mark = "  <- same accuracy" if r == chosen else ""
        print(f"  exotwin rtol {r:.0e}: {errors[r]:.2e}{mark}")

    rr_cells = np.arange(min(args.rr_cells, max(sizes)))
    _, rr_time = roadrunner_run(sbml, species, times, values, rr_cells, 1e-6, 1e-9)
    rr_rate = rr_cells.size / rr_time
    print(f"libRoadRunner one by one: {rr_cells.size} cells in {rr_time:.2f} s "
          f"= {rr_rate:,.0f} cells/s")  # fmt: skip
    exotwin_run(cm, species, times, values, np.arange(8), chosen, args.threads)  # warm-up
    print(f"{'cells':>8} {'exotwin rtol':>12} {'exotwin cells/s':>16} {'roadrunner cells/s':>19} "
          f"{'ratio':>7}")  # fmt: skip
    for n in sizes:
        for rtol in sorted({chosen, 1e-6}, reverse=True):
            _, elapsed = exotwin_run(cm, species, times, values, np.arange(n), rtol, args.threads)
            rate = n / elapsed
            print(f"{n:>8} {rtol:>12.0e} {rate:>16,.0f} {rr_rate:>19,.0f} {rate / rr_rate:>7.1f}x")


if __name__ == "__main__":
    main()
