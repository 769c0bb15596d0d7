"""Statistical power by simulation: how often a protocol's statistics detect its effect.

For every number of replicates ``n`` the protocol is run with ``replicates = n`` over
``K`` seeds on any engine (:mod:`exotwin.engines`); each run's comparisons give a verdict
per claim (:func:`exotwin.protocols.run.claim_verdicts`). The detection rate of a claim at
``n`` is the share of seeds whose verdict is ``pass`` (the effect found, in the expected
direction, at P < 0.05 for the statistical tests), with a Wilson 95 % interval. A claim
with no real effect thus shows its false-positive rate: 0.025 for a directional pass, 0.05
for ``significant`` (P < 0.05 in either direction).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from exotwin.atomic import atomic_path, atomic_write_text
from exotwin.engines import apply_overrides, check_engine, make_engine, task
from exotwin.errors import ExotwinError

Z95 = 1.959963984540054  # two-sided 95 % normal quantile
COLUMNS = ["claim", "n", "simulations", "detected", "power", "ci_low", "ci_high",
           "significant", "not_tested"]  # fmt: skip


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (``(nan, nan)`` for no trials)."""
    if trials <= 0:
        return float("nan"), float("nan")
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z / (1 + z * z / trials) * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials**2))
    return max(0.0, centre - half), min(1.0, centre + half)


def parse_ns(text: str) -> list[int]:
    """``3,4,5,6`` or ``3..6``: numbers of replicates, each at least 2, sorted, unique."""
    span = re.fullmatch(r"\s*(\d+)\s*\.\.\s*(\d+)\s*", text)
    if span:
        ns = list(range(int(span[1]), int(span[2]) + 1))
    elif re.fullmatch(r"\s*\d+(\s*,\s*\d+)*\s*", text):
        ns = [int(v) for v in text.split(",")]
    else:
        raise ExotwinError(f"{text!r}: expected N,N,... or A..B", field="--n")
    if not ns or min(ns) < 2:
        raise ExotwinError(f"{text!r}: every n must be at least 2 (a test needs two values)",
                           field="--n")  # fmt: skip
    return sorted(set(ns))


def load_protocol(protocol: str | Path) -> Any:
    """A protocol file or built-in protocol id, validated."""
    from exotwin.protocols import find, load

    return load(find(protocol))


def _significant(verdict: dict) -> bool:
    parts = verdict.get("parts") or [verdict]
    return all(p.get("p_value") is not None and p["p_value"] < 0.05 for p in parts)


def tabulate(results: list[dict]) -> pd.DataFrame:
    """Detection rates per claim and n from run results (``n`` recorded in each).

    Parameters
    ----------
    results
        ``{"n", "comparisons"}`` per run.

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`, one row per claim and n, sorted.
    """
    from exotwin.protocols.run import claim_verdicts

    counts: dict[tuple[str, int], list[int]] = {}
    for res in results:
        for v in claim_verdicts(res["comparisons"]):
            c = counts.setdefault((v["id"], res["n"]), [0, 0, 0, 0])
            c[0] += 1
            c[1] += v["verdict"] == "pass"
            c[2] += _significant(v)
            c[3] += v["verdict"] == "not_tested"
    rows = []
    for (claim, n), (sims, detected, significant, untested) in sorted(counts.items()):
        lo, hi = wilson(detected, sims)
        rows.append({"claim": claim, "n": n, "simulations": sims, "detected": detected,
                     "power": detected / sims, "ci_low": lo, "ci_high": hi,
                     "significant": significant / sims, "not_tested": untested})  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def plot(table: pd.DataFrame, path: Path, title: str = "") -> None:
    """Power curves (detection rate against n, Wilson 95 % band) to ``path`` (PNG or SVG)."""
    from exotwin.analysis.figures import blank_figure, save

    fig = blank_figure(5.5, 3.8)
    ax = fig.subplots()
    for claim, sub in table.groupby("claim", sort=True):
        line = ax.plot(sub["n"], sub["power"], marker="o", label=claim)[0]
        ax.fill_between(sub["n"], sub["ci_low"], sub["ci_high"], alpha=0.2,
                        color=line.get_color())  # fmt: skip
    ax.axhline(0.8, color="grey", lw=0.8, ls="--")
    ax.set(xlabel="replicates per group (n)", ylabel="detection rate", ylim=(-0.02, 1.02),
           title=title)  # fmt: skip
    ax.set_xticks(sorted(table["n"].unique()))
    ax.legend(fontsize="small")
    fig.tight_layout()
    save(fig, path)


def run_all(tasks: list[dict], engine: str = "serial", scheduler: str | None = None,
            workers: int | None = None,
            progress: Callable[[int, int], None] | None = None) -> Iterator[dict]:  # fmt: skip
    """Run ``tasks`` on an engine, yielding results as they complete and counting progress."""
    with make_engine(engine, workers=workers, scheduler=scheduler) as runner:
        if progress:
            progress(0, len(tasks))
        for done, res in enumerate(runner.run(tasks), 1):
            yield res
            if progress:
                progress(done, len(tasks))


def power(
    protocol: str | Path,
    ns: str,
    out: Path,
    simulations: int = 20,
    seed: int = 1,
    engine: str = "serial",
    scheduler: str | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Estimate by simulation how often the protocol's comparisons pass at each n.

    Parameters
    ----------
    protocol
        A protocol file or built-in protocol id.
    ns
        Numbers of replicates, ``3,4,5,6`` or ``3..6``.
    out
        Output directory: ``power.csv``, ``power.json``, ``power.png``, ``power.svg``.
    simulations
        Seeds per n: ``seed .. seed + simulations - 1`` (the same seeds at every n).
    seed
        The first seed.
    engine, scheduler, workers
        As for :func:`exotwin.engines.make_engine`.
    progress
        Called as ``progress(done, total)`` at the start and after every run.

    Returns
    -------
    dict
        ``table`` (:func:`tabulate`) and the paths written.
    """
    if simulations < 1:
        raise ExotwinError("must be at least 1", field="--simulations")
    parsed = load_protocol(protocol)
    source = str(protocol)
    if not parsed.comparisons:
        raise ExotwinError("the protocol has no comparisons to detect", file=source,
                           field="comparisons")  # fmt: skip
    levels = parse_ns(ns)
    check_engine(engine, scheduler)
    spec = parsed.model_dump(by_alias=True)
    for n in levels:  # fails here, before anything is written
        apply_overrides(spec, {"replicates": n}, source)
    seeds = range(seed, seed + simulations)
    tasks = [task(f"n{n}-s{s}", spec, s, {"replicates": n}, source=source)
             for n in levels for s in seeds]  # fmt: skip
    results = [{"n": res["overrides"]["replicates"], "seed": res["seed"],
                "comparisons": res["comparisons"]}
               for res in run_all(tasks, engine, scheduler, workers, progress)]  # fmt: skip
    table = tabulate(results)
    with atomic_path(out / "power.csv") as tmp:
        table.to_csv(tmp, index=False)
    record = {"protocol": source, "protocol_id": parsed.id, "n": levels,
              "seeds": [seed, seed + simulations - 1], "engine": engine,
              "runs": sorted(results, key=lambda r: (r["n"], r["seed"]))}  # fmt: skip
    atomic_write_text(out / "power.json", json.dumps(record, indent=1, default=float) + "\n")
    for suffix in ("png", "svg"):
        plot(table, out / f"power.{suffix}", title=f"{parsed.id}: power by simulation")
    return {"table": table, "csv": out / "power.csv", "json": out / "power.json",
            "plot": out / "power.png"}  # fmt: skip
