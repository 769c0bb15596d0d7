"""Cell <-> field coupling through the tumour_cell model: conservation, wiring, resume, threads."""

from __future__ import annotations

from pathlib import Path

import numba
import numpy as np
import pytest
import yaml

from exotwin import ExotwinError
from exotwin.kinetics import simulate
from exotwin.tissue import checkpoint as ck
from exotwin.tissue import coupling as cp
from exotwin.tissue.diffusion import total
from exotwin.tissue.scenario import load_scenario, run, run_with_ledger

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "tissue_exosomes.yaml"


def small(**changes):
    """The shipped example on a smaller grid with fewer cells (same maps and model)."""
    data = yaml.safe_load(EXAMPLE.read_text())
    data["grid"]["shape"] = [16, 16]
    data["cells"]["count"] = 24
    data["cells"]["spread_um"] = 50.0
    data.update(changes)
    return load_scenario(data)


pytestmark = pytest.mark.usefixtures("one_numba_thread")


def test_example_loads_and_maps_are_checked():
    cfg = load_scenario(EXAMPLE)
    assert [s.name for s in cfg.substance_list()] == ["oxygen", "exo_ERp44"]
    data = yaml.safe_load(EXAMPLE.read_text())
    data["substances"][1]["secretion"]["output"] = "no_such_output"
    with pytest.raises(ExotwinError) as err:
        load_scenario(data)
    assert err.value.field == "substances.1.secretion.output"
    data = yaml.safe_load(EXAMPLE.read_text())
    del data["intracellular"]
    with pytest.raises(ExotwinError, match="intracellular"):
        load_scenario(data)
    data = yaml.safe_load(EXAMPLE.read_text())
    data["substances"][1]["uptake"]["unit"] = "per_fortnight"
    with pytest.raises(ExotwinError) as err:
        load_scenario(data)
    assert err.value.field.startswith("substances.1.uptake.unit")


def test_secreted_equals_field_plus_uptake_plus_decay_plus_boundary():
    """Over each phenotype interval, the cells' own secretion and uptake close the ledger."""
    cfg = small()
    d = cp.depth(cfg.grid_())
    start = None
    for end in (6.0, 12.0):
        before = run(cfg, end - 6.0) if start is None else start
        state, lg = run_with_ledger(cfg, end, resume_from=before)
        secreted = state.cell_data["secretion"].sum(axis=0) * 6.0  # set at the interval start
        taken = state.cell_data["uptaken"].sum(axis=0)
        change = (total(state.fields, cfg.grid_()) - total(before.fields, cfg.grid_())) * d
        exo = 1
        assert secreted[exo] > 0 and taken[exo] > 0
        assert secreted[exo] == pytest.approx(lg.secreted[exo] * d, rel=1e-9)
        assert taken[exo] == pytest.approx(lg.uptaken[exo] * d, rel=1e-9)
        closing = secreted - change - taken - lg.decayed * d + lg.boundary_inflow * d
        assert abs(closing[exo]) <= 1e-9 * secreted[exo]
        assert lg.boundary_inflow[exo] == 0.0  # zero-flux faces
        # oxygen feeds no model input: its uptake is the ledger's only
        assert taken[0] == 0.0
        oxygen = lg.boundary_inflow[0] - lg.decayed[0] - lg.uptaken[0]
        assert abs(oxygen - change[0] / d) <= 1e-9 * lg.boundary_inflow[0]
        start = state


def test_uptake_sets_the_model_input():
    """A cell's state after a step is the model run with the uptake it had as input."""
    cfg = small()
    mid = run(cfg, 6.0)
    end = run(cfg, 12.0, resume_from=mid)
    cm = cp.compiled(cfg)
    names = [s.id for s in cm.spec.states]
    cell = int(np.argmax(mid.cell_data["uptaken"][:, 1]))
    rate = mid.cell_data["uptaken"][cell, 1] / 6.0 * 60.0  # molecules per cell per h
    assert rate > 0

    def alone(uptake):
        ds = simulate(cm, [0.1, 0.15, 0.2], parameters={"tunicamycin_uM": 1.5,
                                                         "exo_ERp44_uptake_rate": uptake},
                      initial={s: mid.cell_data["kinetic_state"][cell, k]
                               for k, s in enumerate(names)}, variables=names)
        return np.array([ds[s].values[0, -1] for s in names])

    got = end.cell_data["kinetic_state"][cell]
    assert np.array_equal(got, alone(rate))
    assert not np.array_equal(got, alone(0.0))  # the input matters


def test_resumed_run_and_two_threads_equal_uninterrupted(tmp_path):
    cfg = small(seed=5)
    whole = run(cfg, 18.0)
    run(cfg, 9.0, checkpoint_every=9.0, checkpoint=tmp_path / "c.npz")
    resumed = run(cfg, 18.0, resume_from=tmp_path / "c.npz")
    for a, b in ((whole, resumed),):
        assert a.cell_data.keys() == b.cell_data.keys() == {"kinetic_state", "secretion",
                                                             "uptaken"}
        for k in a.cell_data:
            assert np.array_equal(a.cell_data[k], b.cell_data[k])
        assert np.array_equal(a.fields, b.fields)
        assert np.array_equal(a.agents.positions, b.agents.positions)
    if numba.config.NUMBA_NUM_THREADS >= 2:
        numba.set_num_threads(2)
        two = run(cfg, 18.0)
        for k in whole.cell_data:
            assert np.array_equal(whole.cell_data[k], two.cell_data[k])
        assert np.array_equal(whole.fields, two.fields)


def test_checkpoint_holds_cell_data(tmp_path):
    cfg = small()
    state = run(cfg, 6.0)
    back = ck.load(ck.save(tmp_path / "s.npz", state))
    assert back.cell_data.keys() == state.cell_data.keys()
    for k, v in state.cell_data.items():
        assert np.array_equal(back.cell_data[k], v)
        assert v.shape[0] == state.agents.n
