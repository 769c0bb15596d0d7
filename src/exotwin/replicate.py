"""``exotwin replicate``: every built-in protocol of a paper, its claims, and the report.

Protocols run on an engine: ``serial`` in this process, or ``processes`` in a pool
whose workers receive protocol ids and the seed (specifications, never compiled
objects), so both engines give identical numbers.
"""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

from exotwin.atomic import atomic_path, atomic_write_text
from exotwin.claims import claims
from exotwin.errors import ExotwinError
from exotwin.protocols import library, load, run_protocol
from exotwin.protocols.run import RunResult, claim_verdicts

IMAGE_ONLY = {
    "xia2021-fig4A": "TEM morphology (bilayer cup shape) is an image property no "
    "simulation state carries",
    "xia2021-fig1C": "subcellular localisation in IHC images is not represented in the model",
}


def _run_one(args: tuple[str, int, str]) -> RunResult:
    pid, seed, out = args
    return run_protocol(load(library()[pid]), seed=seed, out=Path(out), source=pid)


def protocols_for(paper: str) -> list[str]:
    """Ids of the built-in protocols of a paper (``all`` for every paper)."""
    ids = [pid for pid, path in library().items()
           if paper == "all" or load(path).paper == paper]  # fmt: skip
    if not ids:
        raise ExotwinError(f"no built-in protocols for paper {paper!r}", field="--paper")
    return ids


def replicate(
    paper: str,
    seed: int,
    out: Path,
    engine: str = "serial",
    progress=None,
    protocols: list[str] | None = None,
) -> dict:
    """Run the paper's protocols (or the given subset), evaluate its claims, write the report.

    Returns
    -------
    dict
        Counts of verdicts and the paths written.
    """
    if engine not in ("serial", "processes"):
        raise ExotwinError("must be 'serial' or 'processes'", field="--engine")
    ids = protocols if protocols is not None else protocols_for(paper)
    jobs = [(pid, seed, str(out)) for pid in ids]
    results: list[RunResult] = []
    if engine == "serial":
        for job in jobs:
            results.append(_run_one(job))
            if progress:
                progress(job[0])
    else:
        # spawn, not fork: forking a process whose numba OpenMP threads are running crashes
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
            for job, res in zip(jobs, pool.map(_run_one, jobs), strict=True):
                results.append(res)
                if progress:
                    progress(job[0])
    tested = {c["id"]: c for c in claim_verdicts([c for r in results for c in r.comparisons])}
    verdicts = []
    for claim in claims(paper):
        cid = claim["id"]
        if cid in tested:
            verdicts.append(tested[cid])
        else:
            reason = IMAGE_ONLY.get(cid, "no protocol tests this claim yet")
            verdicts.append({"id": cid, "verdict": "not_tested", "expected": claim.get("expected"),
                             "observed": None, "p_value": None, "protocol": None,
                             "reason": reason})  # fmt: skip
    for r in results:
        with atomic_path(out / "readouts" / f"{r.protocol.id}.parquet") as tmp:
            r.readouts.to_parquet(tmp, index=False)
    atomic_write_text(out / "claims.json", json.dumps(verdicts, indent=2, default=str))
    from exotwin.report import render

    text = {c["id"]: c["finding"] for c in claims(paper)}
    page = render(f"exotwin replicate: {paper}", seed, results, verdicts, text)
    atomic_write_text(out / "report.html", page)
    counts = pd.Series([v["verdict"] for v in verdicts]).value_counts().to_dict()
    return {"counts": counts, "report": out / "report.html", "claims": out / "claims.json"}
