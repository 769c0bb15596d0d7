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


@njit(cache=True, inline="always")
def _to_unit(a, b):
    # 53 random bits -> (0, 1), never exactly 0 or 1
    bits = (np.uint64(a) << np.uint64(21)) ^ np.uint64(b >> np.uint32(11))
    return (np.float64(bits & np.uint64((1 << 53) - 1)) + 0.5) / 9007199254740992.0


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
    ``u_i`` the keyed uniform: the definition of ``scipy.stats.binom.ppf``. It is computed
    by :func:`_binom_quantile` (an exact sum of the probability mass function), which
    hands back to the pinned scipy's ``_binom_ppf`` ufunc the few entries whose
    distribution is too wide to sum quickly. ``p`` is clipped to [0, 1]; invalid
    arguments (``n <= 0``, non-integral ``n``, NaN ``p``) give 0.

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


# Summing the pmf costs ~20 standard deviations of terms per draw; wider distributions go
# to scipy's quantile, whose cost hardly grows with n (measured: benchmarks/binomial.py).
WINDOW_SD_MAX = 250.0
# Terms are kept down to this fraction of the mode's term (see _binom_window for the bound).
_TAIL_CUT = 1e-20
# n at and above this is left to scipy: the walk counts k in int64 and n - k in float64.
_N_MAX = 2.0**52


@njit(cache=True)
def _binom_window(n, p, mode, left, right):
    """Unnormalised pmf of Binomial(n, p) around its mode, 1 at ``mode``.

    Fills ``left`` with the terms at mode, mode - 1, ..., and ``right`` with those at
    mode + 1, mode + 2, ..., each walk stopping below ``_TAIL_CUT`` (or at 0 / n), and
    returns how many terms each holds; -1 when a walk would overrun its buffer (whose
    length, d_max below, bounds the cost).

    Why the terms left out do not matter: the pmf is log-concave, so along each walk
    the ratio of successive terms only decreases. A walk that went d steps from the
    mode's term 1 down to a term t < 1e-20 has its last ratio r <= t**(1/d) (the last
    ratio is at most the geometric mean of all d), so all the terms beyond sum to at
    most t r / (1 - r) < 1e-20 d / ln(1e20) (a geometric series). The sum S of the
    window is >= 1 (the mode's term) and d <= d_max, so each side leaves out less than
    2.2e-22 d_max of S: under 2e-18 for the buffers :func:`_binom_quantile` uses,
    beneath the rounding of S itself (1.1e-16) and the keyed uniforms' distance from 0
    and 1 (>= 2**-54). (floor((n + 1) p) is a mode, so the walks start at the largest
    term.)
    """
    odds = p / (1.0 - p)
    t = 1.0
    left[0] = 1.0
    nl = 1
    k = mode
    while k > 0:
        # pmf(k - 1) / pmf(k) = k / (n - k + 1) * (1 - p) / p
        t *= k / ((n - k + 1.0) * odds)
        if t < _TAIL_CUT:
            break
        if nl == left.shape[0]:
            return -1, 0
        left[nl] = t
        nl += 1
        k -= 1
    t = 1.0
    nr = 0
    k = mode
    while k < n:
        # pmf(k + 1) / pmf(k) = (n - k) / (k + 1) * p / (1 - p)
        t *= (n - k) / (k + 1.0) * odds
        if t < _TAIL_CUT:
            break
        if nr == right.shape[0]:
            return nl, -1
        right[nr] = t
        nr += 1
        k += 1
    return nl, nr


@njit(cache=True)
def _binom_quantile(u, n, p, sd_max):
    """Smallest ``k`` with ``CDF(k) >= u`` for Binomial(n, p), elementwise and serial.

    Parameters
    ----------
    u, n, p
        float64, shape ``(m,)``: ``0 < u <= 1``, ``n`` a positive integer, ``0 < p <= 1``.
    sd_max
        Entries with ``sqrt(n p (1 - p)) > sd_max``, or whose terms above ``_TAIL_CUT`` of
        the mode's reach more than ``20 sd_max + 100`` from it on either side, or with
        ``n >= 2**52``, are not computed.

    Returns
    -------
    numpy.ndarray
        int64, shape ``(m,)``; -1 where not computed.
    """
    out = np.empty(u.shape[0], dtype=np.int64)
    d_max = np.int64(20.0 * sd_max + 100.0)
    left = np.empty(d_max)
    right = np.empty(d_max)
    acc = np.empty(2 * d_max)
    for i in range(u.shape[0]):
        ni, pi = n[i], p[i]
        if ni >= _N_MAX:
            out[i] = -1
            continue
        if pi >= 1.0 or u[i] >= 1.0:
            out[i] = np.int64(ni)
            continue
        if ni * pi * (1.0 - pi) > sd_max * sd_max:
            out[i] = -1
            continue
        mode = min(np.int64(np.floor((ni + 1.0) * pi)), np.int64(ni))
        nl, nr = _binom_window(ni, pi, mode, left, right)
        if nl < 0 or nr < 0:
            out[i] = -1
            continue
        size = nl + nr
        for j in range(nl):
            acc[j] = left[nl - 1 - j]
        acc[nl:size] = right[:nr]
        # first j with CDF(j) >= u, from running sums over the window. The upper half
        # compares the mass above j with 1 - u (exact there) instead of the CDF with u,
        # which cannot resolve tails below 1e-16 (scipy's boost does the same). The
        # sum S is the last running sum, so the search always ends inside the window.
        s = 0.0
        if u[i] <= 0.5:
            for j in range(size):  # acc[j] = sum of the terms up to j
                s += acc[j]
                acc[j] = s
            target = u[i] * s
        else:
            for j in range(size - 1, -1, -1):  # acc[j] = minus the sum of the terms above j
                term = acc[j]
                acc[j] = -s
                s += term
            target = -(1.0 - u[i]) * s
        lo, hi = 0, size - 1  # both: first j with acc[j] >= target (non-decreasing)
        while lo < hi:
            mid = (lo + hi) // 2
            if acc[mid] >= target:
                hi = mid
            else:
                lo = mid + 1
        out[i] = mode - (nl - 1) + lo
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
