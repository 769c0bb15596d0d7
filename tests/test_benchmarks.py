"""Every benchmark script runs, at its smallest size (benchmarks are tested code too).

Timings are not checked (they are the scripts' output, as ratios measured in one run);
the test is that each script still runs against the current API and prints its result.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"

# script: (smallest-size arguments, text its last result line contains)
SMOKE = {
    "binomial.py": (["--smoke"], "p~"),
    "cam.py": (["--egg-only"], "one egg: setup"),
    "cisplatin_in_vivo.py": (["--smoke"], "T/C"),
    "diffusion.py": (["--smoke"], "exotwin 1 thread / reference"),
    "endothelial.py": (["--repeat", "1"], "FITC-dextran"),
    "engines.py": (["--scenarios", "2"], "serial"),
    "kinetics.py": (["--smoke"], "x"),
    "physicell_like.py": (["--minutes", "6"], "mechanics only"),
    "replicate.py": (["--smoke"], "xia2021-fig4B"),
    "tissue.py": (["--sizes", "1000", "--steps", "1"], "1000"),
    "xenograft_growth_fit.py": (["--smoke"], "loss"),
}


def test_every_benchmark_has_a_smoke_run():
    assert sorted(p.name for p in BENCHMARKS.glob("*.py")) == sorted(SMOKE)


@pytest.mark.parametrize("script", sorted(SMOKE))
def test_benchmark_runs_at_its_smallest_size(script):
    args, marker = SMOKE[script]
    proc = subprocess.run([sys.executable, str(BENCHMARKS / script), *args],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert marker in proc.stdout, proc.stdout[-2000:]
