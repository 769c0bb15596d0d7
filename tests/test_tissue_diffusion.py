"""Diffusion-reaction solver: analytic solutions, convergence orders, conservation, threads."""

import math

import numba
import numpy as np
import pytest

from conftest import heavy_scale
from exotwin import ExotwinError
from exotwin.tissue import (
    Dirichlet,
    Grid,
    Sources,
    Substance,
    Substances,
    run,
    step,
    step_with_ledger,
    total,
)

pytestmark = pytest.mark.usefixtures("one_numba_thread")


D = 50.0  # um^2/min, a small protein in tissue (order of magnitude; test value)


def order(errors, factor=2.0):
    """Observed orders between successive refinements by ``factor``."""
    e = np.asarray(errors)
    return np.log(e[:-1] / e[1:]) / math.log(factor)


def point_source(n, dx, dt, t, ndim, diffusion=D):
    """Unit mass in the centre voxel, diffused for ``t``; max error relative to the peak."""
    grid = Grid((n,) * ndim, dx=dx)
    subs = Substances([Substance("m", diffusion)])
    f = subs.zeros(grid)
    c = n // 2
    f[(0, 0, c, c) if ndim == 2 else (0, c, c, c)] = 1.0 / grid.voxel_volume
    steps = round(t / dt)
    assert abs(steps * dt - t) < 1e-12
    f = run(f, grid, subs, dt, steps)
    x = grid.centres("x") - (c + 0.5) * dx
    r2 = sum(np.meshgrid(*([x**2] * ndim), indexing="ij"))
    exact = np.exp(-r2 / (4 * diffusion * t)) / (4 * math.pi * diffusion * t) ** (ndim / 2)
    return np.max(np.abs(f[0].reshape(exact.shape) - exact)) / exact.max()


def point_source_orders(ndim, levels, dts, t):
    """Errors and observed orders under dx refinement (dt ~ dx^2) and dt refinement."""
    ex = [point_source(n, dx, dt, t, ndim) for n, dx, dt in levels]
    n, dx, _ = levels[-1]
    et = [point_source(n, dx, dt, t, ndim) for dt in dts]
    print(f"{ndim}D point source: errors {ex} order in dx {order(ex)}; "
          f"errors {et} order in dt {order(et)}")
    return ex, order(ex), order(et)


def test_point_source_2d_second_order_in_dx_first_in_dt():
    # t = 2 min: sigma = sqrt(2 D t) = 14 um, domain half-width ~5 sigma
    ex, p_dx, p_dt = point_source_orders(
        2, [(37, 4.0, 0.08), (73, 2.0, 0.02), (145, 1.0, 0.005)], (0.2, 0.1, 0.05), 2.0)
    assert np.all((p_dx > 1.8) & (p_dx < 2.3))
    assert np.all((p_dt > 0.85) & (p_dt < 1.15))
    assert ex[-1] < 0.01


def test_point_source_3d_matches_gaussian_and_converges():
    # t = 1 min: sigma = 10 um
    ex, p_dx, p_dt = point_source_orders(
        3, [(21, 4.0, 0.04), (41, 2.0, 0.01), (81, 1.0, 0.0025)], (0.1, 0.05, 0.025), 1.0)
    assert np.all((p_dx > 1.8) & (p_dx < 2.3))
    assert np.all((p_dt > 0.85) & (p_dt < 1.15))
    assert ex[-1] < 0.01


def slab(n, dx, dt, axis="x", decay=1.0, ndim=3, steps=None):
    """Steady state of a Dirichlet (1.0) face at ``axis``_min with decay; zero flux elsewhere.

    Returns the profile along ``axis`` (checked uniform across) and the coordinates.
    """
    sub = Substance("o", 100.0, decay, boundary={f"{axis}_min": Dirichlet(1.0)})
    subs = Substances([sub])
    shape = [3] * ndim
    shape[ndim - 1 - "xyz".index(axis)] = n
    grid = Grid(tuple(shape), dx=dx)
    f = subs.zeros(grid)
    steps = steps or int(40 / (decay * dt)) + 1  # e^-40 of the initial transient
    f = run(f, grid, subs, dt, steps)
    prof = np.moveaxis(f[0], 2 - "xyz".index(axis), 0).reshape(n, -1)
    np.testing.assert_allclose(prof, prof[:, :1] + 0 * prof, rtol=1e-12, atol=0)
    return prof[:, 0], grid.centres(axis)


def cosh_profile(x, length, decay, diffusion=100.0):
    ell = math.sqrt(diffusion / decay)
    return np.cosh((length - x) / ell) / np.cosh(length / ell)


@pytest.mark.parametrize("axis", ["x", "y", "z"])
def test_steady_state_slab_in_3d_second_order(axis):
    # D = 100 um^2/min, decay 1/min: penetration length 10 um; slab 100 um deep.
    # The scheme's fixed point solves mu rho = D rho'' with mu = (1 - e^{-decay dt}) / dt
    # exactly (no splitting error for a profile uniform across), so dt can be large.
    dt, decay = 0.5, 1.0
    mu = -math.expm1(-decay * dt) / dt
    errs = []
    for n, dx in [(50, 2.0), (100, 1.0), (200, 0.5)]:
        prof, x = slab(n, dx, dt, axis, decay)
        errs.append(np.max(np.abs(prof - cosh_profile(x, n * dx, mu))))
    p = order(errs)
    print(f"slab along {axis}: errors {errs} order in dx {p}")
    assert np.all((p > 1.85) & (p < 2.1))
    assert errs[-1] < 5e-4


def test_steady_state_1d_decay_converges_to_analytic_in_dt():
    # 1D (2D grid with ny=1) against the true cosh profile: the dt error is first order.
    errs = []
    for dt in (0.04, 0.02, 0.01):
        prof, x = slab(200, 0.5, dt, "x", 1.0, ndim=2)
        errs.append(np.max(np.abs(prof - cosh_profile(x, 100.0, 1.0))))
    p = order(errs)
    print(f"1D steady state: errors {errs} order in dt {p}")
    assert np.all((p > 0.9) & (p < 1.1))
    assert errs[-1] < 3e-3


def yukawa_error(dt, n=41, dx=2.0, diffusion=100.0, decay=1.0):
    """Steady state of a point supply in 3D vs Q mu/decay exp(-r/l) / (4 pi D r), l^2 = D/mu.

    Relative max error on 10 <= r <= 20 um (penetration length l = 10 um). Without
    splitting the fixed point would be this Yukawa profile up to O(dx^2); what remains
    is the LOD splitting error, first order in dt.
    """
    grid = Grid((n, n, n), dx=dx)
    subs = Substances([Substance("a", diffusion, decay)])
    c = n // 2
    supply = subs.zeros(grid)
    supply[0, c, c, c] = 1.0 / grid.voxel_volume  # Q = 1 amount/min
    f = run(subs.zeros(grid), grid, subs, dt, round(30 / (decay * dt)), Sources(supply=supply))
    x = grid.centres("x") - (c + 0.5) * dx
    r = np.sqrt(sum(np.meshgrid(x**2, x**2, x**2, indexing="ij")))
    mu = -math.expm1(-decay * dt) / dt
    shell = (r >= 10.0) & (r <= 20.0)
    rs = r[shell]
    exact = mu / decay / (4 * math.pi * diffusion * rs) * np.exp(-rs * math.sqrt(mu / diffusion))
    return np.max(np.abs(f[0][shell] - exact) / exact)


def test_steady_state_point_supply_3d_yukawa():
    errs = [yukawa_error(dt) for dt in (0.05, 0.025, 0.0125)]
    p = order(errs)
    print(f"3D Yukawa steady state: errors {errs} order in dt {p}")
    assert np.all((p > 0.75) & (p < 1.15))
    assert errs[-1] < 0.12


def random_case(ndim, dirichlet, seed=1):
    rng = np.random.default_rng(seed)
    shape = (9, 11, 13)[3 - ndim:]
    grid = Grid(shape, dx=10.0)
    bc = {"x_min": Dirichlet(2.0), "y_max": Dirichlet(0.0)} if dirichlet else {}
    if dirichlet and ndim == 3:
        bc["z_min"] = Dirichlet(0.5)
    subs = Substances([Substance("a", 300.0, 0.0, boundary=bc),
                       Substance("b", 30.0, 0.2, boundary=bc),
                       Substance("c", 1e4, 0.01, boundary=bc)])
    f = rng.random((3, *grid.dims))
    mask = rng.random(f.shape) < 0.05
    sources = Sources(rate=np.where(mask, 0.5, 0.0), target=np.where(mask, 3.0, 0.0),
                      supply=np.where(rng.random(f.shape) < 0.02, 0.7, 0.0))
    sinks = np.where(rng.random(f.shape) < 0.05, 2.0, 0.0)
    return f, grid, subs, sources, sinks


@pytest.mark.parametrize("ndim", [2, 3])
def test_total_conserved_with_zero_flux_and_no_reactions(ndim):
    f, grid, _, _, _ = random_case(ndim, False)
    subs = Substances([Substance("a", 300.0), Substance("b", 1e5)])
    f = f[:2].copy()
    before = total(f, grid)
    g = run(f, grid, subs, 0.5, 300)
    rel = np.abs(total(g, grid) - before) / before
    print(f"{ndim}D conservation over 300 steps: relative error {rel}")
    assert np.all(rel < 1e-9)
    assert not np.allclose(g, f)


@pytest.mark.parametrize("ndim", [2, 3])
def test_ledger_closes_with_sources_sinks_decay_and_dirichlet(ndim):
    f, grid, subs, sources, sinks = random_case(ndim, True)
    before = total(f, grid)
    acc = None
    for _ in range(100):
        f, led = step_with_ledger(f, grid, subs, 0.3, sources, sinks)
        acc = led if acc is None else acc + led
    change = total(f, grid) - before
    rel = np.abs(change - acc.net) / total(f, grid)
    print(f"{ndim}D ledger: change {change}, ledger {acc.net}, relative gap {rel}")
    assert np.all(rel < 1e-9)
    assert np.all(acc.secreted > 0) and np.all(acc.uptaken > 0)
    assert np.all(np.abs(acc.boundary_inflow) > 0)


def test_concentrations_never_negative():
    f, grid, subs, sources, sinks = random_case(3, True, seed=3)
    f = np.where(np.random.default_rng(4).random(f.shape) < 0.02, 50.0, 0.0)
    for dt in (1e-3, 1.0, 100.0):
        g = run(f, grid, subs, dt, 5, sources, sinks * 1e3)
        assert g.min() >= 0.0


def test_reaction_update_is_exact():
    # no diffusion: d rho/dt = q + s (rho* - rho) - (u + lambda) rho, solved exactly
    grid = Grid((1, 1, 4), dx=5.0)
    subs = Substances([Substance("a", 0.0, 0.3)])
    rho0 = np.array([0.0, 1.0, 2.0, 5.0]).reshape(1, 1, 1, 4)
    s, target, q, u = 0.7, 4.0, 0.25, 1.1
    src = Sources(rate=np.full(rho0.shape, s), target=np.full(rho0.shape, target),
                  supply=np.full(rho0.shape, q))
    g = run(rho0, grid, subs, 0.5, 4, src, np.full(rho0.shape, u))
    b = s + u + 0.3
    inf = (q + s * target) / b
    exact = inf + (rho0 - inf) * math.exp(-b * 2.0)
    np.testing.assert_allclose(g, exact, rtol=1e-13)


def test_reaction_update_with_runs_of_equal_rates_is_the_per_voxel_update_bitwise():
    # the x sweep reuses exp factors along runs of equal total rates: no number changes
    from exotwin.tissue import _kernels

    g = np.random.default_rng(4)
    grid = Grid((2, 3, 40), dx=5.0)
    subs = Substances([Substance("a", 0.0, 0.02)])
    shape = (1, *grid.dims)
    rho0 = g.random(shape)
    pick = lambda *v: np.where(g.random(shape) < 0.6, g.choice(v, shape), g.random(shape))  # noqa: E731
    srate, target, q, u = pick(0.0, 0.3), g.random(shape), pick(0.0, 0.1), pick(0.0, 0.2, 1.5)
    new, led = step_with_ledger(rho0, grid, subs, 0.5, Sources(srate, target, q), u)
    want = np.empty(rho0.size)
    took = 0.0
    decay_factor = np.exp(-np.array([0.02]) * 0.5)[0]  # as the solver's factor()
    flat = (x.ravel() for x in (rho0, srate, target, q, u))
    for i, (r, a, t, b, c) in enumerate(zip(*flat, strict=True)):
        if a == 0.0 and b == 0.0 and c == 0.0:
            want[i] = r * decay_factor
            continue
        want[i], integral = _kernels._react(r, a, b + a * t, c, 0.02, 0.5)
        took += c * integral
    assert new.ravel().tobytes() == want.tobytes()
    assert led.uptaken[0] == pytest.approx(took * grid.voxel_volume, rel=1e-13)


def test_2d_equals_3d_with_one_layer_and_input_unchanged():
    f, grid, subs, sources, sinks = random_case(2, True)
    keep = f.copy()
    g2 = step(f, grid, subs, 0.7, sources, sinks)
    assert np.array_equal(f, keep)
    grid3 = Grid((1, *grid.shape), dx=grid.dx)
    g3 = step(f, grid3, subs, 0.7, sources, sinks)
    assert np.array_equal(g2, g3)


def test_same_results_with_one_and_two_threads():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("numba has fewer than 2 threads")
    f, grid, subs, sources, sinks = random_case(3, True)
    f = np.tile(f, (1, 3, 4, 5))  # big enough that both threads get work
    grid = Grid(f.shape[1:], dx=grid.dx)
    sources = Sources(*(np.tile(a, (1, 3, 4, 5)) for a in
                        (sources.rate, sources.target, sources.supply)))
    sinks = np.tile(sinks, (1, 3, 4, 5))
    results = []
    for threads in (1, 2):
        numba.set_num_threads(threads)
        g, acc = f, None
        for _ in range(5):
            g, led = step_with_ledger(g, grid, subs, 0.4, sources, sinks)
            acc = led if acc is None else acc + led
        results.append((g, acc))
    (g1, l1), (g2, l2) = results
    assert g1.tobytes() == g2.tobytes()
    for a, b in zip(l1._parts(), l2._parts(), strict=True):
        assert a.tobytes() == b.tobytes()


def test_errors_are_one_line():
    grid = Grid((4, 5))
    subs = Substances([Substance("a", 1.0)])
    with pytest.raises(ExotwinError, match="shape"):
        step(np.zeros((1, 4, 5)), grid, subs, 0.1)
    with pytest.raises(ExotwinError, match="unknown face"):
        Substance("a", 1.0, boundary={"left": Dirichlet(1.0)})
    with pytest.raises(ExotwinError, match="dt"):
        step(subs.zeros(grid), grid, subs, 0.0)
    with pytest.raises(ExotwinError, match="sinks"):
        step(subs.zeros(grid), grid, subs, 0.1, sinks=-np.ones((1, 1, 4, 5)))
    with pytest.raises(ExotwinError, match="shape"):
        step(subs.zeros(grid), grid, subs, 0.1, sinks=np.ones((2, 3)))


@pytest.mark.heavy
def test_large_grid_ledger_threads_and_positivity_heavy():
    # 100^3 voxels x 4 substances x 50 steps at EXOTWIN_HEAVY_SCALE=1 (voxels scale)
    n = max(10, round(100 * heavy_scale() ** (1 / 3)))
    grid = Grid((n, n, n), dx=20.0)
    subs = Substances([
        Substance("oxygen", 1e5, 0.1, boundary={"all": Dirichlet(38.0)}),
        Substance("cisplatin", 3e4, 0.01, boundary={"x_min": Dirichlet(10.0)}),
        Substance("exosome", 400.0, 0.002),
        Substance("cargo", 40.0, 0.05, boundary={"z_max": Dirichlet(0.0)}),
    ])
    rng = np.random.default_rng(7)
    f0 = rng.random((4, *grid.dims))
    u = rng.random(f0.shape)
    src = Sources(rate=np.where(u < 0.01, 1.0, 0.0), target=np.where(u < 0.01, 5.0, 0.0),
                  supply=np.where(u > 0.995, 0.3, 0.0))
    sinks = np.where((u > 0.5) & (u < 0.52), 0.5, 0.0)
    results = []
    for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
        numba.set_num_threads(threads)
        f, acc = f0, None
        for _ in range(50):
            f, led = step_with_ledger(f, grid, subs, 0.01, src, sinks)
            acc = led if acc is None else acc + led
        results.append(f)
        rel = np.abs(total(f, grid) - total(f0, grid) - acc.net) / total(f, grid)
        print(f"{n}^3, {threads} thread(s): ledger gap {rel}")
        assert np.all(rel < 1e-9)
        assert f.min() >= 0.0
    assert results[0].tobytes() == results[1].tobytes()
