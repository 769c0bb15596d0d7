"""Calibration recovers a known model parameter from noisy synthetic data made by the twin;
the bootstrap and PEtab worked example of docs/scale.md runs as written."""

import json
import math
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exotwin.cli import main

ROOT = Path(__file__).resolve().parents[1]
NULL = Path(__file__).parent / "data" / "power_null.yaml"
TRUE = 0.4  # model.ERp44_expression of the synthetic data
FREE = "model.ERp44_expression=0.05:5"
DOC = ROOT / "docs" / "scale.md"
EXAMPLE = "### Worked example: bootstrap intervals and PEtab"
BLOCK = re.compile(r"^```(sh|python)\n(.*?)^```", re.S | re.M)


def example_blocks() -> list[tuple[str, str]]:
    """The (language, text) code blocks of the docs' bootstrap and PEtab example."""
    section = DOC.read_text().split(EXAMPLE, 1)[1].split("\n## ")[0].split("\n### ")[0]
    return BLOCK.findall(section)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    """ERp44/GAPDH westerns at ERp44_expression = TRUE: 4 replicates, another seed than the
    fit's, times 10 % log-normal measurement noise from a seeded generator (the python
    block of the docs' example, run here)."""
    where = tmp_path_factory.mktemp("fit")
    (where / "tests" / "data").mkdir(parents=True)
    shutil.copy(NULL, where / "tests" / "data")
    code = next(text for lang, text in example_blocks() if lang == "python")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(where)
        exec(compile(code, f"{DOC.name}: {EXAMPLE}", "exec"), {})
    return where / "data.csv"


@pytest.fixture(scope="module")
def profile_fit(synthetic, tmp_path_factory) -> Path:
    """``exotwin fit`` with profile intervals (3 starts) on the synthetic data."""
    out = tmp_path_factory.mktemp("profile") / "fit"
    with pytest.raises(SystemExit) as exc:
        main(["fit", str(NULL), str(synthetic), "--free", FREE, "--starts", "3",
              "--out", str(out)])  # fmt: skip
    assert exc.value.code == 0
    return out


def test_fit_recovers_the_parameter(profile_fit):
    out = profile_fit
    row = pd.read_csv(out / "fit.csv").iloc[0]
    # The readout's log mean over 2 groups has SE ~ 0.14 * sqrt(1/4 + 1/2) / sqrt(2) ~ 0.09
    # (data and simulation replicates); ERp44/GAPDH scales about as expression**0.8, so the
    # log estimate has SE ~ 0.11: three SE is a factor 1.4.
    assert abs(math.log(row["estimate"] / TRUE)) < math.log(1.4)
    assert row["ci_low"] < TRUE < row["ci_high"] and not row["ci_open"]
    record = json.loads((out / "fit.json").read_text())
    assert len(record["starts"]) == 3 and record["scale"] == "log"
    assert all(abs(s["estimate"][0] - row["estimate"]) < 0.01 for s in record["starts"])
    assert (out / "profiles.png").stat().st_size > 0


def test_docs_bootstrap_and_petab_example(synthetic, profile_fit, tmp_path, monkeypatch,
                                          capsys):  # fmt: skip
    """The docs' commands run; the bootstrap interval holds the truth, is about as wide as
    the profile interval, and is the same on the processes engine; --petab writes what
    export-petab writes."""
    where = synthetic.parent
    monkeypatch.chdir(where)
    for lang, text in example_blocks():
        if lang != "sh":
            continue
        for line in text.splitlines():
            words = shlex.split(line)
            if words[0] == "exotwin":
                with pytest.raises(SystemExit) as exc:
                    main(words[1:])
                assert exc.value.code == 0, line
            else:
                assert words[0] == "petablint"
                pytest.importorskip("petab.v1")
                done = subprocess.run([str(Path(sys.executable).parent / words[0]), *words[1:]],
                                      capture_output=True, text=True)  # fmt: skip
                assert done.returncode == 0, done.stdout + done.stderr
                print(done.stdout + done.stderr)
    print(capsys.readouterr().out)
    boot = pd.read_csv(where / "results" / "fit-bootstrap" / "fit.csv").iloc[0]
    prof = pd.read_csv(profile_fit / "fit.csv").iloc[0]
    assert boot["ci_low"] < TRUE < boot["ci_high"] and not boot["ci_open"]
    widths = [math.log(r["ci_high"] / r["ci_low"]) for r in (boot, prof)]
    print(f"bootstrap {boot['ci_low']:.4f}-{boot['ci_high']:.4f}, profile "
          f"{prof['ci_low']:.4f}-{prof['ci_high']:.4f}, log widths {widths}")  # fmt: skip
    assert 0.5 < widths[0] / widths[1] < 2.0
    record = json.loads((where / "results" / "fit-bootstrap" / "fit.json").read_text())
    estimates = record["bootstrap"]["model.ERp44_expression"]
    assert len(estimates) == 30 and record["interval"].startswith("bootstrap")
    # --petab wrote exactly what export-petab writes
    with pytest.raises(SystemExit) as exc:
        main(["export-petab", "tests/data/power_null.yaml", "data.csv", "--free", FREE,
              "--out", str(tmp_path / "pe")])  # fmt: skip
    assert exc.value.code == 0
    for f in (tmp_path / "pe").iterdir():
        assert f.read_bytes() == (where / "results" / "petab" / f.name).read_bytes(), f.name
    # Resample b depends on neither N nor the engine: 10 resamples on the processes engine
    # are the first 10 of the serial run, bit for bit, and so are their intervals.
    out = tmp_path / "proc"
    with pytest.raises(SystemExit) as exc:
        main(["fit", "tests/data/power_null.yaml", "data.csv", "--free", FREE, "--starts", "2",
              "--intervals", "bootstrap", "--bootstrap", "10", "--engine", "processes",
              "--out", str(out)])  # fmt: skip
    assert exc.value.code == 0
    proc = json.loads((out / "fit.json").read_text())
    assert proc["bootstrap"]["model.ERp44_expression"] == estimates[:10]
    serial = 10.0 ** np.percentile(np.log10(estimates[:10]), [2.5, 97.5])
    # the estimates are equal bit for bit; the percentile arithmetic is compared to 1e-12
    np.testing.assert_allclose(proc["intervals"]["model.ERp44_expression"], serial, rtol=1e-12)


def _edit(path: Path, tmp_path: Path, change) -> Path:
    new = tmp_path / "bad.csv"
    change(pd.read_csv(path)).to_csv(new, index=False)
    return new


@pytest.mark.parametrize("free, change, field, extra", [
    (FREE, lambda d: d.drop(columns="value"), "value", []),
    (FREE, lambda d: d.assign(group="nope"), "'nope'", []),
    (FREE, lambda d: d.assign(readout="OD450"), "OD450", []),
    (FREE, lambda d: d.assign(value=-1.0), "positive", []),
    ("model.ERp44_expression=1:1", None, "--free", []),
    ("model.ERp44_expression=0:1", None, "--free", []),
    ("model.nope=0.1:1", None, "model.nope", []),
    (FREE, None, "--intervals", ["--intervals", "jackknife"]),
    (FREE, None, "--bootstrap", ["--intervals", "bootstrap", "--bootstrap", "5"]),
    (FREE, lambda d: d.assign(readout="cells_counted"), "cells_counted", ["--petab", "pe"]),
])  # fmt: skip
def test_fit_bad_input_is_one_line_and_writes_nothing(synthetic, tmp_path, capsys, monkeypatch,
                                                      free, change, field, extra):  # fmt: skip
    data = synthetic if change is None else _edit(synthetic, tmp_path, change)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "f"
    with pytest.raises(SystemExit) as exc:
        main(["fit", str(NULL), str(data), "--free", free, "--out", str(out), *extra])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and field in err and "\n" not in err
    assert not out.exists() and not (tmp_path / "pe").exists()
