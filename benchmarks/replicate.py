"""Wall time of ``exotwin replicate`` on the serial engine and the process pool, and where it goes.

Runs ``replicate(paper, seed)`` into two temporary directories, once on the serial engine
(the default) and once on a pool of ``--workers`` spawned processes, checks that both
give the same verdicts and readouts, and prints both wall times and their ratio. It then
runs every protocol of the paper alone, serially, and prints each one's seconds and share
of their sum, largest first, so a slow protocol shows at once. Times include the numba
cache load of the first protocol; run it once before timing to warm the caches.

Usage: ``python benchmarks/replicate.py [--paper xia2021] [--seed 1] [--workers 2]
[--smoke]`` (``--smoke``: three small protocols instead of the paper's whole set).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd

from exotwin.protocols import library, load, run_protocol
from exotwin.replicate import protocols_for, replicate

SMOKE = ["xia2021-fig2C", "xia2021-fig3A", "xia2021-fig4B"]


def timed_replicate(paper: str, seed: int, engine: str, protocols: list[str] | None,
                    workers: int | None = None):  # fmt: skip
    """Seconds of one replicate run, its verdicts and its readouts."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        start = time.perf_counter()
        replicate(paper, seed, out, engine=engine, protocols=protocols, workers=workers)
        seconds = time.perf_counter() - start
        verdicts = {v["id"]: v["verdict"] for v in json.loads((out / "claims.json").read_text())}
        readouts = {f.stem: pd.read_parquet(f) for f in (out / "readouts").glob("*.parquet")}
    return seconds, verdicts, readouts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paper", default="xia2021")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    ids = SMOKE if args.smoke else protocols_for(args.paper)
    subset = ids if args.smoke else None
    serial, v_serial, r_serial = timed_replicate(args.paper, args.seed, "serial", subset)
    pool, v_pool, r_pool = timed_replicate(args.paper, args.seed, "processes", subset,
                                           args.workers)  # fmt: skip
    same = v_serial == v_pool and r_serial.keys() == r_pool.keys() and all(
        r_serial[k].equals(r_pool[k]) for k in r_serial)  # fmt: skip
    print(f"replicate --paper {args.paper} --seed {args.seed} ({len(ids)} protocols)")
    print(f"  serial engine        {serial:7.1f} s")
    print(f"  processes ({args.workers} workers) {pool:7.1f} s   ratio {pool / serial:.2f}")
    print(f"  identical verdicts and readouts: {same}")
    seconds = {}
    for pid in ids:
        p = load(library()[pid])
        start = time.perf_counter()
        run_protocol(p, args.seed, out=None, source=pid)
        seconds[pid] = time.perf_counter() - start
    total = sum(seconds.values())
    print(f"each protocol alone (serial, no files): {total:.1f} s in all")
    for pid, s in sorted(seconds.items(), key=lambda kv: -kv[1]):
        print(f"  {pid:40s} {s:6.2f} s  {100 * s / total:5.1f} %")


if __name__ == "__main__":
    main()
