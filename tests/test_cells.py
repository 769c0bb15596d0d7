"""Cell populations: fate statistics against analytic hazards, cohorts, reproducibility."""

import numpy as np
import pytest
from scipy import stats

from exotwin.cells import FATES, new_population, outputs, step
from exotwin.cells.population import ALIVE, EARLY_APOPTOTIC, PYROPTOTIC, REMOVED
from helpers import sbml_from_antimony

CONSTANT = sbml_from_antimony(
    """
    model constant_hazards
      compartment cell = 1
      species X in cell = 1
      J1: X -> ; k_deg * X
      k_deg = 0.1
      apo = 0.02; pyro = 0.01; div = 0.03
      apoptosis_hazard := apo
      pyroptosis_hazard := pyro
      division_rate := div
    end
    """
)


def run(pop, hours, dt=0.5, threads=None):
    for _ in range(int(round(hours / dt))):
        pop = step(pop, dt, threads=threads)
    return pop


@pytest.mark.parametrize(("agents", "per_agent"), [(4000, 1), (20, 200)])
def test_death_follows_the_hazards_for_cells_and_cohorts(agents, per_agent):
    pop = new_population(CONSTANT, agents, seed=11, cells_per_agent=per_agent,
                         parameters={"div": 0.0})  # fmt: skip
    pop = run(pop, 10.0)
    n0 = agents * per_agent
    died = n0 - pop.count(ALIVE)
    assert stats.binomtest(died, n0, 1 - np.exp(-(0.02 + 0.01) * 10.0)).pvalue > 1e-3
    # one in three deaths is pyroptotic (hazard share 0.01 / 0.03)
    pyro_share = pop.count(PYROPTOTIC) / max(1, pop.count(PYROPTOTIC) + pop.count(EARLY_APOPTOTIC)
                                               + pop.count(2))  # fmt: skip
    assert 0.2 < pyro_share < 0.5


@pytest.mark.parametrize(("agents", "per_agent"), [(2000, 1), (10, 200)])
def test_division_grows_exponentially(agents, per_agent):
    pop = new_population(CONSTANT, agents, seed=3, cells_per_agent=per_agent,
                         parameters={"apo": 0.0, "pyro": 0.0})  # fmt: skip
    pop = run(pop, 12.0)
    expected = agents * per_agent * np.exp(0.03 * 12.0)
    assert abs(pop.count(ALIVE) - expected) < 4 * np.sqrt(expected)
    assert pop.count(ALIVE) == pop.cells


def test_cell_accounting_progression_and_intracellular_state():
    pop = run(new_population(CONSTANT, 50, seed=5, cells_per_agent=20), 36.0)
    assert pop.cells == 50 * 20 + pop.births
    assert sum(pop.count(f) for f in FATES) == pop.cells
    assert pop.count(REMOVED) > 0 and (pop.counts >= 0).all()
    np.testing.assert_allclose(pop.value("X")[pop.alive], np.exp(-0.1 * 36.0), rtol=1e-4)


def test_same_seed_same_cells_for_any_thread_count():
    a = run(new_population(CONSTANT, 300, seed=9, cells_per_agent=5, variation_cv=0.2), 6.0,
            threads=1)  # fmt: skip
    b = run(new_population(CONSTANT, 300, seed=9, cells_per_agent=5, variation_cv=0.2), 6.0,
            threads=2)  # fmt: skip
    np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_array_equal(a.states, b.states)
    c = run(new_population(CONSTANT, 300, seed=10, cells_per_agent=5, variation_cv=0.2), 6.0)
    assert not np.array_equal(a.counts, c.counts)


def test_cell_variation_is_lognormal_per_agent():
    pop = new_population(CONSTANT, 5000, seed=2, variation_cv=0.25)
    k = pop.params["k_deg"]
    assert abs(k.mean() / 0.1 - 1) < 0.02 and abs(k.std() / k.mean() - 0.25) < 0.02


def test_outputs_read_rules_states_and_parameters_per_agent():
    pop = new_population(CONSTANT, 6, seed=1, parameters={"k_deg": np.linspace(0.1, 0.6, 6)})
    pop = step(pop, 2.0)
    got = outputs(pop, ["X", "apoptosis_hazard", "k_deg"])
    assert all(v.shape == (6,) for v in got.values())
    np.testing.assert_allclose(got["X"], np.exp(-np.linspace(0.1, 0.6, 6) * 2.0), rtol=1e-4)
    np.testing.assert_allclose(got["apoptosis_hazard"], 0.02)
    np.testing.assert_allclose(got["k_deg"], np.linspace(0.1, 0.6, 6))
