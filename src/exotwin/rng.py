"""Counter-based random numbers: every draw is a pure function of what it is for.

A draw is keyed by ``(seed, purpose)`` and counted by ``(entity, step)``, and computed with
the Philox4x32-10 bijection of Salmon et al., "Parallel random numbers: as easy as 1, 2,
3", SC'11 (doi:10.1145/2063384.2063405). The same cell at the same step, for the same
purpose, gets the same number whatever the thread count, the engine, the order in
which cells are processed or how the population is split among workers. No generator
state is carried, so checkpoints need only the seed and the step counter.

Purposes are small integers named in :data:`PURPOSES`; add new ones at the end.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint32(0x9E3779B9)
_W1 = np.uint32(0xBB67AE85)
_MASK = np.uint64(0xFFFFFFFF)

PURPOSES = {
    "cell_variation": 1,
    "division": 2,
    "apoptosis": 3,
    "pyroptosis": 4,
    "necrosis": 5,
    "daughter_variation": 6,
    "measurement_noise": 7,
    "vesicle": 8,
    "cohort": 9,
    "removal_late": 10,
    "removal_pyroptotic": 11,
    "event_sampling": 12,
    "pcr": 13,
    "field_sampling": 14,
    "transfection": 15,
    "division_direction": 16,
    "placement": 17,
    "bootstrap": 18,
}


@njit(cache=True, inline="always")
def _mulhilo(a, b):
    prod = np.uint64(a) * np.uint64(b)
    return np.uint32(prod >> np.uint64(32)), np.uint32(prod & _MASK)


@njit(cache=True)
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32 with 10 rounds: four 32-bit counter words, two key words -> 4 words."""
    c0, c1, c2, c3 = np.uint32(c0), np.uint32(c1), np.uint32(c2), np.uint32(c3)
    k0, k1 = np.uint32(k0), np.uint32(k1)
    for r in range(10):
        if r > 0:
            k0 = np.uint32(k0 + _W0)
            k1 = np.uint32(k1 + _W1)
        hi0, lo0 = _mulhilo(_M0, c0)
        hi1, lo1 = _mulhilo(_M1, c2)
        c0, c1, c2, c3 = (
            np.uint32(hi1 ^ c1 ^ k0),
            lo1,
            np.uint32(hi0 ^ c3 ^ k1),
            lo0,
        )
    return c0, c1, c2, c3


ONE_BELOW = 1.0 - 2.0**-53  # the largest float64 below 1


@njit(cache=True, inline="always")
def _to_unit(a, b):
    # 53 random bits -> (0, 1), never exactly 0 or 1: (bits + 0.5) / 2^53, except that
    # all bits set would round to 1.0 (1 - 2^-54 is a tie), so that one maps to 1 - 2^-53
    bits = (np.uint64(a) << np.uint64(21)) ^ np.uint64(b >> np.uint32(11))
    return min((np.float64(bits & np.uint64((1 << 53) - 1)) + 0.5) / 9007199254740992.0,
               ONE_BELOW)  # fmt: skip


@njit(cache=True, inline="always")
def _draw(seed_lo, seed_hi, purpose, entity, step):
    e = np.uint64(entity)
    s = np.uint64(step)
    r0, r1, _, _ = philox4x32(
        np.uint32(e & _MASK), np.uint32(e >> np.uint64(32)),
        np.uint32(s & _MASK), np.uint32(s >> np.uint64(32)),
        np.uint32(seed_lo ^ (purpose * 0x85EBCA6B)), np.uint32(seed_hi),
    )  # fmt: skip
    return _to_unit(r0, r1)


# Every entry depends only on its own counter, so the serial and the threaded kernel give
# identical numbers; small batches stay serial (waking threads costs more than the work).
# Two functions, not two dispatchers of one: numba's on-disk cache is named after the
# Python function, so one of them would load the other's machine code (a serial kernel
# that woke the thread pool on every call cost 50 instead of 6 us).
@njit(cache=True)
def _uniform_serial(seed_lo, seed_hi, purpose, entities, step):
    out = np.empty(entities.shape[0])
    for i in range(entities.shape[0]):
        out[i] = _draw(seed_lo, seed_hi, purpose, entities[i], step)
    return out


@njit(cache=True, parallel=True)
def _uniform_parallel(seed_lo, seed_hi, purpose, entities, step):
    out = np.empty(entities.shape[0])
    for i in prange(entities.shape[0]):
        out[i] = _draw(seed_lo, seed_hi, purpose, entities[i], step)
    return out


@njit(cache=True)
def _uniform_table(seed_lo, seed_hi, purpose, entities, steps):
    out = np.empty((entities.shape[0], steps.shape[0]))
    for i in range(entities.shape[0]):
        for j in range(steps.shape[0]):
            out[i, j] = _draw(seed_lo, seed_hi, purpose, entities[i], steps[j])
    return out


PARALLEL_MIN = 20_000


def _uniform(seed_lo, seed_hi, purpose, entities, step):
    kernel = _uniform_parallel if entities.shape[0] >= PARALLEL_MIN else _uniform_serial
    return kernel(seed_lo, seed_hi, purpose, entities, step)


def uniform(seed: int, purpose: str, entities: np.ndarray, step: int = 0) -> np.ndarray:
    """Uniform numbers in (0, 1), one per entity, for one purpose at one step.

    Parameters
    ----------
    seed
        The run's recorded seed (0 <= seed < 2**64).
    purpose
        A key of :data:`PURPOSES`.
    entities
        Integer ids (e.g. cell ids), shape ``(n,)``.
    step
        Step counter (e.g. phenotype step index), 0 <= step < 2**64.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``; entry ``i`` depends only on ``(seed, purpose, entities[i], step)``.
    """
    if purpose not in PURPOSES:
        raise KeyError(f"unknown random-stream purpose {purpose!r}")
    seed = int(seed) & 0xFFFFFFFFFFFFFFFF
    ids = np.ascontiguousarray(entities, dtype=np.uint64)
    return _uniform(seed & 0xFFFFFFFF, seed >> 32, PURPOSES[purpose], ids, int(step))


def uniform_table(seed: int, purpose: str, entities: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """:func:`uniform` for every entity at each of several steps, in one call.

    Returns shape ``(n_entities, n_steps)``; column ``j`` equals
    ``uniform(seed, purpose, entities, steps[j])``.
    """
    if purpose not in PURPOSES:
        raise KeyError(f"unknown random-stream purpose {purpose!r}")
    seed = int(seed) & 0xFFFFFFFFFFFFFFFF
    ids = np.ascontiguousarray(entities, dtype=np.uint64)
    counters = np.ascontiguousarray(steps, dtype=np.uint64)
    return _uniform_table(seed & 0xFFFFFFFF, seed >> 32, PURPOSES[purpose], ids, counters)


def binomial(
    seed: int, purpose: str, entities: np.ndarray, n: np.ndarray, p: np.ndarray, step: int = 0
) -> np.ndarray:
    """Binomial(n, p) counts per entity by inversion of one keyed uniform each.

    Entry ``i`` is the smallest integer ``k`` with ``CDF(k) >= u_i`` for Binomial(n_i, p_i),
    ``u_i`` the keyed uniform: the definition of ``scipy.stats.binom.ppf``, computed by
    :func:`binom_ppf` (the pmf summed from its mode in numba; scipy's quantile for the
    rare distributions too wide for that, sd > ``WINDOW_SD_MAX``). ``p`` is clipped to
    [0, 1]; invalid arguments (``n <= 0``, non-integral ``n``, NaN ``p``) give 0.

    Returns
    -------
    numpy.ndarray
        int64, the broadcast shape of ``entities``, ``n`` and ``p``.
    """
    u = uniform(seed, purpose, entities, step)
    n = np.asarray(n)
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    u, n, p = np.broadcast_arrays(u, n, p)
    work = (n > 0) & (n == np.round(n)) & (p > 0)  # clipped p: NaN fails p > 0
    out = np.zeros(u.shape, dtype=np.int64)
    out[work] = binom_ppf(u[work], n[work].astype(float), p[work])
    return out


def binom_ppf(q: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Binomial quantile for valid arguments: :func:`_binom_quantile`, scipy where wide.

    ``q``, ``n``, ``p``: float64, shape ``(m,)``, with ``0 < q <= 1``, ``n`` a positive
    integer and ``0 < p <= 1``. Returns int64, shape ``(m,)``.
    """
    draws = _binom_quantile(q, n, p, WINDOW_SD_MAX)
    wide = draws < 0
    if wide.any():
        draws[wide] = np.nan_to_num(_binom_ppf(q[wide], n[wide], p[wide])).astype(np.int64)
    return draws


def _binom_ppf(q: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``scipy.stats.binom.ppf`` for valid arguments and ``0 < q < 1`` (the ufunc it calls)."""
    from scipy.special import _ufuncs

    return _ufuncs._binom_ppf(q, n, p)


# Summing the pmf costs ~10 standard deviations of terms per draw (~20 ns per sd here);
# scipy's quantile costs ~20 us at sd 900 and grows more slowly, so wider distributions
# go to scipy (measured; benchmarks/binomial.py times the draws of the cell fates).
WINDOW_SD_MAX = 600.0
# Terms are kept down to this fraction of the mode's term (see _binom_lower for the bound).
_TAIL_CUT = 1e-20
# n at and above this is left to scipy: the walk counts k in int64 and n - k in float64.
_N_MAX = 2.0**52
# Modes (of successes and of failures) from here on get pmf(mode) from Loader's formula,
# whose Stirling series (5 terms) is then exact to < 1e-16; below it both tails are summed.
_LOADER_MIN = 16.0


@njit(cache=True)
def _stirling_error(x):
    """ln(x!) - ln(sqrt(2 pi x) (x / e)**x) for x >= 16, by Stirling's series.

    Terms to x**-9, coefficients B_2k / (2k (2k - 1)) (Bernoulli numbers); the next one
    is below 1.1e-16 at x = 16.
    """
    x2 = x * x
    return (1 / 12 - (1 / 360 - (1 / 1260 - (1 / 1680 - 1 / 1188 / x2) / x2) / x2) / x2) / x


@njit(cache=True)
def _deviance_term(x, d):
    """The deviance term x ln(x / m) + m - x at m = x - d, without cancellation.

    Loader's bd0: for |d| < 0.1 (x + m), the series in v = d / (x + m) of
    x ln((1 + v) / (1 - v)) - d = d v + 2 x (v**3 / 3 + v**5 / 5 + ...).
    """
    m = x - d
    if abs(d) >= 0.1 * (x + m):
        return x * np.log(x / m) - d
    v = d / (x + m)
    s = d * v
    term = 2.0 * x * v
    v2 = v * v
    j = 1
    while True:
        term *= v2
        s_next = s + term / (2 * j + 1)
        if s_next == s:
            return s
        s = s_next
        j += 1


@njit(cache=True)
def _binom_pmf(k, n, p, q):
    """Binomial(n, p) pmf at k, q = 1 - p, for k and n - k >= _LOADER_MIN.

    C. Loader, "Fast and accurate computation of binomial probabilities" (2000): the
    saddle-point form exp(stirling(n) - stirling(k) - stirling(n - k) - bd0(k, n p)
    - bd0(n - k, n q)) / sqrt(2 pi k (n - k) / n). The deviance terms hold -d and +d,
    d = k - n p, and must see the same d. It comes from the smaller of p and q (given
    without rounding; the other may be 1 - it rounded), so its error, half an ulp of
    n min(p, q), times the log-pmf's sensitivity to it, ~|d| / (n min(p, q)), stays
    ~1e-16 (d from n p with p near 1 was off by up to 4e-11 in a test of n <= 1e7).
    """
    if p <= q:
        d = k - n * p
    else:
        d = n * q - (n - k)
    log_c = (_stirling_error(n) - _stirling_error(k) - _stirling_error(n - k)
             - _deviance_term(k, d) - _deviance_term(n - k, -d))  # fmt: skip
    return np.exp(log_c) / np.sqrt(2.0 * np.pi * k * ((n - k) / n))  # n - k: exact


@njit(cache=True, inline="always")
def _reached(value, target, strict):
    return value > target if strict else value >= target


@njit(cache=True)
def _binom_lower(v, n, p, q, strict, terms, d_max):
    """First k with CDF(k) >= v (> v if ``strict``) for Binomial(n, p), q = 1 - p.

    Exact up to rounding; -1 when a walk would pass ``d_max`` terms. The pmf is summed
    from unnormalised terms, 1 at the mode m = floor((n + 1) p), walking away from it
    with pmf(k - 1) / pmf(k) = k q / ((n - k + 1) p) and pmf(k + 1) / pmf(k) =
    (n - k) p / ((k + 1) q) until a term falls below ``_TAIL_CUT``. CDF(m) needs every
    term below m (summed from the smallest, so that small v stay exact) and a
    normaliser: pmf(m) by :func:`_binom_pmf` where m and n - m are >= ``_LOADER_MIN``,
    else the sum of the terms above m too (then few: sd < 4.2). The answer is then
    found among the stored terms or by walking on up from m.

    Why the terms left out do not matter: the pmf is log-concave, so along a walk the
    ratio of successive terms only decreases. A walk that went d steps from 1 to a term
    t < 1e-20 has its last ratio r <= t**(1/d) (at most the geometric mean of all d),
    so all the terms beyond sum to at most t r / (1 - r) < 1e-20 d / ln(1e20). The sum
    is >= 1 (the mode's term) and d <= d_max, so a tail left out is less than
    2.2e-22 d_max of it: under 3e-18 for the callers' d_max, beneath the rounding of
    the sums (1.1e-16) and the keyed uniforms' distance from 0 (>= 2**-54).
    """
    mode = min(np.floor((n + 1.0) * p), n)
    # terms[j] = pmf(mode - j) / pmf(mode)
    terms[0] = 1.0
    t = 1.0
    nl = 1
    k = mode
    while k > 0:
        t *= k * q / ((n - k + 1.0) * p)
        if t < _TAIL_CUT:
            break
        if nl == d_max:
            return -1
        terms[nl] = t
        nl += 1
        k -= 1
    below = 0.0
    for j in range(nl - 1, -1, -1):  # terms[j] <- CDF(mode - j) / pmf(mode)
        below += terms[j]
        terms[j] = below
    loader = mode >= _LOADER_MIN and n - mode >= _LOADER_MIN
    if loader:
        target = v / _binom_pmf(mode, n, p, q)
    else:
        total = below
        t = 1.0
        k = mode
        while k < n:
            t *= (n - k) * p / ((k + 1.0) * q)
            if t < _TAIL_CUT:
                break
            total += t
            k += 1
        target = v * total
    if _reached(below, target, strict):
        lo, hi = 0, nl - 1  # the largest j (smallest k) still reaching the target
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if _reached(terms[mid], target, strict):
                lo = mid
            else:
                hi = mid - 1
        return np.int64(mode) - lo
    t = 1.0
    k = mode
    s = below
    while k < n:
        t *= (n - k) * p / ((k + 1.0) * q)
        k += 1
        s += t
        if _reached(s, target, strict):
            return np.int64(k)
        if t < _TAIL_CUT or k - mode > d_max:
            break
    return -1  # unreachable: v <= 1/2 of the mass (a guard)


@njit(cache=True)
def _binom_quantile(u, n, p, sd_max):
    """Smallest ``k`` with ``CDF(k) >= u`` for Binomial(n, p), elementwise and serial.

    The lower half of ``u`` is searched in the CDF; the upper half in the complement
    (first k with P(X > k) <= 1 - u, as P(n - X < n - k) with n - X ~ Binomial(n, 1 - p)),
    which stays exact where CDF(k) is within 1e-16 of 1 (scipy is not: at u = 1 - 2**-53,
    n = 1e6, p = 1e-4 it gives 193, the exact quantile is 192).

    Parameters
    ----------
    u, n, p
        float64, shape ``(m,)``: ``0 < u <= 1``, ``n`` a positive integer, ``0 < p <= 1``.
    sd_max
        Entries with ``sqrt(n p (1 - p)) > sd_max``, or whose terms above ``_TAIL_CUT`` of
        the mode's reach more than ``20 sd_max + 100`` from it, or with ``n >= 2**52``,
        are not computed.

    Returns
    -------
    numpy.ndarray
        int64, shape ``(m,)``; -1 where not computed.
    """
    out = np.empty(u.shape[0], dtype=np.int64)
    d_max = np.int64(20.0 * sd_max + 100.0)
    terms = np.empty(d_max)
    for i in range(u.shape[0]):
        ni, pi, ui = n[i], p[i], u[i]
        if ni >= _N_MAX:
            out[i] = -1
        elif pi >= 1.0 or ui >= 1.0:
            out[i] = np.int64(ni)
        elif ni * pi * (1.0 - pi) > sd_max * sd_max:
            out[i] = -1
        elif ui <= 0.5:
            out[i] = _binom_lower(ui, ni, pi, 1.0 - pi, False, terms, d_max)
        else:
            # smallest k with P(n - X <= n - k - 1) <= 1 - u is n - (first j with
            # P(n - X <= j) > 1 - u)
            j = _binom_lower(1.0 - ui, ni, 1.0 - pi, pi, True, terms, d_max)
            out[i] = -1 if j < 0 else np.int64(ni) - j
    return out


def poisson(
    seed: int, purpose: str, entities: np.ndarray, mu: np.ndarray, step: int = 0
) -> np.ndarray:
    """Poisson(mu) counts per entity by inversion of one keyed uniform each."""
    from scipy.stats import poisson as _poisson

    u = uniform(seed, purpose, entities, step)
    mu = np.clip(np.asarray(mu, dtype=float), 0.0, None)
    return np.where(mu > 0, np.nan_to_num(_poisson.ppf(u, mu)), 0).astype(np.int64)


def normal(seed: int, purpose: str, entities: np.ndarray, step: int = 0) -> np.ndarray:
    """Standard normal numbers, one per entity (inverse CDF of :func:`uniform`)."""
    from scipy.special import ndtri

    return ndtri(uniform(seed, purpose, entities, step))


def lognormal_factor(
    seed: int, purpose: str, entities: np.ndarray, cv: float, step: int = 0
) -> np.ndarray:
    """Lognormal multipliers with mean 1 and coefficient of variation ``cv``."""
    sigma = np.sqrt(np.log1p(cv**2))
    return np.exp(sigma * normal(seed, purpose, entities, step) - 0.5 * sigma**2)
