"""`exotwin run` and `exotwin protocols list` through the real command line."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "knockdown_cisplatin.yaml"


def cli(*args):
    return subprocess.run([sys.executable, "-m", "exotwin", *args], capture_output=True,
                          text=True)  # fmt: skip


def test_docs_example_runs_and_writes_readouts_fcs_and_claims(tmp_path):
    out = tmp_path / "kd"
    proc = cli("run", str(EXAMPLE), "--out", str(out), "--seed", "2")
    assert proc.returncode == 0, proc.stderr
    claims = json.loads((out / "claims.json").read_text())
    assert claims[0]["id"] == "my-hypothesis" and claims[0]["verdict"] in ("pass", "fail")
    readouts = pd.read_parquet(out / "readouts" / "my-knockdown-experiment.parquet")
    assert set(readouts["readout"]) >= {"OD450", "apoptotic_%"}
    assert len(list((out / "fcs").glob("*.fcs"))) == 2 * 3


def test_malformed_protocol_exits_2_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE.read_text().replace("66.7 uM", "-5 uM"))
    out = tmp_path / "never"
    proc = cli("run", str(bad), "--out", str(out))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad.yaml" in lines[0] and "groups.1.treatments.1" in lines[0]
    assert "negative" in lines[0]
    assert not out.exists()


def test_protocols_list_names_the_library():
    proc = cli("protocols", "list")
    assert proc.returncode == 0 and "xia2021-fig2D" in proc.stdout
