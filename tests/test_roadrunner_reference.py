"""Built-in models agree with libRoadRunner (CVODE) within rtol 1e-4, cell by cell."""

import numpy as np
import pytest

from exotwin import models
from exotwin.kinetics import compile_model, simulate
from exotwin.testing import assert_matches_roadrunner

pytest.importorskip("roadrunner")

MODEL_NAMES = [m.name for m in models.list_models()]
RTOL = 1e-4


def test_there_is_a_builtin_model():
    assert MODEL_NAMES


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_builtin_model_matches_roadrunner_with_per_cell_parameters(name):
    cm = compile_model(name)
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
    assert_matches_roadrunner(name, np.linspace(0.0, 48.0, 49), parameters=per_cell,
                              n_cells=n_cells, rtol=RTOL)  # fmt: skip
