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

    The quantile is ``scipy.stats.binom.ppf`` (the pinned scipy's ``_binom_ppf`` ufunc),
    evaluated only where it is not trivially 0 (``n == 0`` or ``p == 0``) and without the
    distribution wrapper's argument handling: the same numbers, a third faster.
    Invalid arguments (negative or non-integral ``n``, NaN ``p``) give 0.
    """
    u = uniform(seed, purpose, entities, step)
    n = np.asarray(n)
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    u, n, p = np.broadcast_arrays(u, n, p)
    work = (n > 0) & (n == np.round(n)) & (p > 0)  # clipped p: NaN fails p > 0
    out = np.zeros(u.shape, dtype=np.int64)
    draws = _binom_ppf(u[work], n[work], p[work])
    out[work] = np.nan_to_num(draws).astype(np.int64)
    return out


def _binom_ppf(q: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``scipy.stats.binom.ppf`` for valid arguments and ``0 < q < 1`` (the ufunc it calls)."""
    from scipy.special import _ufuncs

    return _ufuncs._binom_ppf(q, n, p)


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
