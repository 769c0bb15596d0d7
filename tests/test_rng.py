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


def test_extreme_bits_map_strictly_inside_the_unit_interval():
    from exotwin.rng import _to_unit

    top = _to_unit(np.uint32(0xFFFFFFFF), np.uint32(0xFFFFFFFF))  # all 53 bits set
    assert 0.0 < _to_unit(np.uint32(0), np.uint32(0)) < top < 1.0  # 1 - 2^-54 rounded to 1.0
    assert top == np.nextafter(1.0, 0.0)


def test_unknown_purpose_is_refused():
    with pytest.raises(KeyError):
        rng.uniform(1, "no-such-purpose", np.arange(3))


# Measured: no draw of the 300,000 below differs from scipy's quantile, nor of 5,000 wide
# ones summed by the kernel, nor of 4.9 million such triples in a one-off run. Both
# compute CDF(k) >= u in floating point, so a u within ~1e-15 of a CDF step may round
# differently. Allowed: 1e-5 of the draws, each by at most 1.
MISMATCH_MAX = 1e-5


def assert_mostly_equal(got, want):
    diff = np.asarray(got, dtype=np.int64) - np.asarray(want, dtype=np.int64)
    assert np.count_nonzero(diff) <= MISMATCH_MAX * diff.size
    assert np.abs(diff).max() <= 1


def test_binomial_is_scipy_binom_ppf_of_the_keyed_uniform_edge_cases_included():
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
    assert_mostly_equal(rng.binomial(5, "division", ids, n, p, 3), want)
    ints = np.where(n > 0, np.floor(n), 0).astype(np.int64)
    want = np.where(ints > 0, stats.binom.ppf(u, ints, 0.3), 0).astype(np.int64)
    assert_mostly_equal(rng.binomial(5, "division", ids, ints, 0.3, 3), want)


def log_uniform_triples(g, m):
    """(u, n, p): n in 1..1e7 and p in 1e-6..1-1e-6, both log-uniform (p in either tail)."""
    u = g.random(m)
    n = np.floor(10 ** g.uniform(0, 7, m))
    p = np.exp(g.uniform(np.log(1e-6), np.log(0.5), m))
    upper = g.random(m) < 0.5
    p[upper] = 1 - p[upper]
    return u, n, p


def test_binomial_quantile_agrees_with_scipy_on_300k_triples():
    u, n, p = log_uniform_triples(np.random.default_rng(11), 300_000)
    edge_n = np.array([1, 1, 1, 1, 2, 10, 10**7, 10**7, 1, 3, 100, 10**6])
    edge_p = np.array([0.5, 0.5, 1.0, 1e-6, 1 - 1e-6, 1.0, 1e-6, 1 - 1e-6, 0.5, 0.5, 0.05, 1e-4])
    tiny, top = 2.0**-54, np.nextafter(1.0, 0.0)  # about the keyed uniforms' extremes
    edge_u = np.array([tiny, top, 0.3, top, tiny, 0.5, top, tiny, 0.5, top, tiny, top])
    u, n, p = np.r_[u, edge_u], np.r_[n, edge_n], np.r_[p, edge_p]
    got = rng._binom_quantile(u, n, p, rng.WINDOW_SD_MAX)
    summed = got >= 0
    assert summed.mean() > 0.9  # most of them by the kernel, the rest left to scipy
    assert_mostly_equal(got[summed], stats.binom.ppf(u[summed], n[summed], p[summed]))
    np.testing.assert_array_equal(got[-12:-3], [0, 1, 1, 1, 0, 10, 45, 9999954, 0])


def test_binomial_quantile_agrees_with_scipy_on_wide_distributions():
    # handed to scipy by default, summed here to check the kernel there too
    g = np.random.default_rng(12)
    sd = 10 ** g.uniform(np.log10(rng.WINDOW_SD_MAX), np.log10(2000), 5000)
    p = g.uniform(0.01, 0.99, sd.size)
    n = np.ceil(sd**2 / (p * (1 - p)))
    u = g.random(sd.size)
    got = rng._binom_quantile(u, n, p, 2500.0)
    assert (got >= 0).all()
    assert_mostly_equal(got, stats.binom.ppf(u, n, p))
    assert (rng._binom_quantile(u, n, p, rng.WINDOW_SD_MAX) == -1).all()


def test_loader_pmf_matches_scipy_at_the_mode():
    # where the quantile kernel uses it: k the mode, k and n - k >= 16
    u, n, p = log_uniform_triples(np.random.default_rng(13), 20_000)
    k = np.floor((n + 1) * p)
    ok = (k >= 16) & (n - k >= 16)
    k, n, p = k[ok], n[ok], p[ok]
    got = np.array([rng._binom_pmf(a, b, c, 1 - c) for a, b, c in zip(k, n, p, strict=True)])
    np.testing.assert_allclose(got, stats.binom.pmf(k, n, p), rtol=1e-13)


@pytest.mark.parametrize(("n", "p"), [(1, 0.5), (20, 0.5), (1000, 0.01), (10**6, 1e-3),
                                      (10**4, 0.97), (10**6, 0.05)])  # fmt: skip
def test_binomial_mean_and_variance(n, p):
    draws = rng.binomial(8, "apoptosis", np.arange(100_000), n, p, step=2).astype(float)
    mean, var = n * p, n * p * (1 - p)
    se_mean = np.sqrt(var / draws.size)
    # sample variance: Var(s^2) = (mu4 - var^2 (N - 3) / (N - 1)) / N, with the binomial's
    # fourth central moment mu4 = var^2 (3 + (1 - 6 p q) / var)
    size = draws.size
    mu4 = var**2 * (3 + (1 - 6 * p * (1 - p)) / var)
    se_var = np.sqrt((mu4 - var**2 * (size - 3) / (size - 1)) / size)
    assert abs(draws.mean() - mean) < 4 * se_mean
    assert abs(draws.var(ddof=1) - var) < 4 * se_var


def test_binomial_invalid_arguments_give_zero_and_p_is_clipped():
    ids = np.arange(9)
    n = np.array([0, -2, 2.5, np.nan, 7, 7, 7, 7, 7])
    p = np.array([0.5, 0.5, 0.5, 0.5, np.nan, -0.3, 0.0, 1.7, 1.0])
    np.testing.assert_array_equal(rng.binomial(4, "division", ids, n, p), [0] * 7 + [7, 7])


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
