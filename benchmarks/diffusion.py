"""Diffusion solver throughput: voxel updates per second per core on a 100^3 grid.

One voxel update is one substance in one voxel advanced by one step (reaction update and
the x, y, z backward-Euler sweeps). The grid is 100^3 voxels of 20 um; substances have
oxygen-like parameters (D = 1e5 um^2/min, decay 0.1 1/min, PhysiCell's defaults) and
smaller diffusivities, with zero-flux and Dirichlet faces; dt = 0.01 min (PhysiCell's
diffusion step). exotwin runs with 1 thread and with all threads, with and without the
ledger and cell sources (1 % of voxels secrete, 1 % take up).

The reference, timed in the same run, is a straightforward numpy/scipy implementation of
the same step: exact decay, then per axis ``scipy.linalg.solve_banded`` on all lines at
once (LAPACK gbsv, one BLAS thread). Both give the same fields to round-off; the largest
difference is printed. ``OMP_WAIT_POLICY`` defaults to ``passive`` here (see the
comment below); set it to ``active`` to see the OpenMP default. For context
only: BioFVM 1.0.4 reaches about 12 million voxel updates per second per core on this
machine (3D, one substance; figure from issue 4).

Usage: ``python benchmarks/diffusion.py [--n 100] [--steps 20] [--smoke]``.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
# numba's OpenMP layer spins idle threads by default; on a shared machine a spinning
# thread that loses its core stalls every parallel region (measured here: 2 threads at a
# tenth of 1 thread's rate under load). Passive waiting costs ~nothing at this size.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import argparse  # noqa: E402
import time  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
from scipy.linalg import solve_banded  # noqa: E402

from exotwin.tissue import (  # noqa: E402
    Dirichlet,
    Grid,
    Sources,
    Substance,
    Substances,
    step,
    step_with_ledger,
)

DT = 0.01  # min, PhysiCell's default diffusion step
BIOFVM_PER_CORE = 12e6  # voxel updates/s/core, BioFVM 1.0.4 on this machine (issue 4)


def substances(n: int) -> Substances:
    lib = [
        Substance("oxygen", 1e5, 0.1, "mmHg", {"all": Dirichlet(38.0)},
                  "PhysiCell default oxygen: D 1e5 um^2/min, decay 0.1 1/min, 38 mmHg far field"),
        Substance("cisplatin", 3e4, 0.01, "uM", {"x_min": Dirichlet(10.0)}, "benchmark value"),
        Substance("exosome", 400.0, 0.002, "particles/um^3", {}, "benchmark value"),
        Substance("cargo", 40.0, 0.05, "a.u.", {}, "benchmark value"),
    ]
    return Substances(lib[:n])


def reference_step(fields: np.ndarray, grid: Grid, subs: Substances, dt: float) -> np.ndarray:
    """The same step (no cell sources) with numpy and scipy.linalg.solve_banded."""
    out = np.empty_like(fields)
    for s, sub in enumerate(subs.items):
        u = fields[s] * np.exp(-sub.decay * dt)
        c = sub.diffusion * dt / grid.dx**2
        for a, axis in enumerate("xyz"):
            n = u.shape[2 - a]
            lo, hi = sub.face(f"{axis}_min"), sub.face(f"{axis}_max")
            ab = np.zeros((3, n))
            ab[0, 1:] = -c
            ab[2, :-1] = -c
            ab[1] = 1 + 2 * c
            ab[1, 0] += c if isinstance(lo, Dirichlet) else -c
            ab[1, -1] += c if isinstance(hi, Dirichlet) else -c
            v = np.moveaxis(u, 2 - a, 0).reshape(n, -1).copy()
            if isinstance(lo, Dirichlet):
                v[0] += 2 * c * lo.value
            if isinstance(hi, Dirichlet):
                v[-1] += 2 * c * hi.value
            v = solve_banded((1, 1), ab, v, overwrite_b=True, check_finite=False)
            shape = np.moveaxis(u, 2 - a, 0).shape
            u = np.moveaxis(v.reshape(shape), 0, 2 - a)
        out[s] = u
    return out


def rate(fn, voxel_updates: float, steps: int) -> float:
    fn()
    best = np.inf
    for _ in range(3):  # best of three: the machine is shared
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        best = min(best, (time.perf_counter() - t0) / steps)
    return voxel_updates / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100, help="voxels per edge")
    ap.add_argument("--steps", type=int, default=20, help="steps per timing")
    ap.add_argument("--smoke", action="store_true", help="tiny grid, one step")
    args = ap.parse_args()
    n, steps = (20, 1) if args.smoke else (args.n, args.steps)
    grid = Grid((n, n, n), dx=20.0)
    all_threads = numba.config.NUMBA_NUM_THREADS
    rng = np.random.default_rng(1)
    print(f"grid {n}^3 voxels of {grid.dx} um, dt {DT} min; numba threads available: "
          f"{all_threads}; BLAS threads for the reference: 1; "
          f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}")
    print(f"context: BioFVM 1.0.4 ~{BIOFVM_PER_CORE / 1e6:.0f} M voxel updates/s/core here "
          "(3D, one substance; issue 4), target 30 M")
    header = f"{'substances':>10} {'case':<22} {'threads':>7} {'M upd/s':>9} {'M upd/s/core':>13}"
    for n_sub in (1, 4):
        subs = substances(n_sub)
        f = rng.random((n_sub, *grid.dims)) * 10.0
        upd = f.size
        mask = rng.random(f.shape)
        src = Sources(rate=np.where(mask < 0.01, 1.0, 0.0), target=np.where(mask < 0.01, 5.0, 0.0))
        sinks = np.where(mask > 0.99, 0.5, 0.0)
        ref_rate = rate(lambda f=f, subs=subs: reference_step(f, grid, subs, DT), upd,
                        max(1, steps // 10))
        diff = np.max(np.abs(step(f, grid, subs, DT) - reference_step(f, grid, subs, DT)))
        print(f"\n{header}")
        print(f"{n_sub:>10} {'reference (scipy)':<22} {1:>7} {ref_rate / 1e6:>9.1f} "
              f"{ref_rate / 1e6:>13.1f}")
        cases = {
            "step": lambda f=f, subs=subs: step(f, grid, subs, DT),
            "step + ledger": lambda f=f, subs=subs: step_with_ledger(f, grid, subs, DT),
            "step + cell sources": lambda f=f, subs=subs, src=src, sinks=sinks: step(
                f, grid, subs, DT, src, sinks),
        }
        per_core_1 = None
        for threads in sorted({1, all_threads}):
            numba.set_num_threads(threads)
            for name, fn in cases.items():
                r = rate(fn, upd, steps)
                if name == "step" and threads == 1:
                    per_core_1 = r
                print(f"{n_sub:>10} {name:<22} {threads:>7} {r / 1e6:>9.1f} "
                      f"{r / threads / 1e6:>13.1f}")
        numba.set_num_threads(all_threads)
        print(f"{n_sub} substance(s): exotwin 1 thread / reference = {per_core_1 / ref_rate:.1f}x;"
              f" / BioFVM 12 M/core = {per_core_1 / BIOFVM_PER_CORE:.1f}x;"
              f" max |exotwin - reference| = {diff:.1e}")


if __name__ == "__main__":
    main()
