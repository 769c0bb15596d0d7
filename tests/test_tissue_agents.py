"""Cell agents: standard mechanics, cell lists vs brute force, threads, division, checkpoints."""

import math

import numba
import numpy as np
import pytest

from exotwin import ExotwinError
from exotwin.tissue import checkpoint as ck
from exotwin.tissue.agents import (
    ALIVE,
    APOPTOTIC,
    Agents,
    MechanicsParams,
    divide,
    kill,
    mechanics_step,
    remove,
    velocities,
)
from exotwin.tissue.scenario import load_scenario, run

R = 8.41  # um, PhysiCell's default radius


pytestmark = pytest.mark.usefixtures("one_numba_thread")


def pair_distance(params, d0, minutes, dt=0.1):
    a = Agents.create([[0.0, 0.0, 0.0], [d0, 0.0, 0.0]], radius=R)
    for _ in range(round(minutes / dt)):
        a = mechanics_step(a, params, dt)
    assert np.allclose(a.positions[:, 1:], 0.0)
    assert abs(a.positions[:, 0].sum() - d0) < 1e-12  # forces are equal and opposite
    return a.positions[1, 0] - a.positions[0, 0]


@pytest.mark.parametrize("scheme", ["ab2", "euler"])
def test_overlapping_cells_are_pushed_to_contact(scheme):
    # repulsion only: d' = 2 c (1 - d/R)^2 approaches contact d = 2r from below
    d = pair_distance(MechanicsParams(adhesion=0.0, scheme=scheme), 8.0, 200.0)
    assert 0.99 < d / (2 * R) < 1.0


def test_adhering_cells_settle_at_the_force_balance():
    p = MechanicsParams()  # PhysiCell defaults: c_rep 10, c_adh 0.4 um/min, a 1.25
    rr, ra = math.sqrt(p.repulsion), math.sqrt(p.adhesion)
    x = (rr - ra) / (rr - ra / p.max_adhesion_distance)  # d / (2r) at balance: 0.95238
    for d0 in (10.0, 19.0):  # from overlapping and from apart (within adhesion range)
        d = pair_distance(p, d0, 300.0)
        assert abs(d / (2 * R) - x) < 1e-6


def brute_force(a, p):
    dx = a.positions[:, None, :] - a.positions[None, :, :]
    d = np.maximum(np.linalg.norm(dx, axis=2), 1e-5)
    big_r = a.radius[:, None] + a.radius[None, :]
    rep = p.repulsion * np.clip(1 - d / big_r, 0, None) ** 2
    adh = p.adhesion * np.clip(1 - d / (p.max_adhesion_distance * big_r), 0, None) ** 2
    f = (rep - adh) / d
    np.fill_diagonal(f, 0.0)
    return (f[:, :, None] * dx).sum(axis=1)


@pytest.mark.parametrize("ndim", [2, 3])
def test_cell_lists_equal_brute_force(ndim):
    g = np.random.default_rng(4)
    n = 400
    pos = g.uniform(0, 120 if ndim == 3 else 300, (n, ndim))
    a = Agents.create(pos, radius=g.uniform(5, 11, n))
    p = MechanicsParams(max_adhesion_distance=1.4)
    v = velocities(a, p)
    ref = brute_force(a, p)
    assert np.count_nonzero(np.abs(ref).sum(axis=1)) > n // 2
    assert np.allclose(v, ref, rtol=1e-12, atol=1e-12)


def crowd(n=3000, seed=2):
    g = np.random.default_rng(seed)
    return Agents.create(g.uniform(0, 10 * n ** (1 / 3), (n, 3)), radius=g.uniform(6, 10, n))


def evolve(a, steps=10):
    p = MechanicsParams()
    for k in range(steps):
        a = mechanics_step(a, p, 0.1)
        if k % 5 == 0:
            a = divide(a, a.ids % 7 == k % 7, seed=9, step=k)
    return a


needs_two_threads = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2,
                                       reason="numba has one thread")


@needs_two_threads
def test_one_and_two_threads_identical():
    numba.set_num_threads(1)
    one = evolve(crowd())
    numba.set_num_threads(2)
    two = evolve(crowd())
    assert numba.get_num_threads() == 2
    for name in ("positions", "velocity", "radius", "ids"):
        assert np.array_equal(getattr(one, name), getattr(two, name))


def test_result_does_not_depend_on_array_order():
    a = crowd(500)
    perm = np.random.default_rng(1).permutation(a.n)
    b = Agents(a.positions[perm], a.radius[perm], a.velocity[perm], a.ids[perm], a.fate[perm],
               a.next_id)
    va, vb = velocities(a, MechanicsParams()), velocities(b, MechanicsParams())
    assert np.array_equal(va[perm], vb)


def test_division_death_and_removal():
    a = Agents.create([[0, 0, 0], [50, 0, 0], [100, 0, 0]], radius=R)
    b = divide(a, [False, True, True], seed=1, step=3)
    assert b.n == 5 and b.next_id == 5
    assert list(b.ids) == [0, 1, 2, 3, 4]
    assert np.allclose(b.volume()[1:].sum(), 2 * a.volume()[0])  # volume is conserved
    for mother, daughter in ((1, 3), (2, 4)):
        sep = b.positions[daughter] - b.positions[mother]
        assert np.isclose(np.linalg.norm(sep), R)  # each moved r/2 from the old centre
        assert np.allclose((b.positions[daughter] + b.positions[mother]) / 2, a.positions[mother])
    # keyed by (seed, mother id, step): the same whatever else divides
    c = divide(a, [False, False, True], seed=1, step=3)
    assert np.array_equal(c.positions[3], b.positions[4])
    d = divide(a, [True, True, True], seed=1, step=0, ndim=2)
    assert np.all(d.positions[:, 2] == 0.0)
    e = kill(b, b.ids >= 3)
    assert list(e.fate) == [ALIVE, ALIVE, ALIVE, APOPTOTIC, APOPTOTIC]
    f = remove(e)
    assert list(f.ids) == [0, 1, 2] and f.next_id == 5


SCENARIO = {
    "seed": 11,
    "grid": {"shape": [8, 10]},
    "cells": {"count": 25, "spread_um": 40},
    "time_steps": {"diffusion_min": 0.1, "mechanics_min": 0.5, "phenotype_min": 2.0},
    "phenotype": {"division_rate_per_min": 0.03},
}


def same_state(a, b):
    assert a.steps == b.steps and a.time == b.time and a.seed == b.seed
    assert np.array_equal(a.fields, b.fields)
    for name in ("positions", "velocity", "radius", "ids", "fate"):
        assert np.array_equal(getattr(a.agents, name), getattr(b.agents, name)), name
    assert a.agents.next_id == b.agents.next_id


def test_resumed_run_equals_uninterrupted(tmp_path):
    whole = run(SCENARIO, 24.0)
    assert whole.agents.n > 25  # cells divided
    path = tmp_path / "ck.npz"
    run(SCENARIO, 13.0, checkpoint_every=5.0, checkpoint=path)  # interrupted after 10 min
    assert ck.load(path).steps["diffusion"] == 100
    same_state(run(SCENARIO, 24.0, resume_from=path), whole)
    other = {**SCENARIO, "seed": 12}
    with pytest.raises(ExotwinError, match="another scenario"):
        run(other, 24.0, resume_from=path)


@needs_two_threads
def test_scenario_same_with_two_threads():
    one = run(SCENARIO, 8.0)
    numba.set_num_threads(2)
    same_state(run(SCENARIO, 8.0), one)


def test_checkpoint_round_trip_and_corrupt_files(tmp_path):
    a = evolve(crowd(50), 3)
    state = ck.SimulationState(a, np.arange(24.0).reshape(2, 1, 3, 4), 7.5,
                               {"diffusion": 750, "mechanics": 75}, 2**64 - 1, "{}")
    path = ck.save(tmp_path / "a.npz", state)
    assert [p.name for p in tmp_path.iterdir()] == ["a.npz"]  # no temporary left behind
    same_state(ck.load(path), state)
    data = path.read_bytes()
    bad = tmp_path / "bad.npz"
    for content in (data[: len(data) // 2], data[:400] + bytes(40) + data[440:], b"junk"):
        bad.write_bytes(content)
        with pytest.raises(ExotwinError, match="corrupt checkpoint") as err:
            ck.load(bad)
        assert "\n" not in str(err.value) and str(bad) in str(err.value)
    with np.load(path) as z:
        arrays = dict(z)
    arrays["format_version"] = np.array(99)
    np.savez(bad, **arrays)
    with pytest.raises(ExotwinError, match="format 99") as err:
        ck.load(bad)
    assert str(err.value).startswith(str(bad))
    with pytest.raises(ExotwinError, match="not found"):
        ck.load(tmp_path / "missing.npz")


def test_scenario_errors_are_one_line():
    bad = {**SCENARIO, "time_steps": {"diffusion_min": 0.1, "mechanics_min": 0.25}}
    with pytest.raises(ExotwinError, match="whole multiple") as err:
        load_scenario(bad)
    assert "\n" not in str(err.value)
