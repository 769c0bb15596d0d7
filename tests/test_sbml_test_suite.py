"""Every case of the shared SBML Test Suite subset, judged by the suite's own rule."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import SHARED
from exotwin.sbml import time_course

CASES = SHARED / "sbml-test-suite" / "cases"
CASE_IDS = sorted(p.name for p in CASES.iterdir()) if CASES.is_dir() else []


def read_settings(case: Path) -> dict:
    out = {}
    for line in (case / f"{case.name}-settings.txt").read_text().splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            out[key.strip()] = value.strip()
    return out


def names(settings: dict, key: str) -> list[str]:
    return [v.strip() for v in settings.get(key, "").split(",") if v.strip()]


def test_suite_is_present():
    assert len(CASE_IDS) >= 400, f"SBML Test Suite cases not found under {CASES}"


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_case(case_id):
    case = CASES / case_id
    s = read_settings(case)
    got = time_course(
        case / f"{case_id}-sbml-l3v2.xml",
        start=float(s["start"]),
        duration=float(s["duration"]),
        steps=int(s["steps"]),
        variables=names(s, "variables"),
        amount=names(s, "amount"),
        concentration=names(s, "concentration"),
    )
    expected = pd.read_csv(case / f"{case_id}-results.csv")
    expected.columns = [c.strip() for c in expected.columns]
    expected = expected.rename(columns={"Time": "time"})
    assert len(got) == len(expected)
    absolute, relative = float(s["absolute"]), float(s["relative"])
    for column in expected.columns:
        e = expected[column].to_numpy(float)
        a = got[column].to_numpy(float)
        both_nan = np.isnan(e) & np.isnan(a)
        same_inf = np.isinf(e) & (e == a)
        with np.errstate(invalid="ignore"):
            ok = (np.abs(e - a) <= absolute + relative * np.abs(e)) | both_nan | same_inf
        bad = np.flatnonzero(~ok)
        assert ok.all(), f"{column}: row {bad[:1]}: got {a[bad[:1]]}, expected {e[bad[:1]]}"
