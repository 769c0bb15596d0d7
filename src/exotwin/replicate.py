"""``exotwin replicate``: every built-in protocol of a paper, its claims, and the report.

Protocols run on an engine (:mod:`exotwin.engines`): ``serial`` in this process,
``processes`` in a pool, or ``dask`` (an embedded cluster or a running scheduler). Workers
receive protocol specifications and the seed, never compiled objects, so every engine
gives identical numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from exotwin.atomic import atomic_path, atomic_write_text
from exotwin.claims import claims, explain
from exotwin.engines import make_engine, result_frame, task
from exotwin.errors import ExotwinError
from exotwin.protocols import library, load
from exotwin.protocols.run import RunResult, claim_verdicts

IMAGE_ONLY = {
    "xia2021-fig4A": "TEM morphology (bilayer cup shape) is an image property no "
    "simulation state carries",
    "xia2021-fig1C": "subcellular localisation in IHC images is not represented in the model",
    "deng2023-abs-exoTEM": "TEM morphology (cup-shaped bilayer vesicles) is an image property "
    "no simulation state carries",
}
# categories left out of a summary claim's conjunction: a background premise is prior work
# the paper builds on, not one of its findings (it is tested on its own where possible)
NOT_SUMMARISED = ("interpretive_summary", "background")


def summarise(verdicts: list[dict], catalog: list[dict]) -> list[dict]:
    """Verdicts of interpretive summary claims: the conjunction of the claims they summarise.

    A summary claim (category ``interpretive_summary``) stands for every other claim of
    its paper except the image-only ones, other summaries and background premises
    (:data:`NOT_SUMMARISED`): it fails if any of them fails, is not tested while any of
    them is not tested, and passes when all pass. A protocol that tests the summary claim
    directly (e.g. exosomes with and without LMP1) joins the conjunction as one more part.
    """
    kinds = {c["id"]: c for c in catalog}
    out = []
    for v in verdicts:
        claim = kinds.get(v["id"], {})
        if claim.get("category") != "interpretive_summary":
            out.append(v)
            continue
        parts = [w for w in verdicts if w["id"] != v["id"] and w["id"] not in IMAGE_ONLY
                 and kinds.get(w["id"], {}).get("paper") == claim.get("paper")
                 and kinds.get(w["id"], {}).get("category") not in NOT_SUMMARISED]  # fmt: skip
        direct = v.get("protocol") is not None  # tested by a protocol of its own
        if direct:
            parts.append(v)
        failed = [w["id"] for w in parts if w["verdict"] == "fail"]
        untested = [w["id"] for w in parts if w["verdict"] == "not_tested"]
        verdict = "fail" if failed else "not_tested" if untested else "pass"
        observed = (f"{len(parts) - len(failed) - len(untested)} of {len(parts)} summarised "
                    f"claims pass; failing: {', '.join(failed) or 'none'}; not tested: "
                    f"{', '.join(untested) or 'none'}")  # fmt: skip
        if direct:
            observed = (f"direct test ({v['protocol']}): {v['verdict']}, {v.get('observed')}; "
                        + observed)  # fmt: skip
        out.append({**v, "verdict": verdict, "observed": observed, "protocol": None,
                    "expected": "every summarised claim passes (conjunction)",
                    "reason": "conjunction of the paper's other claims (image-only, summary and "
                              "background claims excluded)"
                              + ("; its direct test is one more part" if direct else "")})
    return out


def source_notes(paper: str) -> list[str]:
    """One sentence per paper whose figures were not available (designs then assumed)."""
    from exotwin.claims import catalog

    notes = []
    for pid, meta in catalog()["papers"].items():
        status = str(meta.get("full_text_status", ""))
        if paper in ("all", pid) and status.startswith("NOT found"):
            notes.append(f"{pid}: the paper's figures were not available (abstract only, "
                         "full text not found). Its protocols use standard designs; every "
                         "cell line, dose, time, readout and statistical test is an "
                         "assumption stated in the protocol.")  # fmt: skip
    return notes


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
    scheduler: str | None = None,
    workers: int | None = None,
) -> dict:
    """Run the paper's protocols (or the given subset), evaluate its claims, write the report.

    ``engine`` is ``serial``, ``processes`` or ``dask`` (``workers`` processes, default 2);
    ``scheduler`` (``tcp://HOST:PORT``, with ``dask``) joins a running cluster. Files the
    protocols write themselves (FCS) are written by the workers under ``out``, so a remote
    cluster needs ``out`` shared.

    Returns
    -------
    dict
        Counts of verdicts and the paths written.
    """
    ids = protocols if protocols is not None else protocols_for(paper)
    parsed = {pid: load(library()[pid]) for pid in ids}
    # longest first: a spatial protocol (xenograft, CAM) takes longer than all culture
    # protocols together, so a pool starts it at once and fills the other workers around it
    order = sorted(ids, key=lambda pid: parsed[pid].kind == "culture")
    jobs = [task(pid, parsed[pid], seed, out=str(out), source=pid) for pid in order]
    done: dict[str, RunResult] = {}
    with make_engine(engine, workers=workers, scheduler=scheduler) as runner:
        for res in runner.run(jobs):
            pid = res["key"]
            done[pid] = RunResult(parsed[pid], seed, result_frame(res["readouts"]),
                                  res["comparisons"], [Path(f) for f in res["files"]])  # fmt: skip
            if progress:
                progress(pid)
    results = [done[pid] for pid in ids]
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
    verdicts = explain(summarise(verdicts, claims(paper)))
    for r in results:
        with atomic_path(out / "readouts" / f"{r.protocol.id}.parquet") as tmp:
            r.readouts.to_parquet(tmp, index=False)
    atomic_write_text(out / "claims.json", json.dumps(verdicts, indent=2, default=str))
    from exotwin.report import render

    text = {c["id"]: c["finding"] for c in claims(paper)}
    page = render(f"exotwin replicate: {paper}", seed, results, verdicts, text,
                  notes=source_notes(paper))  # fmt: skip
    atomic_write_text(out / "report.html", page)
    counts = pd.Series([v["verdict"] for v in verdicts]).value_counts().to_dict()
    return {"counts": counts, "report": out / "report.html", "claims": out / "claims.json"}
