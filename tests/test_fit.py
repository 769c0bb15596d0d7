"""Calibration recovers a known model parameter from noisy synthetic data made by the twin."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exotwin.cli import main
from exotwin.engines import result_frame, run_task, task
from exotwin.power import load_protocol

NULL = Path(__file__).parent / "data" / "power_null.yaml"
TRUE = 0.4  # model.ERp44_expression of the synthetic data
FREE = "model.ERp44_expression=0.05:5"


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    """ERp44/GAPDH westerns at ERp44_expression = TRUE: 4 replicates, another seed than the
    fit's, times 10 % log-normal measurement noise from a seeded generator."""
    spec = load_protocol(NULL).model_dump(by_alias=True)
    spec["replicates"] = 4
    res = run_task(task("data", spec, 7, {"model.ERp44_expression": TRUE}))
    frame = result_frame(res["readouts"])
    rng = np.random.default_rng(3)
    frame["value"] *= np.exp(rng.normal(0.0, 0.1, len(frame)))
    path = tmp_path_factory.mktemp("fit") / "data.csv"
    frame.to_csv(path, index=False)
    return path


def test_fit_recovers_the_parameter(synthetic, tmp_path, capsys):
    out = tmp_path / "fit"
    with pytest.raises(SystemExit) as exc:
        main(["fit", str(NULL), str(synthetic), "--free", FREE, "--starts", "3",
              "--out", str(out)])  # fmt: skip
    assert exc.value.code == 0
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
    assert "chi2: " in capsys.readouterr().out


def _edit(path: Path, tmp_path: Path, change) -> Path:
    new = tmp_path / "bad.csv"
    change(pd.read_csv(path)).to_csv(new, index=False)
    return new


@pytest.mark.parametrize("free, change, field", [
    (FREE, lambda d: d.drop(columns="value"), "value"),
    (FREE, lambda d: d.assign(group="nope"), "'nope'"),
    (FREE, lambda d: d.assign(readout="OD450"), "OD450"),
    (FREE, lambda d: d.assign(value=-1.0), "positive"),
    ("model.ERp44_expression=1:1", None, "--free"),
    ("model.ERp44_expression=0:1", None, "--free"),
    ("model.nope=0.1:1", None, "model.nope"),
])  # fmt: skip
def test_fit_bad_input_is_one_line_and_writes_nothing(synthetic, tmp_path, capsys, free,
                                                      change, field):  # fmt: skip
    data = synthetic if change is None else _edit(synthetic, tmp_path, change)
    out = tmp_path / "f"
    with pytest.raises(SystemExit) as exc:
        main(["fit", str(NULL), str(data), "--free", free, "--out", str(out)])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and field in err and "\n" not in err
    assert not out.exists()
