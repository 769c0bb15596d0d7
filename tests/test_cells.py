"""Cell populations: fate statistics against analytic hazards, reproducibility."""

import numpy as np
from scipy import stats

from exotwin.cells import FATES, new_population, step
from exotwin.cells.population import ALIVE, EARLY_APOPTOTIC, PYROPTOTIC
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


def test_death_and_division_follow_the_hazards():
    n0 = 4000
    pop = new_population(CONSTANT, n0, seed=11, parameters={"div": 0.0})
    pop = run(pop, 10.0)
    died = np.isin(pop.fate, (EARLY_APOPTOTIC, PYROPTOTIC)) | (pop.fate > ALIVE)
    p_dead = 1 - np.exp(-(0.02 + 0.01) * 10.0)
    assert stats.binomtest(int(died.sum()), n0, p_dead).pvalue > 1e-3
    assert pop.count(PYROPTOTIC) > 0 and pop.count(EARLY_APOPTOTIC) > 0
    # division only: expected size n0 * exp(r t)
    growing = run(new_population(CONSTANT, 2000, seed=3, parameters={"apo": 0.0, "pyro": 0.0}),
                  12.0)  # fmt: skip
    expected = 2000 * np.exp(0.03 * 12.0)
    assert abs(growing.n - expected) < 4 * np.sqrt(expected)
    assert growing.count(ALIVE) == growing.n


def test_cell_accounting_and_intracellular_state():
    pop = run(new_population(CONSTANT, 500, seed=5), 8.0)
    assert pop.n == 500 + (pop.next_id - 500)
    assert len(np.unique(pop.ids)) == pop.n
    assert sum(pop.count(f) for f in FATES) == pop.n
    alive = pop.fate == ALIVE
    born_at = pop.birth_time[alive]
    # X decays from 1 in every lineage: daughters inherit their mother's state
    np.testing.assert_allclose(pop.value("X")[alive], np.exp(-0.1 * 8.0), rtol=1e-4)
    assert born_at.max() > 0


def test_same_seed_same_cells_for_any_thread_count():
    a = run(new_population(CONSTANT, 300, seed=9, variation_cv=0.2), 6.0, threads=1)
    b = run(new_population(CONSTANT, 300, seed=9, variation_cv=0.2), 6.0, threads=2)
    np.testing.assert_array_equal(a.ids, b.ids)
    np.testing.assert_array_equal(a.fate, b.fate)
    np.testing.assert_array_equal(a.states, b.states)
    c = run(new_population(CONSTANT, 300, seed=10, variation_cv=0.2), 6.0)
    assert not np.array_equal(a.fate, c.fate) or a.n != c.n


def test_cell_variation_is_lognormal_per_cell():
    pop = new_population(CONSTANT, 5000, seed=2, variation_cv=0.25)
    k = pop.params["k_deg"]
    assert abs(k.mean() / 0.1 - 1) < 0.02 and abs(k.std() / k.mean() - 0.25) < 0.02
