"""Counter-based streams: Random123 known answers, order independence, distribution."""

import numba
import numpy as np
import pytest
from scipy import stats

from exotwin import rng

# Random123 tests/kat_vectors, the three "philox4x32 10" lines: ctr[4] key[2] -> result[4]
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


@pytest.mark.parametrize(("ctr", "key", "want"), KAT)
def test_philox_known_answers(ctr, key, want):
    assert tuple(int(v) for v in rng.philox4x32(*ctr, *key)) == want


def test_a_draw_depends_only_on_its_key_not_on_order_or_batch():
    ids = np.arange(10_000, dtype=np.uint64) * 7 + 3
    whole = rng.uniform(42, "apoptosis", ids, step=5)
    perm = np.random.default_rng(0).permutation(ids.size)
    np.testing.assert_array_equal(rng.uniform(42, "apoptosis", ids[perm], step=5), whole[perm])
    np.testing.assert_array_equal(rng.uniform(42, "apoptosis", ids[:17], step=5), whole[:17])
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        np.testing.assert_array_equal(rng.uniform(42, "apoptosis", ids, step=5), whole)
    finally:
        numba.set_num_threads(previous)


def test_seed_purpose_and_step_change_the_stream():
    ids = np.arange(1000)
    base = rng.uniform(1, "division", ids, step=0)
    for other in (
        rng.uniform(2, "division", ids, step=0),
        rng.uniform(1, "apoptosis", ids, step=0),
        rng.uniform(1, "division", ids, step=1),
    ):
        assert np.mean(other == base) < 0.01
        assert abs(np.corrcoef(other, base)[0, 1]) < 0.1


def test_uniform_and_normal_distributions():
    ids = np.arange(200_000)
    u = rng.uniform(7, "cell_variation", ids)
    assert u.min() > 0.0 and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    z = rng.normal(7, "cell_variation", ids)
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    f = rng.lognormal_factor(7, "cell_variation", ids, cv=0.2)
    assert abs(f.mean() - 1) < 0.005 and abs(f.std() / f.mean() - 0.2) < 0.005


def test_unknown_purpose_is_refused():
    with pytest.raises(KeyError):
        rng.uniform(1, "no-such-purpose", np.arange(3))


def test_binomial_is_scipy_binom_ppf_of_the_keyed_uniform_edge_cases_included():
    # the fast path skips trivial entries and scipy's wrapper; the numbers must not move
    g = np.random.default_rng(3)
    m = 50_000
    n = g.integers(0, 10**6, m).astype(float)
    n[::7] = 0
    n[::11] = g.integers(0, 5, n[::11].size)
    n[::31] += 0.5  # non-integral: invalid
    n[::37] = -2  # negative: invalid
    p = g.random(m)
    p[::5], p[::13], p[::17], p[::19], p[::23], p[::29] = 0, 1, np.nan, -0.3, 1.7, 1e-12
    ids = np.arange(m, dtype=np.uint64) * 3 + 1
    u = rng.uniform(5, "division", ids, 3)
    want = np.nan_to_num(stats.binom.ppf(u, n, np.clip(p, 0, 1)))
    want = np.where(n > 0, want, 0).astype(np.int64)
    np.testing.assert_array_equal(rng.binomial(5, "division", ids, n, p, 3), want)
    ints = np.where(n > 0, np.floor(n), 0).astype(np.int64)
    want = np.where(ints > 0, stats.binom.ppf(u, ints, 0.3), 0).astype(np.int64)
    np.testing.assert_array_equal(rng.binomial(5, "division", ids, ints, 0.3, 3), want)


def test_serial_and_threaded_uniform_kernels_agree_and_cache_apart():
    # one Python function under two dispatchers shares one on-disk cache entry: the
    # serial kernel then ran the threaded machine code (or the reverse)
    assert rng._uniform_serial.py_func.__qualname__ != rng._uniform_parallel.py_func.__qualname__
    ids = np.arange(rng.PARALLEL_MIN + 5, dtype=np.uint64) * 11 + (1 << 40)
    args = (12345, 678, rng.PURPOSES["placement"], ids, 2**48 + 3)
    np.testing.assert_array_equal(rng._uniform_serial(*args), rng._uniform_parallel(*args))


def test_uniform_table_columns_are_uniform_at_each_step():
    ids = np.arange(300, dtype=np.uint64) * 13 + (1 << 62)
    steps = np.array([0, 1, 31, 2**48 + 7, 2**62 + 5], dtype=np.uint64)
    table = rng.uniform_table(99, "placement", ids, steps)
    assert table.shape == (300, 5)
    for j, s in enumerate(steps):
        np.testing.assert_array_equal(table[:, j], rng.uniform(99, "placement", ids, int(s)))
