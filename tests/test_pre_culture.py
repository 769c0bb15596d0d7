"""Pre-culture of the cells before an experiment: maintained line, then transfection lead.

Checked against the analytic relaxation of a knockdown's mRNA (first order at
``k_mrna_deg + k_dil``), a steady state that a further integration leaves unchanged, and
the schema's handling of ``since``.
"""

import math

import numpy as np
import pytest

from exotwin.cells import equilibrate, new_population
from exotwin.cells.lines import cell_line_parameters
from exotwin.errors import ExotwinError
from exotwin.kinetics import simulate
from exotwin.protocols import schema as S
from exotwin.protocols.run import _group_parameters, pre_culture

LINE = cell_line_parameters("CNE2", "tumour_cell")


def _group(*treatments):
    return S.Group(label="g", treatments=list(treatments))


def _cells(group, n=3, cv=0.0):
    params = _group_parameters(LINE, group)
    pop = new_population("tumour_cell", n, seed=4, parameters=params, variation_cv=cv)
    return pre_culture(pop, LINE, group)


def _param(pop, suffix):
    key = next(k for k in pop.params if k == suffix or k.endswith("_" + suffix))
    return float(pop.params[key][0])


def _kd(**extra):
    return S.Knockdown(type="knockdown", gene="ERp44", efficiency=0.75, **extra)


@pytest.mark.parametrize("since", ["24 h", "48 h", "3 d"])
def test_a_transfection_lead_relaxes_the_mrna_as_first_order_kinetics(since):
    nc = _cells(_group())
    kd = _cells(_group(_kd(since=since)))
    lead = {"24 h": 24.0, "48 h": 48.0, "3 d": 72.0}[since]
    k = _param(kd, "k_mrna_deg") + _param(kd, "k_dil")
    expected = 0.25 + 0.75 * math.exp(-k * lead)
    ratio = kd.value("ERp44_mRNA") / nc.value("ERp44_mRNA")
    np.testing.assert_allclose(ratio, expected, rtol=2e-3)


def test_a_stable_line_starts_at_its_own_steady_state():
    kd = _cells(_group(_kd(since="stable")), cv=0.2)
    names = kd.state_names()
    later = simulate(kd.model, [0.0, 200.0], n_cells=kd.n, parameters=kd.params,
                     initial={s: kd.states[:, j] for j, s in enumerate(names)},
                     variables=names).isel(time=-1)  # fmt: skip
    after = np.stack([later[s].values for s in names], axis=1)
    np.testing.assert_allclose(after, kd.states, rtol=1e-4, atol=1e-9)
    nc = _cells(_group(), cv=0.2)
    ratio = kd.value("ERp44_mRNA") / nc.value("ERp44_mRNA")
    np.testing.assert_allclose(ratio, 0.25, rtol=2e-3)


def test_default_lead_is_declared_and_knockdown_deepens_with_it():
    assert _kd().since == S.TRANSFECTION_LEAD
    protein = [float(_cells(_group(_kd(since=s))).value("ERp44")[0])
               for s in ["0 h", "24 h", "48 h", "stable"]]  # fmt: skip
    assert protein[0] > protein[1] > protein[2] > protein[3]
    untreated = float(_cells(_group()).value("ERp44")[0])
    assert protein[0] == pytest.approx(untreated, rel=1e-9)  # no lead: t = 0 is transfection


def test_equilibrate_keeps_parameters_and_ignores_zero_hours():
    pop = new_population("tumour_cell", 2, seed=1, parameters={"ERp44_expression": 0.5})
    assert equilibrate(pop, 0.0) is pop
    moved = equilibrate(pop, 100.0, parameters={"ERp44_expression": 2.0})
    np.testing.assert_array_equal(moved.params["ERp44_expression"], [0.5, 0.5])
    assert (moved.value("ERp44_mRNA") > 1.5).all()
    with pytest.raises(ValueError):
        equilibrate(pop, -1.0)


@pytest.mark.parametrize("since, reason", [("-4 h", "must not be negative"),
                                           ("soon", "as a number with a unit"),
                                           ("4 kg", "expected a time unit")])  # fmt: skip
def test_a_bad_lead_is_one_error_naming_the_field(tmp_path, since, reason):
    text = (
        "id: t\ntitle: t\nmodel: tumour_cell\ncell_line: CNE2\nplate: 96-well\n"
        "cells_per_well: 5000\nagents_per_well: 4\nreplicates: 2\nduration: 24 h\n"
        "groups:\n  - label: kd\n    treatments:\n"
        f"      - {{type: knockdown, gene: ERp44, efficiency: 0.5, since: {since}}}\n"
        "assays:\n  - {type: cck8, times: [24 h]}\n"
    )
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(ExotwinError) as err:
        S.load(path)
    assert "groups.0.treatments.0.since" in str(err.value) and reason in str(err.value)
