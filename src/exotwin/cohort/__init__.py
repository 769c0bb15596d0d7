"""Virtual patient cohorts: people's tissues and serum, read like clinical samples.

A cohort protocol (:class:`CohortProtocol`, ``kind: cohort``) names groups of tumour
patients and people with normal epithelium; :func:`run` draws every person
(:mod:`.tissue`), brings their tissue cells to steady state in one batched simulation,
reads the assays (:mod:`.assays`) and evaluates the comparisons (:mod:`.compare`).
Design and provenance: docs/cohort.md.
"""

from __future__ import annotations

from pathlib import Path

from exotwin.assays import tidy
from exotwin.cohort.schema import CohortProtocol
from exotwin.protocols.run import RunResult

__all__ = ["CohortProtocol", "run"]


def run(
    protocol: CohortProtocol, seed: int, out: Path | None = None, source: str = ""
) -> RunResult:
    """Simulate every person of a cohort protocol, read its assays, evaluate comparisons.

    Parameters
    ----------
    protocol
        A validated cohort protocol.
    seed
        Run seed (every draw is keyed by it).
    out
        Output directory (unused: cohort assays write no files).
    source
        Where the protocol came from, for messages.

    Returns
    -------
    RunResult
        Tidy readouts (``time_h`` 0) and one comparison record per comparison.
    """
    from exotwin.cohort import assays
    from exotwin.cohort.compare import evaluate
    from exotwin.cohort.tissue import CohortParameters, draw_persons, simulate_tissues

    p = protocol
    params = CohortParameters.with_overrides(p.parameters)
    persons = draw_persons(p, params, seed)
    tissue = simulate_tissues(p.model, persons, params, seed, p.cells_per_compartment,
                              p.cell_variation_cv)  # fmt: skip
    rows: list[dict] = []
    for a in p.assays:
        if a.type == "tissue_western":
            rows += assays.tissue_western(persons, tissue, list(a.targets), seed)
        elif a.type == "rnaseq":
            rows += assays.rnaseq(persons, tissue, list(a.targets), params, seed)
        else:
            rows += assays.serum_exosome_western(persons, tissue, list(a.targets), params, seed)
    readouts = tidy(rows)
    result = RunResult(p, seed, readouts)
    result.comparisons = [evaluate(p, c, readouts) for c in p.comparisons]
    return result
