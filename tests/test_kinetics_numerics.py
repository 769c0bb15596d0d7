"""Numerical checks of the kinetics engine against analytic solutions and invariants."""

import numpy as np
import pytest

from exotwin.kinetics import simulate
from helpers import sbml_from_antimony

DECAY = sbml_from_antimony(
    """
    model decay
      compartment cell = 1
      species A in cell = 10; species B in cell = 0
      J1: A -> B; k * A
      k = 0.7
    end
    """
)

REVERSIBLE = sbml_from_antimony(
    """
    model rev
      compartment cell = 2
      species A in cell = 3; species B in cell = 1; species C in cell = 0
      J1: A -> B; kf * A
      J2: B -> A; kr * B
      J3: A + B -> C; k3 * A * B
      J4: C -> A + B; k4 * C
      kf = 2; kr = 0.5; k3 = 1.3; k4 = 0.2
    end
    """
)

# Robertson's stiff chemical kinetics (Hairer & Wanner, Solving ODEs II, section IV.1).
ROBERTSON = sbml_from_antimony(
    """
    model robertson
      compartment cell = 1
      species y1 in cell = 1; species y2 in cell = 0; species y3 in cell = 0
      J1: y1 -> y2; 0.04 * y1
      J2: 2 y2 -> y2 + y3; 3e7 * y2 ^ 2
      J3: y2 + y3 -> y1 + y3; 1e4 * y2 * y3
    end
    """
)

FORCED = sbml_from_antimony(
    """
    model forced
      x' = -x + sin(time)
      x = 1
    end
    """
)


def test_first_order_decay_matches_exponential_in_every_cell():
    k = np.linspace(0.05, 3.0, 64)
    t = np.linspace(0, 5, 21)
    ds = simulate(DECAY, t, n_cells=64, parameters={"k": k}, rtol=1e-8, atol=1e-12)
    exact = 10 * np.exp(-np.outer(k, t))
    np.testing.assert_allclose(ds["A"].values, exact, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(ds["A"].values + ds["B"].values, 10.0, rtol=1e-12)


def test_time_dependent_forcing_matches_analytic_solution():
    t = np.linspace(0, 10, 41)
    ds = simulate(FORCED, t, rtol=1e-9, atol=1e-12)
    exact = 1.5 * np.exp(-t) + 0.5 * (np.sin(t) - np.cos(t))
    np.testing.assert_allclose(ds["x"].values[0], exact, rtol=1e-6, atol=1e-9)


def test_mass_is_conserved_to_round_off():
    t = np.linspace(0, 20, 41)
    rng = np.random.default_rng(0)
    params = {"kf": rng.uniform(0.1, 5, 32), "k3": rng.uniform(0.1, 5, 32)}
    ds = simulate(REVERSIBLE, t, n_cells=32, parameters=params, rtol=1e-6, atol=1e-10)
    total = ds["A"] + ds["B"] + 2 * ds["C"]
    np.testing.assert_allclose(total.values, 4.0, rtol=1e-9)


def test_stiff_robertson_reference_values():
    # reference at t = 40 from Hairer & Wanner (RADAU5 at tight tolerance)
    ds = simulate(ROBERTSON, [0.0, 40.0], rtol=1e-10, atol=1e-16)
    got = [ds[s].values[0, -1] for s in ("y1", "y2", "y3")]
    np.testing.assert_allclose(
        got, [0.7158270687, 9.185534764e-6, 0.2841637457], rtol=1e-7
    )
    # stiffness costs a stiff solver nothing: at rtol 1e-6 a few hundred steps suffice,
    # where an explicit method is bound by stability (h < ~1e-3 near y2's time scale)
    loose = simulate(ROBERTSON, [0.0, 40.0], rtol=1e-6, atol=1e-12)
    assert loose.attrs["steps"] < 1000, loose.attrs["steps"]
    np.testing.assert_allclose(loose["y1"].values[0, -1], 0.7158270687, rtol=1e-5)


@pytest.mark.parametrize("h", [0.5])
def test_fixed_step_error_shrinks_at_fourth_order(h):
    # Disable error control (huge atol) and cap the step: error(h) / error(h/2) -> 2**4.
    t = np.linspace(0, 8, 5)
    exact = 1.5 * np.exp(-t[-1]) + 0.5 * (np.sin(t[-1]) - np.cos(t[-1]))
    errors = []
    for step in (h, h / 2, h / 4):
        ds = simulate(FORCED, t, rtol=0.5, atol=1e30, max_step=step)
        errors.append(abs(ds["x"].values[0, -1] - exact))
    ratios = [errors[0] / errors[1], errors[1] / errors[2]]
    assert all(10 < r < 24 for r in ratios), (errors, ratios)


def test_tolerance_refinement_converges():
    exact = 10 * np.exp(-0.7 * 5)
    errs = [
        abs(simulate(DECAY, [0, 5], rtol=r, atol=r * 1e-3)["A"].values[0, -1] - exact)
        for r in (1e-4, 1e-6, 1e-8)
    ]
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 1e-6


def test_thread_count_does_not_change_results():
    rng = np.random.default_rng(1)
    n = 200
    params = {"kf": rng.uniform(0.1, 5, n), "kr": rng.uniform(0.1, 5, n)}
    t = np.linspace(0, 10, 11)
    one = simulate(REVERSIBLE, t, n_cells=n, parameters=params, threads=1)
    two = simulate(REVERSIBLE, t, n_cells=n, parameters=params, threads=2)
    for var in one.data_vars:
        np.testing.assert_array_equal(one[var].values, two[var].values)


def test_a_cell_in_a_batch_equals_the_same_cell_alone():
    rng = np.random.default_rng(2)
    n = 50
    kf = rng.uniform(0.1, 5, n)
    t = np.linspace(0, 10, 6)
    batch = simulate(REVERSIBLE, t, n_cells=n, parameters={"kf": kf})
    alone = simulate(REVERSIBLE, t, parameters={"kf": kf[17]})
    np.testing.assert_array_equal(batch["C"].values[17], alone["C"].values[0])


def test_initial_values_per_cell_and_initial_assignment_override():
    model = sbml_from_antimony(
        """
        model ia
          compartment cell = 1
          species A in cell; species B in cell = 0
          A = 2 * a0
          a0 = 3
          J1: A -> B; k * A
          k = 1
        end
        """
    )
    ds = simulate(model, [0, 1], n_cells=3, parameters={"a0": [1.0, 2.0, 3.0]})
    np.testing.assert_allclose(ds["A"].values[:, 0], [2.0, 4.0, 6.0])
    ds = simulate(model, [0, 1], n_cells=2, initial={"A": [5.0, 7.0]})
    np.testing.assert_allclose(ds["A"].values[:, 0], [5.0, 7.0])
    np.testing.assert_allclose(ds["A"].values[:, 1], np.array([5.0, 7.0]) * np.exp(-1), rtol=1e-5)


def test_infinite_jacobian_at_zero_is_repaired_not_fatal():
    # dA/dt = k0 - A^0.5 from A = 0: d(A^0.5)/dA is infinite at 0 (as for a Hill
    # coefficient below 1). The steady state is A = k0^2.
    model = sbml_from_antimony(
        """
        model sqrt_sink
          compartment cell = 1
          species A in cell = 0
          J1: -> A; k0
          J2: A -> ; A ^ h
          k0 = 0.5; h = 0.5
        end
        """
    )
    ds = simulate(model, [0.0, 1.0, 60.0], n_cells=3, parameters={"h": [0.5, 0.8, 0.95]})
    np.testing.assert_allclose(ds["A"].values[:, -1], 0.5 ** (1 / np.array([0.5, 0.8, 0.95])),
                               rtol=1e-4)  # fmt: skip
    assert ds.attrs["steps"] < 3 * 300
