"""The published findings (``claims.yaml``, shipped with the package) and their verdicts.

A verdict is ``pass`` when the simulated comparison shows the published direction with
P < 0.05, ``fail`` otherwise, and ``not_tested`` when no protocol tests the claim yet or
the claim concerns what an image shows and no simulation state can. Known disagreements
(``disagreements.yaml``) explain why a claim fails in the twin and what measurement would
decide it; they never change a verdict.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import yaml


@lru_cache(maxsize=1)
def catalog() -> dict:
    """The whole claims catalog (papers, conventions, claims)."""
    text = (resources.files("exotwin.claims") / "claims.yaml").read_text()
    return yaml.safe_load(text)


def claims(paper: str | None = None) -> list[dict]:
    """Claims of one paper (``xia2021``, ``deng2023``) or of all papers."""
    return [c for c in catalog()["claims"] if paper in (None, "all", c["paper"])]


@lru_cache(maxsize=1)
def disagreements() -> dict[str, dict]:
    """Known disagreements by claim id: ``{"id", "mechanism", "decide"}`` of its entry."""
    text = (resources.files("exotwin.claims") / "disagreements.yaml").read_text()
    return {cid: {k: e[k] for k in ("id", "mechanism", "decide")}
            for e in yaml.safe_load(text)["entries"] for cid in e["claims"]}  # fmt: skip


def explain(verdicts: list[dict]) -> list[dict]:
    """The verdicts, each failing one with its known disagreement (``disagreement``) if any."""
    known = disagreements()
    return [{**v, "disagreement": known[v["id"]]} if v["verdict"] == "fail" and v["id"] in known
            else v for v in verdicts]  # fmt: skip
