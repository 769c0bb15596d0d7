"""Cisplatin alone in CNE2 xenografts: the twin's treated/control weight at outside regimens.

Runs NC against NC + cisplatin i.p. (5 mice each, one seed) at the regimens of outside NPC
xenograft studies (docs/xenograft.md, "Cisplatin in vivo against outside data") and at the
xia2021-fig6 regimen, and prints the mean tumour weights, T/C and the Welch P. Run:
``PYTHONPATH=src python benchmarks/cisplatin_in_vivo.py [seed] [--no-repair]`` (1-3 min per
regimen). ``--no-repair`` switches nucleotide-excision repair off (``AP_V_NER`` ~ 0, adducts
then leave only by growth dilution): an upper bound on what more persistent adducts could do
at the same adduct formation rate. ``--smoke`` runs the xia2021-fig6 regimen only, 2 mice
per group to day 9 (the test suite's check that the script runs).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy import stats

from exotwin.protocols import load, run_protocol

# label: (dose mg/kg, every, doses from treatment start, treatment start d, sacrifice d, source)
REGIMENS = {
    "Gressette 2014-like: 2 mg/kg weekly x3": (
        2.0,
        "7 d",
        "3 d",
        7,
        28,
        "doi:10.1371/journal.pone.0091325",
    ),
    "weekly x4, 3 mg/kg (Wang 2004 schedule)": (3.0, "7 d", "0 d", 7, 30, "PMID 15566638"),
    "xia2021-fig6 regimen: 3 mg/kg every 2 d": (3.0, "2 d", "0 d", 7, 21, "this project"),
    "6 mg/kg every 2 d (dose response)": (6.0, "2 d", "0 d", 7, 21, "dose response"),
}

TEMPLATE = """kind: xenograft
id: cis-vivo
title: cisplatin alone
model: tumour_cell
cell_line: CNE2
cells: 1.0e+6
mice: {mice}
duration: {end} d
treatment_start: {start} d
groups:
  - label: NC
    treatments: [{{type: knockdown, gene: ERp44, efficiency: 0.0, since: stable}}]
  - label: NC+cisplatin
    treatments:
      - {{type: knockdown, gene: ERp44, efficiency: 0.0, since: stable}}
      - {{type: cisplatin_ip, dose: {dose} mg/kg, every: {every}, start: {first}}}
western: [caspase-3]
{extra}"""


def first_dose(start_d: float, offset: str) -> str:
    """Absolute time of the first dose (d) as protocol text."""
    return f"{start_d + float(offset.split()[0]):g} d"


def main(seed: int = 1, no_repair: bool = False, smoke: bool = False) -> None:
    """Print NC vs NC + cisplatin per regimen; ``no_repair`` switches NER off (bound)."""
    extra = "parameters: {AP_V_NER: 1.0e-12}\n" if no_repair else ""
    with tempfile.TemporaryDirectory() as tmp:
        for label, (dose, every, offset, start, end, src) in REGIMENS.items():
            if no_repair and src not in ("this project", "dose response"):
                continue
            if smoke and src != "this project":
                continue
            mice, end = (2, 9) if smoke else (5, end)
            path = Path(tmp) / "p.yaml"
            path.write_text(
                TEMPLATE.format(
                    dose=dose,
                    every=every,
                    start=start,
                    end=end,
                    first=first_dose(start, offset),
                    extra=extra,
                    mice=mice,
                )
            )
            r = run_protocol(load(path), seed=seed).readouts
            w = r[r["readout"] == "tumour weight (g)"]
            nc = w[w["group"] == "NC"]["value"].to_numpy()
            cis = w[w["group"] == "NC+cisplatin"]["value"].to_numpy()
            p = stats.ttest_ind(cis, nc).pvalue
            print(
                f"{label} [{src}]: NC {nc.mean():.3f} g, NC+cis {cis.mean():.3f} g, "
                f"T/C {cis.mean() / nc.mean():.3f}, P {p:.3g}; "
                f"per mouse NC {np.round(nc, 3).tolist()} cis {np.round(cis, 3).tolist()}",
                flush=True,
            )


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(int(args[0]) if args else 1, no_repair="--no-repair" in sys.argv,
         smoke="--smoke" in sys.argv)
