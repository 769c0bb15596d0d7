"""exotwin.testing: each public check passes on sound input and fails on a broken one."""

import numpy as np
import pytest

from exotwin import testing as T
from exotwin.kinetics import simulate
from exotwin.vesicles import VesiclePool

pytest.importorskip("roadrunner")

DECAY = """<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
  <model id="decay">
    <listOfCompartments><compartment id="c" size="1" constant="true"/></listOfCompartments>
    <listOfSpecies><species id="A" compartment="c" initialConcentration="2"
      hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/></listOfSpecies>
    <listOfParameters><parameter id="k" value="0.3" constant="true"/></listOfParameters>
    <listOfReactions><reaction id="r" reversible="false">
      <listOfReactants><speciesReference species="A" stoichiometry="1" constant="true"/>
      </listOfReactants>
      <kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML">
        <apply><times/><ci>c</ci><ci>k</ci><ci>A</ci></apply></math></kineticLaw>
    </reaction></listOfReactions>
  </model>
</sbml>"""


def test_roadrunner_check_passes_per_cell_and_fails_on_a_wrong_kernel(monkeypatch):
    times = np.linspace(0, 10, 11)
    err = T.assert_matches_roadrunner(DECAY, times, parameters={"k": [0.1, 0.3, 0.9]},
                                      n_cells=3)  # fmt: skip
    assert err < 1e-6
    import exotwin.kinetics as K

    def off(*args, **kw):  # a kernel 1 % off
        ds = simulate(*args, **kw)
        return ds * 1.01

    monkeypatch.setattr(K, "simulate", off)
    with pytest.raises(AssertionError, match="A of cell .* against libRoadRunner"):
        T.assert_matches_roadrunner(DECAY, times, parameters={"k": 0.3})


def test_tolerance_convergence_and_nonnegativity_on_a_builtin_model():
    times = np.linspace(0, 24, 7)
    assert T.assert_tolerance_converged("tumour_cell", times, rtol=1e-3) < 1e-3
    with pytest.raises(AssertionError, match="differ by"):  # a tolerance too loose to agree
        T.assert_tolerance_converged(DECAY, times, loose=1e-1, tight=1e-10, rtol=1e-12)
    ds = simulate("tumour_cell", times, n_cells=2)
    assert T.assert_nonnegative(ds) >= -1e-9
    with pytest.raises(AssertionError, match="< 0"):
        T.assert_nonnegative(ds - 1.0)
    with pytest.raises(AssertionError, match="is NaN in 14 values"):  # was: passed
        T.assert_nonnegative(ds * np.nan)
    with pytest.raises(TypeError, match="got list"):  # was: AttributeError on data_vars
        T.assert_nonnegative([1.0, -1.0])


def test_vesicle_ledger_check():
    pool = VesiclePool()
    pool.add(1e9, {"ERp44": 4e9})
    pool.step(1.0, np.full(10, 60.0), {"ERp44": np.full(10, 4.0)}, np.full(10, 1e-3), 2.0, 0.01)
    pool.remove_fraction(0.5)
    assert T.assert_vesicles_conserved(pool) < 1e-12
    pool.cargo["ERp44"] *= 1.001  # a molecule account that leaks
    with pytest.raises(AssertionError, match="ERp44"):
        T.assert_vesicles_conserved(pool)


def test_reproducible_across_engines_and_a_tampered_run(monkeypatch):
    T.assert_reproducible("xia2021-fig4B", seed=3)
    import exotwin.engines.serial as B

    calls = {"n": 0}
    real = B.run_task

    def drifting(spec):  # the second run of the serial engine differs in one readout
        out = real(spec)
        calls["n"] += 1
        if calls["n"] == 2:
            out["readouts"]["columns"]["value"][0] += 1e-9
        return out

    monkeypatch.setattr(B, "run_task", drifting)
    with pytest.raises(AssertionError, match="readouts differ on engine 'serial'"):
        T.assert_reproducible("xia2021-fig4B", seed=3, engines=("serial",))


def test_docs_example_runs_as_a_plain_script(tmp_path):
    # as a user runs it: `python example.py` (the processes engine starts fresh interpreters
    # that import the script again, so it needs its `if __name__ == "__main__":` guard)
    import re
    import subprocess
    import sys
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "testing.md").read_text()
    (code,) = re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)
    (tmp_path / "example.py").write_text(code)
    import os

    import exotwin

    env = {**os.environ, "PYTHONPATH": str(Path(exotwin.__file__).parents[1])}  # this exotwin
    proc = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True,
                          text=True, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("largest relative error against libRoadRunner") == 1
