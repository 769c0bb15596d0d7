"""Built-in models agree with libRoadRunner (CVODE) within rtol 1e-4, cell by cell."""

import numpy as np
import pytest

from exotwin import models
from exotwin.kinetics import compile_model, simulate

roadrunner = pytest.importorskip("roadrunner")

MODEL_NAMES = [m.name for m in models.list_models()]
RTOL = 1e-4


def reference(sbml: str, times: np.ndarray, species: list[str], values: dict) -> np.ndarray:
    rr = roadrunner.RoadRunner(sbml)
    rr.integrator.relative_tolerance = 1e-10
    rr.integrator.absolute_tolerance = 1e-14
    rr.integrator.maximum_num_steps = 200_000
    for key, value in values.items():
        rr[key] = float(value)
    rr.reset()  # re-evaluate initial assignments with the new parameter values
    for key, value in values.items():
        rr[key] = float(value)
    result = rr.simulate(float(times[0]), float(times[-1]), len(times),
                         ["time", *[f"[{s}]" for s in species]])  # fmt: skip
    return np.asarray(result)[:, 1:]


def assert_close(got: np.ndarray, want: np.ndarray, names: list[str]) -> None:
    floor = 1e-7 * np.max(np.abs(want), axis=0, keepdims=True) + 1e-12
    err = np.abs(got - want) / (np.abs(want) + floor)
    worst = np.unravel_index(np.argmax(err), err.shape)
    assert err.max() <= RTOL, f"{names[worst[1]]} at row {worst[0]}: rel err {err.max():.2e}"


def test_there_is_a_builtin_model():
    assert MODEL_NAMES


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_builtin_model_matches_roadrunner_with_per_cell_parameters(name):
    cm = compile_model(name)
    sbml = models.to_sbml(name)
    species = list(cm.spec.species)
    params = [k for k in cm.spec.constants if cm.spec.kinds[k] == "parameter"]
    defaults = simulate(cm, [0.0], variables=params).isel(time=0)
    rng = np.random.default_rng(7)
    n_cells = 4
    # every cell gets every parameter scaled by its own lognormal factor (CV ~ 20 %)
    per_cell = {
        k: float(defaults[k].values[0]) * rng.lognormal(0.0, 0.2, n_cells) for k in params
    }
    # inputs that are off by default (drugs, exosome doses) are switched on in half the cells
    for k in params:
        if float(defaults[k].values[0]) == 0.0:
            per_cell[k] = np.where(np.arange(n_cells) % 2 == 1, rng.lognormal(np.log(10), 1.0), 0.0)
    times = np.linspace(0.0, 48.0, 49)
    ds = simulate(cm, times, n_cells=n_cells, parameters=per_cell, rtol=1e-9, atol=1e-13,
                  variables=[f"concentration({s})" for s in species])  # fmt: skip
    for c in range(n_cells):
        want = reference(sbml, times, species, {k: v[c] for k, v in per_cell.items()})
        got = np.stack([ds[f"concentration({s})"].values[c] for s in species], axis=-1)
        assert_close(got, want, species)
