"""Endothelial assays: analytic checks of each physical model and the image analysis."""

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.special import k0

from exotwin.assays import angiogenesis as ag
from exotwin.assays import endothelial as en
from exotwin.cells import new_population
from exotwin.culture import Well
from exotwin.protocols.measure import MEASURES, AssayContext
from exotwin.protocols.schema import Assay
from helpers import sbml_from_antimony

KEY = int(en.entity_keys(1, 7, np.array([0]))[0])


# --- scratch wound ------------------------------------------------------------------------


def test_persistent_walkers_have_the_analytic_mean_squared_displacement():
    n, v, tau, dt = 4000, 1.0, 30.0, 0.5  # um/min, min, min
    keys = np.arange(n, dtype=np.uint64) + np.uint64(KEY)
    theta = 2 * np.pi * np.linspace(0, 1, n, endpoint=False)
    xy = np.zeros((n, 2))
    msd = {}
    for step in range(1, 481):
        vel, theta = en.persistent_walk(np.full(n, v), theta, tau, dt, 3, keys, step)
        xy += dt * vel
        if step % 120 == 0:
            msd[step * dt] = float((xy**2).sum(axis=1).mean())
    for t, m in msd.items():
        exact = 2 * v**2 * tau**2 * (t / tau - 1 + np.exp(-t / tau))
        # long-time D = v^2 tau / 2 in 2D; the sample mean has a few % error
        assert m == pytest.approx(exact, rel=0.06), (t, m, exact)


@pytest.fixture(scope="module")
def scratch():
    p = en.ScratchParameters()
    n = en.monolayer(500.0, p).shape[0]

    def run(speed, division, seed=5, params=p, times=(0.0, 12.0, 24.0)):
        areas, _ = en.scratch_simulation(np.full(n, speed), np.full(n, division), 500.0,
                                         list(times), seed, KEY, params)  # fmt: skip
        return en.closure_percent(areas)

    return run


def test_a_wound_of_immobile_cells_that_do_not_divide_stays_open(scratch):
    exact = replace(en.ScratchParameters(), segmentation_cv=0.0)
    np.testing.assert_array_equal(scratch(0.0, 0.0, params=exact), 0.0)


def test_the_initial_wound_is_the_scratch():
    p = en.ScratchParameters()
    zero = np.zeros(en.monolayer(500.0, p).shape[0])
    areas, images = en.scratch_simulation(zero, zero, 500.0, [0.0, 1.0], 5, KEY, p)
    width = areas[0] / p.field_length_um
    assert 500.0 <= width <= 500.0 + p.spacing_um  # the sheet edge lies on a lattice column
    assert images[0].shape == (p.field_width_um / p.pixel_um, p.field_length_um / p.pixel_um)


def test_wound_closure_rises_with_speed_and_division(scratch):
    slow, fast = scratch(15.0, 0.0), scratch(60.0, 0.0)
    assert 0.0 < slow[-1] < fast[-1]
    assert scratch(15.0, 0.03)[-1] > slow[-1] + 5.0
    assert fast[1] > 0.0 and fast[-1] >= fast[1] - 2.0  # closes over time


def test_scratch_is_deterministic_and_step_converged(scratch):
    np.testing.assert_array_equal(scratch(30.0, 0.02), scratch(30.0, 0.02))
    # mean closure at 8 h over seeds (SD between seeds ~3 %) does not move with the step
    fine = replace(en.ScratchParameters(), dt_min=1.0)
    coarse = np.mean([scratch(30.0, 0.0, seed=s, times=(0, 8))[-1] for s in range(4)])
    finer = np.mean([scratch(30.0, 0.0, seed=s, params=fine, times=(0, 8))[-1] for s in range(4)])
    assert abs(coarse - finer) < 3.0, (coarse, finer)


# --- transwell ----------------------------------------------------------------------------


def test_transwell_counts_follow_the_crossing_probability():
    p = en.TranswellParameters()
    speed, weights = np.array([20.0, 40.0]), np.array([3.0, 1.0])
    prob = en.crossing_probability(speed, 24.0, p)
    k = p.pore_density_per_cm2 * p.capture_width_um * 1e-8 * speed * p.transmigration
    np.testing.assert_allclose(prob, 1 - np.exp(-k * 24.0))
    counts = np.array([en.transwell_counts(prob, weights, 100_000, 5, 11, int(en.entity_keys(
        2, s, np.array([0]))[0]), p)[0] for s in range(300)])  # fmt: skip
    field = 0.145e-2 / p.insert_area_cm2  # 20x field over the insert
    expected = 100_000 * np.average(prob, weights=weights) * field
    sem = np.sqrt(expected / counts.size)  # Poisson fields, binomial total adds little
    assert abs(counts.mean() - expected) < 4 * sem, (counts.mean(), expected)
    assert en.transwell_counts(np.zeros(2), weights, 100_000, 5, 11, KEY, p)[1] == 0


# --- tube formation -----------------------------------------------------------------------

LATTICE = dict(junctions=21.0, segments=36.0, branches=0.0, meshes=16.0)  # 5 x 5 lines


def lattice(width):
    c = np.arange(50.0, 451.0, 100.0)
    lo, hi = np.full(5, 50.0), np.full(5, 450.0)
    starts = np.concatenate([np.stack([lo, c], 1), np.stack([c, lo], 1)])
    ends = np.concatenate([np.stack([hi, c], 1), np.stack([c, hi], 1)])
    return ag.draw_segments((500, 500), starts, ends, width)


@pytest.mark.parametrize("width", [1.0, 6.0])
def test_the_analyser_measures_a_square_lattice(width):
    p = replace(ag.TubeParameters(), pixel_um=1.0)
    mask = lattice(width)
    grey = np.where(mask, 0.3, 0.6) + 0.06 * np.random.default_rng(0).standard_normal(mask.shape)
    # 1-px lines are analysed as a given mask, thick ones also from a noisy grey image
    results = [ag.analyse(None, p, mask=mask)] + ([ag.analyse(grey, p)] if width > 1 else [])
    for m in results:
        assert {k: m[k] for k in LATTICE} == LATTICE
        # 10 lines of 400 px; skeletonisation trims at most a pixel at the four corners
        assert m["total tube length (um)"] == pytest.approx(4000.0, abs=8.0)


def test_the_attractant_field_of_a_point_source_is_the_bessel_kernel():
    src = np.zeros((201, 201))
    src[100, 100] = 1.0
    ell = 10.0
    c = ag.attractant(src, ell)
    r = np.arange(5, 40, 5)
    exact = k0(r / ell) / (2 * np.pi * ell**2)
    np.testing.assert_allclose(c[100, 100 + r], exact, rtol=0.02)
    assert c.sum() == pytest.approx(1.0, rel=1e-3)  # no decay lost in the padded domain


def test_tube_networks_grow_with_sprouting_activity():
    out = {}
    for s in (0.0, 0.7, 1.0, 1.5):
        net, offset, key = ag.seeded_network(np.array([s, s]), np.array([1.0, 1.0]), 15_000, 7, 3)
        out[s] = ag.analyse(ag.render(net, offset, 7, key))
    length = [out[s]["total tube length (um)"] for s in out]
    assert all(b > a for a, b in zip(length, length[1:], strict=False))
    assert out[0.0]["meshes"] == 0 and out[1.5]["meshes"] > out[1.0]["meshes"] > 0
    assert out[1.5]["junctions"] > out[0.7]["junctions"]


# --- FITC-dextran -------------------------------------------------------------------------


def test_two_compartment_solution_is_exact_and_conserves_dextran():
    p = en.DextranParameters()
    perm, c0, t = 3e-6, 1000.0, 3600.0
    a = p.insert_area_cm2

    def rhs(_, c):
        flux = perm * a * (c[0] - c[1])
        return [-flux / p.upper_ml, flux / p.lower_ml]

    sol = solve_ivp(rhs, (0, t), [c0, 0.0], rtol=1e-10, atol=1e-12)
    c_low = en.lower_concentration(c0, perm, t, p)
    assert c_low == pytest.approx(sol.y[1, -1], rel=1e-6)
    c_up = sol.y[0, -1]
    assert c_up * p.upper_ml + c_low * p.lower_ml == pytest.approx(c0 * p.upper_ml, rel=1e-8)
    # lab formula recovers P while the upper chamber is barely depleted
    assert en.apparent_permeability(c_low, c0, t, p) == pytest.approx(perm, rel=0.02)


def test_barrier_permeability_is_near_the_literature_value_and_rises_with_gaps():
    p = en.DextranParameters()
    rest = en.barrier_permeability(0.05, 1.0, p)
    assert 5e-7 < rest < 2e-6  # resting HUVEC monolayer, 40 kDa dextran ~1e-6 cm/s
    assert en.barrier_permeability(0.2, 1.0, p) > rest
    assert en.barrier_permeability(0.05, 0.8, p) > rest
    assert en.barrier_permeability(0.05, 0.0, p) == pytest.approx(p.filter_cm_s)


# --- through the registry -----------------------------------------------------------------

CONSTANT = sbml_from_antimony(
    """
    model huvec_constant
      compartment cell = 1
      species X in cell = 1
      J1: X -> ; k_deg * X
      k_deg = 0.1
      speed = 40; div = 0.02; sprout = 1; junction = 0.05
      migration_speed := speed
      division_rate := div
      sprouting_activity := sprout
      junction_opening := junction
      apoptosis_hazard := 0
      pyroptosis_hazard := 0
    end
    """
)


@pytest.fixture(scope="module")
def well():
    pop = new_population(CONSTANT, 4, seed=2, cells_per_agent=5000)
    return Well.seed(pop, "24-well")


def context(well, kind, out=None, **options):
    protocol = SimpleNamespace(id="endo", replicates=3, phenotype_step="1 h")
    assay = Assay(type=kind, times=["24 h"], options=options)
    return AssayContext(protocol, assay, well, "shNC", 0, 1, 24.0, 99, out=out)


@pytest.mark.parametrize(("kind", "readout"), [
    ("scratch_wound", "wound closure (%)"),
    ("transwell_migration", "migrated cells/field"),
    ("tube_formation", "meshes"),
    ("fitc_dextran", "permeability coefficient (cm/s)"),
])  # fmt: skip
def test_assays_measure_a_well_through_the_registry(well, kind, readout, tmp_path):
    rows = MEASURES[kind].function(context(well, kind, out=tmp_path))
    values = {r["readout"]: r["value"] for r in rows}
    assert np.isfinite(values[readout]) and values[readout] > 0
    again = MEASURES[kind].function(context(well, kind))
    assert [r["value"] for r in again] == [r["value"] for r in rows]
    if kind in ("scratch_wound", "tube_formation"):
        assert list((tmp_path / "images").glob("*.png"))


def test_a_model_without_the_phenotype_output_is_named(well):
    from exotwin.errors import ExotwinError

    with pytest.raises(ExotwinError, match="no output 'speed_um_h'.*assay options"):
        MEASURES["transwell_migration"].function(
            context(well, "transwell_migration", speed="speed_um_h"))


def test_bad_options_are_rejected_with_the_field():
    with pytest.raises(ValueError, match="image_times_h"):
        Assay(type="scratch_wound", times=["24 h"], options={"image_times_h": [12, 24]})
    with pytest.raises(ValueError, match="gap_um"):
        Assay(type="scratch_wound", times=["24 h"], options={"gap_um": -5})


def test_scratch_does_not_depend_on_the_thread_count(scratch):
    import numba

    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = scratch(40.0, 0.03, times=(0, 6))
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = scratch(40.0, 0.03, times=(0, 6))
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one, two)


def test_the_huvec_model_drives_the_assays():
    pop = new_population("endothelial_cell", 4, seed=3, cells_per_agent=2000,
                         parameters={"exo_LMP1_uptake_rate": 4e3})  # fmt: skip
    huvec = Well.seed(pop, "24-well")
    values, weights = en.phenotype(pop, ["junction_opening", "migration_speed"])
    for kind in ("transwell_migration", "tube_formation", "fitc_dextran"):
        rows = {r["readout"]: r["value"] for r in MEASURES[kind].function(context(huvec, kind))}
        assert all(np.isfinite(v) for v in rows.values()), rows
    expected = en.barrier_permeability(en.weighted_mean(values["junction_opening"], weights), 1.0)
    assert rows["permeability coefficient (cm/s)"] == pytest.approx(expected, rel=0.2)
