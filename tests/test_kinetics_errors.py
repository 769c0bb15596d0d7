"""Unsupported SBML and bad input give one-line errors naming element and reason."""

import subprocess
import sys

import numpy as np
import pytest

from exotwin.errors import ExotwinError
from exotwin.kinetics import simulate
from helpers import sbml_from_antimony

EVENT = sbml_from_antimony(
    """
    model ev
      species A = 1
      A' = -A
      E1: at time > 1: A = 5
    end
    """
)
ALGEBRAIC = sbml_from_antimony(
    """
    model alg
      species A = 1
      A' = -A
      var B = 0
    end
    """
).replace(
    "</listOfRules>",
    '<algebraicRule><math xmlns="http://www.w3.org/1998/Math/MathML">'
    "<apply><minus/><ci> B </ci><ci> A </ci></apply></math></algebraicRule></listOfRules>",
)
DELAY = sbml_from_antimony(
    """
    model dl
      species A = 1; species B = 0
      A' = -A
      B' = delay(A, 0.5)
    end
    """
)
SIMPLE = sbml_from_antimony(
    """
    model simple
      compartment cell = 1
      species A in cell = 1
      J1: A -> ; k * A
      k = 1
      r := 2 * A
    end
    """
)


def one_line(err: Exception) -> str:
    text = str(err)
    assert "\n" not in text
    return text


def test_events_are_refused_with_their_id():
    with pytest.raises(ExotwinError) as info:
        simulate(EVENT, [0, 1])
    assert "event 'E1'" in one_line(info.value) and "not supported" in str(info.value)


def test_algebraic_rules_are_refused():
    with pytest.raises(ExotwinError, match="algebraic rule"):
        simulate(ALGEBRAIC, [0, 1])


def test_delay_is_refused_naming_the_rule():
    with pytest.raises(ExotwinError) as info:
        simulate(DELAY, [0, 1])
    assert "rate rule for 'B'" in one_line(info.value) and "delay" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"parameters": {"nope": 1.0}}, "unknown id"),
        ({"parameters": {"k": np.ones(3)}}, "shape"),
        ({"parameters": {"A": 1.0}}, "initial"),
        ({"initial": {"k": 1.0}}, "parameters"),
        ({"parameters": {"r": 1.0}}, "assignment rule"),
        ({"variables": ["zzz"]}, "unknown variable"),
        ({"parameters": {"k": np.nan}}, "finite"),
        ({"parameters": {"k": [1.0, np.inf]}}, "finite"),
        ({"initial": {"A": np.array([np.nan, 1.0])}}, "finite"),
        ({"parameters": {"k": "5 uM"}}, "number"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ExotwinError, match=message) as info:
        simulate(SIMPLE, [0, 1], n_cells=2, **kwargs)
    one_line(info.value)


@pytest.mark.parametrize("times", [[], [1.0, 0.5], [0.0, np.nan]])
def test_bad_times(times):
    with pytest.raises(ExotwinError, match="times"):
        simulate(SIMPLE, times)


def test_malformed_missing_and_unknown_models(tmp_path):
    bad = tmp_path / "bad.xml"
    bad.write_text("<sbml><model><listOfSpecies><species id='A'</model>")
    with pytest.raises(ExotwinError, match="bad.xml") as info:
        simulate(bad, [0, 1])
    one_line(info.value)
    with pytest.raises(ExotwinError, match="no such file"):
        simulate(tmp_path / "missing.xml", [0, 1])
    with pytest.raises(ExotwinError, match="unknown model"):
        simulate("no_such_model", [0, 1])


def test_cli_refuses_events_with_exit_2(tmp_path):
    path = tmp_path / "event.xml"
    path.write_text(EVENT)
    out = tmp_path / "out.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "exotwin", "sbml", "simulate", str(path), "--start", "0",
         "--duration", "1", "--steps", "2", "--out", str(out)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "event 'E1'" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()


def test_nan_rate_at_the_start_fails_instead_of_hanging(tmp_path):
    """0/0 in a rate law at t0 made the first step NaN; the step loop never ended."""
    path = tmp_path / "nan.xml"
    path.write_text(
        sbml_from_antimony(
            """
            model nanrate
              species A = 1
              J1: A -> ; k / (A - 1)
              k = 0
            end
            """
        )
    )
    code = (
        "from exotwin.errors import ExotwinError\n"
        "from exotwin.kinetics import simulate\n"
        f"try:\n    simulate({str(path)!r}, [0.0, 1.0])\n"
        "except ExotwinError as e:\n    print(e)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=240)  # fmt: skip
    assert "integration failed" in proc.stdout, proc.stderr[-500:]
